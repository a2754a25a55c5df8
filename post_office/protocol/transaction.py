"""One mail transaction without I/O (RFC 5321 section 3.3; PIPELINING, RFC 2920).

:class:`Transaction` knows the commands of one message (``MAIL FROM`` with its
parameters, ``RCPT TO`` for each recipient, ``DATA``), which reply each expects, which
error a refusal raises, and how far the transaction has got: its :class:`Stage`, which
every error it raises carries as ``stage``.  A caller that retries reads the stage: only
an error raised at :attr:`Stage.BEFORE_MAIL` is certain to have delivered nothing and to
have left nothing on the server; from :attr:`Stage.BODY_STARTED` on the server may have
delivered the message even if its final reply was lost.
"""

from __future__ import annotations

import enum
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import (
    DataError,
    RecipientRefusedError,
    SenderRefusedError,
    SMTPError,
    SMTPUTF8Error,
)
from ..message.addresses import needs_smtputf8, smtp_path
from .extensions import Extensions
from .replies import Reply

__all__ = [
    "END_OF_DATA",
    "LOG_IN",
    "Command",
    "Stage",
    "Transaction",
    "sender_refusal_hint",
    "with_stage",
]

#: How the end of the message is shown in transcripts and errors.
END_OF_DATA = "(end of message) ."


class Stage(enum.Enum):
    """How far one transaction got; carried as ``stage`` on the errors it raises."""

    BEFORE_MAIL = "before MAIL FROM was accepted"
    MAIL_ACCEPTED = "MAIL FROM accepted"
    RECIPIENTS_ACCEPTED = "every RCPT TO accepted"
    DATA_ACCEPTED = "DATA accepted (354), no byte of the message sent"
    BODY_STARTED = "part of the message sent"
    BODY_SENT = "the whole message and its terminator sent"
    ACCEPTED = "the server accepted the message"

    @property
    def may_have_delivered(self) -> bool:
        """Whether the server can have the message: never resend from such a stage."""
        return self in (Stage.BODY_STARTED, Stage.BODY_SENT, Stage.ACCEPTED)


def with_stage(error: SMTPError, stage: Stage) -> SMTPError:
    """``error`` with its ``stage`` set (unless an earlier step set it already)."""
    if error.stage is None:
        error.stage = stage
    return error


#: How the library says "authenticate"; the command line says ``--login USER`` instead.
LOG_IN = "log in (send_smtp_auth, or login= and password=)"


def sender_refusal_hint(reply: Reply, extensions: Extensions, log_in: str = LOG_IN) -> str:
    """What to change when ``MAIL FROM`` is refused because the server wants STARTTLS or
    AUTH first (530, RFC 3207 section 4 and RFC 4954 section 6), else ``""``.  A server
    offers STARTTLS only before it, so ``extensions.starttls`` means the session is plain."""
    text = reply.text.lower()
    if not (reply.code == 530 or "starttls" in text or "authentication" in text):
        return ""
    if extensions.starttls and ("starttls" in text or not extensions.auth):
        return "the server wants STARTTLS first: add :starttls t"
    if extensions.starttls:
        return (
            "the server wants AUTH, which it may offer only after STARTTLS: add :starttls t, "
            f"then {log_in}"
        )
    return f"the server wants AUTH: {log_in}"


class Command:
    """One command of the transaction and how its refusal is reported."""

    __slots__ = ("error", "expect", "extra", "hint", "line", "reached", "what")

    def __init__(
        self,
        line: str,
        *,
        expect: int,
        error: Callable[..., SMTPError],
        what: str,
        reached: Stage,
        extra: Optional[Dict[str, str]] = None,
        hint: Optional[Callable[[Reply], str]] = None,
    ) -> None:
        self.hint = hint  # what to change, from the refusing reply ("" when nothing)
        self.line = line
        self.expect = expect  # a reply code, or one digit for its class (2: any 2xx)
        self.error = error
        self.what = what
        self.reached = reached  # the stage once the server accepted it
        self.extra = extra or {}

    def accepts(self, reply: Reply) -> bool:
        return reply.code == self.expect or reply.code // 100 == self.expect

    def refusal(self, reply: Reply, stage: Stage) -> SMTPError:
        hint = self.hint(reply) if self.hint is not None else ""
        return self.error(
            f"{self.what} ({hint})" if hint else self.what,
            code=reply.code,
            reply=reply.text,
            command=self.line,
            stage=stage,
            **self.extra,
        )


