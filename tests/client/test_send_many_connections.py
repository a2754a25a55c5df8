"""``smtp_session(connections=N)``: ``send_many`` over up to N connections driven from
the calling thread, results in the caller's order, and under faults (a 421, a
connection dropped mid-body or at its end, a slow server, the batch's own time limit,
Ctrl-C) nothing reported sent that the server did not accept and nothing sent twice
(README "Bulk sending")."""

from __future__ import annotations

import io
from typing import Any, Callable, Iterator, List, Sequence

import pytest
from support.batches import FROM, batch, tags
from support.manyserver import ManyServer

from post_office import (
    OptionError,
    RecipientRefusedError,
    SMTPError,
    SMTPTimeoutError,
    Stage,
    smtp_session,
)
from post_office.protocol.replies import Reply


def check_exactly_once(results: Sequence[object], server: ManyServer) -> None:
    """Every Reply was accepted once; nothing was accepted twice; a message reported
    unsent from a stage that cannot have delivered it was not accepted."""
    accepted = tags(server.accepted)
    assert len(accepted) == len(set(accepted)), "a message was accepted twice"
    for index, result in enumerate(results):
        if isinstance(result, Reply):
            assert index in accepted
        else:
            assert isinstance(result, SMTPError) and result.stage is not None
            if not result.stage.may_have_delivered:
                assert index not in accepted
            assert index not in accepted or result.stage.may_have_delivered


@pytest.fixture
def many_server() -> Iterator[Callable[..., ManyServer]]:
    started: List[ManyServer] = []

    def factory(faults: Any = None, **options: Any) -> ManyServer:
        server = ManyServer(faults, **options)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


def spec(server: ManyServer) -> tuple:
    return ("127.0.0.1", ":port", server.port)


def test_messages_spread_over_the_connections(many_server: Any) -> None:
    server = many_server()
    with smtp_session(spec(server), timeout=5, connections=4) as session:
        results = session.send_many(batch(60))
        opened = session.connections
    assert all(isinstance(result, Reply) and result.code == 250 for result in results)
    assert sorted(tags(server.accepted)) == list(range(60))
    assert 2 <= server.connections == opened <= 4


def test_no_more_connections_than_the_batch_needs(many_server: Any) -> None:
    server = many_server()
    with smtp_session(spec(server), timeout=5, connections=8) as session:
        results = session.send_many(batch(2))
        assert session.connections <= 2
    assert all(isinstance(result, Reply) for result in results)
    assert server.connections <= 2


def test_results_are_in_the_callers_order(smtp_plain: Any) -> None:
    smtp_plain.handler.pipelining = True
    smtp_plain.handler.refuse_recipients = {"to7@example.org", "to30@example.org"}
    with smtp_session(("127.0.0.1", smtp_plain.port), timeout=5, connections=3) as session:
        results = session.send_many(batch(40))
    refused = [index for index, result in enumerate(results) if not isinstance(result, Reply)]
    assert refused == [7, 30]
    assert all(isinstance(results[index], RecipientRefusedError) for index in refused)
    assert len(smtp_plain.messages) == 38


def test_without_pipelining_over_several_connections(smtp_plain: Any) -> None:
    smtp_plain.handler.refuse_recipients = {"to1@example.org"}
    with smtp_session(("127.0.0.1", smtp_plain.port), timeout=5, connections=3) as session:
        results = session.send_many(batch(9))
    assert [isinstance(result, Reply) for result in results] == [True, False] + [True] * 7
    assert len(smtp_plain.messages) == 8


def test_over_starttls_on_several_connections(smtp_auth: Any) -> None:
    smtp_auth.handler.pipelining = True
    server = (smtp_auth.host, ":port", smtp_auth.port, ":starttls", True, ":ca-file")
    with smtp_session(
        (*server, smtp_auth.ca_file),
        login=smtp_auth.user,
        password=smtp_auth.password,
        timeout=5,
        connections=3,
    ) as session:
        results = session.send_many(batch(30))
        session.send_smtp(FROM, "after@example.org", "Subject: after\n\nblocking again\n")
    assert all(isinstance(result, Reply) for result in results)
    assert len(smtp_auth.messages) == 31
    assert all(m.tls and m.auth_login == smtp_auth.user for m in smtp_auth.messages)


@pytest.mark.parametrize("connections", [1, 3])
def test_a_421_mid_batch_sends_that_message_again_once(many_server: Any, connections: int) -> None:
    server = many_server({4: "421 at MAIL"})
    with smtp_session(spec(server), timeout=5, connections=connections) as session:
        results = session.send_many(batch(12))
    assert all(isinstance(result, Reply) for result in results)
    assert sorted(tags(server.accepted)) == list(range(12))
    check_exactly_once(results, server)


