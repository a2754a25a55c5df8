"""How ``post-office send`` hands a message to its transport, and what it says after.

Over SMTP the command line drives a :class:`~post_office.session.Session` itself (the
library's rules unchanged: credentials only over TLS, success only after the final
reply), so that it can report what happened: the server's final reply (with its queue
id), the TLS version, the AUTH mechanism, a ``:starttls t`` that went on in plain text.
It also refuses what a user who typed ``--login`` did not ask for: a server that offers
no AUTH gets no message, unless ``--allow-no-auth``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..delivery import Envelope, deliver
from ..options import ConnectOptions
from ..program import check_program_timeout
from ..protocol.auth import choose_mechanism
from ..protocol.replies import Reply
from ..session import Session
from ..spec import MailProgram, MailServer
from ._output import say
from .status import EX_UNAVAILABLE, Failure

__all__ = ["Outcome", "no_auth_failure", "send", "show_outcome"]


@dataclass
class Outcome:
    """What a send did, for the success line and ``--json``."""

    server: str
    recipients: Tuple[str, ...]
    reply: Optional[Reply] = None
    tls: Optional[str] = None
    starttls: Optional[str] = None  # "upgraded", "not offered" (went on in plain text)
    auth: Optional[str] = None
    login: Optional[str] = None
    notes: List[str] = field(default_factory=list)


def no_auth_failure(session: Session, login: str) -> Failure:
    """``--login`` asked for AUTH, and the server offers none we can use."""
    host = session.server.host
    offered = session.extensions.auth
    if offered:
        why = f"offers AUTH {' '.join(offered)}, none of which post_office speaks"
    else:
        why = "does not offer AUTH"
    if not session.encrypted and session.extensions.starttls:
        why += " (it offers STARTTLS: many servers offer AUTH only after it, so add :starttls t)"
    return Failure(
        f"--login {login}: the server {host} {why}, so the message was not sent; give "
        "--allow-no-auth to send it without authenticating",
        EX_UNAVAILABLE,
    )


def _smtp(
    server: MailServer,
    envelope: Envelope,
    messages: Sequence[object],
    options: ConnectOptions,
    credentials: Optional[Tuple[str, str]],
    allow_no_auth: bool,
) -> Outcome:
    outcome = Outcome(f"{server.host} port {server.port}", envelope.recipients)
    session = Session.for_server(server, options)
    with session:
        session.open(credentials=credentials is not None)
        outcome.server = f"{session.reached} port {server.port}"
        if credentials is not None:
            login, password = credentials
            usable = choose_mechanism(session.extensions.auth, token=False)
            # Without TLS on a :starttls spec, authenticate() refuses first (stripping).
            tls_ok = session.encrypted or not server.starttls
            if usable is None and tls_ok and not allow_no_auth:
                raise no_auth_failure(session, login)
            session.authenticate(login, password)
            outcome.login = login
        outcome.reply = session.send_message(envelope.sender, envelope.recipients, messages)
        session.quit()
    outcome.tls = session.tls_version
    outcome.auth = session.auth_mechanism
    if server.starttls and not server.ssl:
        outcome.starttls = "upgraded" if session.encrypted else "not offered"
    return outcome


def send(
    transport: object,
    envelope: Envelope,
    messages: Sequence[object],
    options: ConnectOptions,
    credentials: Optional[Tuple[str, str]] = None,
    *,
    allow_no_auth: bool = False,
) -> Outcome:
    """Send one message; what happened (raises on any failure)."""
    if isinstance(transport, MailProgram):
        program = ConnectOptions(timeout=check_program_timeout(options.timeout))
        deliver(transport, envelope, messages, program)
        command = transport.command
        shown = command if isinstance(command, str) else " ".join(command)
        return Outcome(f"the program {shown!r}", envelope.recipients)
    assert isinstance(transport, MailServer)
    return _smtp(transport, envelope, messages, options, credentials, allow_no_auth)


def _reply_text(reply: Reply) -> str:
    return " / ".join(f"{reply.code} {line}".rstrip() for line in reply.lines)


def _how(outcome: Outcome) -> str:
    if outcome.starttls == "not offered":
        channel = "plain text: the server did not offer STARTTLS (:starttls t went on without)"
    elif outcome.tls:
        channel = f"{outcome.tls}" + (" after STARTTLS" if outcome.starttls else "")
    else:
        channel = "plain text"
    auth = f"AUTH {outcome.auth} as {outcome.login}" if outcome.auth else "no AUTH"
    if outcome.login and not outcome.auth:
        auth = "no AUTH (--allow-no-auth)"
    return f"{channel}; {auth}"


def show_outcome(outcome: Outcome, *, json_output: bool) -> None:
    """The success output: two lines, or one JSON object."""
    if json_output:
        say(json.dumps(outcome_json(outcome, "sent"), ensure_ascii=False))
        return
    count = len(outcome.recipients)
    if outcome.reply is None:
        say(f"sent: handed to {outcome.server} for {count} recipient(s); it exited 0")
        return
    reply = _reply_text(outcome.reply)
    say(f"sent: accepted for {count} recipient(s) by {outcome.server}: {reply}")
    say(f"      over {_how(outcome)}")


def outcome_json(outcome: Optional[Outcome], status: str, **extra: Any) -> Dict[str, Any]:
    """The ``--json`` object."""
    data: Dict[str, Any] = {"status": status}
    if outcome is not None:
        reply = outcome.reply
        data.update(
            server=outcome.server,
            recipients=list(outcome.recipients),
            tls=outcome.tls,
            starttls=outcome.starttls,
            auth=outcome.auth,
            login=outcome.login,
            reply=None if reply is None else {"code": reply.code, "text": reply.text},
        )
    data.update(extra)
    return data
