"""Rendering a MIME part: its text, produced lazily, and the transfer encodings (SPEC 7).

:func:`render` lays a :class:`~post_office.mime_part.MimePart` out as Allegro's
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
from typing import TYPE_CHECKING, Any, Generator, Iterator, List, Optional, Union

from ._checks import show
from .errors import MimeError
from .headers import format_header, format_parameter

if TYPE_CHECKING:
    from .mime_part import MimePart

__all__ = [
    "BLOCK_SIZE",
    "PREAMBLE",
    "ChunkReader",
    "encode_base64",
    "encode_quoted_printable",
    "render",
]

#: Bytes read from a file or stream at a time: a whole number of 57-byte base64 input
#: lines (4096 of them), so each block encodes to complete 76-character lines.
BLOCK_SIZE = 57 * 4096
#: The preamble Allegro writes after the headers of a top-level multipart.
PREAMBLE = b"This is a multi-part message in MIME format.\n"

_BYTES_LIKE = (bytes, bytearray, memoryview)


# --------------------------------------------------------------------------- rendering


def _header_block(part: MimePart, top_level: bool) -> bytes:
    lines: List[str] = []
    if top_level:
        lines.append("MIME-Version: 1.0\n")
    lines.extend(format_header(name, value) for name, value in part.headers)
    content_type = f"Content-Type: {part.type}/{part.subtype}"
    for name, value in part.parameters:
        for piece in format_parameter(name, value):
            content_type += ";\n    " + piece
    lines.append(content_type + "\n")
    if part.encoding:
        lines.append(f"Content-Transfer-Encoding: {part.encoding}\n")
    if part.id is not None:
        lines.append(f"Content-Id: {part.id}\n")
    if part.description is not None:
        lines.append(format_header("Content-Description", part.description))
    if part.disposition is not None:
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


def _base64_lines(data: Union[bytes, memoryview]) -> bytes:
    """Base64 of ``data`` (a multiple of 57 bytes long) as 76-character lines.

    The newlines go in with 77 strided slice assignments rather than one slice per line,
    so a block costs a handful of allocations whatever its size.
    """
    encoded = binascii.b2a_base64(data, newline=False)
    lines = len(encoded) // 76
    out = bytearray(77 * lines)
    for column in range(76):
        out[column::77] = encoded[column::76]
    out[76::77] = b"\n" * lines
    return bytes(out)


def encode_base64(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Base64 in lines of 76 characters (RFC 2045 6.8), block by block."""
    pending = b""
    for chunk in chunks:
        if pending:
            chunk = pending + chunk
        whole = len(chunk) - len(chunk) % 57
        if whole:
            with memoryview(chunk) as view:
                yield _base64_lines(view[:whole])
        pending = chunk[whole:]
    if pending:
        yield binascii.b2a_base64(pending)


#: Longest run without a newline that quoted-printable encoding holds back.
_QP_HOLD = 1 << 16


def _qp_line(line: bytes) -> bytes:
    # istext=False: a CR inside the line is data (=0D), not a line break.
    return binascii.b2a_qp(line, quotetabs=False, istext=False, header=False)


def encode_quoted_printable(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Quoted-printable (RFC 2045 6.7), line by line; CRLF and LF are line breaks.

    A run of more than 64 KiB without a newline is cut with a soft line break.
    """
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) < _QP_HOLD:
                pending = data
                continue
            yield _qp_line(data) + b"=\n"
            pending = b""
            continue
        lines = data[: cut - 1].split(b"\n")
        yield b"".join(_qp_line(line.removesuffix(b"\r")) + b"\n" for line in lines)
        pending = data[cut:]
    if pending:
        yield _qp_line(pending)


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
