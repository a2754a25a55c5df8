"""Every entry point: send-smtp, send-smtp-auth, send-letter, test-email-address (Allegro's
calls) and smtp_session, thin, over the one delivery path (:mod:`post_office.client.delivery`).

Every argument is checked before a socket is opened; success is returned only after the
server accepted the message (README "Reliability").
"""

from __future__ import annotations

import re

from . import errors
from ._checks import check_connections
from .client.delivery import Envelope, check_envelope, deliver, open_session
from .client.session import Session
from .errors import AddressError, ServerSpecError
from .message.sources import check_messages
from .protocol.replies import Reply
from .spec.mailserver import MailServer, parse_mail_server
from .spec.options import (
    ConnectOptions,
    OAuth2Token,
    check_auth_transport,
    check_connect_options,
    optional_credentials,
)
from .spec.transport import MailProgram, parse_transport
from .warn import warn

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import IO, Any, Optional, Sequence, Tuple, Union

    from .client.bulk import SmtpSession
    from .message.addresses import Recipients
    from .message.dkim import DkimKey
    from .message.letter import Attachment, HeaderValue
    from .mime.build import MimePart
    from .spec.mailserver import ServerArgument
    from .spec.transport import TransportArgument

__all__ = ["send_letter", "send_smtp", "send_smtp_auth", "smtp_session", "test_email_address"]

#: Unicode categories Cc and Cs: C0, DEL, C1, and lone surrogates.
#: (A pattern compiled on first use: only test_email_address needs it.)
_CONTROL_OR_SURROGATE = "[\x00-\x1f\x7f-\x9f\ud800-\udfff]"


def send_smtp(
    server: ServerArgument,
    from_: str,
    to: Recipients,
    *messages: object,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
    dkim: Optional[DkimKey] = None,
) -> None:
    """Send the concatenated ``messages`` from ``from_`` to ``to`` (Allegro's ``send-smtp``).

    :param server: Allegro's ``mail-server``: ``"host"``, ``"host:port"``, an IP address,
        ``(host, port)``, ``("host", ":port", 587, ":starttls", True, ...)``, a mapping, a
        :class:`~post_office.MailServer` or Lisp text (README "The mail-server argument").
    :param from_: Allegro's ``from``: a bare address ``"user@host"`` or ``"user"``;
        ``""`` for the null reverse path.
    :param to: Allegro's ``to``: one bare address or a list of them.
    :param messages: Allegro's ``&rest message``: str, bytes, binary or text streams (read
        to EOF from where they stand, never closed), ``email.message.Message`` objects and
        MIME parts, sent in order as one message; no header is added.
    :param timeout: seconds to wait for each reply (Python only; Allegro waits forever).
    :param local_hostname: the EHLO name (Python only; default: this host's FQDN).
    :param source_address: ``(host, port)`` to bind the socket to (Python only).
    :param dkim: a :class:`~post_office.DkimKey`: the messages, taken together as one
        complete RFC 5322 message (header block and body), are DKIM-signed (Python only,
        README "DKIM signing").

    Returns ``None`` once the server accepted the message; raises a
    :class:`~post_office.PostOfficeError` otherwise.
    """
    _send(server, from_, to, None, messages, (timeout, local_hostname, source_address), dkim)


def send_smtp_auth(
    server: ServerArgument,
    from_: str,
    to: Recipients,
    login: str,
    password: Union[str, OAuth2Token],
    *messages: object,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
    dkim: Optional[DkimKey] = None,
) -> None:
    """:func:`send_smtp` with SMTP AUTH (Allegro's ``send-smtp-auth``, RFC 4954).

    :param login: Allegro's ``login``; any Unicode text (sent as UTF-8).  ``None``
        together with ``password=None`` sends without AUTH, as Allegro does for nil.
    :param password: Allegro's ``password``; any Unicode text, or an
        :class:`~post_office.OAuth2Token` for XOAUTH2.  Never shown in transcripts or errors.

    With credentials the connection goes to the mail-server name as written, never to an
    MX exchanger, and the certificate is checked against that name (README "DNS"; Allegro
    looks up MX here too).  The other parameters are :func:`send_smtp`'s.  AUTH happens
    after STARTTLS when both are in use.  Credentials go only over TLS, or to this
    machine, or where the spec says ``:allow-plaintext-auth t``; with a login,
    ``:starttls t`` means ``:starttls :required`` (README "Reliability").  When the
    server offers no AUTH, or no mechanism we share, the message is sent without it and
    a ``UserWarning`` says so (Allegro skips AUTH silently).
    """
    credentials = optional_credentials(login, password)
    options = (timeout, local_hostname, source_address)
    _send(server, from_, to, credentials, messages, options, dkim)


def _send(
    server: object,
    from_: object,
    to: object,
    credentials: Optional[Tuple[str, Union[str, OAuth2Token]]],
    messages: Tuple[object, ...],
    connect: Tuple[object, object, object],
    dkim: object,
) -> None:
    parsed = parse_mail_server(server)
    options = check_connect_options(*connect)
    key = _dkim_key(dkim)
    check_auth_transport(parsed, credentials)
    envelope = check_envelope(from_, to)
    check_messages(messages)
    # Allegro sends one empty line when there is no message (the body is CRLF . CRLF).
    deliver(parsed, envelope, _signed(messages or ("\n",), key), options, credentials)


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
    from .message.letter import LetterOptions, build_letter  # MIME: only for letters

    transport = parse_transport(server)
    if isinstance(transport, MailServer):
        connect = check_connect_options(timeout, local_hostname, source_address)
    else:
        from .client.program import check_program_timeout

        connect = ConnectOptions(timeout=check_program_timeout(timeout))
    credentials = optional_credentials(login, password)
    key = _dkim_key(dkim)
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
    deliver(transport, envelope, _signed((letter.header, letter.part), key), connect, credentials)
    return True


