"""make_mime_part's argument checks: content types, encodings, charsets, text, files.

Each check raises :class:`~post_office.MimeError` (or
:class:`~post_office.HeaderError` for header text) naming the keyword, before any part is
built.  Allegro's external formats (``:utf8``, ``:latin1``...) are mapped to Python codecs
and MIME charset names here.  Pure: no I/O beyond opening a named file to check that it
can be read.
"""

from __future__ import annotations

import codecs
import mimetypes
import os
import re
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .._checks import is_stream, show, stream_problem
from ..errors import MimeError
from ..message.headers import check_header_name, check_line_length, header_text
from ..spec.lisp import Keyword
from .part import MimePart, collides

__all__ = [
    "ENCODINGS",
    "RAW_ENCODINGS",
    "Pairs",
    "check_boundary",
    "check_codec",
    "check_content_type",
    "check_headers",
    "check_parameters",
    "check_token",
    "file_source",
    "guess_type",
    "mime_charset",
    "optional_text",
    "seven_bit_safe",
    "text_bytes",
]

ENCODINGS = ("7bit", "8bit", "binary", "base64", "quoted-printable")
RAW_ENCODINGS = ("7bit", "8bit", "binary")

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


Pairs = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]


def check_codec(external_format: object) -> str:
    """Allegro's external format (``:utf8``, ``"latin1"``, ``Keyword("shiftjis")``, or a
    Python codec name) -> the Python codec name."""
    if isinstance(external_format, Keyword):
        name = external_format.name
    elif isinstance(external_format, str) and external_format:
        name = external_format[1:] if external_format.startswith(":") else external_format
    else:
        raise MimeError(
            f"external_format: {show(external_format)} is not an encoding name such as "
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
            f"external_format: {show(external_format)} is not a text encoding Python "
            "knows (e.g. 'utf-8', ':utf8', ':latin1', ':shiftjis', 'cp1252')"
        )
    return info.name


def mime_charset(codec: str) -> str:
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


def check_token(value: object, argument: str, what: str) -> str:
    if not isinstance(value, str) or _TOKEN.match(value) is None:
        raise MimeError(
            f"{argument}: {show(value)} is not a valid {what}: expected a MIME token "
            "(ASCII letters, digits and !#$%&'*+-.^_`|~)"
        )
    return value


def check_content_type(content_type: object) -> Tuple[str, str]:
    if not isinstance(content_type, str) or "/" not in content_type:
        raise MimeError(
            f"content_type: Invalid content-type: {show(content_type)}: expected "
            "'type/subtype' such as 'text/plain'"
        )
    if ";" in content_type:
        raise MimeError(
            f"content_type: {show(content_type)} carries parameters; give only "
            "'type/subtype' and pass the rest as parameters=[(name, value), ...]"
        )
    main, _, sub = content_type.partition("/")
    # Allegro splits at the first "/" and writes the rest as given; "text/" or
    # "application/vnd/x" would give a Content-Type no reader parses (README "Differences").
    if not sub.strip() or "/" in sub:
        what = "an empty subtype" if not sub.strip() else "more than one '/'"
        raise MimeError(
            f"content_type: Invalid content-type: {show(content_type)} has {what}: expected "
            "'type/subtype' such as 'text/plain' (RFC 2045 5.1)"
        )
    return (
        check_token(main.strip(), "content_type", "media type"),
        check_token(sub.strip(), "content_type", "media subtype"),
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
            f"{type(value).__name__} {show(value)}"
        )
    pairs: List[Tuple[object, object]] = []
    for index, item in enumerate(value):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise MimeError(f"{argument}[{index}]: expected a (name, value) pair, got {show(item)}")
        pairs.append((item[0], item[1]))
    return pairs


def check_headers(headers: Pairs, id_: object, description: object) -> Tuple[Tuple[str, str], ...]:
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
        text = header_text(value, f"{argument} ({name})")
        checked.append((name, check_line_length(name, text, f"{argument} ({name})")))
    return tuple(checked)


