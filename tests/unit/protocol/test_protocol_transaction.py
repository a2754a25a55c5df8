"""One mail transaction's commands, replies and stages (RFC 5321 3.3, RFC 2920), with no
server."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office.errors import (
    DataError,
    NotSupportedError,
    RecipientRefusedError,
    SenderRefusedError,
    SMTPError,
    SMTPUTF8Error,
    from_failure,
    with_stage,
)
from post_office.protocol.extensions import NO_EXTENSIONS, Extensions
from post_office.protocol.failures import Failure
from post_office.protocol.replies import Reply, ReplyParser
from post_office.protocol.transaction import (
    END_OF_DATA,
    Command,
    Stage,
)
from post_office.protocol.transaction import Transaction as PureTransaction

SENDER = "me@example.test"
RCPTS = ("a@example.test", "b@example.test")

OK = Reply(250, ("2.1.0 OK",))
GO = Reply(354, ("End data with <CR><LF>.<CR><LF>",))


class Transaction(PureTransaction):
    """The pure transaction, its failures turned into the errors the client raises
    (:func:`post_office.errors.from_failure`), so that these tests pin both."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except Failure as failure:
            raise from_failure(failure) from None

    def answer(self, command: Command, reply: Reply) -> Any:
        failure = super().answer(command, reply)
        return None if failure is None else from_failure(failure)

    def answer_group(self, group: Sequence[Command], replies: Sequence[Reply]) -> Any:
        failure, drop = super().answer_group(group, replies)  # calls answer() above
        return failure, drop

    def finish(self, reply: Reply) -> None:
        try:
            super().finish(reply)
        except Failure as failure:
            raise from_failure(failure) from None


def test_the_pure_transaction_returns_failures_not_errors() -> None:
    transaction = PureTransaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    failure = transaction.answer(transaction.commands[0], Reply(550, ("no",)))
    assert isinstance(failure, Failure) and not isinstance(failure, SMTPError)
    assert (failure.kind, failure.code, failure.stage) == ("sender", 550, Stage.BEFORE_MAIL)
    assert failure.details == {"sender": SENDER}


def ext(*names: str) -> Extensions:
    return Extensions(tuple(names))


def lines(transaction: Transaction) -> List[str]:
    return [command.line for command in transaction.commands]


def stage_of(error: object) -> Stage:
    """The ``stage`` an error carries (set by :func:`with_stage`)."""
    stage: Stage = vars(error)["stage"]
    return stage


def now(transaction: Transaction) -> Stage:
    """The transaction's stage (a call, so that type checkers do not narrow it)."""
    return transaction.stage


def replies(data: bytes) -> List[Reply]:
    parser = ReplyParser()
    parser.feed(data)
    out: List[Reply] = []
    while True:
        reply = parser.next_reply()
        if reply is None:
            return out
        out.append(reply)


# --------------------------------------------------------------------------- commands


def test_commands_of_one_message() -> None:
    transaction = Transaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    assert lines(transaction) == [
        "MAIL FROM:<me@example.test>",
        "RCPT TO:<a@example.test>",
        "RCPT TO:<b@example.test>",
        "DATA",
    ]
    assert [c.expect for c in transaction.commands] == [2, 2, 2, 354]
    assert [c.kind for c in transaction.commands] == ["sender", "recipient", "recipient", "data"]
    assert now(transaction) is Stage.BEFORE_MAIL
    assert not transaction.pipelining


def test_null_sender() -> None:
    transaction = Transaction("", ["postmaster@example.test"], NO_EXTENSIONS, eight_bit=False)
    assert lines(transaction)[0] == "MAIL FROM:<>"


def test_no_recipients() -> None:
    transaction = Transaction(SENDER, [], NO_EXTENSIONS, eight_bit=False)
    assert lines(transaction) == ["MAIL FROM:<me@example.test>", "DATA"]
    assert transaction.answer(transaction.commands[0], OK) is None
    assert now(transaction) is Stage.MAIL_ACCEPTED
    assert transaction.answer(transaction.commands[1], GO) is None
    assert now(transaction) is Stage.DATA_ACCEPTED


