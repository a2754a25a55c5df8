"""Rendering a MIME part: its text, produced lazily, and the transfer encodings (README "Letters
and attachments").

:func:`render` lays a :class:`~post_office.mime.part.MimePart` out as Allegro's
``mime-part-constructed-writer`` does, with ``\\n`` newlines (``send_smtp`` turns every
newline into CRLF on the wire).  Files are opened when the part is rendered, read a block
at a time and base64-encoded block by block, so a 1 GB attachment costs a few hundred
kilobytes of memory whatever its size.  :class:`ChunkReader` turns the generated chunks
into a readable stream.

Pure: no socket; the only I/O is reading a part's file or stream.
"""

from __future__ import annotations

import binascii
import io
import re
from typing import TYPE_CHECKING, Any, Generator, Iterator, List, Match, Optional, Union

from .._checks import show
from ..errors import MimeError
from ..message.headers import format_header, format_parameter

if TYPE_CHECKING:
    from .part import MimePart

__all__ = [
    "BLOCK_SIZE",
    "PREAMBLE",
    "WRAP_AT",
    "ChunkReader",
    "encode_base64",
    "encode_quoted_printable",
    "render",
]

#: Allegro's line width for base64 and quoted-printable (``:wrap-at 72``).
WRAP_AT = 72
#: Bytes read from a file or stream at a time: a whole number of 54-byte base64 input
#: lines (4096 of them), so each block encodes to complete 72-character lines.
BLOCK_SIZE = 54 * 4096
#: The preamble Allegro writes after the headers of a top-level multipart.
PREAMBLE = b"This is a multi-part message in MIME format.\n"

_BYTES_LIKE = (bytes, bytearray, memoryview)


# --------------------------------------------------------------------------- rendering


def _header_block(part: MimePart, top_level: bool) -> bytes:
    omitted = part.omitted_headers
    lines: List[str] = []
    if top_level and "mime-version" not in omitted:
        lines.append("MIME-Version: 1.0\n")
    lines.extend(format_header(name, value) for name, value in part.headers)
    if "content-type" not in omitted:
        content_type = f"Content-Type: {part.type}/{part.subtype}"
        for name, value in part.parameters:
            for piece in format_parameter(name, value):
                content_type += ";\n    " + piece
        lines.append(content_type + "\n")
    if part.encoding and "content-transfer-encoding" not in omitted:
        lines.append(f"Content-Transfer-Encoding: {part.encoding}\n")
    if part.id is not None and "content-id" not in omitted:
        lines.append(f"Content-Id: {part.id}\n")
    if part.description is not None and "content-description" not in omitted:
        lines.append(format_header("Content-Description", part.description))
    if part.disposition is not None and "content-disposition" not in omitted:
        disposition = f"Content-Disposition: {part.disposition}"
        if part.disposition_name is not None:
            for piece in format_parameter("filename", part.disposition_name):
                disposition += ";\n    " + piece
        lines.append(disposition + "\n")
    lines.append("\n")
    return "".join(lines).encode("utf-8")


def render(part: MimePart, top_level: bool) -> Generator[bytes, None, None]:
    """The part's text as Allegro's ``mime-part-constructed-writer`` lays it out."""
    yield _header_block(part, top_level)
    if part.multipart:
        if top_level:
            yield PREAMBLE
        delimiter = f"\n--{part.boundary}\n".encode()
        for sub in part.parts:
            yield delimiter
            yield from render(sub, top_level=False)
        yield f"\n--{part.boundary}--\n".encode()
        return
    chunks = _source_chunks(part)
    try:
        if part.encoding == "base64":
            yield from encode_base64(chunks)
        elif part.encoding == "quoted-printable":
            yield from encode_quoted_printable(chunks)
        else:
            last = b""
            for chunk in chunks:
                yield chunk
                last = chunk
            if last.endswith(b"\r"):
                # The newline before the next delimiter would join a final bare CR into
                # one CRLF, which belongs to the delimiter (RFC 2046 5.1.1), and the
                # part's last line break would be lost: end it with a whole CRLF.
                yield b"\n"
    finally:
        chunks.close()  # closes a file opened for this rendering at once


