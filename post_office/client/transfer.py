"""One mail transaction over a connection (RFC 5321 3.3; PIPELINING, RFC 2920).

:class:`~post_office.protocol.transaction.Transaction` says what to send and what each
reply means; these functions write and read (README "Architecture").  Success is
returned only after the server's reply to our own end of data: a reply that arrives
before its command (outside a PIPELINING group) is a
:class:`~post_office.errors.ProtocolError`, never taken as an answer; so is a 2xx that
arrives while the body is being sent, and a refusal then is a
:class:`~post_office.errors.DataError` with the server's code (README "Reliability").
"""

from __future__ import annotations

from .. import errors
from ..errors import from_failure, with_stage
from ..message.sources import encode_content, known_7bit
from ..protocol.extensions import Extensions
from ..protocol.failures import Failure
from ..protocol.replies import Reply
from ..protocol.transaction import END_OF_DATA, Command, Transaction
from .connection import Connection, command_bytes
from .driver import check_quiet, end_with_quit, exchange
from .transcript import Transcript

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "BODY_CHUNK_SIZE",
    "Item",
    "Outcome",
    "answered_early",
    "group_bytes",
    "send_transaction",
    "two_replies",
]

#: Bytes of raw message per encoder chunk and ``sendall`` on the DATA path: large enough
#: that the syscalls are few, small enough that memory stays a small constant.
BODY_CHUNK_SIZE = 1 << 18
_QUIT = b"QUIT\r\n"


def send_transaction(
    connection: Connection,
    transcript: Transcript,
    extensions: Extensions,
    server_host: str,
    envelope: Tuple[str, Sequence[str]],
    messages: Sequence[object],
    *,
    then_quit: bool = False,
) -> Reply:
    """MAIL FROM, RCPT TO each, DATA, the body streamed, and the final reply.

    Returns the server's final reply, only after it accepted the message (a 2xx after
    the body).  The first refused command raises, naming the sender or recipient, with
    the transaction's stage as ``stage`` (the caller resets or drops the connection).
    ``then_quit`` with PIPELINING: QUIT goes in the write of the end of the data (RFC
    2920 3.1 lets message content open a group that QUIT ends); its 221 is read after
    the message's reply and the connection closed, a write and a wait saved.
    """
    sender, recipients = envelope
    try:
        transaction = Transaction(
            sender,
            recipients,
            extensions,
            eight_bit=not known_7bit(messages),
            server_name=f"the server {server_host}",
        )
    except Failure as failure:
        raise from_failure(failure) from None
    try:
        try:
            _negotiate(connection, transcript, transaction)
            quit_too = then_quit and transaction.pipelining
            return _send_body(connection, transcript, transaction, messages, quit_too)
        except Failure as failure:  # what the protocol found, as the post_office error
            raise from_failure(failure) from None
    except errors.SMTPError as exc:
        with_stage(exc, transaction.stage)
        raise


def _negotiate(connection: Connection, transcript: Transcript, transaction: Transaction) -> None:
    for number, group in enumerate(transaction.groups()):
        if len(group) == 1:
            line = group[0].line
            error = transaction.answer(group[0], exchange(connection, line, line))
            if error is not None:
                raise error
            continue
        data = group_bytes(transaction, number)
        check_quiet(connection, group[0].line)
        connection.write(data, [command.line for command in group])
        _read_group(connection, transcript, transaction, group)


def _send_body(
    connection: Connection,
    transcript: Transcript,
    transaction: Transaction,
    messages: Sequence[object],
    quit_too: bool,
) -> Reply:
    _stream_body(connection, transcript, transaction, messages, quit_too)
    reply = connection.read_reply(to=END_OF_DATA)
    if 200 <= reply.code < 300:
        _check_nothing_follows(connection, transcript, quit_too)
    transaction.finish(reply)
    if quit_too and connection.open:
        end_with_quit(connection, said=True)
    return reply


def group_bytes(transaction: Transaction, number: int) -> bytes:
    """The lines of the transaction's group ``number`` as one write: made with its plan,
    or, for a line no checked address makes (CR, LF or NUL), refused by name here."""
    wire = transaction.wire(number)
    if wire is None:
        group = transaction.groups()[number]
        wire = b"".join([command_bytes(command.line, command.line) for command in group])
    return wire


def _refused_during_body(reply: Reply, transaction: Transaction) -> errors.DataError:
    return errors.DataError(
        "SMTP transaction failed: the server refused the message while it was being sent",
        code=reply.code,
        reply=reply.text,
        command="(message body)",
        stage=transaction.stage,
    )