@pytest.mark.parametrize(
    ("offered", "eight_bit", "mail"),
    [
        ((), False, "MAIL FROM:<me@example.test>"),
        ((), True, "MAIL FROM:<me@example.test>"),
        (("8BITMIME",), False, "MAIL FROM:<me@example.test>"),
        (("8BITMIME",), True, "MAIL FROM:<me@example.test> BODY=8BITMIME"),
        (("8bitmime",), True, "MAIL FROM:<me@example.test> BODY=8BITMIME"),
        (("SMTPUTF8", "PIPELINING"), True, "MAIL FROM:<me@example.test>"),
    ],
)
def test_body_8bitmime_only_when_offered_and_eight_bit(
    offered: Sequence[str], eight_bit: bool, mail: str
) -> None:
    transaction = Transaction(SENDER, RCPTS, ext(*offered), eight_bit=eight_bit)
    assert lines(transaction)[0] == mail


@pytest.mark.parametrize(
    ("sender", "recipients"),
    [
        ("j\u00fcrgen@example.test", ["a@example.test"]),
        ("me@example.test", ["a@example.test", "\u7528\u6237@\u4f8b\u5b50.test"]),
        ("me@b\u00fccher.test", []),
    ],
)
def test_smtputf8_for_non_ascii_addresses_when_offered(sender: str, recipients: List[str]) -> None:
    transaction = Transaction(sender, recipients, ext("SMTPUTF8", "8BITMIME"), eight_bit=True)
    assert lines(transaction)[0] == f"MAIL FROM:<{sender}> BODY=8BITMIME SMTPUTF8"
    assert lines(transaction)[1:-1] == [f"RCPT TO:<{r}>" for r in recipients]
    plain = Transaction(sender, recipients, ext("SMTPUTF8"), eight_bit=False)
    assert lines(plain)[0] == f"MAIL FROM:<{sender}> SMTPUTF8"


def test_no_smtputf8_for_ascii_addresses() -> None:
    transaction = Transaction(SENDER, RCPTS, ext("SMTPUTF8"), eight_bit=False)
    assert "SMTPUTF8" not in lines(transaction)[0]


@pytest.mark.parametrize(
    ("sender", "recipients"),
    [("j\u00fcrgen@example.test", RCPTS), (SENDER, ["a@example.test", "\u00fc@example.test"])],
)
def test_smtputf8_error_when_not_offered(sender: str, recipients: Sequence[str]) -> None:
    with pytest.raises(SMTPUTF8Error) as info:
        Transaction(
            sender,
            recipients,
            ext("8BITMIME", "PIPELINING"),
            eight_bit=True,
            server_name="the server mx.example.test",
        )
    error = info.value
    assert isinstance(error, NotSupportedError)
    assert stage_of(error) is Stage.BEFORE_MAIL
    assert "the server mx.example.test does not offer SMTPUTF8" in str(error)
    assert error.code is None


def test_smtputf8_error_default_server_name() -> None:
    with pytest.raises(SMTPUTF8Error, match="the server does not offer SMTPUTF8"):
        Transaction("\u00fc@example.test", RCPTS, NO_EXTENSIONS, eight_bit=False)


# --------------------------------------------------------------------------- groups


def test_groups_without_pipelining_are_one_command_each() -> None:
    transaction = Transaction(SENDER, RCPTS, ext("8BITMIME"), eight_bit=False)
    groups = transaction.groups()
    assert [[c.line for c in group] for group in groups] == [[line] for line in lines(transaction)]


def test_groups_with_pipelining_are_one_write_with_data_last() -> None:
    transaction = Transaction(SENDER, RCPTS, ext("pipelining"), eight_bit=False)
    assert transaction.pipelining
    [group] = transaction.groups()
    assert [c.line for c in group] == lines(transaction)
    assert group[-1].line == "DATA"
    assert isinstance(group, tuple)  # the caller cannot change the plan


# --------------------------------------------------------------------------- answers