def check_parameters(
    parameters: Pairs, charset: Optional[str]
) -> Tuple[Tuple[Tuple[str, str], ...], Optional[str]]:
    """make-mime-part's ``:parameters`` and the charset they name, checked.

    A ``charset`` parameter is the caller's charset (Allegro would write it beside its
    own): it is returned apart, and must agree with the ``charset`` keyword when both are
    given.  A ``boundary`` parameter is refused (make_mime_part's ``boundary=`` sets it).
    """
    checked = []
    named: Optional[str] = None
    for index, (name, value) in enumerate(_pairs(parameters, "parameters")):
        argument = f"parameters[{index}]"
        check_token(name, argument, "parameter name")
        assert isinstance(name, str)
        text = header_text(value, f"{argument} ({name})")
        if name.lower() == "boundary":
            raise MimeError(
                f"{argument}: a boundary parameter is not taken: make_mime_part writes a "
                "multipart's boundary itself; to choose it, use the boundary= keyword "
                "(Allegro would write yours beside its own, and readers disagree on which "
                "one counts)"
            )
        if name.lower() == "charset":
            check_token(text, argument, "charset name")
            if named is not None and named.lower() != text.lower():
                raise MimeError(f"{argument}: a second charset, {text!r} after {named!r}")
            named = text
            continue
        checked.append((name, text))
    if named is not None and charset is not None and named.lower() != charset.lower():
        raise MimeError(
            f"parameters: charset {named!r} contradicts the charset keyword {charset!r}; "
            "give one of them"
        )
    return tuple(checked), named


def optional_text(value: object, argument: str) -> Optional[str]:
    return None if value is None else header_text(value, argument)


def _bounds(start: object, end: object, length: int) -> Tuple[int, int]:
    for label, value in (("start", start), ("end", end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise MimeError(f"{label}: expected an integer index, got {show(value)}")
    first = 0 if start is None else start
    last = length if end is None else end
    assert isinstance(first, int) and isinstance(last, int)
    if not 0 <= first <= last <= length:
        raise MimeError(
            f"start {show(start)} and end {show(end)} do not delimit a piece of the text (its "
            f"length is {length}): expected 0 <= start <= end <= {length}"
        )
    return first, last


def text_bytes(text: object, start: object, end: object, codec: str) -> bytes:
    if isinstance(text, str):
        first, last = _bounds(start, end, len(text))
        piece = text[first:last] if (first, last) != (0, len(text)) else text
        try:
            return piece.encode(codec)
        except UnicodeEncodeError as exc:
            raise MimeError(
                f"text: the character {show(piece[exc.start])} at index {first + exc.start} "
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
        f"text: expected a str or bytes, got {type(text).__name__} {show(text)} (for a "
        "file or stream, use file=)"
    )


def seven_bit_safe(data: bytes) -> bool:
    """RFC 2045 7bit: ASCII, no NUL, no line over 998 octets."""
    return data.isascii() and b"\x00" not in data and _LONG_LINE.search(data) is None


def file_source(file: object) -> Tuple[str, Any, Optional[str]]:
    """(kind, source, path-or-name) for make_mime_part's ``file``."""
    if isinstance(file, (str, os.PathLike)):
        try:
            path = os.fsdecode(os.fspath(file))
        except Exception as exc:  # the caller's __fspath__
            raise MimeError(
                f"file: the path object {show(file)} did not give a path "
                f"({type(exc).__name__} from its __fspath__)"
            ) from exc
        if not path:
            raise MimeError("file: an empty path names no file")
        try:
            with open(path, "rb"):
                pass
        except IsADirectoryError as exc:
            raise MimeError(
                f"file: {path!r} is a directory, not a file: name each file in it"
            ) from exc
        except OSError as exc:
            raise MimeError(f"file: {path!r} cannot be read: {exc.strerror or exc}") from exc
        return "file", path, path
    if is_stream(file):
        problem = stream_problem(file)
        if problem is not None:
            raise MimeError(f"file: the stream {show(file)} {problem}")
        name = getattr(file, "name", None)
        return "stream", file, name if isinstance(name, str) and name else None
    raise MimeError(
        f"file: expected a file name, a path or a readable stream, got "
        f"{type(file).__name__} {show(file)}"
    )


def guess_type(path: str) -> Optional[str]:
    guessed, compression = mimetypes.guess_type(os.path.basename(path))
    if compression is not None:
        return _COMPRESSED.get(compression, "application/octet-stream")
    return guessed


def check_boundary(boundary: object, parts: Sequence[MimePart]) -> str:
    if not isinstance(boundary, str) or _BOUNDARY.match(boundary) is None:
        raise MimeError(
            f"boundary: {show(boundary)} is not a valid boundary: expected 1 to 70 "
            "characters of letters, digits and '()+_,-./:=? (RFC 2046), not ending in a space"
        )
    why = collides(boundary, parts)
    if why is not None:
        raise MimeError(f"boundary: {show(boundary)} cannot be used: {why}")
    return boundary