def _source_chunks(part: MimePart) -> Generator[bytes, None, None]:
    if part.source_kind == "bytes":
        data: bytes = part.source
        if len(data) <= BLOCK_SIZE:
            if data:
                yield data
            return
        with memoryview(data) as view:
            for begin in range(0, len(data), BLOCK_SIZE):
                yield view[begin : begin + BLOCK_SIZE].tobytes()
    elif part.source_kind == "file":
        with open(part.source, "rb") as file:
            while True:
                block = file.read(BLOCK_SIZE)
                if not block:
                    return
                yield block
    elif part.source_kind == "stream":
        read = part.source.read
        while True:
            piece = read(BLOCK_SIZE)
            if isinstance(piece, str):
                if not piece:
                    return
                yield piece.encode(part.codec)
            elif isinstance(piece, _BYTES_LIKE):
                if not piece:
                    return
                yield bytes(piece)
            else:
                raise MimeError(
                    f"file: read() of the stream {show(part.source)} returned "
                    f"{show(piece)}, neither str nor bytes (a non-blocking stream with no "
                    "data yet returns None; pass a blocking stream)"
                )


def _base64_lines(data: Union[bytes, memoryview], width: int) -> bytes:
    """Base64 of ``data`` (whose encoding is a whole number of ``width``-character lines)
    as lines of ``width`` characters.

    The newlines go in with ``width + 1`` strided slice assignments rather than one slice
    per line, so a block costs a handful of allocations whatever its size.
    """
    encoded = binascii.b2a_base64(data, newline=False)
    lines = len(encoded) // width
    out = bytearray((width + 1) * lines)
    for column in range(width):
        out[column :: width + 1] = encoded[column::width]
    out[width :: width + 1] = b"\n" * lines
    return bytes(out)


def encode_base64(chunks: Iterator[bytes], wrap_at: Optional[int] = WRAP_AT) -> Iterator[bytes]:
    """Base64 in lines of ``wrap_at`` characters (72, as Allegro's ``base64-encode-stream``
    writes them; RFC 2045 6.8 allows up to 76), block by block; each line ends with a
    newline.  ``wrap_at=None``: one line, no newline (Allegro's ``:wrap-at nil``)."""
    if wrap_at is not None and wrap_at % 4:
        yield from _encode_base64_any(chunks, wrap_at)
        return
    group = 3 if wrap_at is None else wrap_at // 4 * 3  # input bytes per output line
    pending = b""
    for chunk in chunks:
        if pending:
            chunk = pending + chunk
        whole = len(chunk) - len(chunk) % group
        if whole:
            with memoryview(chunk) as view:
                if wrap_at is None:
                    yield binascii.b2a_base64(view[:whole], newline=False)
                else:
                    yield _base64_lines(view[:whole], wrap_at)
        pending = chunk[whole:]
    if pending:
        yield binascii.b2a_base64(pending, newline=wrap_at is not None)


def _encode_base64_any(chunks: Iterator[bytes], wrap_at: int) -> Iterator[bytes]:
    """Base64 wrapped at a width that is not a multiple of 4 (a line ends mid-quantum)."""
    column = 0
    for text in encode_base64(chunks, None):
        out = bytearray()
        while text:
            piece, text = text[: wrap_at - column], text[wrap_at - column :]
            out += piece
            column += len(piece)
            if column == wrap_at:
                out += b"\n"
                column = 0
        yield bytes(out)
    if column:
        yield b"\n"


