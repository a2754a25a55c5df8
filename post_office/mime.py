"""make-mime-part and with-mime-part-constructed-stream: MIME parts, built lazily (SPEC 7).

:func:`make_mime_part` checks its keywords and returns an immutable :class:`MimePart`
describing the part; nothing is encoded yet.  The text of the part is produced only when
it is streamed (:func:`with_mime_part_constructed_stream`, or passing the part straight
to ``send_smtp``, which calls the part's ``__post_office_chunks__`` hook): files are
opened then, read a block at a time and base64-encoded block by block, so a 1 GB
attachment costs a few hundred kilobytes of memory whatever its size.

Pure: no socket, no smtplib.  The text uses ``\\n`` newlines, as Allegro's
``mime-part-writer`` does; ``send_smtp`` turns every newline into CRLF on the wire.

Boundaries are ``----------=_`` followed by 32 random hex digits.  ``=_`` cannot occur in
base64 or quoted-printable text, and a boundary is checked against every 7bit/8bit text
held in memory (and regenerated on a collision), so it never collides with content.
:func:`seed_boundaries` makes the sequence deterministic for golden tests, and
``make_mime_part(boundary=...)`` sets one outright.
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import io
import mimetypes
import os
import random
import re
import secrets
import sys
import threading
from dataclasses import dataclass, replace
from typing import (
    IO,
    Any,
    BinaryIO,
    Generator,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .errors import MimeError
from .headers import (
    check_header_name,
    check_header_value,
    format_header,
    format_parameter,
)
from .lisp import Keyword

__all__ = [
    "MimePart",
    "append_subparts",
    "make_mime_part",
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
    "seed_boundaries",
    "with_mime_part_constructed_stream",
]

#: Bytes read from a file or stream at a time: a whole number of 57-byte base64 input
#: lines (4096 of them), so each block encodes to complete 76-character lines.
BLOCK_SIZE = 57 * 4096
#: The preamble Allegro writes after the headers of a top-level multipart.
PREAMBLE = b"This is a multi-part message in MIME format.\n"
#: Every generated boundary starts with this; "=_" keeps it out of base64 and QP text.
BOUNDARY_PREFIX = "----------=_"

ENCODINGS = ("7bit", "8bit", "binary", "base64", "quoted-printable")
_RAW_ENCODINGS = ("7bit", "8bit", "binary")

_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z|~]+\Z")  # RFC 2045 token
# RFC 2046 5.1.1: 1 to 70 bchars, the last not a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]\Z")
_LONG_LINE = re.compile(rb"[^\n]{999}")  # RFC 5322 2.1.1: at most 998 octets a line
_BYTES_LIKE = (bytes, bytearray, memoryview)
# Headers make_mime_part writes itself; a caller's copy would contradict them.
_GENERATED = ("mime-version", "content-type", "content-transfer-encoding")

# Allegro external-format names that Python's codec registry does not know as such.
_LISP_FORMATS = {
    "utf8": "utf-8",
    "latin1": "latin-1",
    "euc": "euc_jp",
    "shiftjis": "shift_jis",
    "jis": "iso2022_jp",
    "iso-2022-jp": "iso2022_jp",
    "gb2312": "gb2312",
    "big5": "big5",
    "koi8-r": "koi8_r",
}
# Python codec name -> the MIME charset name (RFC 2978 registry spelling).
_MIME_CHARSETS = {
    "utf-8": "utf-8",
    "ascii": "us-ascii",
    "shift_jis": "shift_jis",
    "euc_jp": "euc-jp",
    "iso2022_jp": "iso-2022-jp",
    "koi8-r": "koi8-r",
    "koi8_r": "koi8-r",
    "gb2312": "gb2312",
    "gbk": "gbk",
    "gb18030": "gb18030",
    "big5": "big5",
    "euc_kr": "euc-kr",
    "cp932": "windows-31j",
    "cp936": "gbk",
    "utf-16": "utf-16",
    "utf-16-be": "utf-16be",
    "utf-16-le": "utf-16le",
}
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}

_rng: Optional[random.Random] = None
_rng_lock = threading.Lock()

Pairs = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]


# --------------------------------------------------------------------------- the part


@dataclass(frozen=True, eq=False, repr=False)
class MimePart:
    """A constructed MIME part (Allegro's ``mime-part-constructed``), made by
    :func:`make_mime_part`.  Immutable; the attributes mirror Allegro's accessors.

    ``parameters`` and ``headers`` are tuples of ``(name, value)`` pairs (Allegro's
    alists); ``parts`` the subparts of a multipart; ``boundary`` is None unless the part
    is a multipart.  Stream it with :func:`with_mime_part_constructed_stream`, or pass it
    straight to ``send_smtp`` as a message argument.
    """

    type: str
    subtype: str
    parameters: Tuple[Tuple[str, str], ...]
    id: Optional[str]
    description: Optional[str]
    encoding: Optional[str]
    headers: Tuple[Tuple[str, str], ...]
    parts: Tuple[MimePart, ...]
    boundary: Optional[str]
    disposition: Optional[str]
    """``"attachment"``, ``"inline"`` or None (no Content-Disposition)."""
    disposition_name: Optional[str]
    """The file name written as Content-Disposition's ``filename``."""
    source_kind: str
    """``"bytes"`` (text in memory), ``"file"`` (a path, opened when streamed),
    ``"stream"`` (read from where it stands when streamed, never closed) or ``"none"``."""
    source: Any
    codec: str
    """The Python codec of the part's ``external_format`` (for str read from streams)."""

    @property
    def content_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def multipart(self) -> bool:
        return self.type.lower() == "multipart"

    def __repr__(self) -> str:
        extra = ""
        if self.multipart:
            extra = f", {len(self.parts)} parts"
        elif self.source_kind == "bytes":
            extra = f", {len(self.source)} bytes"
        elif self.source_kind == "file":
            extra = f", file {self.source!r}"
        elif self.source_kind == "stream":
            extra = f", stream {type(self.source).__name__}"
        return f"<MimePart {self.content_type}, {self.encoding}{extra}>"

    def __post_office_chunks__(self) -> Generator[bytes, None, None]:
        """The part's text, generated lazily, for ``send_smtp`` (see ``wire.py``)."""
        return _render(self, top_level=True)


# --------------------------------------------------------------------------- accessors


def mime_part_p(thing: object) -> bool:
    """Allegro's ``mime-part-p``: is ``thing`` a MIME part."""
    return isinstance(thing, MimePart)


def mime_part_constructed_p(thing: object) -> bool:
    """Allegro's ``mime-part-constructed-p``: was ``thing`` made by make_mime_part."""
    return isinstance(thing, MimePart)


def _part(part: object, accessor: str) -> MimePart:
    if not isinstance(part, MimePart):
        raise MimeError(
            f"{accessor}: expected a MimePart made by make_mime_part, got "
            f"{type(part).__name__} {part!r:.80}"
        )
    return part


def mime_part_type(part: MimePart) -> str:
    """Allegro's ``mime-part-type``: ``"text"`` of ``text/plain``."""
    return _part(part, "mime_part_type").type


def mime_part_subtype(part: MimePart) -> str:
    """Allegro's ``mime-part-subtype``: ``"plain"`` of ``text/plain``."""
    return _part(part, "mime_part_subtype").subtype


def mime_part_parameters(part: MimePart) -> Tuple[Tuple[str, str], ...]:
    """Allegro's ``mime-part-parameters``: Content-Type parameters, boundary and charset first."""
    return _part(part, "mime_part_parameters").parameters


def mime_part_id(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-id``: the Content-Id, or None."""
    return _part(part, "mime_part_id").id


def mime_part_description(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-description``: the Content-Description, or None."""
    return _part(part, "mime_part_description").description


def mime_part_encoding(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-encoding``: the Content-Transfer-Encoding, or None."""
    return _part(part, "mime_part_encoding").encoding


def mime_part_headers(part: MimePart) -> Tuple[Tuple[str, str], ...]:
    """Allegro's ``mime-part-headers``: the caller's (name, value) header pairs."""
    return _part(part, "mime_part_headers").headers


def mime_part_parts(part: MimePart) -> Tuple[MimePart, ...]:
    """Allegro's ``mime-part-parts``: the subparts of a multipart (empty otherwise)."""
    return _part(part, "mime_part_parts").parts


def mime_part_boundary(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-boundary``: the boundary of a multipart, else None."""
    return _part(part, "mime_part_boundary").boundary


def mime_get_header(header: str, part: MimePart) -> Optional[str]:
    """Allegro's ``mime-get-header``: the value of the caller's header ``header``
    (case-insensitive), or None."""
    wanted = header.lower()
    for name, value in _part(part, "mime_get_header").headers:
        if name.lower() == wanted:
            return value
    return None


# --------------------------------------------------------------------------- boundaries


def seed_boundaries(seed: Optional[int]) -> None:
    """Make generated boundaries a deterministic sequence (for golden tests).

    After ``seed_boundaries(42)`` every process generates the same boundaries in the same
    order; ``seed_boundaries(None)`` goes back to unpredictable ones from :mod:`secrets`
    (the default).  Python only; Allegro uses ``random``.
    """
    global _rng
    with _rng_lock:
        _rng = None if seed is None else random.Random(seed)


def _new_boundary() -> str:
    with _rng_lock:
        if _rng is None:
            return BOUNDARY_PREFIX + secrets.token_hex(16)
        return BOUNDARY_PREFIX + format(_rng.getrandbits(128), "032x")


def _descendants(parts: Iterable[MimePart]) -> Iterator[MimePart]:
    for part in parts:
        yield part
        yield from _descendants(part.parts)


def _collides(boundary: str, parts: Iterable[MimePart]) -> Optional[str]:
    """Why ``boundary`` could be mistaken inside ``parts``, or None when it cannot.

    Base64 text has no ``-`` at all; quoted-printable text never has ``=_`` (``=`` is
    always followed by hex digits or a newline), so a boundary containing ``=_`` is safe
    there; raw text held in memory is searched.  A nested multipart's boundary must not
    start with ours nor ours with it.  Raw text streamed from a file is not read ahead:
    a random 128-bit boundary cannot be guessed by whoever wrote the file.
    """
    marker = ("--" + boundary).encode("utf-8")
    for part in _descendants(parts):
        if part.boundary is not None:
            if part.boundary.startswith(boundary) or boundary.startswith(part.boundary):
                return f"a nested multipart's boundary {part.boundary!r} overlaps it"
            continue
        if part.source_kind != "bytes" or part.encoding == "base64":
            continue
        data: bytes = part.source
        if part.encoding == "quoted-printable":
            if "=_" in boundary:
                continue
            data = b"".join(_quoted_printable(iter([data])))
        if marker in data:
            return f"the text of a {part.content_type} subpart contains '--{boundary}'"
    return None


def _fresh_boundary(parts: Sequence[MimePart]) -> str:
    while True:
        boundary = _new_boundary()
        if _collides(boundary, parts) is None:
            return boundary


def append_subparts(part: MimePart, extra: Sequence[MimePart]) -> MimePart:
    """A copy of the multipart ``part`` with ``extra`` appended to its subparts.

    The caller's part is left as it was (send-letter's attachments; Allegro modifies the
    part for the duration of the call).  The boundary is kept unless the new subparts
    contain it, in which case the copy gets a fresh one.
    """
    parts = part.parts + tuple(extra)
    assert part.boundary is not None
    if _collides(part.boundary, extra) is None:
        return replace(part, parts=parts)
    boundary = _fresh_boundary(parts)
    parameters = tuple(
        ("boundary", boundary) if name == "boundary" else (name, value)
        for name, value in part.parameters
    )
    return replace(part, parts=parts, boundary=boundary, parameters=parameters)


# --------------------------------------------------------------------------- make-mime-part


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _codec(external_format: object) -> str:
    """Allegro's external format (``:utf8``, ``"latin1"``, ``Keyword("shiftjis")``, or a
    Python codec name) -> the Python codec name."""
    if isinstance(external_format, Keyword):
        name = external_format.name
    elif isinstance(external_format, str) and external_format:
        name = external_format[1:] if external_format.startswith(":") else external_format
    else:
        raise MimeError(
            f"external_format: {_show(external_format)} is not an encoding name such as "
            "'utf-8', ':utf8' or ':latin1'"
        )
    key = name.lower()
    key = _LISP_FORMATS.get(key, key)
    if key.isdigit():
        key = "cp" + key
    try:
        info = codecs.lookup(key)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise MimeError(
            f"external_format: {_show(external_format)} is not a text encoding Python "
            "knows (e.g. 'utf-8', ':utf8', ':latin1', ':shiftjis', 'cp1252')"
        )
    return info.name


def _mime_charset(codec: str) -> str:
    """The MIME charset name of a Python codec (``iso8859-1`` -> ``iso-8859-1``)."""
    if codec in _MIME_CHARSETS:
        return _MIME_CHARSETS[codec]
    match = re.match(r"iso8859-(\d+)\Z", codec)
    if match:
        return f"iso-8859-{match.group(1)}"
    match = re.match(r"cp(125\d)\Z", codec)
    if match:
        return f"windows-{match.group(1)}"
    return codec.replace("_", "-")


def _token(value: object, argument: str, what: str) -> str:
    if not isinstance(value, str) or _TOKEN.match(value) is None:
        raise MimeError(
            f"{argument}: {_show(value)} is not a valid {what}: expected a MIME token "
            "(ASCII letters, digits and !#$%&'*+-.^_`|~)"
        )
    return value


def _content_type(content_type: object) -> Tuple[str, str]:
    if not isinstance(content_type, str) or "/" not in content_type:
        raise MimeError(
            f"content_type: invalid content-type {_show(content_type)}: expected "
            "'type/subtype' such as 'text/plain'"
        )
    if ";" in content_type:
        raise MimeError(
            f"content_type: {_show(content_type)} carries parameters; give only "
            "'type/subtype' and pass the rest as parameters=[(name, value), ...]"
        )
    main, _, sub = content_type.partition("/")
    return (
        _token(main.strip(), "content_type", "media type"),
        _token(sub.strip(), "content_type", "media subtype"),
    )


def _pairs(value: Pairs, argument: str) -> List[Tuple[object, object]]:
    """(name, value) pairs from a mapping or an iterable of 2-sequences (Allegro alists)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise MimeError(
            f"{argument}: expected a list of (name, value) pairs or a mapping, got "
            f"{type(value).__name__} {_show(value)}"
        )
    pairs: List[Tuple[object, object]] = []
    for index, item in enumerate(value):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise MimeError(
                f"{argument}[{index}]: expected a (name, value) pair, got {_show(item)}"
            )
        pairs.append((item[0], item[1]))
    return pairs


def _check_headers(headers: Pairs, id_: object, description: object) -> Tuple[Tuple[str, str], ...]:
    checked = []
    for index, (name, value) in enumerate(_pairs(headers, "headers")):
        argument = f"headers[{index}]"
        check_header_name(name, argument)
        assert isinstance(name, str)
        lower = name.lower()
        if lower in _GENERATED or (
            (lower == "content-id" and id_ is not None)
            or (lower == "content-description" and description is not None)
        ):
            raise MimeError(
                f"{argument}: make_mime_part writes the {name} header itself; use "
                "content_type, encoding, id or description instead"
            )
        checked.append((name, check_header_value(value, f"{argument} ({name})")))
    return tuple(checked)


def _check_parameters(parameters: Pairs) -> Tuple[Tuple[str, str], ...]:
    checked = []
    for index, (name, value) in enumerate(_pairs(parameters, "parameters")):
        argument = f"parameters[{index}]"
        _token(name, argument, "parameter name")
        assert isinstance(name, str)
        if name.lower() in ("boundary", "charset"):
            raise MimeError(
                f"{argument}: give the {name} with make_mime_part's {name.lower()}= "
                "keyword, not as a parameter"
            )
        checked.append((name, check_header_value(value, f"{argument} ({name})")))
    return tuple(checked)


def _optional_text(value: object, argument: str) -> Optional[str]:
    return None if value is None else check_header_value(value, argument)


def _bounds(start: object, end: object, length: int) -> Tuple[int, int]:
    for label, value in (("start", start), ("end", end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise MimeError(f"{label}: expected an integer index, got {_show(value)}")
    first = 0 if start is None else start
    last = length if end is None else end
    assert isinstance(first, int) and isinstance(last, int)
    if not 0 <= first <= last <= length:
        raise MimeError(
            f"start {start!r} and end {end!r} do not delimit a piece of the text (its "
            f"length is {length}): expected 0 <= start <= end <= {length}"
        )
    return first, last


def _text_bytes(text: object, start: object, end: object, codec: str) -> bytes:
    if isinstance(text, str):
        first, last = _bounds(start, end, len(text))
        piece = text[first:last] if (first, last) != (0, len(text)) else text
        try:
            return piece.encode(codec)
        except UnicodeEncodeError as exc:
            raise MimeError(
                f"text: the character {piece[exc.start]!r} at index {first + exc.start} "
                f"cannot be encoded in the external format {codec!r}"
            ) from exc
    if isinstance(text, _BYTES_LIKE):
        with memoryview(text) as view:
            flat = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
            with flat:
                first, last = _bounds(start, end, flat.nbytes)
                if type(text) is bytes and (first, last) == (0, flat.nbytes):
                    return text
                return flat[first:last].tobytes()
    raise MimeError(
        f"text: expected a str or bytes, got {type(text).__name__} {_show(text)} (for a "
        "file or stream, use file=)"
    )


def _seven_bit_safe(data: bytes) -> bool:
    """RFC 2045 7bit: ASCII, no NUL, no line over 998 octets."""
    return data.isascii() and b"\x00" not in data and _LONG_LINE.search(data) is None


def _file_source(file: object) -> Tuple[str, Any, Optional[str]]:
    """(kind, source, path-or-name) for make_mime_part's ``file``."""
    if isinstance(file, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(file))
        if not path:
            raise MimeError("file: an empty path names no file")
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise MimeError(f"file: {path!r} cannot be read: {exc.strerror or exc}") from exc
        return "file", path, path
    if not isinstance(file, type) and callable(getattr(file, "read", None)):
        if getattr(file, "closed", False) is True:
            raise MimeError(f"file: the stream {_show(file)} is closed")
        readable = getattr(file, "readable", None)
        if callable(readable):
            try:
                ok = readable()
            except (OSError, ValueError):
                ok = False
            if ok is False:
                raise MimeError(f"file: the stream {_show(file)} is not readable")
        name = getattr(file, "name", None)
        return "stream", file, name if isinstance(name, str) and name else None
    raise MimeError(
        f"file: expected a file name, a path or a readable stream, got "
        f"{type(file).__name__} {_show(file)}"
    )


def _guess_type(path: str) -> Optional[str]:
    guessed, compression = mimetypes.guess_type(os.path.basename(path))
    if compression is not None:
        return _COMPRESSED.get(compression, "application/octet-stream")
    return guessed


def _check_boundary(boundary: object, parts: Sequence[MimePart]) -> str:
    if not isinstance(boundary, str) or _BOUNDARY.match(boundary) is None:
        raise MimeError(
            f"boundary: {_show(boundary)} is not a valid boundary: expected 1 to 70 "
            "characters of letters, digits and '()+_,-./:=? (RFC 2046), not ending in a space"
        )
    why = _collides(boundary, parts)
    if why is not None:
        raise MimeError(f"boundary: {boundary!r} cannot be used: {why}")
    return boundary


def make_mime_part(
    *,
    content_type: Optional[str] = None,
    encoding: Optional[str] = None,
    headers: Pairs = None,
    attachmentp: Optional[bool] = None,
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
    """Build a MIME part (Allegro's ``make-mime-part``, SPEC section 7); nothing is read yet.

    :param content_type: ``:content-type``, ``"type/subtype"``.  Default: from the file
        name (:mod:`mimetypes`), else ``multipart/mixed`` with ``subparts``,
        ``application/octet-stream`` for a file, ``text/plain`` for str text.
    :param encoding: ``:encoding``: ``"7bit"``, ``"8bit"``, ``"binary"``, ``"base64"`` or
        ``"quoted-printable"``.  Default: ``7bit`` for str text that is plain ASCII with
        lines of at most 998 octets, else ``base64``; none for a multipart.
    :param headers: ``:headers``, (name, value) pairs (Allegro's alist) or a mapping,
        written first, in order.  Free-text values (Subject...) that are not ASCII are
        RFC 2047 encoded.
    :param attachmentp: ``:attachmentp``: Content-Disposition ``attachment``.  Default:
        true for a file, false otherwise; a non-text part that is not an attachment is
        ``inline``.
    :param name: ``:name``, the ``filename`` of the disposition (default for an
        attachment: the base name of the file); RFC 2231 encoded when not ASCII.
    :param text: ``:text``, str (encoded with ``external_format``) or bytes.
    :param start: ``:start``, where the text begins (characters of a str, bytes of bytes).
    :param end: ``:end``, where it ends (default: its length).
    :param file: ``:file``, a file name, :class:`os.PathLike`, or a readable binary or
        text stream.  A file is opened now to check it can be read, and again each time
        the part is streamed; a stream is read from where it stands when the part is
        streamed, and never closed.
    :param subparts: ``:subparts``, MimeParts of a multipart.
    :param external_format: ``:external-format``: ``":utf8"`` (default), ``":latin1"``,
        ``Keyword("shiftjis")`` or any Python codec name; gives the default charset.
    :param parameters: ``:parameters``, more Content-Type parameters, (name, value) pairs.
    :param charset: ``:charset``, for text types (default: from ``external_format``).
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
        raise MimeError("only one of text and file may be specified")
    codec = _codec(external_format)

    kind, source, filepath = "none", None, None
    if file is not None:
        if start not in (0, None) or end is not None:
            raise MimeError("start and end slice text; they cannot be used with file")
        kind, source, filepath = _file_source(file)

    if content_type is None:
        if filepath is not None:
            content_type = _guess_type(filepath)
        if content_type is None:
            if subparts is not None:
                content_type = "multipart/mixed"
            elif file is not None:
                content_type = "application/octet-stream"
            elif isinstance(text, str):
                content_type = "text/plain"
            else:
                content_type = "application/octet-stream"
    main, sub = _content_type(content_type)
    multipart = main.lower() == "multipart"
    textp = main.lower() == "text" or (main.lower(), sub.lower()) == ("message", "rfc822")

    if subparts is not None and not multipart:
        raise MimeError(f"subparts may not be specified for non-multipart parts ({main}/{sub})")
    if not multipart and text is None and file is None:
        raise MimeError("one of text or file must be specified (or subparts, for a multipart)")
    if multipart and (text is not None or file is not None):
        raise MimeError(f"a {main}/{sub} part is made of subparts; text and file do not apply")
    parts: Tuple[MimePart, ...] = ()
    if subparts is not None:
        if isinstance(subparts, (str, bytes)) or not isinstance(subparts, Iterable):
            raise MimeError(f"subparts: expected a list of MimeParts, got {_show(subparts)}")
        parts = tuple(subparts)
        for index, part in enumerate(parts):
            if not isinstance(part, MimePart):
                raise MimeError(
                    f"subparts[{index}]: expected a MimePart made by make_mime_part, got "
                    f"{type(part).__name__} {_show(part)}"
                )

    if charset is not None:
        _token(charset, "charset", "charset name")
    elif textp:
        charset = _mime_charset(codec)

    data: Optional[bytes] = None
    if text is not None:
        data = _text_bytes(text, start, end, codec)
        kind, source = "bytes", data

    if encoding is not None:
        if not isinstance(encoding, str) or encoding.lower() not in ENCODINGS:
            raise MimeError(f"encoding: {_show(encoding)} is not one of {', '.join(ENCODINGS)}")
        encoding = encoding.lower()
        if multipart and encoding not in _RAW_ENCODINGS:
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
        encoding = "7bit" if isinstance(text, str) and _seven_bit_safe(data or b"") else "base64"

    checked_headers = _check_headers(headers, id, description)
    checked_parameters = _check_parameters(parameters)
    checked_id = _optional_text(id, "id")
    checked_description = _optional_text(description, "description")
    checked_name = _optional_text(name, "name")

    attach = bool(attachmentp) if attachmentp is not None else file is not None
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
            chosen_boundary = _check_boundary(boundary, parts)
        else:
            chosen_boundary = _fresh_boundary(parts)
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
    )


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


def _render(part: MimePart, top_level: bool) -> Generator[bytes, None, None]:
    """The part's text as Allegro's ``mime-part-constructed-writer`` lays it out."""
    yield _header_block(part, top_level)
    if part.multipart:
        if top_level:
            yield PREAMBLE
        delimiter = f"\n--{part.boundary}\n".encode()
        for sub in part.parts:
            yield delimiter
            yield from _render(sub, top_level=False)
        yield f"\n--{part.boundary}--\n".encode()
        return
    chunks = _source_chunks(part)
    try:
        if part.encoding == "base64":
            yield from _base64(chunks)
        elif part.encoding == "quoted-printable":
            yield from _quoted_printable(chunks)
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
                    f"file: read() of the stream {_show(part.source)} returned "
                    f"{_show(piece)}, neither str nor bytes (a non-blocking stream with no "
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


def _base64(chunks: Iterator[bytes]) -> Iterator[bytes]:
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


def _quoted_printable(chunks: Iterator[bytes]) -> Iterator[bytes]:
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


class _ChunkReader(io.RawIOBase):
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
    reader = _ChunkReader(_render(_part(part, "with_mime_part_constructed_stream"), True))
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
    chunks = _render(_part(part, "mime_part_writer"), True)
    target: IO[Any] = sys.stdout if stream is None else stream
    binary = not isinstance(target, io.TextIOBase)
    try:
        for chunk in chunks:
            target.write(bytes(chunk) if binary else bytes(chunk).decode("utf-8", "replace"))
    finally:
        chunks.close()
