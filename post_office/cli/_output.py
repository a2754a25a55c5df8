"""What every subcommand prints with: one line at a time, flushed, errors on one line."""

from __future__ import annotations

import sys
from typing import Optional, TextIO

__all__ = ["PROG", "error", "one_line", "say"]

PROG = "post-office"


def say(text: str = "", stream: Optional[TextIO] = None) -> None:
    """Write one line to ``stream`` (standard output by default) and flush it."""
    out = stream if stream is not None else sys.stdout
    out.write(text + "\n")
    out.flush()


def one_line(text: object) -> str:
    """A possibly multi-line message (a server reply) joined into one line."""
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


def error(text: object) -> None:
    """``post-office: error: ...`` on standard error."""
    say(f"{PROG}: error: {one_line(text)}", sys.stderr)
