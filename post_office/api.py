"""send-smtp, send-smtp-auth, test-email-address: Allegro's calls, thin, over the one
delivery path (:mod:`post_office.client.delivery`).

Every argument is checked before a socket is opened; success is returned only after the
server accepted the message (README "Reliability").
"""

from __future__ import annotations

import re
from typing import Optional, Tuple, Union

from .client.delivery import check_envelope, deliver, open_session
from .client.login import check_auth_transport
from .client.session import Session
from .errors import AddressError, ServerSpecError, SMTPError
from .message.addresses import Recipients
from .message.dkim import DkimKey, check_dkim, signed
from .message.sources import check_messages
from .protocol.replies import Reply
from .spec.mailserver import ServerArgument, parse_mail_server
from .spec.options import OAuth2Token, check_connect_options, optional_credentials

__all__ = ["send_smtp", "send_smtp_auth", "test_email_address"]

#: Unicode categories Cc and Cs: C0, DEL, C1, and lone surrogates.
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


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
    key = check_dkim(dkim)
    check_auth_transport(parsed, credentials)
    envelope = check_envelope(from_, to)
    check_messages(messages)
    # Allegro sends one empty line when there is no message (the body is CRLF . CRLF).
    deliver(parsed, envelope, signed(messages or ("\n",), key), options, credentials)


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
    if _CONTROL_OR_SURROGATE.search(address):
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
    except SMTPError:
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
    except SMTPError:
        return None  # Allegro: anything but a 550 means "may be valid"
    return reply.code
