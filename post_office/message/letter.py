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
from ..client.delivery import Envelope, deliver
from ..client.login import check_auth_transport
from ..client.program import check_program_timeout
from ..client.session import default_local_hostname
from ..errors import AddressError, MessageArgumentError, MimeError
from ..mime.build import MimePart, append_subparts, make_mime_part
from ..mime.checks import ENCODINGS
from ..spec.lisp import Keyword
from ..spec.mailserver import MailProgram, MailServer, TransportArgument, parse_transport
from ..spec.options import (
    ConnectOptions,
    OAuth2Token,
    check_connect_options,
    optional_credentials,
)
from ..warn import warn
from .addresses import Recipients, check_address, check_recipients
from .dkim import DkimKey, check_dkim, signed
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

__all__ = ["Attachment", "Letter", "LetterOptions", "build_letter", "send_letter"]

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


def send_letter(
    server: TransportArgument,
    from_: str,
    to: Recipients,
    message: Union[str, IO[Any], MimePart],
    *,
    cc: Optional[Recipients] = None,
    bcc: Optional[Recipients] = None,
    subject: HeaderValue = None,
    reply_to: HeaderValue = None,
    headers: Union[str, Sequence[str], None] = None,
    login: Optional[str] = None,
    password: Union[str, OAuth2Token, None] = None,
    attachments: Union[Attachment, Sequence[Attachment], None] = None,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
    dkim: Optional[DkimKey] = None,
) -> bool:
    """Build a letter's header and send it (Allegro's ``send-letter``, README "Letters and
    attachments").

    :param server: Allegro's ``server``: any mail-server form of ``send_smtp``, or
        ``(":program", "sendmail -t -i")`` / ``(":program", ["sendmail", "-t"])`` to pipe
        the letter to a local program (a string runs through the shell).
    :param from_: Allegro's ``from``: the bare sender address, also the ``From:`` header.
    :param to: Allegro's ``to``: a bare address or a list of them (``To:`` header).
    :param message: Allegro's ``message``: a str (a text/plain part), a readable stream
        (a file part, an attachment as in Allegro) or a MimePart (sent as it is).
    :param cc: Allegro's ``:cc``, addresses for the ``Cc:`` header and the envelope.
    :param bcc: Allegro's ``:bcc``: envelope only, never in a header.
    :param subject: Allegro's ``:subject`` (RFC 2047 encoded when not ASCII); an int or a
        Keyword is written as Lisp's ``~a`` writes it; None or False: no ``Subject:``.
    :param reply_to: Allegro's ``:reply-to``, the ``Reply-To:`` value (as ``subject``).
    :param headers: Allegro's ``:headers``: a raw header line or a list of them (one
        trailing newline allowed), written after the ones built here; a MIME header among
        them (Content-Type...) replaces the part's own (README "Porting notes").
    :param login: Allegro's ``:login``; with ``password``, authenticate as send_smtp_auth.
    :param password: Allegro's ``:password`` (or an :class:`~post_office.OAuth2Token`).
    :param attachments: Allegro's ``:attachments``: a file name, :class:`os.PathLike`,
        stream or MimePart, or a list of them; the message is wrapped in
        ``multipart/mixed`` and they follow it in the order given.
    :param timeout: seconds per socket operation (for ``:program``: seconds the program
        may go without reading or exiting).  Python only, like the two below.
    :param local_hostname: the EHLO name.
    :param source_address: ``(host, port)`` to bind the socket to.
    :param dkim: a :class:`~post_office.DkimKey` to sign the letter with (Python only,
        RFC 6376; README "DKIM signing").

    The letter keywords are those of :class:`LetterOptions`.  A header already in a MIME
    ``message`` wins over the one built here; ``Date:`` and ``Message-ID:`` are added when
    absent.  Everything is checked before a connection is opened or a program started.
    Returns True (Allegro returns ``t``).
    """
    transport = parse_transport(server)
    if isinstance(transport, MailServer):
        connect = check_connect_options(timeout, local_hostname, source_address)
    else:
        connect = ConnectOptions(timeout=check_program_timeout(timeout))
    credentials = optional_credentials(login, password)
    key = check_dkim(dkim)
    if isinstance(transport, MailServer):
        check_auth_transport(transport, credentials)
    options = LetterOptions(
        cc=cc, bcc=bcc, subject=subject, reply_to=reply_to, headers=headers, attachments=attachments
    )
    letter = build_letter(from_, to, message, options)
    if isinstance(transport, MailProgram) and letter.bcc:
        warn(
            "bcc recipients are not written into the letter (never in a header), so "
            "the :program transport cannot deliver to them; pass them to the program"
        )
    envelope = Envelope(letter.sender, letter.recipients)
    messages = signed((letter.header, letter.part), key)
    deliver(transport, envelope, messages, connect, credentials)
    return True


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
