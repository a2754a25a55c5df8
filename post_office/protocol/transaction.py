"""One mail transaction without I/O (RFC 5321 section 3.3; PIPELINING, RFC 2920).

:class:`Transaction` knows the commands of one message (``MAIL FROM`` with its
parameters, ``RCPT TO`` for each recipient, ``DATA``), which reply each expects, which
failure a refusal is (a :class:`~post_office.protocol.failures.Failure` the client raises as
the matching post_office error), and how far the transaction has got: its :class:`Stage`,
which every failure carries as ``stage``.  A caller that retries reads the stage: only
an error raised at :attr:`Stage.BEFORE_MAIL` is certain to have delivered nothing and to
have left nothing on the server; from :attr:`Stage.BODY_STARTED` on the server may have
delivered the message even if its final reply was lost.
"""

from __future__ import annotations

import functools

from .commands import UnsafeCommand, encode_command, needs_smtputf8, smtp_path
from .extensions import NO_EXTENSIONS, Extensions
from .failures import Failure
from .replies import Reply
from .stage import Stage

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Sequence, Tuple

    from .failures import FailureKind

__all__ = [
    "END_OF_DATA",
    "LOG_IN",
    "Command",
    "Stage",
    "Transaction",
    "sender_refusal_hint",
]

#: How the end of the message is shown in transcripts and errors.
END_OF_DATA = "(end of message) ."


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


_NO_DETAILS: Dict[str, str] = {}


class Command:
    """One command of the transaction and how its refusal is reported."""

    __slots__ = ("expect", "extra", "hint", "kind", "line", "reached", "subject", "what")

    def __init__(
        self,
        line: str,
        *,
        expect: int,
        kind: FailureKind,
        what: str,
        reached: Stage,
        extra: Optional[Dict[str, str]] = None,
        hint: Optional[Callable[[Reply, Extensions], str]] = None,
        subject: Optional[str] = None,
    ) -> None:
        # what to change, from the refusing reply and what the server offers ("": nothing)
        self.hint = hint
        self.line = line
        self.expect = expect  # a reply code, or one digit for its class (2: any 2xx)
        self.kind = kind  # which post_office error a refusal becomes
        # ``what`` names the address it is about (``subject``) with ``{!r}``, filled in
        # only for a refusal: a message accepted never pays for the words.
        self.what = what
        self.subject = subject
        self.reached = reached  # the stage once the server accepted it
        self.extra = extra if extra is not None else _NO_DETAILS  # shared, never changed

    def accepts(self, reply: Reply) -> bool:
        return reply.code == self.expect or reply.code // 100 == self.expect

    def refusal(
        self, reply: Reply, stage: Stage, extensions: Extensions = NO_EXTENSIONS
    ) -> Failure:
        hint = self.hint(reply, extensions) if self.hint is not None else ""
        what = self.what if self.subject is None else self.what.format(self.subject)
        details = self.extra
        if not details and self.subject is not None:
            details = {self.kind: self.subject}
        return Failure(
            self.kind,
            f"{what} ({hint})" if hint else what,
            code=reply.code,
            reply=reply.text,
            command=self.line,
            stage=stage,
            details=details,
        )


