"""Carrying out what the conversation decides, on a :class:`Connection` (README
"Architecture").

The rules live in :mod:`post_office.protocol.conversation` (opening and AUTH) and
:mod:`post_office.protocol.transaction` (one message); these functions only move bytes:
resolve and connect, start TLS, send a command and read its reply, and turn the
protocol's failures into the errors of :mod:`post_office.errors`.  They touch no
session: :class:`~post_office.client.session.Session` calls them and keeps what they
return.
"""

from __future__ import annotations

import functools
import socket
import time

from .. import errors
from ..errors import from_failure
from ..protocol.conversation import (
    Conversation,
    Proceed,
    Send,
    SessionRules,
    StartTLS,
    TlsFacts,
)
from ..protocol.failures import Failure
from ..protocol.replies import Reply
from ..spec.mailserver import MailServer
from ..spec.options import ConnectOptions
from .connection import Connection, command_bytes, connect
from .targets import Target, literal_targets
from .transcript import Transcript, log_warning

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    import ssl
    from typing import Callable, Optional

    from ..protocol.conversation import Action

__all__ = [
    "CONNECT_TIMEOUTS",
    "check_quiet",
    "default_local_hostname",
    "exchange",
    "greet",
    "open_connection",
    "run",
    "session_rules",
    "tls_facts",
]

#: Resolving a name and connecting to its addresses end within this many ``timeout``s,
#: however many addresses DNS lists (README "Reliability"); each address gets at most one.
CONNECT_TIMEOUTS = 2


@functools.lru_cache(maxsize=1)
def default_local_hostname() -> Optional[str]:
    """This host's FQDN, looked up once per process (smtplib looks it up per connection)."""
    name = socket.getfqdn()
    return name if "." in name and name.isascii() else None


def tls_facts(connection: Connection) -> Optional[TlsFacts]:
    """What the connection's TLS established, or None without TLS."""
    facts = connection.tls_facts()
    if not facts:
        return None
    return TlsFacts(facts["version"], facts["cipher"], facts["der"], facts["decoded"])


def reached_name(server: MailServer, target: Optional[Target]) -> str:
    """The host connected to, as messages name it: the spec's host, or after an MX answer
    the mail exchanger and whose it is (README "DNS")."""
    if target is None or target.preference is None:
        return server.host
    return f"{target.name} (mail exchanger of {server.host})"


def tls_name(server: MailServer, target: Optional[Target]) -> str:
    """The name the certificate must hold: ``:server-name``, else the host reached (the
    mail exchanger's name after an MX answer, README "DNS")."""
    return server.tls.server_name or (target.name if target else server.host)


def session_rules(
    server: MailServer, target: Optional[Target], local_hostname: str
) -> SessionRules:
    """What the conversation's rules need to know of the spec and of the host reached."""
    from_mx = target is not None and target.preference is not None
    return SessionRules(
        host=server.host,
        port=server.port,
        reached=reached_name(server, target),
        server_name=tls_name(server, target),
        local_hostname=local_hostname,
        ssl=server.ssl,
        starttls=server.starttls,
        allow_plaintext_auth=server.allow_plaintext_auth,
        exchanger=target.name if from_mx and target is not None else None,
    )


def open_connection(
    server: MailServer,
    options: ConnectOptions,
    context: Optional[ssl.SSLContext],
    transcript: Transcript,
    *,
    credentials: bool,
    on_target: Callable[[Connection, Target], None],
) -> None:
    """Resolve the name and connect; with ``:ssl t`` start TLS at once.  ``credentials``:
    AUTH will follow, so connect to the name as written, never through an MX answer
    (README "DNS").  ``on_target`` receives the connection as soon as it exists (so that
    the caller can close it and name the host reached whatever fails next)."""
    timeout = options.timeout
    deadline = time.monotonic() + CONNECT_TIMEOUTS * timeout
    targets = literal_targets(server.host)
    if targets is None:  # a name: the resolver (and dnspython) only now
        from .resolve import resolve_mail_server

        targets = resolve_mail_server(
            server.host, follow_mx=not credentials, timeout=timeout, note=transcript.note
        )
    connection, target = connect(
        targets,
        server.port,
        timeout=timeout,
        transcript=transcript,
        source_address=options.source_address,
        deadline=deadline,
    )
    on_target(connection, target)
    if server.ssl:
        assert context is not None
        start_tls(connection, context, server, target, "negotiating TLS")


