"""The one delivery path: a checked request in, a message accepted (or an error) out.

Every public sending call checks its arguments first (nothing half-done: README
"Reliability"), then comes here.  :func:`open_session` connects, negotiates TLS and
authenticates, for :func:`deliver` (send-smtp, send-smtp-auth, send-letter), for
``test_email_address`` and for each connection of ``smtp_session``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

from ..message.addresses import check_address, check_recipients
from ..message.sources import iter_source_chunks
from ..protocol.replies import Reply
from ..spec.mailserver import MailProgram, MailServer
from ..spec.options import ConnectOptions, Credentials
from .session import Session

__all__ = ["Envelope", "check_envelope", "deliver", "open_session"]


@dataclass(frozen=True)
class Envelope:
    """The reverse path and the forward paths of one message (RFC 5321 3.3)."""

    sender: str
    recipients: Tuple[str, ...]


def check_envelope(from_: object, to: object) -> Envelope:
    """Check send-smtp's ``from`` and ``to`` (README "API: Allegro -> Python")."""
    sender = check_address(from_, "from_", allow_empty=True)
    return Envelope(sender, tuple(check_recipients(to, "to")))


def open_session(
    server: MailServer,
    options: ConnectOptions,
    credentials: Optional[Credentials] = None,
    *,
    session: Optional[Session] = None,
) -> Session:
    """A connected session: greeting, EHLO, TLS as the spec says, AUTH with ``credentials``.

    ``session`` reuses a prepared (closed) session object, as ``smtp_session`` does on
    reconnecting.  The socket is closed if any step fails.
    """
    if session is None:
        session = Session.for_server(server, options)
    session.close()
    policy = None
    if credentials is None and _may_follow_mx(session.server):
        from .mta_sts import apply_policy  # only for MX delivery (README "MTA-STS")

        policy = apply_policy(session)
    try:
        session.open(credentials=credentials is not None)
        if policy is not None and policy.mode == "testing" and not session.encrypted:
            from ..warn import warn

            warn(f"{policy.describe()}: would refuse {session.reached}, which is not using TLS")
        if credentials is not None:
            session.authenticate(*credentials)
    except BaseException:
        session.close()
        raise
    return session


def _may_follow_mx(server: MailServer) -> bool:
    """Whether this connection may follow an MX answer and MTA-STS applies at all."""
    from .. import specials
    from .targets import literal_targets

    if specials.value("mta_sts") == "off" or literal_targets(server.host) is not None:
        return False
    mode = specials.value("dns_mode")
    return ":acldns" in ((mode,) if isinstance(mode, str) else tuple(mode))  # type: ignore[arg-type]


def deliver(
    transport: Union[MailServer, MailProgram],
    envelope: Envelope,
    messages: Sequence[object],
    options: ConnectOptions,
    credentials: Optional[Credentials] = None,
) -> Optional[Reply]:
    """Connect, send one message, say QUIT; the server's final reply to the message.

    Returns only after the server accepted the message.  A :class:`MailProgram`
    (send-letter's ``(":program", ...)``) gets the message on its standard input
    instead, with ``\n`` newlines, and ``options.timeout`` bounds how long it may go
    without reading or exiting; there is no reply then (None).
    """
    if isinstance(transport, MailProgram):
        from .program import pipe_to_program  # subprocess and threads: only when used

        pipe_to_program(transport, iter_source_chunks(messages), options.timeout)
        return None
    server = transport
    session = Session.for_server(server, options)
    with session:
        open_session(server, options, credentials, session=session)
        reply = session.send_message(envelope.sender, envelope.recipients, messages)
        session.quit()
    return reply
