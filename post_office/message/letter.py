"""send-letter: a letter's header block and MIME part, built from Allegro's keywords (README
"Letters and attachments").

Two concepts: :class:`Letter`, a letter checked and built (envelope, header block, MIME
part), and :func:`build_letter`, which makes one from send_letter's arguments; the
letter keywords themselves are :class:`LetterOptions`, defined once.  Building does no
I/O (a file attachment is opened to check it can be read, and read only when the letter
is sent).  :func:`send_letter` builds the letter, then hands it to its transport: an
SMTP session, or a local program (:mod:`post_office.client.program`).
"""

from __future__ import annotations

import email.message
import os
from dataclasses import dataclass, fields, replace
from typing import IO, Any, Dict, Generator, List, Optional, Sequence, Tuple, Union, cast

from .._checks import is_stream, show
from ..errors import AddressError, MessageArgumentError, MimeError
from ..mime.build import MimePart, append_subparts, make_mime_part
from ..mime.checks import ENCODINGS
from ..spec.lisp import Keyword
from .addresses import Recipients, check_address, check_recipients
from .headers import (
    MAX_LINE,
    check_line_length,
    check_raw_header_lines,
    fold_address_list,
    format_header,
    header_text,
    make_date,
    make_message_id,
    raw_header_names,
    raw_header_value,
)

__all__ = ["Attachment", "Letter", "LetterOptions", "build_letter"]

#: A header value: text, or what Allegro's ``~a`` writes for an int or a keyword.
HeaderValue = Union[str, int, float, Keyword, None]
#: One of send-letter's ``:attachments``: a file name, a path, a readable stream or a part.
Attachment = Union[str, "os.PathLike[str]", IO[Any], MimePart]


@dataclass(frozen=True)
class LetterOptions:
    """send-letter's letter keywords, as the caller gives them; :func:`build_letter`
    checks them.  The one definition of the set that ``send_letter``,
    ``smtp_session().send_letter`` and the command line share.

    ``cc`` and ``bcc`` (Allegro's ``:cc``, ``:bcc``): a bare address or a list of them;
    Bcc recipients are in the envelope only, never in a header.  ``subject``,
    ``reply_to``: header values.  ``headers``: a raw header line or a list of them.
    ``attachments``: an :data:`Attachment` or a list of them.
    """

    cc: Optional[Recipients] = None
    bcc: Optional[Recipients] = None
    subject: HeaderValue = None
    reply_to: HeaderValue = None
    headers: Union[str, Sequence[str], None] = None
    attachments: Union[Attachment, Sequence[Attachment], None] = None

    def keywords(self) -> Dict[str, Any]:
        """The options as keyword arguments, e.g. ``send_letter(..., **o.keywords())``.
        (Not :func:`dataclasses.asdict`, which would deep-copy the streams.)"""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True)
class Letter:
    """A letter as send_letter builds it, whatever carries it (SMTP or a program)."""

    sender: str
    recipients: Tuple[str, ...]
    """The envelope, in RCPT order: all To, then Cc, then Bcc."""
    bcc: Tuple[str, ...]
    header: bytes
    """The header lines send_letter writes before the MIME part (``\\n`` newlines)."""
    part: MimePart

    def chunks(self) -> Generator[bytes, None, None]:
        """The whole letter, ``\\n`` newlines, generated lazily (as a program receives it)."""
        yield self.header
        yield from self.part.__post_office_chunks__()


_NO_OPTIONS = LetterOptions()