def answered_early(reply: Reply, transaction: Transaction) -> errors.SMTPError:
    """A reply that came before our end of data: a refusal stays a refusal with its
    code; a 2xx cannot be the acceptance of a message the server had not read to its
    end (RFC 5321 4.1.1.4, 4.3.2), so it is a :class:`ProtocolError`, never success."""
    if not 200 <= reply.code < 300:
        return _refused_during_body(reply, transaction)
    return errors.ProtocolError(
        "the server answered before the end of the message, so that answer cannot be its "
        "acceptance; the rest of the message was not sent",
        reply=f"{reply.code} {reply.text}",
        command="(message body)",
        stage=transaction.stage,
    )


def _check_nothing_follows(connection: Connection, transcript: Transcript, quit_too: bool) -> None:
    """After the 2xx to our end of data, one look that never blocks: a second reply
    already waiting means the first was an early one, sent before the server read the
    end of data, and this one its real answer (a 250 sent early, then 554).  Only a
    421, the notice of a server that is closing (RFC 5321 3.8), may follow, or the 221
    to a QUIT that went with the end of the data (``quit_too``); the connection is then
    dropped."""
    if not connection.look() or not connection.parser.buffered:
        return  # nothing, or the server closed the connection after its reply
    second = connection.read_reply("reading what followed the reply to the message", to=END_OF_DATA)
    connection.close()
    if quit_too and second.code == 221:
        return  # the answer to our QUIT
    if second.code == 421:
        transcript.note("the server is closing the connection (421)")
        return
    raise two_replies(second)


def two_replies(second: Optional[Reply]) -> errors.ProtocolError:
    """A second reply after the 2xx to the end of data (``second``, None when it could
    not be read): the 2xx came before the server read our end of data."""
    return errors.ProtocolError(
        "the server sent two replies to the end of the message; the first came before it",
        reply=f"{second.code} {second.text}" if second is not None else "",
        command=END_OF_DATA,
    )


if TYPE_CHECKING:
    #: One message of a batch: its reverse path, forward paths and message arguments.
    Item = Tuple[str, Sequence[str], Sequence[object]]
    #: What became of one message of a batch: the server's acceptance, or the error.
    Outcome = Union[Reply, errors.SMTPError]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name in ("Item", "Outcome"):
            from typing import Sequence, Tuple, Union

            globals().update(
                Item=Tuple[str, Sequence[str], Sequence[object]],
                Outcome=Union[Reply, errors.SMTPError],
            )
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _read_group(
    connection: Connection,
    transcript: Transcript,
    transaction: Transaction,
    group: Sequence[Command],
) -> None:
    """The replies to a pipelined envelope group; the first refusal raises, as without
    PIPELINING."""
    replies: List[Reply] = []
    for command in group:
        try:
            replies.append(connection.read_reply(to=command.line))
        except errors.SMTPError:
            failure, _ = transaction.answer_group(group, replies)
            if failure is not None:
                raise failure from None  # e.g. 421, then the server hung up
            raise
    failure, drop = transaction.answer_group(group, replies)
    if failure is not None:
        if drop:
            transcript.note("DATA was accepted after a refusal: dropping the line")
            connection.close()
        raise failure


def _stream_body(
    connection: Connection,
    transcript: Transcript,
    transaction: Transaction,
    messages: Sequence[object],
    quit_too: bool,
) -> None:
    """The body and its end (and QUIT behind it, ``quit_too``); a reply before the end
    raises (README "Reliability")."""
    # A reply already waiting (a "250" sent along with the 354) would be taken for the
    # answer to a body the server has not read: refuse before sending a byte.
    check_quiet(connection, "(message body)")
    transaction.body_started()
    chunks, end = encode_content(messages, BODY_CHUNK_SIZE)
    if quit_too:
        end = _then_quit(end)
    try:
        early = connection.send_body(chunks, end)
    except errors.SMTPError as exc:
        late = connection.late_reply
        if late is None:
            raise
        raise _refused_during_body(late, transaction) from exc
    if early is not None:
        raise answered_early(early, transaction)
    transaction.body_sent()
    sent = connection.body_bytes - (len(_QUIT) if quit_too else 0)
    transcript.note(f"message body sent: {sent} bytes")
    if quit_too:
        transcript.command("QUIT")


def _then_quit(end: Callable[[], bytes]) -> Callable[[], bytes]:
    """The end of the data with QUIT behind it, in one write."""
    return lambda: end() + _QUIT
