"""A read that answers everything a lane waits for, each reply of one line and each
accepting, is taken in one pass (README "Bulk sending"); any other read takes the usual
path, reply by reply.  Either way the outcome is the same: these tests script the reads
a pipelining server makes and check what the server got and what the caller was told."""

from __future__ import annotations

from typing import Any

from support.batches import FROM, batch, tags
from support.faultserver import reply, split

from post_office import RecipientRefusedError, Stage, smtp_session
from post_office.protocol.replies import Reply


def test_every_message_accepted_one_read_a_message(fault_server_factory: Any) -> None:
    server = fault_server_factory({}, pipelining=True)
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(5))
    assert all(isinstance(result, Reply) and result.code == 250 for result in results)
    [record] = server.wait_for(1)
    assert tags(record.messages) == [0, 1, 2, 3, 4]


def test_a_group_answered_over_two_reads_is_judged_whole(fault_server_factory: Any) -> None:
    # MAIL's 250 and RCPT's 550 in one read, DATA's 354 alone in the next: the 354 accepts
    # what it answers, but the group was refused, so no body goes and the line drops (a
    # server that said 354 waits for one).
    server = fault_server_factory(
        {"RCPT 2": reply("550 5.1.1 no such user"), "DATA": split(b"", b"354 go ahead\r\n")},
        pipelining=True,
    )
    items = [(FROM, ["a@example.org", "b@example.org"], "Subject: 0\n\nbody 0\n")]
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        [refused] = session.send_many(items)
        [accepted] = session.send_many(batch(2)[1:])
    assert isinstance(refused, RecipientRefusedError)
    assert refused.recipient == "b@example.org" and refused.stage is Stage.MAIL_ACCEPTED
    assert isinstance(accepted, Reply) and accepted.code == 250
    first, second = server.wait_for(2)
    assert first.messages == [] and tags(second.messages) == [1]


def test_the_end_of_one_message_and_a_refusal_of_the_next(fault_server_factory: Any) -> None:
    # One read: 250 to message 0's end of data, then 550, 250 and 354 to message 1's
    # envelope.  Message 0 is sent; message 1 is refused, and the line dropped (the
    # server waits for a body after its 354); message 2 goes on a new connection.
    server = fault_server_factory({"MAIL 2": reply("550 5.7.1 not from you")}, pipelining=True)
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert isinstance(results[0], Reply) and isinstance(results[2], Reply)
    assert not isinstance(results[1], Reply) and results[1].stage is Stage.BEFORE_MAIL
    first, second = server.wait_for(2)
    assert tags(first.messages) == [0] and tags(second.messages) == [2]
