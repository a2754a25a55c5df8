"""The input of ``post-office send``: the body from standard input or ``--file``, and the
``--attach`` files, checked before anything is connected.

A body up to :data:`SMALL` bytes is read whole, as send_letter's str message; a bigger
one is streamed into the letter as a quoted-printable text part, so memory stays a
small constant whatever its size (README "The command line").  Either must be UTF-8
text: a big body is checked as it streams, and a fault stops the send before the end
of the message (the server discards a message without its end, RFC 5321 4.1.1.4).
"""

from __future__ import annotations

import codecs
import os
from typing import IO, Any, Union

from ..errors import ArgumentError
from ..mime.build import MimePart, make_mime_part

__all__ = ["SMALL", "Utf8Checked", "body_part", "check_input_file", "not_utf8"]

#: Bodies up to this size are read whole (and encoded 7bit when they can be).
SMALL = 1 << 20


def check_input_file(path: str, option: str) -> None:
    """``--attach`` / ``--file`` must name a readable regular file."""
    if os.path.isdir(path):
        raise ArgumentError(
            f"{option} {path!r}: is a directory, not a file (name the files in it one by one, "
            "or make an archive of it)"
        )
    if not os.path.exists(path):
        raise ArgumentError(f"{option} {path!r}: no such file")
    if not os.path.isfile(path):
        raise ArgumentError(f"{option} {path!r}: not a regular file")
    if not os.access(path, os.R_OK):
        raise ArgumentError(f"{option} {path!r}: permission denied")


def not_utf8(where: str, position: int) -> ArgumentError:
    return ArgumentError(
        f"the message body from {where} is not UTF-8 text (byte {position}): send a file "
        "with --attach, or a whole message with --raw"
    )


class Utf8Checked:
    """A binary stream that raises :func:`not_utf8` when what it yields is not UTF-8."""

    def __init__(self, head: bytes, rest: IO[bytes], where: str) -> None:
        self.head = head
        self.rest = rest
        self.where = where
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size > 0 else SMALL
        if self.head:
            data, self.head = self.head[:want], self.head[want:]
        else:
            data = self.rest.read(want)
        try:
            self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise not_utf8(self.where, self.offset + exc.start) from None
        self.offset += len(data)
        return data


def body_part(source: IO[bytes], where: str) -> Union[str, MimePart, None]:
    """The letter's body: a str when small, a streaming text part when big, None when
    the input is empty."""
    head = source.read(SMALL + 1)
    if len(head) <= SMALL:
        if not head:
            return None
        try:
            return head.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(where, exc.start) from None
    stream: Any = Utf8Checked(head, source, where)
    return make_mime_part(
        file=stream,
        content_type="text/plain",
        charset="utf-8",
        encoding="quoted-printable",
        attachmentp=False,
    )