# Quoted-printable, as Allegro's qp-encode-stream writes it: printable ASCII but "=" as
# is; every other byte =XX; a space or tab as is unless it ends a line or the text, or
# comes before a NUL or CR (then =20 for a space, =09 for a tab: Allegro writes =20 for
# both, which turns a tab into a space); CRLF and LF are line breaks, a bare CR is =0D.
# Before each character or =XX, a line that has reached wrap_at columns gets a soft
# break ("=" and a newline), so a line is at most wrap_at + 3 characters and its "=".
_QP_UNSAFE = re.compile(rb"[^!-<>-~ \t]|[ \t](?=[\x00\r])")
_QP_TOKENS = [b"=%02X" % byte for byte in range(256)]


def _qp_token(match: Match[bytes]) -> bytes:
    return _QP_TOKENS[match.group()[0]]


class _QuotedPrintable:
    """An incremental quoted-printable encoder (the column carries across chunks)."""

    def __init__(self, wrap_at: Optional[int]) -> None:
        self.wrap_at = wrap_at
        self.column = 0
        self.held = b""  # a final space, tab or CR: how to write it depends on what follows

    def _segment(self, data: bytes, white_end_encoded: bool) -> bytes:
        encoded = _QP_UNSAFE.sub(_qp_token, data)
        if white_end_encoded and data[-1:] in (b" ", b"\t"):
            encoded = encoded[:-1] + _QP_TOKENS[data[-1]]
        return self._wrap(encoded)

    def _wrap(self, encoded: bytes) -> bytes:
        wrap_at = self.wrap_at
        if wrap_at is None:
            return encoded
        out: List[bytes] = []
        position, column, end = 0, self.column, len(encoded)
        while position < end:
            if column >= wrap_at:
                out.append(b"=\n")
                column = 0
            room = wrap_at - column
            escape = encoded.find(b"=", position, position + room)
            if escape < 0:
                piece = encoded[position : position + room]
                out.append(piece)
                column += len(piece)
                position += len(piece)
            else:  # plain characters, then one =XX
                out.append(encoded[position : escape + 3])
                column += escape - position + 3
                position = escape + 3
        self.column = column
        return b"".join(out)

    def feed(self, data: bytes) -> bytes:
        if self.held:
            data, self.held = self.held + data, b""
        out: List[bytes] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            line = data[start:newline]
            if line.endswith(b"\r"):
                line = line[:-1]
            out.append(self._segment(line, True) + b"\n")
            self.column = 0
            start = newline + 1
        tail = data[start:]
        if tail[-1:] in (b" ", b"\t", b"\r"):
            tail, self.held = tail[:-1], tail[-1:]
        if tail:
            out.append(self._segment(tail, self.held == b"\r"))
        return b"".join(out)

    def finish(self) -> bytes:
        held, self.held = self.held, b""
        return self._wrap(_QP_TOKENS[held[0]]) if held else b""


def encode_quoted_printable(
    chunks: Iterator[bytes], wrap_at: Optional[int] = WRAP_AT
) -> Iterator[bytes]:
    """Quoted-printable (RFC 2045 6.7) as Allegro's ``qp-encode-stream`` writes it, soft
    line breaks after ``wrap_at`` (72) columns; memory stays bounded whatever the line
    lengths.  A trailing tab is written ``=09`` (Allegro: ``=20``; README "Differences")."""
    encoder = _QuotedPrintable(wrap_at)
    for chunk in chunks:
        encoded = encoder.feed(chunk)
        if encoded:
            yield encoded
    last = encoder.finish()
    if last:
        yield last


# --------------------------------------------------------------------------- streams


class ChunkReader(io.RawIOBase):
    """A readable raw stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks: Optional[Iterator[bytes]] = chunks
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as target, target.cast("B") as out:
            while not self._current:
                if self._chunks is None:
                    return 0
                try:
                    self._current = memoryview(next(self._chunks)).cast("B")
                except StopIteration:
                    self._chunks = None
                    return 0
            count = min(len(out), len(self._current))
            out[:count] = self._current[:count]
            self._current = self._current[count:]
            return count

    def close(self) -> None:
        chunks, self._chunks = self._chunks, None
        if chunks is not None and hasattr(chunks, "close"):
            chunks.close()
        self._current = memoryview(b"")
        super().close()
