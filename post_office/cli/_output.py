"""What every subcommand prints with: one line at a time, flushed, errors on one line,
control characters escaped.

A line may carry what a server or a client sent (a greeting, a reply, a hint quoting
it, a stored message's headers): :func:`say` escapes ESC, BEL, C1 and bidirectional
controls with :func:`~post_office.sink.behaviour.printable`, the one escaper the sink uses
too, so that no server can drive or reorder the user's terminal; ``--debug``'s
transcript goes through :class:`EscapingStream`, ``--json`` through :func:`say_json`.

Output into a closed pipe (``post-office demo | head -1``) is dropped quietly: the first
write that meets a closed standard output points it at the null device, and the command
goes on to its own end and exit status (a mail already sent is not reported as failed).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Optional, TextIO

from .._checks import CONTROL_CHARACTERS, printable

__all__ = [
    "PROG",
    "EscapingStream",
    "error",
    "one_line",
    "say",
    "say_json",
    "say_printable",
    "write",
]

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
    """Write one line to ``stream`` (standard output by default), escaped, and flush it."""
    say_printable(printable(text), stream)


def say_printable(text: str, stream: Optional[TextIO] = None) -> None:
    """:func:`say` for a line that is escaped already (a sink's summary line): escaping
    it again would double its backslashes."""
    write(stream if stream is not None else sys.stdout, text + "\n")


# What json.dumps(ensure_ascii=False) leaves raw: DEL, C1, the bidirectional controls,
# line separators and lone surrogates (it escapes C0 itself).
_JSON_RAW = re.compile(f"[{CONTROL_CHARACTERS}]")


def say_json(data: object, stream: Optional[TextIO] = None) -> None:
    """One JSON object on one line; non-ASCII text stays readable, control characters
    become JSON's own ``\\u`` escapes of four hex digits (so the object still parses to
    the same text)."""
    text = json.dumps(data, ensure_ascii=False)
    say_printable(_JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text), stream)


class EscapingStream:
    """A text stream that writes to ``stream`` with each line escaped (its line breaks
    kept): what ``--debug`` hands the library as ``post_office.smtp_debug``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write("\n".join(printable(line) for line in text.split("\n")))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def one_line(text: object) -> str:
    """A possibly multi-line message (a server reply) joined into one line."""
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


def error(text: object) -> None:
    """``post-office: error: ...`` on standard error."""
    say(f"{PROG}: error: {one_line(text)}", sys.stderr)
