"""send-smtp, send-smtp-auth: Allegro's calls, thin, over one :class:`~post_office.smtp.Session`.

Every argument is checked before a socket is opened; success is returned only after the
server accepted the message (SPEC sections 1-4).
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

from .addresses import check_address, check_recipients
from .smtp import OAuth2Token, Session, check_credentials
from .wire import check_messages

__all__ = ["send_smtp", "send_smtp_auth"]


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
