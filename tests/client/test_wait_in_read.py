"""A lone connection of a batch waits for its reply in the read itself (README "Bulk
sending"): the wait keeps the connection's ``timeout`` and the batch's
``total_timeout``, an interval timer's signal handler does not stretch it, and Ctrl-C
ends it."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, Iterator

import pytest
from support.batches import batch, tags
from support.manyserver import ManyServer

from post_office import SMTPTimeoutError, Stage, smtp_session
from post_office.protocol.replies import Reply

posix_signals = pytest.mark.skipif(
    sys.platform == "win32" or not hasattr(signal, "setitimer"),
    reason="POSIX signals and interval timers",
)


@pytest.fixture
def slow_server() -> Iterator[ManyServer]:
    """The first message's end of data is answered after 3 s."""
    server = ManyServer({1: "slow end"}, slow=3.0)
    yield server
    server.stop()


def spec(server: ManyServer) -> tuple:
    return ("127.0.0.1", ":port", server.port)


def check_timed_out_first(results: list) -> None:
    """Only a wait cut at the timeout reports the first message so: the reply came at
    3 s and would have made it a success."""
    first = results[0]
    assert isinstance(first, SMTPTimeoutError), first
    assert first.stage is Stage.BODY_SENT
    assert all(isinstance(result, Reply) for result in results[1:])


def test_the_wait_ends_at_the_timeout(slow_server: ManyServer) -> None:
    with smtp_session(spec(slow_server), timeout=0.3) as session:
        check_timed_out_first(session.send_many(batch(3)))


def test_the_wait_ends_at_the_total_timeout(slow_server: ManyServer) -> None:
    with smtp_session(spec(slow_server), timeout=30) as session:
        results = session.send_many(batch(3), total_timeout=0.3)
    assert [type(result) for result in results] == [SMTPTimeoutError] * 3
    assert [result.stage for result in results] == [  # type: ignore[union-attr]
        Stage.BODY_SENT,
        Stage.BEFORE_MAIL,
        Stage.BEFORE_MAIL,
    ]


@posix_signals
def test_a_timer_signal_handler_does_not_stretch_the_wait(slow_server: ManyServer) -> None:
    """A handler that returns, called every 20 ms: a read it interrupted would start
    over with its whole limit, so the lanes wait in poll, counted down."""
    calls = []
    previous = signal.signal(signal.SIGALRM, lambda number, frame: calls.append(number))
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    try:
        with smtp_session(spec(slow_server), timeout=0.3) as session:
            results = session.send_many(batch(3))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    check_timed_out_first(results)
    assert calls  # the timer did fire during the wait


@posix_signals
def test_ctrl_c_while_waiting_for_a_reply(slow_server: ManyServer) -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupt = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    try:
        with smtp_session(spec(slow_server), timeout=30) as session:
            interrupt.start()
            with pytest.raises(KeyboardInterrupt):
                session.send_many(batch(3))
            session.send_smtp("me@example.org", "after@example.org", "Subject: 99\n\ngoes on\n")
    finally:
        interrupt.cancel()
        signal.signal(signal.SIGINT, previous)
    accepted = tags(slow_server.accepted)
    assert 99 in accepted and 1 not in accepted and 2 not in accepted
    assert len(accepted) == len(set(accepted))


def test_a_batch_over_several_connections_then_one(smtp_plain: Any) -> None:
    """Lanes in poll while several are busy, then the last one alone in its read."""
    with smtp_session(("127.0.0.1", smtp_plain.port), timeout=5, connections=3) as session:
        results = session.send_many(batch(7))
        assert all(isinstance(result, Reply) for result in results)
        session.send_smtp("me@example.org", "one@example.org", "Subject: 8\n\nalone\n")