def test_stage_progression() -> None:
    transaction = Transaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    mail, rcpt_a, rcpt_b, data = transaction.commands
    assert now(transaction) is Stage.BEFORE_MAIL
    assert transaction.answer(mail, OK) is None
    assert now(transaction) is Stage.MAIL_ACCEPTED
    assert transaction.answer(rcpt_a, Reply(251, ("User not local; will forward",))) is None
    assert now(transaction) is Stage.MAIL_ACCEPTED  # not yet every recipient
    assert transaction.answer(rcpt_b, OK) is None
    assert now(transaction) is Stage.RECIPIENTS_ACCEPTED
    assert transaction.answer(data, GO) is None
    assert now(transaction) is Stage.DATA_ACCEPTED
    transaction.body_started()
    assert now(transaction) is Stage.BODY_STARTED
    transaction.body_sent()
    assert now(transaction) is Stage.BODY_SENT
    transaction.finish(Reply(250, ("2.0.0 Ok: queued as 12345",)))
    assert now(transaction) is Stage.ACCEPTED


@pytest.mark.parametrize("code", [200, 250, 251, 252, 299])
def test_any_2xx_accepts_mail_and_rcpt(code: int) -> None:
    transaction = Transaction(SENDER, ["a@example.test"], NO_EXTENSIONS, eight_bit=False)
    mail, rcpt, _ = transaction.commands
    assert transaction.answer(mail, Reply(code, ("ok",))) is None
    assert transaction.answer(rcpt, Reply(code, ("ok",))) is None
    assert now(transaction) is Stage.RECIPIENTS_ACCEPTED


@pytest.mark.parametrize("code", [250, 334, 421, 451, 503, 550, 554])
def test_data_expects_354_only(code: int) -> None:
    transaction = Transaction(SENDER, ["a@example.test"], NO_EXTENSIONS, eight_bit=False)
    mail, rcpt, data = transaction.commands
    transaction.answer(mail, OK)
    transaction.answer(rcpt, OK)
    error = transaction.answer(data, Reply(code, ("no",)))
    assert isinstance(error, DataError)
    assert error.code == code and error.command == "DATA"
    assert stage_of(error) is Stage.RECIPIENTS_ACCEPTED
    assert now(transaction) is Stage.RECIPIENTS_ACCEPTED


@pytest.mark.parametrize("code", [354, 421, 450, 451, 452, 550, 553])
def test_sender_refused(code: int) -> None:
    transaction = Transaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    error = transaction.answer(transaction.commands[0], Reply(code, ("5.1.8 Bad sender",)))
    assert isinstance(error, SenderRefusedError)
    assert error.code == code
    assert error.reply == "5.1.8 Bad sender"
    assert error.command == "MAIL FROM:<me@example.test>"
    assert error.sender == SENDER
    assert stage_of(error) is Stage.BEFORE_MAIL
    assert not stage_of(error).may_have_delivered
    assert "refused the sender 'me@example.test'" in str(error)
    assert now(transaction) is Stage.BEFORE_MAIL


def test_recipient_refused() -> None:
    transaction = Transaction(SENDER, RCPTS, ext("8BITMIME"), eight_bit=True)
    mail, rcpt_a, rcpt_b, _ = transaction.commands
    assert transaction.answer(mail, OK) is None
    assert transaction.answer(rcpt_a, OK) is None
    error = transaction.answer(rcpt_b, Reply(550, ("5.1.1 No such user",)))
    assert isinstance(error, RecipientRefusedError)
    assert error.recipient == "b@example.test"
    assert error.recipients == {"b@example.test": (550, b"5.1.1 No such user")}
    assert error.code == 550 and error.reply == "5.1.1 No such user"
    assert error.command == "RCPT TO:<b@example.test>"
    assert stage_of(error) is Stage.MAIL_ACCEPTED
    assert "refused the recipient 'b@example.test'" in str(error)
    assert now(transaction) is Stage.MAIL_ACCEPTED


def test_refusal_with_a_multi_line_reply() -> None:
    transaction = Transaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    [reply] = replies(b"550-5.7.1 Rejected\r\n550 5.7.1 see https://example.test\r\n")
    error = transaction.answer(transaction.commands[0], reply)
    assert error is not None
    assert error.reply == "5.7.1 Rejected\n5.7.1 see https://example.test"


def test_command_accepts() -> None:
    command = Command("NOOP", expect=2, kind="protocol", what="x", reached=Stage.MAIL_ACCEPTED)
    assert command.accepts(Reply(250, ()))
    assert command.accepts(Reply(221, ()))
    assert not command.accepts(Reply(354, ()))
    assert not command.accepts(Reply(550, ()))
    exact = Command("DATA", expect=354, kind="data", what="x", reached=Stage.DATA_ACCEPTED)
    assert exact.accepts(Reply(354, ()))
    assert not exact.accepts(Reply(355, ()))
    assert not exact.accepts(Reply(250, ()))
    assert command.extra == {}


