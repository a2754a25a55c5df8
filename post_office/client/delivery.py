"""The one delivery path: a checked request in, a :class:`Delivery` (or an error) out.

Every sending call (``send_smtp``, ``send_smtp_auth``, ``send_letter``, and the command
line's ``send``) checks its arguments first (nothing half-done: README "Reliability"),
then comes here; ``smtp_session`` and ``test_email_address`` open their sessions with
:func:`open_session`.  The message's data flows one way: checked at the entry point,
encoded once on the way out (:mod:`post_office.protocol.data` via the transfer).
"""

from __future__ import annotations

import copy

from .. import errors, specials
from ..message.addresses import check_address, check_recipients
from ..message.sources import iter_source_chunks
from ..protocol.replies import Reply
from ..spec.mailserver import MailServer
from ..spec.options import ConnectOptions
from ..spec.transport import MailProgram
from .session import Session
from .targets import Target, literal_targets
from .transcript import Transcript

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Callable, Literal, Optional, Sequence, Tuple, Union

    from ..spec.options import Credentials

if TYPE_CHECKING:  # the standard decorator for type checkers; ours at run time (no inspect)
    from dataclasses import dataclass
else:
    from .._record import dataclass

if TYPE_CHECKING:
    from .mta_sts import Policy

__all__ = [
    "Delivery",
    "Envelope",
    "StartTLSOutcome",
    "apply_mta_sts",
    "check_envelope",
    "deliver",
    "open_session",
]


@dataclass(frozen=True)
class Envelope:
    """The reverse path and the forward paths of one message (RFC 5321 3.3)."""

    sender: str
    recipients: Tuple[str, ...]


if TYPE_CHECKING:
    #: What became of STARTTLS: with ``:starttls t``, upgraded or not offered (went on in
    #: plain text); without it, "not used" when the server offered it.
    StartTLSOutcome = Literal["upgraded", "not offered", "not used"]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name == "StartTLSOutcome":
            from typing import Literal

            globals()[name] = Literal["upgraded", "not offered", "not used"]
            return globals()[name]
        if name in ("OnReached", "BeforeAuth"):
            from typing import Callable

            globals().update(
                OnReached=Callable[[Session, bool], None], BeforeAuth=Callable[[Session], None]
            )
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Delivery:
    """What one delivery did (README "Architecture").

    ``reply`` is the server's final reply to the message (its queue id is in the text),
    None for a ``(":program", ...)``; ``server`` the host reached and its port, as
    messages name it (the mail exchanger and whose it is after an MX answer);
    ``tls_version`` the TLS version when encrypted; ``starttls`` ``"upgraded"`` or
    ``"not offered"`` (went on in plain text) for a ``:starttls`` spec, ``"not used"``
    when the server offered STARTTLS to a spec without it, else None;
    ``auth_mechanism`` the AUTH mechanism used, None without AUTH.
    """

    reply: Optional[Reply]
    server: str
    reached: Optional[Target] = None
    tls_version: Optional[str] = None
    starttls: Optional[StartTLSOutcome] = None
    auth_mechanism: Optional[str] = None


if TYPE_CHECKING:
    #: Called with the session and whether it opened, once a connection attempt ended.
    OnReached = Callable[[Session, bool], None]
    #: Called with the open session before AUTH: may raise to send nothing.
    BeforeAuth = Callable[[Session], None]


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
    transcript: Optional[Transcript] = None,
    on_reached: Optional[OnReached] = None,
    before_auth: Optional[BeforeAuth] = None,
) -> Session:
    """A connected session: greeting, EHLO, TLS as the spec says, AUTH with ``credentials``.

    ``session`` reuses a closed session object, as ``smtp_session`` does on reconnecting.
    The socket is closed if any step fails.
    """
    if session is None:
        session = Session.for_server(server, options, transcript)
    session.close()
    policy = apply_mta_sts(session) if credentials is None else None
    try:
        opened = False
        try:
            session.open(credentials=credentials is not None)
            opened = True
        except errors.SMTPError as exc:
            if policy is None or policy.mode != "enforce":
                raise
            raise _naming(policy, exc) from exc
        finally:  # also a greeting or TLS failure comes from a server that was reached
            if on_reached is not None and session.target is not None:
                on_reached(session, opened)
        if policy is not None and policy.mode == "testing" and not session.encrypted:
            from ..warn import warn

            warn(f"{policy.describe()}: would refuse {session.reached}, which is not using TLS")
        if credentials is not None:
            if before_auth is not None:
                before_auth(session)
            session.authenticate(*credentials)
    except BaseException:
        session.close()
        raise
    return session


def _naming(policy: Policy, exc: errors.SMTPError) -> errors.SMTPError:
    """The failure, naming the policy that made TLS required (README "MTA-STS")."""
    named = copy.copy(exc)
    named.message = f"{policy.describe()}: {exc.message}"
    named.args = (named.message,)
    return named


def apply_mta_sts(session: Session) -> Optional[Policy]:
    """The MTA-STS policy for a session without credentials that may follow an MX answer,
    applied to its spec (README "MTA-STS"); None when MTA-STS does not apply."""
    if literal_targets(session.server.host) is not None:
        return None  # an address: no MX answer, no policy
    mode = session.server.mta_sts  # the spec's :mta-sts, else the special
    if (mode or specials.value("mta_sts")) == "off":
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
    *,
    transcript: Optional[Transcript] = None,
    on_reached: Optional[OnReached] = None,
    before_auth: Optional[BeforeAuth] = None,
) -> Delivery:
    """Connect, send one message, say QUIT: what happened.

    Returns only after the server accepted the message.  A :class:`MailProgram`
    (send-letter's ``(":program", ...)``) gets the message on its standard input
    instead, with ``\\n`` newlines, and ``options.timeout`` bounds how long it may go
    without reading or exiting.  ``transcript`` replaces the one ``post_office.smtp_debug``
    would give; ``on_reached`` and ``before_auth`` let the command line report where it
    got and refuse a server without AUTH (README "The command line").
    """
    if isinstance(transport, MailProgram):
        from .program import pipe_to_program  # subprocess and threads: only when used

        pipe_to_program(transport, iter_source_chunks(messages), options.timeout)
        return Delivery(None, f"the program {transport.command!r}")
    server = transport
    session = open_session(
        server,
        options,
        credentials,
        transcript=transcript,
        on_reached=on_reached,
        before_auth=before_auth,
    )
    with session:
        reply = session.send_message(envelope.sender, envelope.recipients, messages, then_quit=True)
        session.quit()  # unless QUIT went with the end of the data and is answered
    starttls: Optional[StartTLSOutcome] = None
    if server.starttls and not server.ssl:
        starttls = "upgraded" if session.encrypted else "not offered"
    elif not server.ssl and session.extensions.starttls:
        starttls = "not used"  # offered, but the spec did not ask (check says so too)
    return Delivery(
        reply,
        f"{session.reached} port {server.port}",
        session.target,
        session.tls_version,
        starttls,
        session.auth_mechanism,
    )
