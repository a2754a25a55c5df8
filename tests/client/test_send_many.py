"""``SmtpSession.send_many``: one round trip per message where the server offers
PIPELINING (the end of one message's data goes with the next one's MAIL, RCPT and DATA,
RFC 2920 3.1), one result per message in order, nothing reported sent that was not
accepted, nothing sent twice (README "Bulk sending")."""

from __future__ import annotations

from typing import Any

import pytest
from support.batches import FROM, batch
from support.faultserver import DISCONNECT, reply

from post_office import (
    AddressError,
    DataError,
    RecipientRefusedError,
    SMTPError,
    Stage,
    smtp_session,
)
from post_office.protocol.replies import Reply


def test_every_message_in_one_round_trip(fault_server_factory: Any) -> None:
    server = fault_server_factory(pipelining=True)
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert [type(result) for result in results] == [Reply] * 3
    assert all(result.code == 250 for result in results if isinstance(result, Reply))
    [record] = server.wait_for(1)
    assert record.verbs.count("MAIL") == 3 and len(record.messages) == 3
    # One round trip a message: the second and third MAIL arrived in the very read that
    # carried the previous message's body and end of data (the read after its DATA),
    # not in a later one after the server's reply to that end.
    reads = {arrival.line.split(b" ")[0]: [] for arrival in record.arrivals}
    for arrival in record.arrivals:
        reads[arrival.line.split(b" ")[0]].append(arrival.recv)
    assert reads[b"MAIL"][1:] == [recv + 1 for recv in reads[b"DATA"][:-1]], reads
    assert [b"body 1" in message for message in record.messages] == [False, True, False]


def test_a_refused_end_of_data_is_reported_and_the_next_message_goes(
    fault_server_factory: Any,
) -> None:
    server = fault_server_factory({"END 2": reply("554 5.7.1 spam")}, pipelining=True)
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert isinstance(results[0], Reply) and isinstance(results[2], Reply)
    error = results[1]
    assert isinstance(error, DataError) and error.code == 554
    assert error.stage is Stage.BODY_SENT  # the server had the whole message
    [record] = server.wait_for(1)
    assert record.verbs.count("MAIL") == 3 and "RSET" not in record.verbs


def test_a_refused_sender_is_reported_and_the_next_message_goes(fault_server_factory: Any) -> None:
    # The group MAIL/RCPT/DATA went out together: the server refused MAIL but answered
    # DATA with 354, so the only way to send nothing is to drop the line (RFC 5321
    # 4.1.1.4); the third message goes on a new connection.
    server = fault_server_factory({"MAIL 2": reply("550 5.1.8 bad sender")}, pipelining=True)
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert isinstance(results[0], Reply) and isinstance(results[2], Reply)
    assert isinstance(results[1], SMTPError) and results[1].stage is Stage.BEFORE_MAIL
    records = server.wait_for(2)
    assert [len(record.messages) for record in records] == [1, 1]
    assert all(b"body 1" not in message for record in records for message in record.messages)


def test_a_dropped_connection_reports_and_goes_on_on_a_new_one(fault_server_factory: Any) -> None:
    server = fault_server_factory({"END 2": DISCONNECT}, pipelining=True)
    with smtp_session(("127.0.0.1", server.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert isinstance(results[0], Reply) and isinstance(results[2], Reply)
    assert isinstance(results[1], SMTPError)
    assert results[1].stage is not None and results[1].stage.may_have_delivered  # not resent
    records = server.wait_for(2)
    assert sum(len(record.messages) for record in records) == 3  # the 2nd once, never twice


def test_without_pipelining_one_at_a_time(smtp_plain: Any) -> None:
    smtp_plain.handler.refuse_recipients = {"to1@example.org"}
    with smtp_session(("127.0.0.1", smtp_plain.port), timeout=5) as session:
        results = session.send_many(batch(3))
    assert isinstance(results[0], Reply) and isinstance(results[2], Reply)
    assert isinstance(results[1], RecipientRefusedError)
    assert len(smtp_plain.messages) == 2


def test_every_item_is_checked_before_anything_is_sent(smtp_plain: Any) -> None:
    with (
        smtp_session(("127.0.0.1", smtp_plain.port), timeout=5) as session,
        pytest.raises(AddressError),
    ):
        session.send_many([*batch(2), (FROM, ["not an address"], "x")])
    assert smtp_plain.messages == []


def test_an_item_without_message_arguments_is_an_empty_message(smtp_plain: Any) -> None:
    # As send_smtp(from_, to) with no message: the same empty content, in a batch too.
    with smtp_session(("127.0.0.1", smtp_plain.port), timeout=5) as session:
        results = session.send_many([(FROM, "to@example.org"), (FROM, "to@example.org", "x")])
        session.send_smtp(FROM, "to@example.org")
    assert all(isinstance(result, Reply) for result in results)
    assert [m.content for m in smtp_plain.messages] == [b"", b"x\r\n", b""]