# --------------------------------------------------------------------------- pipelined


def pipelined(recipients: Sequence[str] = RCPTS) -> Transaction:
    return Transaction(SENDER, recipients, ext("PIPELINING"), eight_bit=False)


def test_answer_group_all_accepted() -> None:
    transaction = pipelined()
    [group] = transaction.groups()
    answer = replies(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
    assert transaction.answer_group(group, answer) == (None, False)
    assert now(transaction) is Stage.DATA_ACCEPTED


def test_answer_group_returns_the_first_refusal() -> None:
    transaction = pipelined(["a@example.test", "b@example.test", "c@example.test"])
    [group] = transaction.groups()
    answer = replies(b"250 ok\r\n550 no a\r\n250 ok\r\n551 no c\r\n554 no valid recipients\r\n")
    failure, drop = transaction.answer_group(group, answer)
    assert isinstance(failure, RecipientRefusedError)
    assert failure.recipient == "a@example.test"
    assert failure.code == 550 and failure.reply == "no a"
    assert stage_of(failure) is Stage.MAIL_ACCEPTED
    assert not drop  # DATA was refused too: nothing waits for a body


def test_answer_group_sender_refused_first() -> None:
    transaction = pipelined()
    [group] = transaction.groups()
    answer = replies(b"553 bad sender\r\n503 need MAIL\r\n503 need MAIL\r\n503 need MAIL\r\n")
    failure, drop = transaction.answer_group(group, answer)
    assert isinstance(failure, SenderRefusedError)
    assert failure.code == 553 and failure.command == "MAIL FROM:<me@example.test>"
    assert stage_of(failure) is Stage.BEFORE_MAIL
    assert not drop


def test_answer_group_drops_when_data_got_354_after_a_refusal() -> None:
    transaction = pipelined()
    [group] = transaction.groups()
    answer = replies(b"250 ok\r\n250 ok\r\n550 no b\r\n354 go ahead\r\n")
    failure, drop = transaction.answer_group(group, answer)
    assert isinstance(failure, RecipientRefusedError)
    assert failure.recipient == "b@example.test"
    assert stage_of(failure) is Stage.MAIL_ACCEPTED
    assert drop


def test_answer_group_drops_after_a_refused_sender_and_354() -> None:
    transaction = pipelined()
    [group] = transaction.groups()
    answer = replies(b"550 no\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n")
    failure, drop = transaction.answer_group(group, answer)
    assert isinstance(failure, SenderRefusedError)
    assert stage_of(failure) is Stage.BEFORE_MAIL
    assert drop


def test_answer_group_data_refused_alone() -> None:
    transaction = pipelined()
    [group] = transaction.groups()
    answer = replies(b"250 ok\r\n250 ok\r\n250 ok\r\n451 try later\r\n")
    failure, drop = transaction.answer_group(group, answer)
    assert isinstance(failure, DataError)
    assert failure.code == 451 and failure.command == "DATA"
    assert stage_of(failure) is Stage.RECIPIENTS_ACCEPTED
    assert not drop


def test_answer_group_with_replies_cut_short() -> None:
    """The server hung up mid-group: what arrived is judged, nothing more."""
    transaction = pipelined()
    [group] = transaction.groups()
    assert transaction.answer_group(group, []) == (None, False)
    failure, drop = transaction.answer_group(group, replies(b"250 ok\r\n421 closing\r\n"))
    assert isinstance(failure, RecipientRefusedError) and failure.code == 421
    assert not drop


def test_answer_group_single_command_groups() -> None:
    transaction = Transaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    mail, rcpt_a, _, _ = transaction.commands
    assert transaction.answer_group([mail], [OK]) == (None, False)
    failure, drop = transaction.answer_group([rcpt_a], [Reply(550, ("no",))])
    assert isinstance(failure, RecipientRefusedError) and not drop


# --------------------------------------------------------------------------- finish


@pytest.mark.parametrize("code", [200, 250, 251])
def test_finish_accepts_2xx(code: int) -> None:
    transaction = Transaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    transaction.body_started()
    transaction.body_sent()
    transaction.finish(Reply(code, ("queued",)))
    assert now(transaction) is Stage.ACCEPTED
    assert now(transaction).may_have_delivered


@pytest.mark.parametrize("code", [354, 421, 451, 452, 550, 552, 554])
def test_finish_raises_data_error_otherwise(code: int) -> None:
    transaction = Transaction(SENDER, RCPTS, NO_EXTENSIONS, eight_bit=False)
    transaction.body_started()
    transaction.body_sent()
    with pytest.raises(DataError) as info:
        transaction.finish(Reply(code, ("5.7.1 Message rejected as spam",)))
    error = info.value
    assert error.code == code
    assert error.reply == "5.7.1 Message rejected as spam"
    assert error.command == END_OF_DATA
    assert stage_of(error) is Stage.BODY_SENT
    assert stage_of(error).may_have_delivered
    assert "the server did not accept it" in str(error)
    assert now(transaction) is Stage.BODY_SENT


# --------------------------------------------------------------------------- stages


def test_may_have_delivered() -> None:
    assert {stage for stage in Stage if stage.may_have_delivered} == {
        Stage.BODY_STARTED,
        Stage.BODY_SENT,
        Stage.ACCEPTED,
    }
    for stage in (
        Stage.BEFORE_MAIL,
        Stage.MAIL_ACCEPTED,
        Stage.RECIPIENTS_ACCEPTED,
        Stage.DATA_ACCEPTED,
    ):
        assert not stage.may_have_delivered


def test_stage_order() -> None:
    assert [stage.name for stage in Stage] == [
        "BEFORE_MAIL",
        "MAIL_ACCEPTED",
        "RECIPIENTS_ACCEPTED",
        "DATA_ACCEPTED",
        "BODY_STARTED",
        "BODY_SENT",
        "ACCEPTED",
    ]


def test_with_stage_sets_once() -> None:
    error = SMTPError("x")
    assert with_stage(error, Stage.BODY_SENT) is error
    assert stage_of(error) is Stage.BODY_SENT
    with_stage(error, Stage.BEFORE_MAIL)
    assert stage_of(error) is Stage.BODY_SENT


# --------------------------------------------------------------------------- property

_local = st.text("abcxyz0189.-_+", min_size=1, max_size=8)
_address = st.builds("{}@{}.test".format, _local, st.text("abcdef", min_size=1, max_size=6))


@given(
    recipients=st.lists(_address, max_size=6),
    pipelining=st.booleans(),
    refused=st.one_of(st.none(), st.integers(0, 7)),
    data_code=st.sampled_from([354, 503, 554]),
)
def test_first_refusal_wins_and_stage_matches(
    recipients: List[str], pipelining: bool, refused: Optional[int], data_code: int
) -> None:
    offered = ext("PIPELINING") if pipelining else NO_EXTENSIONS
    transaction = Transaction(SENDER, recipients, offered, eight_bit=False)
    commands = transaction.commands
    assert len(commands) == len(recipients) + 2
    assert len(transaction.groups()) == (1 if pipelining else len(commands))
    if refused is not None and refused >= len(commands) - 1:
        refused = None
    answer = [Reply(550, ("no",)) if i == refused else OK for i in range(len(commands) - 1)] + [
        Reply(data_code, ("data",))
    ]
    failure, drop = transaction.answer_group(commands, answer)
    if refused is None:
        if data_code == 354:
            assert failure is None and not drop
            assert now(transaction) is Stage.DATA_ACCEPTED
        else:
            assert isinstance(failure, DataError) and not drop
            expected = Stage.RECIPIENTS_ACCEPTED if recipients else Stage.MAIL_ACCEPTED
            assert stage_of(failure) is expected
        return
    assert failure is not None
    assert failure.command == commands[refused].line
    assert failure.code == 550
    if refused == 0:
        assert isinstance(failure, SenderRefusedError)
        assert stage_of(failure) is Stage.BEFORE_MAIL
    else:
        assert isinstance(failure, RecipientRefusedError)
        assert failure.recipient == recipients[refused - 1]
        assert stage_of(failure) is Stage.MAIL_ACCEPTED
    assert drop == (data_code == 354)
