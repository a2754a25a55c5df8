"""The transfer decoders beside the encoders: Allegro's ``qp-decode-string``,
``qp-decode-usb8``, ``qp-decode-stream``, ``base64-decode-stream`` and
``with-decoded-part-body-stream`` (README "API: Allegro -> Python").

Pure: no socket, no smtplib.  Quoted-printable is decoded as Allegro decodes it, byte for
byte, which is more forgiving than RFC 2045 6.7 asks: a stray ``=`` at the end is kept, an
invalid escape such as ``=Z=`` is copied as its three characters (the third is not read
again as the start of an escape), ``=`` and a line break is a soft line break.  Streams are
decoded a block at a time, so memory stays small whatever their size.
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import io
import re
from typing import Any, Iterator, List, Optional, Tuple, Union

from .._checks import show
from ..errors import MimeError
from ..spec.lisp import Keyword

__all__ = [
    "base64_decode_stream",
    "charset_codec",
    "qp_decode_bytes",
    "qp_decode_stream",
    "qp_decode_string",
    "qp_decode_usb8",
    "with_decoded_part_body_stream",
]

_BLOCK = 1 << 16
_HEX = [-1] * 256
for _digit, _char in enumerate(b"0123456789ABCDEF"):
    _HEX[_char] = _HEX[_char + 32 if _char >= 65 else _char] = _digit

# --------------------------------------------------------------------------- charsets

#: Allegro's ``*default-charset-to-ef*``: mislabelled 8-bit text is common, so US-ASCII
#: is read as Latin-1 (every byte is a character), as Allegro reads it.
_DEFAULT_CHARSETS = {
    "us-ascii": "latin-1",
    "ansi_x3.4-1968": "latin-1",
    "shift-jis": "shift_jis",
    "gbk": "cp936",
}
_WINDOWS = re.compile(r"windows-(\d+)\Z")
_ISO_8859 = re.compile(r"iso-8859-(\d+)(?:-[ie])?\Z")


def _text_codec(name: str) -> Optional[str]:
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # "base64", "rot13"... are codecs but not charsets: bytes.decode would refuse them.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def charset_codec(charset: str) -> Optional[str]:
    """The Python codec of a MIME charset as Allegro's ``charset-to-external-format`` finds
    it (``us-ascii`` is Latin-1; ``windows-N``, ``iso-8859-N-i``), or None when unknown.
    An RFC 2231 language suffix (``utf-8*en``, RFC 2231 5) is ignored."""
    name = charset.partition("*")[0].lower()
    known = _DEFAULT_CHARSETS.get(name)
    if known is not None:
        return known
    codec = _text_codec(name)
    if codec is not None:
        return codec
    windows = _WINDOWS.match(name)
    if windows is not None:
        return _text_codec("cp" + windows.group(1))
    iso = _ISO_8859.match(name)
    if iso is not None:
        return _text_codec("iso8859-" + iso.group(1))
    return None


# --------------------------------------------------------------------------- quoted-printable


def qp_decode_bytes(data: bytes, final: bool, underscores: bool, usb8: bool) -> Tuple[bytes, int]:
    """Decode ``data``; return the bytes and how much of ``data`` was used (less than all
    only when not ``final`` and ``data`` ends inside an escape, which the next block ends).

    ``usb8``: at the very end, ``=`` CR is followed by the CR, as ``qp-decode-usb8`` does
    (it "unreads" the missing byte by stepping back onto the CR); ``qp-decode-stream``
    writes nothing there.
    """
    out: List[bytes] = []
    position, end = 0, len(data)
    while True:
        escape = data.find(b"=", position)
        plain = data[position:] if escape < 0 else data[position:escape]
        out.append(plain.replace(b"_", b" ") if underscores else plain)
        if escape < 0:
            return b"".join(out), end
        after = escape + 1
        if after >= end:  # a stray "=" at the end is kept
            if not final:
                return b"".join(out), escape
            out.append(b"=")
            return b"".join(out), end
        second = data[after]
        if second in (10, 13):  # soft line break: "=" LF, "=" CR LF or "=" CR
            if second == 13 and after + 1 >= end:
                if not final:
                    return b"".join(out), escape
                if usb8:
                    out.append(b"\r")
                return b"".join(out), end
            position = after + 2 if second == 13 and data[after + 1] == 10 else after + 1
            continue
        if after + 1 >= end:  # "=X" at the end: both kept
            if not final:
                return b"".join(out), escape
            out.append(data[escape:])
            return b"".join(out), end
        high, low = _HEX[second], _HEX[data[after + 1]]
        if high < 0 or low < 0:  # invalid: the three bytes as they are, none read again
            out.append(data[escape : escape + 3])
        else:
            out.append(bytes((high * 16 + low,)))
        position = escape + 3


def _qp_blocks(blocks: Iterator[bytes]) -> Iterator[bytes]:
    held = b""
    for block in blocks:
        data = held + block
        decoded, used = qp_decode_bytes(data, False, False, False)
        held = data[used:]
        if decoded:
            yield decoded
    if held:
        decoded, _ = qp_decode_bytes(held, True, False, False)
        if decoded:
            yield decoded


def _check_bounds(value: object, argument: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MimeError(f"{argument}: expected a non-negative integer, got {show(value)}")
    return value


def qp_decode_usb8(
    in_: Union[bytes, bytearray, memoryview],
    out: Optional[bytearray] = None,
    *,
    start1: int = 0,
    end1: Optional[int] = None,
    start2: int = 0,
    end2: Optional[int] = None,
    underscores_are_spaces: bool = False,
) -> Tuple[bytearray, int]:
    """Allegro's ``(qp-decode-usb8 in out :start1 :end1 :start2 :end2
    :underscores-are-spaces)``: decode the quoted-printable ``in_[start1:end1]`` into
    ``out`` from ``start2``; returns Allegro's two values, ``(out, end)``, ``end`` just past
    the last byte written.  ``out=None`` allocates a bytearray as long as ``in_``; ``out``
    may be ``in_`` itself (a bytearray).  ``underscores_are_spaces``: ``_`` is a space
    (RFC 2047 4.2)."""
    if not isinstance(in_, (bytes, bytearray, memoryview)):
        raise MimeError(f"in_: expected bytes or a bytearray, got {show(in_)}")
    if out is None:
        out = bytearray(len(in_))
    elif not isinstance(out, bytearray):
        raise MimeError(f"out: expected a bytearray (or None to allocate one), got {show(out)}")
    first = _check_bounds(start1, "start1", 0)
    last = _check_bounds(end1, "end1", len(in_))
    into = _check_bounds(start2, "start2", 0)
    limit = _check_bounds(end2, "end2", len(out))
    if last < first:
        raise MimeError(f"start1 must be less than end1 (start1 {first}, end1 {last})")
    if into > limit:
        raise MimeError(f"start2 must be less than end2 (start2 {into}, end2 {limit})")
    if limit - into < last - first or last > len(in_) or limit > len(out):
        raise MimeError(
            f"Not enough room in output array (in_[{first}:{last}] into out[{into}:{limit}] "
            f"of in_ {len(in_)} and out {len(out)} bytes)"
        )
    decoded, _ = qp_decode_bytes(bytes(in_[first:last]), True, bool(underscores_are_spaces), True)
    out[into : into + len(decoded)] = decoded
    return out, into + len(decoded)


def _keyword_name(value: object, argument: str, choices: Tuple[str, ...]) -> str:
    name = value.name if isinstance(value, Keyword) else value
    if isinstance(name, str) and name.lstrip(":").lower() in choices:
        return name.lstrip(":").lower()
    raise MimeError(
        f"{argument}: expected one of {', '.join(':' + c for c in choices)}, got {show(value)}"
    )


def qp_decode_string(
    string: str,
    *,
    start: int = 0,
    end: Optional[int] = None,
    return_: Union[str, Keyword] = ":string",
    external_format: Union[str, Keyword] = ":default",
    underscores_are_spaces: bool = False,
) -> Union[str, bytes]:
    """Allegro's ``(qp-decode-string string :start :end :return :external-format
    :underscores-are-spaces)``: the quoted-printable text ``string[start:end]`` decoded.

    ``return_`` (Lisp ``:return``, a Python keyword): ``":string"`` (default) gives a str
    decoded with ``external_format`` (``":default"`` is UTF-8, README "Porting notes";
    undecodable bytes become U+FFFD), ``":usb8"`` the bytes.  The text is read as Latin-1,
    as Allegro reads it (a character above U+00FF becomes ``?``).
    """
    if not isinstance(string, str):
        raise MimeError(f"string: expected a str, got {show(string)}")
    kind = _keyword_name(return_, "return_", ("string", "usb8"))
    first = _check_bounds(start, "start", 0)
    last = _check_bounds(end, "end", len(string))
    if not first <= last <= len(string):
        raise MimeError(
            f"start {first} and end {last} must satisfy 0 <= start <= end <= {len(string)}"
        )
    codec = "utf-8"  # Allegro's :default depends on the locale; ours is UTF-8
    if _keyword_name_or_none(external_format) != "default":
        from .checks import check_codec  # not at import: mime_checks imports headers

        codec = check_codec(external_format)
    raw = string[first:last].encode("latin-1", "replace")
    decoded, _ = qp_decode_bytes(raw, True, bool(underscores_are_spaces), True)
    return decoded if kind == "usb8" else decoded.decode(codec, "replace")


def _keyword_name_or_none(value: object) -> Optional[str]:
    name = value.name if isinstance(value, Keyword) else value
    return name.lstrip(":").lower() if isinstance(name, str) else None


# --------------------------------------------------------------------------- streams


def _blocks(instream: Any, count: Optional[int], argument: str = "instream") -> Iterator[bytes]:
    """The bytes of ``instream``, at most ``count`` of them; a text stream's text is read as
    Latin-1 (encoded text is ASCII)."""
    if not callable(getattr(instream, "read", None)):
        raise MimeError(f"{argument}: expected a readable stream, got {show(instream)}")
    left = count
    while left is None or left > 0:
        block = instream.read(_BLOCK if left is None else min(_BLOCK, left))
        if not block:
            return
        if isinstance(block, str):
            block = block.encode("latin-1", "replace")
        elif not isinstance(block, (bytes, bytearray, memoryview)):
            raise MimeError(f"{argument}: read() returned {type(block).__name__}, not bytes")
        block = bytes(block)
        if left is not None:
            left -= len(block)
        yield block


def _binary_out(outstream: Any) -> Any:
    if isinstance(outstream, io.TextIOBase) or not callable(getattr(outstream, "write", None)):
        raise MimeError(
            f"outstream: expected a binary stream to receive the decoded bytes (as Allegro "
            f"writes them with write-byte), got {show(outstream)}"
        )
    return outstream


def _count(count: object) -> Optional[int]:
    return None if count is None else _check_bounds(count, "count", 0)


def qp_decode_stream(instream: Any, outstream: Any, *, count: Optional[int] = None) -> bool:
    """Allegro's ``(qp-decode-stream instream outstream :count n)``: decode the
    quoted-printable bytes of ``instream`` (at most ``count`` of them; None: to the end)
    onto the binary ``outstream``.  Returns True, as Allegro returns t."""
    target = _binary_out(outstream)
    for decoded in _qp_blocks(_blocks(instream, _count(count))):
        target.write(decoded)
    return True


# --------------------------------------------------------------------------- base64

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]+")


def _base64_blocks(blocks: Iterator[bytes], error_p: bool) -> Iterator[bytes]:
    """excl's base64-decode-stream: other characters are ignored; "=" ends the data; the
    end of the input inside a group of four is an error (or, without ``error_p``, ends)."""
    held = b""
    for block in blocks:
        data = held + _NOT_BASE64.sub(b"", block)
        pad = data.find(b"=")
        if pad >= 0:
            yield from _base64_final(data[:pad], error_p, padded=True)
            return
        whole = len(data) - len(data) % 4
        held = data[whole:]
        if whole:
            yield binascii.a2b_base64(data[:whole])
    yield from _base64_final(held, error_p, padded=False)


def _base64_final(data: bytes, error_p: bool, *, padded: bool) -> Iterator[bytes]:
    whole = len(data) - len(data) % 4
    if whole:
        yield binascii.a2b_base64(data[:whole])
    rest = data[whole:]
    if not rest:
        return
    if len(rest) == 1 or not padded:
        if error_p:
            raise MimeError(
                f"base64: the input ends inside a group of four characters ({rest!r}"
                f"{' then =' if padded else ''}); pass error_p=False to stop there instead"
            )
        return
    yield binascii.a2b_base64(rest + b"=" * (4 - len(rest)))


def base64_decode_stream(
    instream: Any, outstream: Any, *, count: Optional[int] = None, error_p: bool = True
) -> None:
    """excl's ``(base64-decode-stream instream outstream :count n :error-p t)``: decode the
    base64 of ``instream`` (binary, or text) onto the binary ``outstream``.

    Characters outside the base64 alphabet (line breaks...) are ignored; ``=`` ends the
    data; at most ``count`` bytes are read (None: to the end).  Input that ends inside a
    group of four raises :class:`~post_office.MimeError`, or with ``error_p=False`` ends the
    decoding quietly.  Allegro reads byte by byte and stops at the ``=``; this reads in
    blocks, so ``instream`` may be left past it.
    """
    target = _binary_out(outstream)
    for decoded in _base64_blocks(_blocks(instream, _count(count)), bool(error_p)):
        target.write(decoded)


# --------------------------------------------------------------------------- part bodies


def _part_encoding_and_charset(part: object) -> Tuple[str, str]:
    import email.message  # not at import: header decoding alone does not need it

    from .part import MimePart  # not at import: mime_part imports the renderer

    if isinstance(part, MimePart):
        charset = next((v for k, v in part.parameters if k.lower() == "charset"), None)
        return (part.encoding or "7bit"), str(charset or "us-ascii")
    if isinstance(part, email.message.Message):
        encoding = str(part.get("Content-Transfer-Encoding", "7bit")).strip()
        param = part.get_param("charset")
        return encoding, param if isinstance(param, str) else "us-ascii"
    raise MimeError(f"part: expected a MimePart or an email.message.Message, got {show(part)}")


def _body_chunks(instream: Any, encoding: str, count: Optional[int]) -> Iterator[bytes]:
    blocks = _blocks(instream, count)
    lowered = encoding.lower()
    if lowered == "quoted-printable":
        return _qp_blocks(blocks)
    if lowered == "base64":
        return _base64_blocks(blocks, False)  # Allegro passes :error-p nil here
    return blocks


@contextlib.contextmanager
def with_decoded_part_body_stream(
    part: object, instream: Any, *, count: Optional[int] = None
) -> Iterator[io.TextIOWrapper]:
    """Allegro's macro ``(with-decoded-part-body-stream (s part instream) body)``:
    ``with with_decoded_part_body_stream(part, instream) as s: body``.

    ``instream`` (binary) stands at the start of the part's body; ``s`` reads it decoded
    from the part's Content-Transfer-Encoding (quoted-printable, base64, else as it is) and
    from its charset (default ``us-ascii``, read as Latin-1 as Allegro reads it; an unknown
    one is read as Latin-1 too), lazily.  ``s`` is a text stream; ``s.buffer`` gives the
    decoded bytes.  ``part`` is a :class:`~post_office.MimePart` or an
    :class:`email.message.Message` (the parsed part: Allegro's ``mime-part-parsed``);
    ``count``, the body's size in bytes, stands in for Allegro's ``mime-part-body-size``
    (None: to the end of ``instream``).  ``instream`` is not closed.
    """
    from .render import ChunkReader  # not at import: mime_render imports headers

    encoding, charset = _part_encoding_and_charset(part)
    chunks = _body_chunks(instream, encoding, _count(count))
    codec = charset_codec(charset) or "latin-1"
    reader = io.BufferedReader(ChunkReader(chunks), buffer_size=_BLOCK)
    stream = io.TextIOWrapper(reader, encoding=codec, errors="replace", newline="")
    try:
        yield stream
    finally:
        stream.close()
