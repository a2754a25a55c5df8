"""The one delivery path: a checked request in, a message accepted (or an error) out.

Every public sending call checks its arguments first (nothing half-done: README
"Reliability"), then comes here.  :func:`open_session` connects, negotiates TLS and
authenticates, for :func:`deliver` (send-smtp, send-smtp-auth, send-letter), for
``test_email_address`` and for each connection of ``smtp_session``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Tuple, Union

from ..errors import SMTPError
from ..message.addresses import check_address, check_recipients
from ..message.sources import iter_source_chunks
from ..protocol.replies import Reply
from ..spec.mailserver import MailProgram, MailServer
from ..spec.options import ConnectOptions, Credentials
from .session import Session

if TYPE_CHECKING:
    from .mta_sts import Policy

__all__ = ["Envelope", "apply_mta_sts", "check_envelope", "deliver", "open_session"]


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
    policy = apply_mta_sts(session) if credentials is None else None
    try:
        try:
            session.open(credentials=credentials is not None)
        except SMTPError as exc:
            if policy is None or policy.mode != "enforce":
                raise
            # The failure names the policy that made TLS required (README "MTA-STS").
            named = copy.copy(exc)
            named.message = f"{policy.describe()}: {exc.message}"
            named.args = (named.message,)
            raise named from exc
        if policy is not None and policy.mode == "testing" and not session.encrypted:
            from ..warn import warn

            warn(f"{policy.describe()}: would refuse {session.reached}, which is not using TLS")
        if credentials is not None:
            session.authenticate(*credentials)
    except BaseException:
        session.close()
        raise
    return session


def apply_mta_sts(session: Session) -> Optional[Policy]:
    """The MTA-STS policy for a session without credentials that may follow an MX answer,
    applied to its spec (README "MTA-STS"); None when MTA-STS does not apply."""
    from .. import specials
    from .targets import literal_targets

    if specials.value("mta_sts") == "off" or literal_targets(session.server.host) is not None:
        return None
    from .resolve import check_dns_mode

    if ":acldns" not in check_dns_mode(specials.value("dns_mode")):
        return None  # no MX answer is followed
    from .mta_sts import apply_policy  # only for MX delivery: not on import

    return apply_policy(session)


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