def smtp_session(
    server: ServerArgument,
    *,
    login: Optional[str] = None,
    password: Union[str, OAuth2Token, None] = None,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
    dkim: Optional[DkimKey] = None,
    connections: int = 1,
) -> SmtpSession:
    """A connection for many messages: ``with smtp_session(server) as s: s.send_smtp(...)``.

    Python only (Allegro opens a connection per ``send-smtp`` call).  The parameters are
    those of :func:`~post_office.send_smtp_auth`:

    :param server: Allegro's ``mail-server``, in any form :func:`~post_office.send_smtp`
        accepts (README "The mail-server argument"); TLS (``:ssl`` or ``:starttls``) is
        negotiated once.
    :param login: Allegro's ``login`` (send-smtp-auth); with ``password``, AUTH is done once
        per connection, to the mail-server name as written, never through MX (README "DNS").
    :param password: Allegro's ``password``: a string, or an
        :class:`~post_office.OAuth2Token`.
    :param timeout: seconds per socket operation (Python only).
    :param local_hostname: the EHLO name (Python only).
    :param source_address: ``(host, port)`` to bind the socket to (Python only).
    :param dkim: a :class:`~post_office.DkimKey`: every message of the session is
        DKIM-signed with it (Python only, README "DKIM signing").
    :param connections: how many connections :meth:`~SmtpSession.send_many` may open to
        the server (Python only, README "Bulk sending"): up to this many, as the batch
        needs them, all driven from the calling thread.  ``send_smtp`` and
        ``send_letter`` on the session use the first.

    Every argument is checked here, before any connection; the ``with`` statement
    connects.  See :class:`SmtpSession` for what the session does between messages.
    """
    from .client.bulk import SmtpSession  # letters and MIME: only for a session

    parsed = parse_mail_server(server)
    session = Session.for_server(
        parsed, check_connect_options(timeout, local_hostname, source_address)
    )
    credentials = optional_credentials(login, password)
    check_auth_transport(parsed, credentials)
    return SmtpSession(session, credentials, _dkim_key(dkim), check_connections(connections))


def test_email_address(
    address: str,
    *,
    server: Optional[ServerArgument] = None,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
) -> bool:
    """Whether ``address`` may be valid, asked of its mail server with VRFY (Allegro's
    ``test-email-address``, RFC 5321 3.5).

    :param address: Allegro's ``address``: ``"user@host"`` (the server asked is ``host``,
        port 25) or ``"user"`` (asked of ``localhost``).
    :param server: Python only: ask this mail server instead (any ``send_smtp`` form).
    :param timeout: seconds to wait for each reply (Python only); the other two options
        are :func:`send_smtp`'s.

    ``VRFY local-part`` is sent first: any reply but 550 means True ("may be valid") at
    once, as do a server that breaks off or a reply that is not SMTP.  After a 550,
    ``VRFY address`` is sent, and only a second 550 means False.  An ``@`` at the start
    or end, a control character, a host part that names no host, or a server that
    cannot be reached also give False, as in Allegro; an address with white space is
    asked as it is (``VRFY jo e``).  The host part is resolved as a mail-server name
    is (MX first, README "DNS"), with a ``:port`` after it honoured.  Only a non-string
    or empty address raises (:class:`~post_office.AddressError`, Allegro's "mail
    address should be a non-empty string"), and a malformed ``server`` or option
    raises before any connection.
    """
    if not isinstance(address, str) or not address:
        shown = repr(address) if isinstance(address, str) else type(address).__name__
        raise AddressError(f"mail address should be a non-empty string: {shown}")
    if re.search(_CONTROL_OR_SURROGATE, address):
        return False  # a control character cannot be sent in a command: bogus, not asked
    at = address.find("@")
    if at in (0, len(address) - 1):
        return False  # Allegro: "bogus since we don't do route addrs"
    local, host = (address, "localhost") if at < 0 else (address[:at], address[at + 1 :])
    options = check_connect_options(timeout, local_hostname, source_address)
    if server is not None:
        parsed = parse_mail_server(server)
    else:
        try:
            parsed = parse_mail_server(host)
        except ServerSpecError:
            return False  # a host part that names no host cannot be connected to
    try:
        session = open_session(parsed, options)
    except errors.SMTPError:
        return False  # Allegro: no contact with the mail server -> nil
    with session:
        valid = _vrfy(session, local) != 550 or _vrfy(session, address) != 550
        session.quit()
    return valid


# pytest collects module-level names starting with "test" from a test file's namespace;
# this one is an API function (Allegro's name), not a test.
test_email_address.__test__ = False  # type: ignore[attr-defined]


def _vrfy(session: Session, argument: str) -> Optional[int]:
    """The reply code to ``VRFY argument``, or None when there was no usable reply."""
    try:
        reply: Reply = session.vrfy(argument)
    except errors.SMTPError:
        return None  # Allegro: anything but a 550 means "may be valid"
    return reply.code


def _dkim_key(dkim: object) -> Optional[DkimKey]:
    """``dkim=`` checked (an OptionError naming it otherwise); the DKIM module, hashlib and
    tempfile load only when a key is given (README "DKIM signing")."""
    if dkim is None:
        return None
    from .message.dkim import check_dkim

    return check_dkim(dkim)


def _signed(messages: Sequence[object], key: Optional[DkimKey]) -> Sequence[object]:
    if key is None:
        return messages
    from .message.dkim import signed

    return signed(tuple(messages), key)
