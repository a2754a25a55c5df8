"""A progress line for big messages sent from a terminal (``post-office send``)."""

from __future__ import annotations

import io
import os
import stat
from typing import IO, Optional, TextIO

__all__ = ["PROGRESS_THRESHOLD", "Progress", "size_of"]

#: Messages at least this big get a progress line when standard output is a terminal.
PROGRESS_THRESHOLD = 4 * 1024 * 1024


class Progress:
    """A binary stream that reports on a terminal how much of it has been read.

    The message is streamed straight onto the socket, so what was read is what was sent
    (give or take one chunk).
    """

    def __init__(self, stream: IO[bytes], total: Optional[int], out: TextIO) -> None:
        self.stream = stream
        self.total = total
        self.out = out
        self.done = 0
        self.shown = -1
        self.finished = False
        self.last = ""
        name = getattr(stream, "name", None)
        if isinstance(name, str):
            self.name = name

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.done += len(data)
        if not data:
            self._finish()
        elif self.done >= PROGRESS_THRESHOLD or (self.total or 0) >= PROGRESS_THRESHOLD:
            step = self.done * 100 // self.total if self.total else self.done >> 20
            if step != self.shown:
                self.shown = step
                self._show()
        return data

    def _show(self, *, final: bool = False) -> None:
        megabytes = self.done / 1e6
        if self.total:
            text = f"sending: {megabytes:.1f} of {self.total / 1e6:.1f} MB"
            text += f" ({min(100, self.done * 100 // self.total)}%)"
        else:
            text = f"sending: {megabytes:.1f} MB"
        if text != self.last:
            self.out.write("\r" + text)
            self.last = text
        if final:
            self.out.write("\n")
        self.out.flush()

    def _finish(self) -> None:
        if not self.finished and self.shown >= 0:
            self.finished = True
            self._show(final=True)


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