@pytest.mark.parametrize("connections", [1, 3])
def test_a_connection_dropped_mid_body_loses_only_that_message(
    many_server: Any, connections: int
) -> None:
    server = many_server({5: "drop in body"})
    with smtp_session(spec(server), timeout=5, connections=connections) as session:
        results = session.send_many(batch(12))
    [failed] = [result for result in results if not isinstance(result, Reply)]
    # A small body is all written before the server hangs up: part or all of it sent.
    assert isinstance(failed, SMTPError) and failed.stage is not None
    assert failed.stage.may_have_delivered  # so it is reported, not sent again
    assert len(server.accepted) == 11
    check_exactly_once(results, server)


def test_a_connection_dropped_mid_way_through_a_large_body(many_server: Any) -> None:
    # Megabytes of body: the server hangs up after its first bytes, while the client is
    # still writing, so the stage is "part of the message sent": reported, never resent.
    server = many_server({2: "drop in body"})  # the second transaction: item 1
    items = [(FROM, [f"to{i}@example.org"], f"Subject: {i}\n\nsmall\n") for i in range(4)]
    items[1] = (FROM, ["to1@example.org"], "Subject: 1\n\n", ("x" * 998 + "\n") * 16000)
    with smtp_session(spec(server), timeout=5) as session:
        results = session.send_many(items)
    [index] = [i for i, result in enumerate(results) if not isinstance(result, Reply)]
    assert index == 1 and results[1].stage is Stage.BODY_STARTED  # type: ignore[union-attr]
    assert sorted(tags(server.accepted)) == [0, 2, 3]
    check_exactly_once(results, server)


@pytest.mark.parametrize("connections", [1, 3])
def test_a_connection_dropped_at_the_end_is_never_sent_again(
    many_server: Any, connections: int
) -> None:
    # The server had the whole message and hung up before its reply: it may have
    # delivered it, so it is reported, not sent again.
    server = many_server({3: "drop at end"})
    with smtp_session(spec(server), timeout=5, connections=connections) as session:
        results = session.send_many(batch(10))
    [index] = [i for i, result in enumerate(results) if not isinstance(result, Reply)]
    assert results[index].stage is Stage.BODY_SENT  # type: ignore[union-attr]
    assert tags(server.unanswered) == [index]
    assert index not in tags(server.accepted) and len(server.accepted) == 9
    check_exactly_once(results, server)


def test_a_slow_server_times_out_that_message_only(many_server: Any) -> None:
    server = many_server({2: "slow end"}, slow=1.0)
    with smtp_session(spec(server), timeout=0.3, connections=2) as session:
        results = session.send_many(batch(8))
    failed = [result for result in results if not isinstance(result, Reply)]
    assert len(failed) == 1 and isinstance(failed[0], SMTPTimeoutError)
    assert failed[0].stage is Stage.BODY_SENT
    check_exactly_once(results, server)
    assert len(server.accepted) in (7, 8)  # the slow one may be accepted after we left


def test_the_whole_batch_is_bounded_by_total_timeout(many_server: Any) -> None:
    server = many_server({1: "slow end"}, slow=1.0)
    with smtp_session(spec(server), timeout=5) as session:
        results = session.send_many(batch(4), total_timeout=0.3)
    assert all(isinstance(result, SMTPTimeoutError) for result in results)
    assert results[0].stage is Stage.BODY_SENT  # type: ignore[union-attr]
    assert all(result.stage is Stage.BEFORE_MAIL for result in results[1:])  # type: ignore[union-attr]
    check_exactly_once(results, server)


class Interrupting(io.RawIOBase):
    """A body source whose reading is interrupted by Ctrl-C."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise KeyboardInterrupt


@pytest.mark.parametrize("connections", [1, 3])
def test_ctrl_c_mid_batch_propagates_and_sends_nothing_twice(
    many_server: Any, connections: int
) -> None:
    server = many_server()
    items = batch(10)
    items[6] = (FROM, ["to6@example.org"], "Subject: 6\n\n", Interrupting())
    with smtp_session(spec(server), timeout=5, connections=connections) as session:
        with pytest.raises(KeyboardInterrupt):
            session.send_many(items)
        session.send_smtp(FROM, "after@example.org", "Subject: 99\n\nthe session goes on\n")
    accepted = tags(server.accepted)
    assert len(accepted) == len(set(accepted)) and 6 not in accepted and 99 in accepted


@pytest.mark.parametrize("connections", [0, -1, True, 2.0, "2", 65, None])
def test_a_bad_connections_argument_is_refused_before_connecting(connections: object) -> None:
    with pytest.raises(OptionError, match="connections"):
        smtp_session(("127.0.0.1", ":port", 9), connections=connections)  # type: ignore[arg-type]


def test_a_bad_total_timeout_is_refused_before_sending(many_server: Any) -> None:
    server = many_server()
    with (
        smtp_session(spec(server), timeout=5) as session,
        pytest.raises(OptionError, match="total_timeout"),
    ):
        session.send_many(batch(2), total_timeout=0)
    assert server.accepted == [] and server.transactions == 0
