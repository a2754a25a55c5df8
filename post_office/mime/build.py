"""make-mime-part and with-mime-part-constructed-stream: MIME parts, built lazily (README "Letters
and attachments").

:func:`make_mime_part` checks its keywords and returns an immutable :class:`MimePart`
describing the part; nothing is encoded yet.  The text of the part is produced only when
it is streamed (:func:`with_mime_part_constructed_stream`, or passing the part straight
to ``send_smtp``, which calls the part's ``__post_office_chunks__`` hook): files are
opened then, read a block at a time and base64-encoded block by block, so a 1 GB
attachment costs a few hundred kilobytes of memory whatever its size.

Pure: no socket, no smtplib.  The text uses ``\\n`` newlines, as Allegro's
``mime-part-writer`` does; ``send_smtp`` turns every newline into CRLF on the wire.

This module is the public face of the MIME code, which is split by idea:

- :mod:`post_office.mime.part`: the :class:`MimePart` type, Allegro's accessors, and
  boundaries (:func:`seed_boundaries` makes them deterministic for golden tests;
  ``make_mime_part(boundary=...)`` sets one outright);
- :mod:`post_office.mime.checks`: the checks of make_mime_part's keywords;
- :mod:`post_office.mime.render`: the part's text, base64 and quoted-printable;
- here: :func:`make_mime_part` and the two ways of reading a part's text.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import (
    IO,
    Any,
    BinaryIO,
    Callable,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .._checks import show
from ..errors import MimeError
from ..message.headers import check_header_value
from ..spec.lisp import Keyword
from .checks import (
    ENCODINGS,
    RAW_ENCODINGS,
    Pairs,
    check_boundary,
    check_codec,
    check_content_type,
    check_headers,
    check_parameters,
    check_token,
    file_source,
    guess_type,
    mime_charset,
    optional_text,
    seven_bit_safe,
    text_bytes,
)
from .part import BOUNDARY_PREFIX as BOUNDARY_PREFIX  # for golden tests
from .part import (
    MAX_DEPTH,
    MimePart,
    append_subparts,
    check_part,
    fresh_boundary,
    mime_get_header,
    mime_part_boundary,
    mime_part_constructed_p,
    mime_part_description,
    mime_part_encoding,
    mime_part_headers,
    mime_part_id,
    mime_part_p,
    mime_part_parameters,
    mime_part_parts,
    mime_part_subtype,
    mime_part_type,
    seed_boundaries,
)
from .render import (
    BLOCK_SIZE,
    WRAP_AT,
    ChunkReader,
    encode_base64,
    encode_quoted_printable,
    render,
)

__all__ = [
    "MimePart",
    "append_subparts",
    "base64_encode_stream",
    "make_mime_part",
    "map_over_parts",
    "mime_get_header",
    "mime_part_boundary",
    "mime_part_constructed_p",
    "mime_part_description",
    "mime_part_encoding",
    "mime_part_headers",
    "mime_part_id",
    "mime_part_p",
    "mime_part_parameters",
    "mime_part_parts",
    "mime_part_subtype",
    "mime_part_type",
    "mime_part_writer",
    "qp_encode_stream",
    "seed_boundaries",
    "with_mime_part_constructed_stream",
]


# --------------------------------------------------------------------------- make-mime-part

#: Allegro's ``attachmentp-supplied-p``: an argument left out, told from one given as nil.
_NOT_GIVEN: Any = object()


def make_mime_part(
    *,
    content_type: Optional[str] = None,
    encoding: Optional[str] = None,
    headers: Pairs = None,
    attachmentp: object = _NOT_GIVEN,
    name: Optional[str] = None,
    text: Union[str, bytes, bytearray, memoryview, None] = None,
    start: int = 0,
    end: Optional[int] = None,
    file: Union[str, os.PathLike[str], IO[Any], None] = None,
    subparts: Optional[Sequence[MimePart]] = None,
    external_format: Union[str, Keyword] = "utf-8",
    parameters: Pairs = None,
    charset: Optional[str] = None,
    id: Optional[str] = None,
    description: Optional[str] = None,
    boundary: Optional[str] = None,
) -> MimePart:
    """Build a MIME part (Allegro's ``make-mime-part``, README "Letters and attachments"); nothing
    is read yet.

    :param content_type: ``:content-type``, ``"type/subtype"``.  Default: from the file
        name (:mod:`mimetypes`), else ``multipart/mixed`` with ``subparts``,
        ``application/octet-stream`` for a file, ``text/plain`` for str text.
    :param encoding: ``:encoding``: ``"7bit"``, ``"8bit"``, ``"binary"``, ``"base64"`` or
        ``"quoted-printable"``.  Default: ``7bit`` for str text that is plain ASCII with
        lines of at most 998 octets, else ``base64``; none for a multipart.
    :param headers: ``:headers``, (name, value) pairs (Allegro's alist) or a mapping,
        written first, in order.  Free-text values (Subject...) that are not ASCII are
        RFC 2047 encoded.
    :param attachmentp: ``:attachmentp``: Content-Disposition ``attachment`` when true.
        Not given: true for a file, false otherwise.  Given as None or False (Lisp
        ``nil``) it is false, also for a file, as in Allegro: ``file="logo.png",
        attachmentp=None, id="<logo@corp>"`` is an inline image with no file name.  A
        non-text part that is not an attachment is ``inline``.
    :param name: ``:name``, the ``filename`` of the disposition (default for an
        attachment: the base name of the file); RFC 2231 encoded when not ASCII.
    :param text: ``:text``, str (encoded with ``external_format``) or bytes.
    :param start: ``:start``, where the text begins (characters of a str, bytes of bytes).
    :param end: ``:end``, where it ends (default: its length).
    :param file: ``:file``, a file name, :class:`os.PathLike`, or a readable binary or
        text stream.  A file is opened now to check it can be read, and again each time
        the part is streamed; a stream is read from where it stands when the part is
        streamed, and never closed.
    :param subparts: ``:subparts``, MimeParts of a multipart (``[]``: a multipart with
        none yet).  Parts nest at most :data:`MAX_DEPTH` (100) deep.
    :param external_format: ``:external-format``: ``":utf8"`` (default), ``":latin1"``,
        ``Keyword("shiftjis")`` or any Python codec name; gives the default charset.
    :param parameters: ``:parameters``, more Content-Type parameters, (name, value) pairs;
        a value that is not a str is written as Lisp's ``~a`` writes it.  A ``charset``
        parameter is the part's charset (written once; Allegro writes two).
    :param charset: ``:charset``, for text types (default: a ``charset`` parameter, else
        from ``external_format``).  It labels the text; ``external_format`` encodes it.
    :param id: ``:id``, the Content-Id (e.g. ``"<logo@example>"``).
    :param description: ``:description``, the Content-Description.
    :param boundary: Python only: the multipart boundary (default: a random one).  For
        golden tests; see also :func:`seed_boundaries`.

    Raises :class:`~post_office.MimeError` (a ``ValueError``) for Allegro's errors (both
    text and file, neither, subparts on a non-multipart type, a content type without
    "/") and for every other malformed keyword; :class:`~post_office.HeaderError` when a
    header, name, id or description holds CR, LF or another control character.
    """
    if text is not None and file is not None:
        raise MimeError("Only one of :text or :file may be specified (text= or file=, not both)")
    has_subparts = subparts is not None
    codec = check_codec(external_format)

    kind, source, filepath = "none", None, None
    if file is not None:
        if start not in (0, None) or end is not None:
            raise MimeError("start and end slice text; they cannot be used with file")
        kind, source, filepath = file_source(file)

    if content_type is None:
        if filepath is not None:
            content_type = guess_type(filepath)
        if content_type is None:
            if has_subparts:
                content_type = "multipart/mixed"
            elif file is not None:
                content_type = "application/octet-stream"
            elif isinstance(text, str):
                content_type = "text/plain"
            else:
                content_type = "application/octet-stream"
    main, sub = check_content_type(content_type)
    multipart = main.lower() == "multipart"
    textp = main.lower() == "text" or (main.lower(), sub.lower()) == ("message", "rfc822")

    if has_subparts and not multipart:
        raise MimeError(f"subparts may not be specified for non-multipart parts ({main}/{sub})")
    if not multipart and text is None and file is None:
        raise MimeError(
            "One of :text or :file must be specified (text= or file=; or subparts= for a multipart)"
        )
    if multipart and (text is not None or file is not None):
        raise MimeError(f"a {main}/{sub} part is made of subparts; text and file do not apply")
    parts: Tuple[MimePart, ...] = ()
    if has_subparts:
        if isinstance(subparts, (str, bytes)) or not isinstance(subparts, Iterable):
            raise MimeError(f"subparts: expected a list of MimeParts, got {show(subparts)}")
        parts = tuple(subparts)
        for index, part in enumerate(parts):
            if not isinstance(part, MimePart):
                raise MimeError(
                    f"subparts[{index}]: expected a MimePart made by make_mime_part, got "
                    f"{type(part).__name__} {show(part)}"
                )
        depth = 1 + max((part.depth for part in parts), default=0)
        if depth > MAX_DEPTH:
            raise MimeError(
                f"subparts: parts nested {depth} deep; at most {MAX_DEPTH} levels are allowed "
                '(README "Differences from Allegro")'
            )

    if charset is not None:
        check_token(charset, "charset", "charset name")
    checked_parameters, parameter_charset = check_parameters(parameters, charset)
    if charset is None:
        charset = parameter_charset
    if charset is None and textp:
        charset = mime_charset(codec)

    data: Optional[bytes] = None
    if text is not None:
        data = text_bytes(text, start, end, codec)
        kind, source = "bytes", data

    if encoding is not None:
        if not isinstance(encoding, str) or encoding.lower() not in ENCODINGS:
            raise MimeError(f"encoding: {show(encoding)} is not one of {', '.join(ENCODINGS)}")
        encoding = encoding.lower()
        if multipart and encoding not in RAW_ENCODINGS:
            raise MimeError(
                f"encoding: a multipart cannot be {encoding}-encoded (RFC 2045 6.4); use "
                "7bit, 8bit or binary, or leave it out"
            )
        if encoding == "7bit" and data is not None and not data.isascii():
            raise MimeError(
                "encoding: the text has 8-bit bytes, so it cannot be sent as 7bit; use "
                "base64, quoted-printable or 8bit"
            )
    elif not multipart:
        encoding = "7bit" if isinstance(text, str) and seven_bit_safe(data or b"") else "base64"

    checked_headers = check_headers(headers, id, description)
    checked_id = optional_text(id, "id")
    checked_description = optional_text(description, "description")
    checked_name = optional_text(name, "name")

    attach = file is not None if attachmentp is _NOT_GIVEN else bool(attachmentp)
    disposition: Optional[str] = None
    if not textp and not attach and not multipart:
        disposition = "inline"
    if attach:
        disposition = "attachment"
        if checked_name is None and filepath is not None:
            base = os.path.basename(filepath)
            checked_name = check_header_value(base, "name (the file's name)") if base else None

    all_parameters = checked_parameters
    if charset is not None:
        all_parameters = (("charset", charset), *all_parameters)
    chosen_boundary: Optional[str] = None
    if boundary is not None and not multipart:
        raise MimeError(f"boundary: a {main}/{sub} part is not a multipart")
    if multipart:
        if boundary is not None:
            chosen_boundary = check_boundary(boundary, parts)
        else:
            chosen_boundary = fresh_boundary(parts)
        all_parameters = (("boundary", chosen_boundary), *all_parameters)

    return MimePart(
        type=main,
        subtype=sub,
        parameters=all_parameters,
        id=checked_id,
        description=checked_description,
        encoding=encoding,
        headers=checked_headers,
        parts=parts,
        boundary=chosen_boundary,
        disposition=disposition,
        disposition_name=checked_name,
        source_kind=kind,
        source=source,
        codec=codec,
        depth=1 + max((part.depth for part in parts), default=0),
    )


# --------------------------------------------------------------------------- streams


@contextlib.contextmanager
def with_mime_part_constructed_stream(part: MimePart) -> Iterator[BinaryIO]:
    """Allegro's ``(with-mime-part-constructed-stream (s part) body)``:
    ``with with_mime_part_constructed_stream(part) as s: body``.

    ``s`` is a readable binary stream producing the part's text lazily (``\\n`` newlines):
    a file attachment is read and base64-encoded block by block as ``s`` is read, so
    memory stays small whatever the size.  Pass ``s`` to ``send_smtp`` as in Allegro, or
    read it yourself.  Leaving the block closes ``s`` and any file it opened.  A part can
    be streamed any number of times (files are reopened; a stream source is read once).
    """
    reader = ChunkReader(render(check_part(part, "with_mime_part_constructed_stream"), True))
    stream = io.BufferedReader(reader, buffer_size=1 << 16)
    try:
        yield stream
    finally:
        stream.close()


def mime_part_writer(part: MimePart, stream: Optional[IO[Any]] = None) -> None:
    """Allegro's ``(mime-part-writer part :stream s)``: write the part's text to ``stream``.

    A binary stream receives the bytes; a text stream (default: standard output) the
    text decoded as UTF-8 (undecodable bytes replaced).
    """
    chunks = render(check_part(part, "mime_part_writer"), True)
    target: IO[Any] = sys.stdout if stream is None else stream
    binary = not isinstance(target, io.TextIOBase)
    try:
        for chunk in chunks:
            target.write(bytes(chunk) if binary else bytes(chunk).decode("utf-8", "replace"))
    finally:
        chunks.close()


# --------------------------------------------------------------------------- Allegro's helpers


def map_over_parts(part: MimePart, function: Callable[[MimePart], object]) -> None:
    """Allegro's ``(map-over-parts part function)``: call ``function`` on ``part``, then
    on each of its subparts, depth first, in order."""
    pending: List[MimePart] = [check_part(part, "map_over_parts")]
    while pending:
        current = pending.pop()
        function(current)
        pending.extend(reversed(current.parts))


def _check_wrap_at(wrap_at: object) -> Optional[int]:
    if wrap_at is None:
        return None
    if isinstance(wrap_at, bool) or not isinstance(wrap_at, int) or wrap_at < 1:
        raise MimeError(f"wrap_at: expected a positive integer or None, got {show(wrap_at)}")
    return wrap_at


def _read_blocks(instream: Any) -> Iterator[bytes]:
    if not callable(getattr(instream, "read", None)):
        raise MimeError(f"instream: expected a readable binary stream, got {show(instream)}")
    while True:
        block = instream.read(BLOCK_SIZE)
        if not block:
            return
        if not isinstance(block, (bytes, bytearray, memoryview)):
            raise MimeError(
                f"instream: read() returned {type(block).__name__}; the stream must be "
                "binary (open the file with 'rb'), as Allegro reads it with read-byte"
            )
        yield bytes(block)


def _write_all(chunks: Iterator[bytes], outstream: Any) -> None:
    text = isinstance(outstream, io.TextIOBase)
    for chunk in chunks:
        outstream.write(chunk.decode("ascii") if text else chunk)


def base64_encode_stream(
    instream: Any, outstream: Any, *, wrap_at: Optional[int] = WRAP_AT
) -> None:
    """Allegro's ``(base64-encode-stream instream outstream :wrap-at 72)``: read the bytes
    of the binary stream ``instream`` and write their base64 to ``outstream`` (text or
    binary), in lines of ``wrap_at`` characters each ending in a newline; ``wrap_at=None``
    writes one line with no newline."""
    _write_all(encode_base64(_read_blocks(instream), _check_wrap_at(wrap_at)), outstream)


def qp_encode_stream(instream: Any, outstream: Any, *, wrap_at: Optional[int] = WRAP_AT) -> None:
    """Allegro's ``(qp-encode-stream instream outstream :wrap-at 72)``: write the
    quoted-printable encoding of the binary stream ``instream`` to ``outstream`` (text or
    binary), with soft line breaks once a line reaches ``wrap_at`` columns (None: never).
    A space or tab that ends a line is ``=20``/``=09`` (Allegro writes ``=20`` for both)."""
    _write_all(encode_quoted_printable(_read_blocks(instream), _check_wrap_at(wrap_at)), outstream)