def build_letter(
    from_: object,
    to: object,
    message: object,
    options: Optional[LetterOptions] = None,
    **keywords: Any,
) -> Letter:
    """Check send_letter's letter arguments and build the letter (README "Letters and attachments").

    ``options`` are the letter keywords; they may also be given spelled out as
    ``keywords`` (``cc=...``), the names of :class:`LetterOptions`, not both.  Needs no
    server: the caller hands the letter to a transport (send_letter) or to an open
    session (``smtp_session().send_letter``).
    """
    if options is None:
        options = LetterOptions(**keywords) if keywords else _NO_OPTIONS
    elif keywords:
        raise TypeError("build_letter: give the options or the keywords, not both")
    sender = check_address(from_, "from_", allow_empty=True)
    tos = _recipients(to, "to", required=True)
    ccs = _recipients(options.cc, "cc", required=False)
    bccs = _recipients(options.bcc, "bcc", required=False)
    subject = _optional_header(options.subject, "subject")
    reply_to = _optional_header(options.reply_to, "reply_to")
    if reply_to is not None:
        check_line_length("Reply-To", reply_to, "reply_to")
    for address, argument in [
        (sender, "from_"),
        *((a, "to") for a in tos),
        *((a, "cc") for a in ccs),
    ]:
        _check_header_address(address, argument)
    raw_headers = check_raw_header_lines(options.headers, "headers")
    part = _message_part(message, raw_headers)
    extra = _attachment_parts(options.attachments)
    if extra:
        if isinstance(message, MimePart):
            if (part.type.lower(), part.subtype.lower()) != ("multipart", "mixed"):
                raise MimeError(
                    "attachments are not allowed for non-multipart/mixed messages (the "
                    f"message is {part.content_type}); make it with "
                    "make_mime_part(subparts=[...]) or pass a str or stream"
                )
            part = append_subparts(part, extra)  # a copy: the caller's part is unchanged
        else:
            part = make_mime_part(subparts=[part, *extra])
    part = _yield_to_raw_headers(part, raw_headers)
    header = _header_block(
        sender, tos, ccs, part, subject=subject, reply_to=reply_to, raw_headers=raw_headers
    )
    return Letter(
        sender=sender, recipients=(*tos, *ccs, *bccs), bcc=tuple(bccs), header=header, part=part
    )


# --------------------------------------------------------------------------- checks


def _recipients(value: object, argument: str, *, required: bool) -> List[str]:
    """send-letter's ``to``/``cc``/``bcc``: a str or a list of str (None: none)."""
    if value is None and not required:
        return []
    if isinstance(value, (list, tuple)) and not value and not required:
        return []
    if not isinstance(value, (str, list, tuple)):
        raise AddressError(
            f"{argument} should be a string or list, not {type(value).__name__} "
            f"{show(value)}: give a bare address or a list of them"
        )
    return check_recipients(value, argument)


def _check_header_address(address: str, argument: str) -> None:
    """An address written into From, To or Cc fits a header line (998 octets, RFC 5322
    2.1.1), which a long address is never folded inside: To and Cc fold as Allegro does,
    between addresses."""
    size = len(address.encode("utf-8"))
    if size > MAX_LINE - len("Reply-To: , "):
        raise AddressError(
            f"{argument}: an address of {size} octets cannot be written in a header line, "
            f"which holds at most {MAX_LINE} octets (RFC 5322 2.1.1; RFC 5321 4.5.3.1 "
            "allows 64 octets before the @ and 255 after it)"
        )


def _optional_header(value: object, argument: str) -> Optional[str]:
    """send-letter's ``:subject``/``:reply-to``: None or False (nil) for no header, else
    the value as Allegro's ``~a`` writes it (``subject=42`` gives ``Subject: 42``)."""
    if value is None or value is False:
        return None
    return header_text(value, argument)


#: The headers a letter's MIME part writes itself; a raw header line of the same name wins.
_PART_HEADERS = frozenset(
    {
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-id",
        "content-description",
        "content-disposition",
    }
)


def _raw_charset(raw_headers: Sequence[str]) -> Optional[str]:
    """The charset parameter of a raw ``Content-Type:`` line, or None."""
    value = raw_header_value(raw_headers, "content-type")
    if value is None:
        return None
    parsed = email.message.Message()
    parsed["Content-Type"] = value
    charset = parsed.get_param("charset")
    return charset if isinstance(charset, str) and charset else None


def _raw_encoding(raw_headers: Sequence[str]) -> Optional[str]:
    """The value of a raw ``Content-Transfer-Encoding:`` line (lower case), checked."""
    value = raw_header_value(raw_headers, "content-transfer-encoding")
    if value is None:
        return None
    if value.lower() not in ENCODINGS:
        raise MimeError(
            f"headers: Content-Transfer-Encoding {show(value)} is not one this library can "
            f"write the body in ({', '.join(ENCODINGS)})"
        )
    return value.lower()


