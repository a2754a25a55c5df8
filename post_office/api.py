"""send-smtp, send-smtp-auth: Allegro's calls, thin, over one :class:`~post_office.smtp.Session`.

Every argument is checked before a socket is opened; success is returned only after the
server accepted the message (SPEC sections 1-4).  test-email-address (SPEC section 8) asks
a server with VRFY over the same Session.
"""

from __future__ import annotations

import unicodedata
from typing import Optional, Tuple, Union

from .addresses import check_address, check_recipients
from .errors import AddressError, ServerSpecError, SMTPError
from .smtp import OAuth2Token, Session, check_credentials
from .wire import check_messages

__all__ = ["send_smtp", "send_smtp_auth", "test_email_address"]


def send_smtp(
    server: object,
    from_: str,
    to: object,
    *messages: object,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
) -> None:
    """Send the concatenated ``messages`` from ``from_`` to ``to`` (Allegro's ``send-smtp``).

    :param server: Allegro's ``mail-server``: ``"host"``, ``"host:port"``, an IP address,
        ``(host, port)``, ``("host", ":port", 587, ":starttls", True, ...)``, a mapping, a
        :class:`~post_office.MailServer` or Lisp text (SPEC section 2).
    :param from_: Allegro's ``from``: a bare address ``"user@host"`` or ``"user"``;
        ``""`` for the null reverse path.
    :param to: Allegro's ``to``: one bare address or a list of them.
    :param messages: Allegro's ``&rest message``: str, bytes, binary or text streams (read
        to EOF from where they stand, never closed), ``email.message.Message`` objects and
        MIME parts, sent in order as one message; no header is added (SPEC section 4).
    :param timeout: seconds per socket operation (Python only; Allegro waits forever).
    :param local_hostname: the EHLO name (Python only; default: this host's FQDN).
    :param source_address: ``(host, port)`` to bind the socket to (Python only).

    Returns ``None`` once the server accepted the message; raises a
    :class:`~post_office.PostOfficeError` otherwise.
    """
    _send(server, from_, to, None, messages, timeout, local_hostname, source_address)


def send_smtp_auth(
    server: object,
    from_: str,
    to: object,
    login: str,
    password: Union[str, OAuth2Token],
    *messages: object,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
) -> None:
    """:func:`send_smtp` with SMTP AUTH (Allegro's ``send-smtp-auth``).

    :param login: Allegro's ``login``; any Unicode text (sent as UTF-8).
    :param password: Allegro's ``password``; any Unicode text, or an
        :class:`~post_office.OAuth2Token` for XOAUTH2.  Never shown in transcripts or errors.

    The other parameters are :func:`send_smtp`'s.  AUTH happens after STARTTLS when both
    are in use; when the server offers no AUTH the message is sent without it and a
    ``UserWarning`` says so (Allegro skips AUTH silently).
    """
    credentials = check_credentials(login, password)
    _send(server, from_, to, credentials, messages, timeout, local_hostname, source_address)


def _send(
    server: object,
    from_: object,
    to: object,
    credentials: Optional[Tuple[str, Union[str, OAuth2Token]]],
    messages: Tuple[object, ...],
    timeout: float,
    local_hostname: Optional[str],
    source_address: Optional[Tuple[str, int]],
) -> None:
    session = Session.prepare(
        server, timeout=timeout, local_hostname=local_hostname, source_address=source_address
    )
    sender = check_address(from_, "from_", allow_empty=True)
    recipients = check_recipients(to, "to")
    check_messages(messages)
    with session:
        session.open()
        if credentials is not None:
            session.authenticate(*credentials)
        session.send(sender, recipients, messages)
        session.quit()


def test_email_address(
    address: str,
    *,
    server: object = None,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
) -> bool:
    """Whether ``address`` may be valid, asked of its mail server with VRFY (Allegro's
    ``test-email-address``, SPEC section 8).

    :param address: Allegro's ``address``: ``"user@host"`` (the server asked is ``host``,
        port 25) or ``"user"`` (asked of ``localhost``).
    :param server: Python only: ask this mail server instead (any ``send_smtp`` form).
    :param timeout: seconds per socket operation (Python only); the other two options
        are :func:`send_smtp`'s.

    ``VRFY local-part`` is sent first: any reply but 550 means True ("may be valid") at
    once, as do a server that breaks off or a reply that is not SMTP.  After a 550,
    ``VRFY address`` is sent, and only a second 550 means False.  An ``@`` at the start
    or end, or a server that cannot be reached, also gives False.  A non-string or empty
    address, or one with whitespace or control characters, raises
    :class:`~post_office.AddressError`; a malformed ``server`` or option raises before
    any connection.
    """
    if not isinstance(address, str) or not address:
        raise AddressError(f"address: mail address should be a non-empty string: {address!r}")
    for index, ch in enumerate(address):
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs"):
            raise AddressError(
                f"address: {address!r} contains {ch!r} at index {index}; use the bare "
                "address, e.g. 'user@host'"
            )
    at = address.find("@")
    if at in (0, len(address) - 1):
        return False  # Allegro: "bogus since we don't do route addrs"
    local, host = (address, "localhost") if at < 0 else (address[:at], address[at + 1 :])
    options = {
        "timeout": timeout,
        "local_hostname": local_hostname,
        "source_address": source_address,
    }
    if server is not None:
        session = Session.prepare(server, **options)
    else:
        Session.prepare("localhost", **options)  # malformed options raise in any case
        try:
            session = Session.prepare(host, **options)
        except ServerSpecError:
            return False  # a host part that names no host cannot be connected to
    with session:
        try:
            session.open()
        except SMTPError:
            return False  # Allegro: no contact with the mail server -> nil
        valid = _vrfy(session, local) != 550 or _vrfy(session, address) != 550
        session.quit()
    return valid


# pytest collects module-level names starting with "test" from a test file's namespace;
# this one is an API function (Allegro's name), not a test.
test_email_address.__test__ = False  # type: ignore[attr-defined]


def _vrfy(session: Session, argument: str) -> Optional[int]:
    """The reply code to ``VRFY argument``, or None when there was no usable reply."""
    try:
        code, _ = session._command(
            f"VRFY {argument}", expect=(2, 3, 4, 5), error=SMTPError, what="VRFY failed"
        )
    except SMTPError:
        return None  # Allegro: anything but a 550 means "may be valid"
    return code