def start_tls(
    connection: Connection,
    context: ssl.SSLContext,
    server: MailServer,
    target: Optional[Target],
    doing: str,
    command: Optional[str] = None,
) -> Optional[TlsFacts]:
    """The TLS handshake, the certificate checked against :func:`tls_name`; a failure
    says what to change (README "TLS")."""
    import ssl  # loaded already: the context is ssl's

    reached = reached_name(server, target)
    checked = tls_name(server, target)
    try:
        if command is None:
            connection.wrap(context, checked, doing)
        else:
            connection.wrap(context, checked, doing, command)
    except ssl.SSLCertVerificationError as exc:
        from .tls_hints import certificate_error  # what to change: only when it failed

        raise certificate_error(exc, server, checked=checked, reached=reached) from exc
    except errors.TLSError as exc:
        from .tls_hints import handshake_error

        raise handshake_error(exc, server, reached) from exc.__cause__
    return tls_facts(connection)


def greet(connection: Connection, server: MailServer, reached: str, timeout: float) -> Reply:
    """The server's greeting, whatever its code; a silent port suggests ``:ssl t``."""
    try:
        return connection.read_reply("waiting for the greeting")
    except errors.SMTPTimeoutError as exc:
        from .tls_hints import greeting_error  # a silent port: only when it was silent

        raise greeting_error(exc, server, reached, timeout) from exc


def check_quiet(connection: Connection, about_to: str) -> None:
    """Refuse to go on when the server sent bytes nobody asked for yet.

    RFC 5321 4.3.1 allows a reply only to a command (PIPELINING aside): a server that
    answers ahead of time could make us take a forged reply for the answer to what we
    are about to send.
    """
    if connection.parser.buffered:  # Connection.early_bytes, without the call
        connection.close()
        raise errors.ProtocolError(
            f"the server sent a reply before we said {about_to!r}; refusing to go on",
            command=about_to,
            reply=connection.parser.partial,
        )


def exchange(connection: Connection, line: str, shown: str) -> Reply:
    """Send one command and return the server's reply, whatever its code."""
    data = command_bytes(line, shown)
    check_quiet(connection, shown)
    connection.write(data, [shown])
    return connection.read_reply()


def end_with_quit(connection: Connection, *, said: bool = False) -> None:
    """QUIT (unless ``said``: it went with the end of the data) and its 221; the line is
    closed.  A failure here is logged, not raised: the message was already accepted."""
    try:
        if said:
            reply = connection.read_reply("waiting for the reply to QUIT", to="QUIT")
        else:
            reply = exchange(connection, "QUIT", "QUIT")
        if reply.code != 221:
            raise errors.SMTPError("QUIT failed", code=reply.code, reply=reply.text,
                                   command="QUIT")  # fmt: skip
    except errors.SMTPError as exc:
        log_warning("QUIT was not acknowledged (the message was already accepted): %s", exc)
    finally:
        connection.close()


def run(
    connection: Connection,
    conversation: Conversation,
    action: Action,
    transcript: Transcript,
    start: Callable[[StartTLS], Optional[TlsFacts]],
) -> Proceed:
    """Carry out ``action`` and every action the conversation answers with, until it
    says :class:`Proceed`; its failures are raised as post_office errors."""
    try:
        while not isinstance(action, Proceed):
            if isinstance(action, Send):
                action = conversation.answer(exchange(connection, action.line, action.shown))
            else:
                facts = start(action)
                assert facts is not None
                transcript.note(f"TLS established ({facts.version})")
                action = conversation.tls_established(facts)
    except Failure as failure:
        raise from_failure(failure) from failure.__cause__
    if action.note is not None:
        transcript.note(action.note)
    return action
