"""Header lines for send_letter and make_mime_part: checks, folding, RFC 2047 and 2231.

Pure: no socket, no smtplib.  Every header text built here uses ``\\n`` as its newline;
the DATA encoder (``wire.py``) makes every newline CRLF on the wire, and the
``(":program", ...)`` transport hands the program the native ``\\n``.

Injection: a CR, LF or any other control character (TAB aside) in a header name, value or
raw header line raises :class:`~post_office.errors.HeaderError` (README "Letters and
attachments"): CR and LF would let a caller's data start a new header line or end the
header block.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from typing import Iterable, List, Optional, Sequence
from urllib.parse import quote

from .._checks import show as _show
from ..errors import HeaderError, MimeError
from ..mime.decode import charset_codec, qp_decode_bytes
from ..spec.lisp import Keyword

__all__ = [
    "FOLD_AT",
    "check_header_name",
    "check_header_value",
    "check_line_length",
    "check_raw_header_lines",
    "decode_header_text",
    "encode_header_value",
    "fold_address_list",
    "format_header",
    "format_parameter",
    "header_text",
    "make_date",
    "make_message_id",
    "raw_header_names",
    "raw_header_value",
]

#: Allegro's To/Cc folding: a new line starts once a line's addresses reach 70 characters.
FOLD_AT = 70
#: What starts each continuation line of a folded To/Cc (Allegro uses four spaces).
_CONTINUATION = "\n    "
#: Preferred header line length (RFC 5322 2.1.1), used when folding long text.
_LINE = 78
#: Longest header line, CRLF not counted (RFC 5322 2.1.1: "MUST be no more than 998").
MAX_LINE = 998
#: Longest field name: its line must still hold ": " and one encoded word (RFC 2047 2).
MAX_NAME = MAX_LINE - len(": ") - 76
#: Longest RFC 2231 parameter segment before a continuation (``name*0*=...``) is used.
_SEGMENT = 60

#: Headers whose value is free text (RFC 5322 "unstructured"): non-ASCII there is written
#: as RFC 2047 encoded words.  Other headers hold addresses, ids or dates, whose syntax
#: encoded words would break; their values are written as given (UTF-8, RFC 6532).
_UNSTRUCTURED = frozenset({"subject", "comments", "content-description", "thread-topic"})

_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")  # RFC 5322 ftext: printable ASCII except ":"
_RAW_LINE = re.compile(r"([!-9;-~]+)[ \t]*:")
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 2231 attribute-char besides letters and digits
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # C0 but TAB, DEL, C1

# --------------------------------------------------------------------------- checks


def check_header_value(value: object, argument: str) -> str:
    """Return ``value`` if it is a str without control characters (TAB aside), else raise.

    ``argument`` names the caller's argument in the message (``"subject"``,
    ``"headers[2]"``).  CR and LF would start a new header line (header injection); NUL,
    the other C0 controls, DEL and the C1 controls (NEL...) have no place in a header
    and are read as line breaks by some software, so they are refused too.  A TAB is
    folding white space and allowed.
    """
    if not isinstance(value, str):
        raise HeaderError(f"{argument}: expected a str, got {type(value).__name__} {_show(value)}")
    found = _CONTROL.search(value)
    if found is not None:
        what = (
            "CR or LF (they would inject header lines)"
            if found.group() in "\r\n"
            else "control characters"
        )
        raise HeaderError(
            f"{argument}: {_show(value)} contains {found.group()!r} at index {found.start()}; "
            f"a header may not contain {what}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HeaderError(
            f"{argument}: {_show(value)} contains the lone surrogate "
            f"{value[exc.start]!r} at index {exc.start}, which cannot be encoded"
        ) from exc
    return value


def header_text(value: object, argument: str) -> str:
    """A header value as Allegro's ``~a`` writes it, checked by :func:`check_header_value`.

    A str is itself; an int its decimal digits (``subject=42`` gives ``Subject: 42``); a
    float its ``str``; a :class:`~post_office.Keyword` its name.  True, False and None are
    refused (Allegro would write ``T`` or ``NIL``, which no caller means): the message
    names the argument.  README "Porting notes".
    """
    if isinstance(value, str):
        return check_header_value(value, argument)
    if isinstance(value, bool) or value is None:
        raise HeaderError(
            f"{argument}: {value!r} is not header text; give the text to write (a str, "
            "an int or a Keyword), or leave the header out"
        )
    if isinstance(value, Keyword):
        return check_header_value(value.name, argument)
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # longer than Python's int-to-str digit limit
            raise HeaderError(
                f"{argument}: an int too long to write as decimal text is not header text"
            ) from None
    if isinstance(value, float):
        return check_header_value(str(value), argument)
    raise HeaderError(
        f"{argument}: expected header text (a str, an int or a Keyword), got "
        f"{type(value).__name__} {_show(value)}"
    )


def check_header_name(name: object, argument: str) -> str:
    """Return ``name`` if it is a valid header field name (RFC 5322 ftext), else raise."""
    if not isinstance(name, str) or _FIELD_NAME.match(name) is None:
        raise HeaderError(
            f"{argument}: {_show(name)} is not a header field name: expected a non-empty "
            "str of printable ASCII characters without spaces or ':'"
        )
    if len(name) > MAX_NAME:
        raise HeaderError(
            f"{argument}: a header field name of {len(name)} characters is too long: a "
            f"header line holds at most {MAX_LINE} octets (RFC 5322 2.1.1), so a name at "
            f"most {MAX_NAME}"
        )
    return name


def _too_long(text: str) -> Optional[int]:
    """The length in octets of the first line of ``text`` longer than MAX_LINE, or None."""
    for line in text.split("\n"):
        size = len(line.encode("utf-8"))
        if size > MAX_LINE:
            return size
    return None


def check_line_length(name: str, value: str, argument: str) -> str:
    """Return ``value`` if ``Name: value`` can be written in lines of at most 998 octets
    (RFC 5322 2.1.1), folded at its spaces when needed, else raise HeaderError naming
    ``argument``.  Free text can always be written (as RFC 2047 encoded words)."""
    try:
        encode_header_value(name, value)
    except HeaderError as exc:
        raise HeaderError(f"{argument}: {exc}") from None
    return value


def check_raw_header_lines(headers: object, argument: str = "headers") -> List[str]:
    """send-letter's ``headers``: one raw header line or a list of them, checked.

    Each line must look like ``Name: value`` (a line beginning with a space or tab
    continues the previous one) and hold no CR, LF or other control character.  One
    newline at the end (``"\n"`` or ``"\r\n"``, the ``(format nil "X-Foo: ~a~%" v)``
    idiom) is dropped, as Allegro writes its own.  An empty line would end the header
    block, so it is refused too.  Returns the lines as a list.
    """
    if headers is None:
        return []
    if isinstance(headers, str):
        lines: Sequence[object] = [headers]
        names = [argument]
    elif isinstance(headers, (list, tuple)):
        lines = headers
        names = [f"{argument}[{i}]" for i in range(len(headers))]
    else:
        raise HeaderError(
            f"{argument}: Unknown headers format: {type(headers).__name__} {_show(headers)}: "
            "expected a raw header line (str) or a list of them"
        )
    checked: List[str] = []
    for line, name in zip(lines, names):
        if isinstance(line, str) and line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        text = check_header_value(line, name)
        if text[:1] in (" ", "\t") and checked and text.strip():
            checked.append(text)
            continue
        match = _RAW_LINE.match(text)
        if match is None:
            raise HeaderError(
                f"{name}: {_show(text)} is not a raw header line: expected 'Name: value' "
                "(a field name of printable ASCII, then ':')"
            )
        checked.extend(_fold_raw(text, match.group(1), name))
    return checked


def _fold_raw(line: str, field: str, argument: str) -> List[str]:
    """A raw line as written (Allegro), or, when longer than 998 octets, folded at its
    spaces into continuation lines (unfolding gives it back, RFC 5322 2.2.3)."""
    if _too_long(line) is None:
        return [line]
    folded = _fold_text("", line, first=0)
    size = _too_long(folded)
    if size is not None:
        raise HeaderError(
            f"{argument}: the {field} header line has {size} octets without a space to "
            f"fold at; a header line holds at most {MAX_LINE} (RFC 5322 2.1.1)"
        )
    return folded.split("\n")


def raw_header_value(lines: Sequence[str], name: str) -> Optional[str]:
    """The value of the first checked raw header line named ``name`` (case-insensitive),
    continuation lines unfolded, or None."""
    wanted = name.lower()
    for index, line in enumerate(lines):
        match = _RAW_LINE.match(line)
        if match is None or match.group(1).lower() != wanted:
            continue
        value = line[match.end() :]
        for more in lines[index + 1 :]:
            if more[:1] not in (" ", "\t"):
                break
            value += more
        return value.strip()
    return None


def raw_header_names(lines: Iterable[str]) -> List[str]:
    """The lower-cased field names of checked raw header lines (continuations skipped)."""
    names = []
    for line in lines:
        match = _RAW_LINE.match(line)
        if match is not None:
            names.append(match.group(1).lower())
    return names


# --------------------------------------------------------------------------- building


def fold_address_list(addresses: Sequence[str]) -> str:
    """Join addresses for a To or Cc header exactly as Allegro's send-letter does.

    Addresses are joined with ``", "``.  A running segment length starts at 0; after an
    address and, unless it is the last, its ``", "`` are appended, a segment that has
    reached :data:`FOLD_AT` (70) characters ends.  The next segment starts with the line
    break and four spaces, and all five characters count toward it (Allegro writes the
    line break into the new segment's buffer).  The ``"To: "`` prefix is not counted and
    a long address is never broken.  (51 addresses of 21 characters give 4 on the first
    line, then 3 per continuation line.)
    """
    out: List[str] = []
    segment = 0
    last = len(addresses) - 1
    for index, address in enumerate(addresses):
        out.append(address)
        segment += len(address)
        if index < last:
            out.append(", ")
            segment += 2
            if segment >= FOLD_AT:
                out.append(_CONTINUATION)
                segment = len(_CONTINUATION)
    return "".join(out)


def _needs_encoded_words(value: str) -> bool:
    """Non-ASCII, text a reader would take for an encoded word, or leading white space
    (which a reader drops): written as RFC 2047 encoded words to read back unchanged."""
    return not value.isascii() or "=?" in value or value[:1] in (" ", "\t")


def _fold_text(name: str, value: str, first: Optional[int] = None) -> str:
    """Fold text at spaces so lines stay near 78 characters.

    A line break is only put before a space that follows a non-space, so unfolding (which
    removes just the line break) gives back the value exactly and no line is blank.  A
    word longer than a line stays whole.  ``first``: what the first line holds before
    ``value`` (default ``"Name: "``).
    """
    width = len(name) + 2 if first is None else first  # the first line holds "Name: "
    if width + len(value) <= _LINE:
        return value
    pieces: List[str] = []
    start = 0
    previous = 0  # the last place a break may go (0: none yet on this line)
    for index in range(1, len(value)):
        if value[index] != " " or value[index - 1] == " ":
            continue
        if width + (index - start) > _LINE and previous > start:
            pieces.append(value[start:previous])
            start, width = previous, 0
        previous = index
    if width + (len(value) - start) > _LINE and previous > start:
        pieces.append(value[start:previous])
        start = previous
    pieces.append(value[start:])
    return "\n".join(pieces)


def encode_header_value(name: str, value: str) -> str:
    """The value as written after ``name: `` (possibly folded, ``\\n`` newlines).

    Free-text headers (Subject, Comments, Content-Description) that are not plain
    printable ASCII become RFC 2047 encoded words (UTF-8), which any reader decodes back
    to ``value``; long plain ones are folded at spaces, or encoded too when a word is
    longer than a line may be (998 octets, RFC 5322 2.1.1).  Other headers are written as
    given (Allegro writes every header as given), folded at spaces only when a line
    would be longer than 998 octets; one that cannot be raises HeaderError.
    """
    if name.lower() not in _UNSTRUCTURED:
        if _too_long(f"{name}: {value}") is None:
            return value
        # Folding at white space changes no header's meaning (RFC 5322 2.2.3).
        folded = _fold_text(name, value)
        size = _too_long(f"{name}: {folded}")
        if size is not None:
            raise HeaderError(
                f"the {name} header would be a line of {size} octets with no space to fold "
                f"at; a header line holds at most {MAX_LINE} (RFC 5322 2.1.1)"
            )
        return folded
    if _needs_encoded_words(value):
        return _encoded_words(name, value)
    folded = _fold_text(name, value)
    if _too_long(f"{name}: {folded}") is not None:
        # A word too long for any line: encoded words may split it anywhere, and a
        # reader joins adjacent ones without the folding between them (RFC 2047 6.2).
        return _encoded_words(name, value)
    return folded


def _encoded_words(name: str, value: str) -> str:
    """RFC 2047 "B" encoded words of UTF-8, one per line, never splitting a character.

    Written here rather than with :class:`email.header.Header`, which splits its input
    with ``str.splitlines`` and so silently drops characters such as U+001E or U+2028.
    The whitespace between adjacent encoded words is not part of the text (RFC 2047 6.2),
    so a reader gets ``value`` back exactly.
    """
    overhead = len("=?utf-8?b??=")
    first_budget = max(3, (_LINE - len(name) - 2 - overhead) // 4 * 3)
    budget = (_LINE - 1 - overhead) // 4 * 3
    words: List[bytes] = []
    current = b""
    limit = first_budget
    for character in value:
        encoded = character.encode("utf-8")
        if current and len(current) + len(encoded) > limit:
            words.append(current)
            current, limit = b"", budget
        current += encoded
    words.append(current)
    return "\n ".join(
        "=?utf-8?b?" + base64.b64encode(word).decode("ascii") + "?=" for word in words
    )


def format_header(name: str, value: str) -> str:
    """``Name: value`` and a newline, the value encoded by :func:`encode_header_value`."""
    return f"{name}: {encode_header_value(name, value)}\n"


def _quoted(value: str) -> str:
    """A MIME quoted-string, written as Allegro's ``~s`` writes a Lisp string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _percent_encoded(value: str) -> str:
    return quote(value.encode("utf-8"), safe=_ATTR_CHARS)


def _segments(encoded: str) -> List[str]:
    """Cut percent-encoded text into pieces of about _SEGMENT, never inside a %XX."""
    pieces: List[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + _SEGMENT, len(encoded))
        percent = encoded.rfind("%", max(start, end - 2), end)
        if percent >= 0 and end < len(encoded):
            end = percent
        pieces.append(encoded[start:end])
        start = end
    return pieces


def format_parameter(name: str, value: str) -> List[str]:
    """One MIME parameter as ``name="value"`` text(s), one per continuation line.

    Printable ASCII of reasonable length is a quoted string, as Allegro writes it.
    Anything else (non-ASCII, control characters, "=?", very long) uses RFC 2231:
    ``name*=utf-8''%E2%82%AC.txt``, split into ``name*0*=``, ``name*1*=``... segments when
    long.  ``value`` must already be free of control characters (TAB aside).
    """
    printable = value.isascii() and all(32 <= ord(ch) < 127 for ch in value)
    # "=?" would be taken for an RFC 2047 encoded word by readers that decode those
    # (Python's email does), so such a value is percent-encoded too.
    if printable and "=?" not in value and len(value) <= _SEGMENT * 4:
        return [f"{name}={_quoted(value)}"]
    encoded = _percent_encoded(value)
    pieces = _segments(encoded)
    if len(pieces) <= 1:
        return [f"{name}*=utf-8''{encoded}"]
    first = f"{name}*0*=utf-8''{pieces[0]}"
    return [first] + [f"{name}*{i}*={piece}" for i, piece in enumerate(pieces[1:], 1)]


def make_date(timestamp: Optional[float] = None) -> str:
    """An RFC 5322 ``Date:`` value for now (or ``timestamp``), in local time."""
    return email.utils.formatdate(timestamp, localtime=True)


def make_message_id(domain: str) -> str:
    """A new ``Message-ID:`` value ``<...@domain>``, unique per call."""
    return email.utils.make_msgid(domain=domain)


# --------------------------------------------------------------------------- decoding

# RFC 2047 2: =?charset?encoding?encoded-text?=, read as Allegro's decode-header-text reads
# it: the encoded text runs to the first "?=" and may hold a "?" (mislabelled subjects such
# as "=?utf-8?q?Are_you_coming??=" are common).  The charset holds no white space (RFC 2047
# 2: a token), so "Price =? 5 ?q?...?=" stays plain text; Allegro raises there.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?(.*?)\?=")
#: White space as Allegro's ``\s`` and RFC 2047 6.2's linear white space.
_BLANK = re.compile(r"[ \t\r\n\f\v]*\Z")


def _decode_word(charset: str, encoding: str, encoded: str) -> str:
    codec = charset_codec(charset)
    if codec is None:
        raise MimeError(f"No external format found for MIME charset {_quoted(charset)}")
    if encoding in "Qq":
        # Allegro's qp-decode-string: the text as Latin-1 bytes, "_" a space (RFC 2047
        # 4.2), a stray "=" or an invalid escape kept as written.
        raw, _ = qp_decode_bytes(encoded.encode("latin-1", "replace"), True, True, True)
        return raw.decode(codec, "replace")
    data = encoded.encode("ascii", "replace")
    try:
        raw = base64.b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MimeError(
            f"the encoded word =?{charset}?{encoding}?{encoded}?= is malformed"
        ) from exc
    return raw.decode(codec, "replace")


def decode_header_text(text: str) -> str:
    """Allegro's ``decode-header-text``: ``text`` with its RFC 2047 encoded words decoded.

    ``"=?utf-8?q?caf=C3=A9?= ok"`` gives ``"café ok"``.  As in Allegro: ``us-ascii`` words
    are read as Latin-1 (``=?us-ascii?q?caf=E9?=`` is ``café``: mislabelled 8-bit text is
    common); the encoded text runs to the first ``?=``, so it may hold a ``?``; in Q text a
    stray ``=`` and an invalid escape (``=Z=41``) are kept as written; white space after the
    last encoded word at the end of the text is dropped.  White space between two encoded
    words is dropped (RFC 2047 6.2); white space between an encoded word and plain text is
    kept, as RFC 2047 says (Allegro drops it after an encoded word that plain text and then
    another encoded word follow: README "Differences from Allegro").  An unknown charset
    raises :class:`~post_office.MimeError` with Allegro's message ("No external format
    found for MIME charset ...").  Undecodable bytes become U+FFFD.
    """
    if not isinstance(text, str):
        raise MimeError(
            f"first argument expected to be non-nil: decode_header_text takes a str, got "
            f"{type(text).__name__} {_show(text)}"
        )
    out: List[str] = []
    position = 0
    previous_word = False
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        if not (previous_word and _BLANK.match(between)):
            out.append(between)
        out.append(_decode_word(match.group(1), match.group(2), match.group(3)))
        position = match.end()
        previous_word = True
    rest = text[position:]
    if not (previous_word and _BLANK.match(rest)):
        out.append(rest)
    return "".join(out)
