"""A progress line for big messages sent from a terminal (``post-office send``).

One :class:`Meter` per message counts what was read of every stream the message is
made of (a raw message, the body, the attachments); the message is streamed straight
onto the socket, so what was read is what was sent (give or take one chunk).  The line
appears once 4 MB were read, or at once when the known total is that big.
"""

from __future__ import annotations

import io
import os
import stat
from typing import IO, Optional, TextIO

from ._output import write

__all__ = ["PROGRESS_THRESHOLD", "Counted", "Meter", "size_of"]

#: Messages at least this big get a progress line when standard output is a terminal.
PROGRESS_THRESHOLD = 4 * 1024 * 1024


class Meter:
    """``sending: 3.1 of 5.2 MB (59%)`` on one terminal line, rewritten in place."""

    def __init__(self, out: TextIO, total: Optional[int] = None) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self.shown = -1
        self.last = ""

    def add(self, count: int) -> None:
        self.done += count
        if self.done < PROGRESS_THRESHOLD and (self.total or 0) < PROGRESS_THRESHOLD:
            return
        step = self.done * 100 // self.total if self.total else self.done >> 20
        if step != self.shown:
            self.shown = step
            self._show()

    def _show(self) -> None:
        megabytes = self.done / 1e6
        if self.total:
            text = f"sending: {megabytes:.1f} of {self.total / 1e6:.1f} MB"
            text += f" ({min(100, self.done * 100 // self.total)}%)"
        else:
            text = f"sending: {megabytes:.1f} MB"
        if text != self.last:
            write(self.out, "\r" + text)
            self.last = text

    def finish(self) -> None:
        """End the line (when one was shown), so that what follows starts a new one."""
        if self.shown >= 0:
            self.shown = -1
            write(self.out, "\n")


class Counted:
    """A binary stream whose reads are counted on a :class:`Meter`."""

    def __init__(self, stream: IO[bytes], meter: Meter) -> None:
        self.stream = stream
        self.meter = meter
        name = getattr(stream, "name", None)
        if isinstance(name, str):
            self.name = name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.meter.add(len(data))
        return data


def size_of(stream: IO[bytes]) -> Optional[int]:
    """The bytes left in a regular file from its position; None for pipes and terminals."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        return info.st_size - stream.tell()
    except (OSError, ValueError):
        return info.st_size
