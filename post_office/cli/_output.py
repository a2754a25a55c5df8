"""What every subcommand prints with: one line at a time, flushed, errors on one line.

Output into a closed pipe (``post-office demo | head -1``) is dropped quietly: the first
write that meets a closed standard output points it at the null device, and the command
goes on to its own end and exit status (a mail already sent is not reported as failed).
"""

from __future__ import annotations

import os
import sys
from typing import Optional, TextIO

__all__ = ["PROG", "error", "one_line", "say", "write"]

PROG = "post-office"


def _silence(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at the null device: its reader has gone."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def write(stream: TextIO, text: str) -> None:
    """Write ``text`` to ``stream`` and flush it; a closed pipe ends the output quietly."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        _silence(stream)


def say(text: str = "", stream: Optional[TextIO] = None) -> None:
    """Write one line to ``stream`` (standard output by default) and flush it."""
    write(stream if stream is not None else sys.stdout, text + "\n")


def one_line(text: object) -> str:
    """A possibly multi-line message (a server reply) joined into one line."""
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


def error(text: object) -> None:
    """``post-office: error: ...`` on standard error."""
    say(f"{PROG}: error: {one_line(text)}", sys.stderr)