def _message_part(message: object, raw_headers: Sequence[str] = ()) -> MimePart:
    """send-letter's ``message``: str -> text part, stream -> file part, MimePart as is.

    A str is encoded as the raw headers describe it: in the charset of their
    ``Content-Type:`` line and with their ``Content-Transfer-Encoding:`` (README
    "Letters and attachments")."""
    if isinstance(message, MimePart):
        return message
    if isinstance(message, str):
        charset = _raw_charset(raw_headers)
        encoding = _raw_encoding(raw_headers)
        if charset is None and encoding is None:
            return make_mime_part(text=message)
        try:
            return make_mime_part(
                text=message, encoding=encoding, external_format=charset or "utf-8"
            )
        except MimeError as exc:
            raise MimeError(f"message, as the headers' Content-Type describes it: {exc}") from exc
    if is_stream(message):
        return make_mime_part(file=cast(Any, message))
    raise MessageArgumentError(
        f"message must be a string, stream, or mime-part-constructed, not "
        f"{type(message).__name__} {show(message)}: give a str, a readable stream or a "
        "MimePart made by make_mime_part"
    )


def _attachment_parts(attachments: object) -> List[MimePart]:
    """send-letter's ``attachments``: one or a list of file names, paths, streams, parts."""
    if attachments is None:
        return []
    items: Sequence[object]
    if isinstance(attachments, (list, tuple)):
        items, names = attachments, [f"attachments[{i}]" for i in range(len(attachments))]
    else:
        items, names = [attachments], ["attachments"]
    parts = []
    for item, argument in zip(items, names):
        if isinstance(item, MimePart):
            parts.append(item)
        elif isinstance(item, (str, os.PathLike)) or is_stream(item):
            try:
                parts.append(make_mime_part(file=cast(Any, item)))
            except MimeError as exc:
                raise MimeError(f"{argument}: {exc}") from exc
        else:
            raise MessageArgumentError(
                f"{argument}: attachments must be filenames, streams, or "
                f"mime-part-constructed, not {type(item).__name__} {show(item)}: give a "
                "file name, a path, a readable stream or a MimePart (a str is a file name)"
            )
    return parts


def _yield_to_raw_headers(part: MimePart, raw_headers: Sequence[str]) -> MimePart:
    """``part`` without the MIME headers that raw header lines already carry: the
    caller's line wins (compared case-insensitively), as Date and Message-ID do."""
    names = _PART_HEADERS.intersection(raw_header_names(raw_headers))
    if not names:
        return part
    if part.multipart and "content-type" in names:
        raise MimeError(
            "headers: a raw Content-Type line would replace the letter's "
            f"{part.content_type} header, which carries its boundary; leave it out, or "
            "build the message with make_mime_part(content_type=..., subparts=[...])"
        )
    encoding = _raw_encoding(raw_headers)
    if encoding is not None and encoding != part.encoding:
        if part.multipart and encoding not in ("7bit", "8bit", "binary"):
            raise MimeError(f"headers: a multipart cannot be {encoding}-encoded (RFC 2045 6.4)")
        part = replace(part, encoding=encoding)
    return replace(part, omitted_headers=frozenset(names))


# --------------------------------------------------------------------------- the header


def _domain(from_: str) -> str:
    """The domain for a Message-ID: the sender's, else this host's name (looked up once)."""
    _, at, domain = from_.rpartition("@")
    if at and domain.isascii() and domain and "[" not in domain:
        return domain
    from ..client.driver import default_local_hostname  # this host's name: only here

    return default_local_hostname() or "localhost"


def _header_block(
    from_: str,
    to: Sequence[str],
    cc: Sequence[str],
    message: MimePart,
    *,
    subject: Optional[str],
    reply_to: Optional[str],
    raw_headers: Sequence[str],
) -> bytes:
    """The header block send-letter writes before the MIME part ``message``.

    From, To, Cc, Subject, Reply-To are written unless the part already has them; then
    Date and Message-ID unless the part or a raw header line has them; then the raw lines.
    """
    have = {name.lower() for name, _ in message.headers}
    raw_names = set(raw_header_names(raw_headers))
    lines: List[str] = []
    if from_ and "from" not in have:
        lines.append(f"From: {from_}\n")
    if "to" not in have:
        lines.append(f"To: {fold_address_list(to)}\n")
    if cc and "cc" not in have:
        lines.append(f"Cc: {fold_address_list(cc)}\n")
    if subject is not None and "subject" not in have:
        lines.append(format_header("Subject", subject))
    if reply_to is not None and "reply-to" not in have:
        lines.append(format_header("Reply-To", reply_to))
    if "date" not in have and "date" not in raw_names:
        lines.append(f"Date: {make_date()}\n")
    if "message-id" not in have and "message-id" not in raw_names:
        lines.append(f"Message-ID: {make_message_id(_domain(from_))}\n")
    lines.extend(line + "\n" for line in raw_headers)
    return "".join(lines).encode("utf-8")
