"""``send_many`` on a server without PIPELINING: each command still waits for the reply
to the one before (RFC 5321 3.3), but what a lane writes when a reply accepts is made
before that reply comes, and goes out the moment it does (README "Bulk sending").  What
was made ahead and not called for is never sent, a message taken early is never lost,
and nothing is sent twice."""

from __future__ import annotations

import select
from typing import Any

import pytest
from support.batches import FROM, batch, tags
from support.faultserver import DISCONNECT, raw, reply

from post_office import (
    DataError,
    ProtocolError,
    RecipientRefusedError,
    SMTPError,
    Stage,
    smtp_session,
)
from post_office.protocol.replies import Reply


def test_one_command_at_a_time_and_every_message_accepted(fault_server_factory: Any) -> None:
    server = fault_server_factory()
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(4))
    assert all(isinstance(result, Reply) and result.code == 250 for result in results)
    [record] = server.wait_for(1)
    assert record.verbs == ["EHLO", *["MAIL", "RCPT", "DATA"] * 4, "QUIT"]
    # Never two commands in one read, never one before the reply to the one before.
    reads = [arrival.recv for arrival in record.arrivals]
    assert len(set(reads)) == len(reads)
    assert all(arrival.unanswered == 0 for arrival in record.arrivals)
    assert tags(record.messages) == [0, 1, 2, 3]


def test_a_refused_recipient_sends_no_data_then_resets(fault_server_factory: Any) -> None:
    server = fault_server_factory({"RCPT 1": reply("550 5.1.1 no such user")})
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(2))
    assert all(isinstance(result, RecipientRefusedError) for result in results)
    [record] = server.wait_for(1)
    assert record.verbs == ["EHLO", "MAIL", "RCPT", "RSET", "MAIL", "RCPT", "RSET", "QUIT"]
    assert record.messages == []


def test_a_refused_data_command_sends_no_body(fault_server_factory: Any) -> None:
    server = fault_server_factory({"DATA": reply("451 4.3.0 try later")})
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(2))
    assert [result.stage for result in results if isinstance(result, SMTPError)] == [
        Stage.RECIPIENTS_ACCEPTED
    ] * 2
    [record] = server.wait_for(1)
    assert record.messages == [] and record.verbs.count("RSET") == 2


def test_a_refused_end_of_data_then_the_next_message(fault_server_factory: Any) -> None:
    # The next message was taken while the end of data was awaited: it goes after the
    # refusal, on the same connection.
    server = fault_server_factory({"END 2": reply("554 5.7.1 spam")})
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert isinstance(results[0], Reply) and isinstance(results[2], Reply)
    assert isinstance(results[1], DataError) and results[1].stage is Stage.BODY_SENT
    [record] = server.wait_for(1)
    assert record.verbs.count("MAIL") == 3 and "RSET" not in record.verbs


def test_two_replies_to_the_end_of_data_stop_before_the_next_message(
    fault_server_factory: Any,
) -> None:
    # "250" then "554" in one read: not an acceptance.  The next message, taken early,
    # was not written on that word; it goes on a new connection, once.
    server = fault_server_factory({"END 2": raw(b"250 2.0.0 queued\r\n554 5.7.1 no\r\n")})
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert isinstance(results[0], Reply) and isinstance(results[2], Reply)
    assert isinstance(results[1], ProtocolError)
    first, second = server.wait_for(2)
    assert first.verbs.count("MAIL") == 2  # the third never began there
    assert tags(first.messages + second.messages) == [0, 1, 2]


def test_the_message_written_ahead_goes_again_when_the_line_drops(
    fault_server_factory: Any,
) -> None:
    # The third MAIL FROM went out the moment the second message was accepted; the
    # server hung up on it, so the server cannot have that message: it goes once more.
    server = fault_server_factory({"MAIL 3": DISCONNECT})
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(4))
    assert all(isinstance(result, Reply) for result in results)
    records = server.wait_for(2)
    assert tags([m for record in records for m in record.messages]) == [0, 1, 2, 3]  # each once


def test_a_large_or_streamed_body_is_read_as_it_is_sent(fault_server_factory: Any) -> None:
    import io

    server = fault_server_factory()
    large = "Subject: large\n\n" + "x" * 100 + "\n" * 2000
    items = [
        (FROM, ["a@example.org"], large * 40),
        (FROM, ["b@example.org"], io.BytesIO(b"Subject: stream\n\nbody\n")),
        (FROM, ["c@example.org"], "Subject: small\n\nbody\n"),
    ]
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(items)
    assert all(isinstance(result, Reply) for result in results)
    [record] = server.wait_for(1)
    assert len(record.messages) == 3 and b"stream" in record.messages[1]


@pytest.mark.parametrize("pipelining", [False, True])
def test_without_poll_the_batch_waits_with_select(
    fault_server_factory: Any, monkeypatch: pytest.MonkeyPatch, pipelining: bool
) -> None:
    monkeypatch.delattr(select, "poll")
    server = fault_server_factory(pipelining=pipelining)
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert all(isinstance(result, Reply) for result in results)
    assert tags(server.wait_for(1)[0].messages) == [0, 1, 2]
