"""How ``post-office send`` hands a message to its transport, and what it says after.

The command line sends through the library's one delivery path
(:func:`post_office.client.delivery.deliver`, the library's rules unchanged: credentials
only over TLS, success only after the final reply), and reports the ``Delivery`` it
returns: the server's final reply (with its queue id), the TLS version, the AUTH
mechanism, a ``:starttls t`` that went on in plain text.
It also refuses what a user who typed ``--login`` did not ask for: a server that offers
no AUTH gets no message, unless ``--allow-no-auth``.

``--json`` prints :func:`outcome_json` on success and :func:`failure_json` on any failure
(README "The command line" lists the fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..client.delivery import Envelope, StartTLSOutcome, deliver
from ..client.program import check_program_timeout
from ..client.session import Session
from ..client.targets import Target
from ..client.transcript import Transcript
from ..errors import SMTPError
from ..protocol.auth import choose_mechanism
from ..protocol.replies import Reply
from ..protocol.stage import Stage
from ..spec.mailserver import MailServer
from ..spec.options import ConnectOptions
from ..spec.transport import MailProgram
from ._output import say, say_json
from .status import EX_UNAVAILABLE, Failure

__all__ = [
    "Outcome",
    "enhanced_code",
    "failure_json",
    "no_auth_failure",
    "outcome_json",
    "send",
    "show_outcome",
]


@dataclass
class Outcome:
    """What a send did, for the success line and ``--json``."""

    server: str
    recipients: Tuple[str, ...] = ()
    reply: Optional[Reply] = None
    reached: Optional[Target] = None  # the address connected to, also when it then failed
    port: Optional[int] = None
    tls: Optional[str] = None
    starttls: Optional[StartTLSOutcome] = None
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


def send(
    transport: object,
    envelope: Envelope,
    messages: Sequence[object],
    options: ConnectOptions,
    credentials: Optional[Tuple[str, str]] = None,
    *,
    allow_no_auth: bool = False,
    outcome: Optional[Outcome] = None,
    transcript: Optional[Transcript] = None,
) -> Outcome:
    """Send one message through the library's one delivery path (``deliver``); what
    happened (raises on any failure).  ``outcome``, when given, is filled in as the send
    goes, so that a failure can say how far it got."""
    if outcome is None:
        outcome = Outcome(transport_name(transport))
    outcome.recipients = envelope.recipients
    if isinstance(transport, MailProgram):
        program = ConnectOptions(timeout=check_program_timeout(options.timeout))
        deliver(transport, envelope, messages, program)
        return outcome
    assert isinstance(transport, MailServer)
    server = transport
    outcome.port = server.port

    def reached(session: Session, opened: bool) -> None:
        outcome.reached = session.target  # also a greeting or TLS failure was reached
        if opened:
            outcome.server = f"{session.reached} port {server.port}"

    def refuse_without_auth(session: Session) -> None:
        # Without TLS on a :starttls spec, AUTH refuses first (stripping).
        assert credentials is not None
        usable = choose_mechanism(session.extensions.auth, token=False)
        tls_ok = session.encrypted or not server.starttls
        if usable is None and tls_ok:
            raise no_auth_failure(session, credentials[0])

    delivery = deliver(
        server,
        envelope,
        messages,
        options,
        credentials,
        transcript=transcript,
        on_reached=reached,
        before_auth=None if allow_no_auth else refuse_without_auth,
    )
    outcome.login = credentials[0] if credentials is not None else None
    outcome.reply = delivery.reply
    outcome.tls = delivery.tls_version
    outcome.auth = delivery.auth_mechanism
    outcome.starttls = delivery.starttls
    return outcome


def transport_name(transport: object) -> str:
    """``mail.corp port 587``, or ``the program '/usr/sbin/sendmail -t -i'``."""
    if isinstance(transport, MailProgram):
        command = transport.command
        shown = command if isinstance(command, str) else " ".join(command)
        return f"the program {shown!r}"
    assert isinstance(transport, MailServer)
    return f"{transport.host} port {transport.port}"


def _reply_text(reply: Reply) -> str:
    return " / ".join(f"{reply.code} {line}".rstrip() for line in reply.lines)


def _how(outcome: Outcome) -> str:
    if outcome.starttls == "not offered":
        channel = "plain text: the server did not offer STARTTLS (:starttls t went on without)"
    elif outcome.starttls == "not used":
        channel = "plain text, though the server offers STARTTLS: add :starttls t"
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
        say_json(outcome_json(outcome, "sent", exit=0))
        return
    count = len(outcome.recipients)
    if outcome.reply is None:
        say(f"sent: handed to {outcome.server} for {count} recipient(s); it exited 0")
        return
    reply = _reply_text(outcome.reply)
    say(f"sent: accepted for {count} recipient(s) by {outcome.server}: {reply}")
    say(f"      over {_how(outcome)}")


# RFC 3463 section 2: class.subject.detail, at the start of the reply text (RFC 2034).
_ENHANCED = re.compile(r"([245])\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(?=[ \t]|$)")


def enhanced_code(code: Optional[int], text: str) -> Optional[str]:
    """The enhanced status code (``"5.1.1"``) a reply's text starts with (RFC 3463,
    RFC 2034 section 4), or None; its class must be the reply code's first digit."""
    match = _ENHANCED.match(text.lstrip(" "))
    if code is None or match is None or match.group(1) != str(code)[:1]:
        return None
    return match.group()


def _reply_json(code: Optional[int], text: str) -> Optional[Dict[str, Any]]:
    if code is None and not text:
        return None
    return {"code": code, "enhanced": enhanced_code(code, text), "text": text}


def _reached_json(outcome: Optional[Outcome]) -> Optional[Dict[str, Any]]:
    if outcome is None or outcome.reached is None:
        return None
    target = outcome.reached
    return {"host": target.name, "address": target.address, "port": outcome.port}


def outcome_json(outcome: Outcome, status: str, **extra: Any) -> Dict[str, Any]:
    """The ``--json`` object of a send that succeeded."""
    reply = outcome.reply
    data: Dict[str, Any] = {
        "status": status,
        "server": outcome.server,
        "reached": _reached_json(outcome),
        "recipients": list(outcome.recipients),
        "tls": outcome.tls,
        "starttls": outcome.starttls,
        "auth": outcome.auth,
        "login": outcome.login,
        "reply": None if reply is None else _reply_json(reply.code, reply.text),
    }
    data.update(extra)
    return data


def failure_json(
    message: str, status: int, exc: Optional[BaseException], outcome: Optional[Outcome]
) -> Dict[str, Any]:
    """The ``--json`` object of any failure, usage errors included: every field is always
    there, None where it does not apply (no reply, no server reached, no transaction)."""
    smtp = exc if isinstance(exc, SMTPError) else None
    stage = smtp.stage if smtp is not None else None
    return {
        "status": "failed",
        "exit": status,
        "error": message,
        "server": None if outcome is None else outcome.server,
        "reached": _reached_json(outcome),
        # Stage.BEFORE_MAIL -> "before_mail": only then nothing is left on the server.
        "stage": stage.name.lower() if isinstance(stage, Stage) else None,
        "command": None if smtp is None else smtp.command,
        "reply": None if smtp is None else _reply_json(smtp.code, smtp.reply),
    }