@functools.lru_cache(maxsize=64)
def _plan(
    sender: str,
    recipients: Tuple[str, ...],
    body_8bit: bool,
    smtputf8: bool,
    pipelining: bool,
    server_name: str,
) -> Tuple[Tuple[Command, ...], Tuple[Tuple[Command, ...], ...], Tuple[Optional[bytes], ...]]:
    """The commands of a transaction, the writes they go in (see :class:`Transaction`)
    and those writes' bytes, from the envelope and what the server offers (``BODY=8BITMIME``
    to be said, SMTPUTF8, PIPELINING).  The commands never change once made, so every
    transaction of one envelope shares them."""
    options: List[str] = []
    if body_8bit:
        options.append("BODY=8BITMIME")
    if any(needs_smtputf8(address) for address in (sender, *recipients)):
        if not smtputf8:
            raise Failure(
                "smtputf8",
                f"{server_name} does not offer SMTPUTF8, so it cannot take a non-ASCII address",
                stage=Stage.BEFORE_MAIL,
            )
        options.append("SMTPUTF8")
    commands = [
        Command(
            " ".join([f"MAIL FROM:{smtp_path(sender)}", *options]),
            expect=2,
            kind="sender",
            what="SMTP transaction failed: the server refused the sender {!r}",
            subject=sender,
            reached=Stage.MAIL_ACCEPTED,
            hint=sender_refusal_hint,
        )
    ]
    commands.extend(
        Command(
            f"RCPT TO:{smtp_path(recipient)}",
            expect=2,
            kind="recipient",
            what="SMTP transaction failed: the server refused the recipient {!r}",
            subject=recipient,
            reached=Stage.MAIL_ACCEPTED,
        )
        for recipient in recipients
    )
    commands[-1].reached = Stage.RECIPIENTS_ACCEPTED if recipients else Stage.MAIL_ACCEPTED
    commands.append(
        Command(
            "DATA",
            expect=354,
            kind="data",
            what="SMTP transaction failed: the server refused DATA",
            reached=Stage.DATA_ACCEPTED,
        )
    )
    planned = tuple(commands)
    groups = (planned,) if pipelining else tuple((command,) for command in planned)
    return planned, groups, tuple(_wire(group) for group in groups)


def _wire(group: Tuple[Command, ...]) -> Optional[bytes]:
    """A group's lines as one write, or None when one of them cannot be sent (the client
    says why when it comes to write it)."""
    try:
        return b"".join([encode_command(command.line) for command in group])
    except UnsafeCommand:
        return None


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
        self.stage = Stage.BEFORE_MAIL
        self.pipelining = pipelining = extensions.pipelining
        self._extensions = extensions  # for what a refusal of MAIL FROM suggests
        #: the commands, and the writes they go in (:meth:`groups`); made once for each
        #: envelope and kind of server (a batch from one sender pays once)
        self.commands, self._groups, self._wires = _plan(
            # The exact strs (str.__str__ runs no code of a subclass): no __eq__ or
            # __hash__ of a caller's str subclass decides what the cache answers.
            str.__str__(sender),
            tuple(map(str.__str__, recipients)),
            extensions.eightbitmime and eight_bit,
            extensions.smtputf8,
            pipelining,
            server_name,
        )

    def groups(self) -> Tuple[Tuple[Command, ...], ...]:
        """The commands in the writes they go in: all in one with PIPELINING (RFC 2920
        lets MAIL, RCPT and DATA be sent together, DATA last), otherwise one by one."""
        return self._groups

    def wire(self, group: int) -> Optional[bytes]:
        """The bytes of :meth:`groups`' ``group`` as one write, or None when a line holds
        CR, LF or NUL (which no checked address does; the client refuses it by name)."""
        return self._wires[group]

    def answer(self, command: Command, reply: Reply) -> Optional[Failure]:
        """Take the server's ``reply`` to ``command``: the error it means, or None."""
        if command.accepts(reply):
            self.accepted(command)
            return None
        return command.refusal(reply, self.stage, self._extensions)

    def accepted(self, command: Command) -> None:
        """The server accepted ``command`` (with a reply :meth:`Command.accepts`): the
        transaction is at the stage the command reaches, never back at an earlier one."""
        if self.stage is Stage.BEFORE_MAIL or command.reached is not Stage.MAIL_ACCEPTED:
            self.stage = command.reached

    def answer_group(
        self, group: Sequence[Command], replies: Sequence[Reply]
    ) -> Tuple[Optional[Failure], bool]:
        """Take the replies to a pipelined group: the first refusal (or None), and
        whether the connection must be dropped.

        The first refusal is what raises, as without PIPELINING.  A server that answers
        DATA with 354 although an earlier command was refused (it took the others) is
        waiting for the body: the only way to deliver nothing is to drop the connection
        (RFC 5321 4.1.1.4: an unterminated message is discarded).
        """
        failure: Optional[Failure] = None
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
        """Take the reply to the end of data: accepted, or a ``"data"`` :class:`Failure`
        (a ``DataError`` for the caller)."""
        if 200 <= reply.code < 300:
            self.stage = Stage.ACCEPTED
            return
        raise Failure(
            "data",
            "SMTP transaction failed: message not sent: the server did not accept it",
            code=reply.code,
            reply=reply.text,
            command=END_OF_DATA,
            stage=self.stage,
        )