class Transaction:
    """The commands of one message from ``sender`` to ``recipients`` on a server that
    offers ``extensions``; ``eight_bit`` when the message is not known to be 7-bit."""

    def __init__(
        self,
        sender: str,
        recipients: Sequence[str],
        extensions: Extensions,
        *,
        eight_bit: bool,
        server_name: str = "the server",
    ) -> None:
        options: List[str] = []
        if extensions.eightbitmime and eight_bit:
            options.append("BODY=8BITMIME")
        if any(needs_smtputf8(address) for address in (sender, *recipients)):
            if not extensions.smtputf8:
                raise SMTPUTF8Error(
                    f"{server_name} does not offer SMTPUTF8, so it cannot take a non-ASCII address",
                    stage=Stage.BEFORE_MAIL,
                )
            options.append("SMTPUTF8")
        self.stage = Stage.BEFORE_MAIL
        self.pipelining = extensions.pipelining
        self.commands: List[Command] = [
            Command(
                " ".join([f"MAIL FROM:{smtp_path(sender)}", *options]),
                expect=2,
                error=SenderRefusedError,
                what=f"SMTP transaction failed: the server refused the sender {sender!r}",
                reached=Stage.MAIL_ACCEPTED,
                extra={"sender": sender},
                hint=lambda reply: sender_refusal_hint(reply, extensions),
            )
        ]
        self.commands.extend(
            Command(
                f"RCPT TO:{smtp_path(recipient)}",
                expect=2,
                error=RecipientRefusedError,
                what=f"SMTP transaction failed: the server refused the recipient {recipient!r}",
                reached=Stage.MAIL_ACCEPTED,
                extra={"recipient": recipient},
            )
            for recipient in recipients
        )
        self.commands[-1].reached = Stage.RECIPIENTS_ACCEPTED if recipients else Stage.MAIL_ACCEPTED
        self.commands.append(
            Command(
                "DATA",
                expect=354,
                error=DataError,
                what="SMTP transaction failed: the server refused DATA",
                reached=Stage.DATA_ACCEPTED,
            )
        )

    def groups(self) -> List[List[Command]]:
        """The commands in the writes they go in: all in one with PIPELINING (RFC 2920
        lets MAIL, RCPT and DATA be sent together, DATA last), otherwise one by one."""
        if self.pipelining:
            return [list(self.commands)]
        return [[command] for command in self.commands]

    def answer(self, command: Command, reply: Reply) -> Optional[SMTPError]:
        """Take the server's ``reply`` to ``command``: the error it means, or None."""
        if command.accepts(reply):
            if self.stage is Stage.BEFORE_MAIL or command.reached is not Stage.MAIL_ACCEPTED:
                self.stage = command.reached
            return None
        return command.refusal(reply, self.stage)

    def answer_group(
        self, group: Sequence[Command], replies: Sequence[Reply]
    ) -> Tuple[Optional[SMTPError], bool]:
        """Take the replies to a pipelined group: the first refusal (or None), and
        whether the connection must be dropped.

        The first refusal is what raises, as without PIPELINING.  A server that answers
        DATA with 354 although an earlier command was refused (it took the others) is
        waiting for the body: the only way to deliver nothing is to drop the connection
        (RFC 5321 4.1.1.4: an unterminated message is discarded).
        """
        failure: Optional[SMTPError] = None
        for command, reply in zip(group, replies):
            failure = self.answer(command, reply)
            if failure is not None:
                break  # the stage stays where the first refusal found it
        data_open = bool(replies) and replies[-1].code == 354 and group[-1].line == "DATA"
        return failure, failure is not None and data_open

    def body_started(self) -> None:
        self.stage = Stage.BODY_STARTED

    def body_sent(self) -> None:
        self.stage = Stage.BODY_SENT

    def finish(self, reply: Reply) -> None:
        """Take the reply to the end of data: accepted, or :class:`DataError`."""
        if 200 <= reply.code < 300:
            self.stage = Stage.ACCEPTED
            return
        raise DataError(
            "SMTP transaction failed: message not sent: the server did not accept it",
            code=reply.code,
            reply=reply.text,
            command=END_OF_DATA,
            stage=self.stage,
        )
