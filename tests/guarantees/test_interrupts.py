"""Ctrl-C is never caught or converted (issue 14, README "Reliability").

While the library waits for a server (or a mail program), a SIGINT delivered to the main
thread must come out as ``KeyboardInterrupt``, not as an ``SMTPError`` ("the connection
broke"); the socket is closed (the server sees the client hang up), and ``smtp_session``
does not take it for a dropped connection: it neither reconnects nor says MAIL FROM again.
A mail program is killed, so it never sees the end of a partial letter.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from support.faultserver import SILENCE, FaultServer

from post_office import send_letter, send_smtp, smtp_session

FROM = "me@example.test"
TO = "you@example.test"
MESSAGE = "Subject: interrupted\r\n\r\nHello.\r\n"
#: Long: the interrupt, not the timeout, must end the wait.
TIMEOUT = 30.0
#: When the interrupt comes, after the call began.
DELAY = 0.3

pytestmark = [
    pytest.mark.skipif(
        not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill (POSIX)"
    ),
]


@pytest.fixture
def interrupt() -> Iterator[Callable[[Callable[[], object]], float]]:
    """``interrupt(call)`` runs ``call`` in the main thread, with Python's default SIGINT
    handler, and sends SIGINT to the main thread :data:`DELAY` seconds later; it returns
    the seconds until ``KeyboardInterrupt`` came out of ``call`` (else the test fails)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread().ident
    assert main is not None

    def run(call: Callable[[], object]) -> float:
        timer = threading.Timer(DELAY, signal.pthread_kill, (main, signal.SIGINT))
        started = time.monotonic()
        try:
            timer.start()
            with pytest.raises(KeyboardInterrupt):
                call()
            return time.monotonic() - started
        finally:
            timer.cancel()
            timer.join()

    try:
        yield run
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_waiting_for_a_reply_propagates_and_closes_the_socket(
    fault_server_factory: Callable[..., FaultServer],
    interrupt: Callable[[Callable[[], object]], float],
) -> None:
    server = fault_server_factory({"MAIL": SILENCE})
    elapsed = interrupt(lambda: send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT))
    assert elapsed < TIMEOUT / 2  # the interrupt ended the wait, not the timeout
    [record] = server.finish()
    assert record.ended_by == "client"  # the client closed its socket
    assert record.verbs == ["EHLO", "MAIL"]


def test_ctrl_c_inside_a_session_is_not_taken_for_a_dropped_connection(
    fault_server_factory: Callable[..., FaultServer],
    interrupt: Callable[[Callable[[], object]], float],
) -> None:
    server = fault_server_factory({"MAIL": SILENCE})

    def send() -> None:
        with smtp_session(server.spec(), timeout=TIMEOUT) as session:
            session.send_smtp(FROM, TO, MESSAGE)

    interrupt(send)
    records = server.finish()
    assert server.settled_connection_count() == 1  # no reconnection
    [record] = records
    assert record.verbs.count("MAIL") == 1  # nothing was sent again
    assert record.ended_by == "client"


def test_ctrl_c_while_waiting_for_the_greeting_propagates(
    fault_server_factory: Callable[..., FaultServer],
    interrupt: Callable[[Callable[[], object]], float],
) -> None:
    server = fault_server_factory({"greeting": SILENCE})
    interrupt(lambda: send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT))
    [record] = server.finish()
    assert record.ended_by == "client" and record.commands == []


class SlowStream:
    """An attachment that gives 64 KiB, then takes its time (the letter is half-piped
    when the interrupt comes)."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls == 1:
            return b"\xa5" * 65536
        time.sleep(1.0)
        return b""


AT_EOF = "import sys\ndata = sys.stdin.buffer.read()\nopen(sys.argv[1], 'wb').write(data)\n"


def test_ctrl_c_while_piping_to_a_program_kills_it_before_eof(
    tmp_path: Path, interrupt: Callable[[Callable[[], object]], float]
) -> None:
    out = tmp_path / "letter.eml"
    program = [sys.executable, "-c", AT_EOF, str(out)]
    interrupt(
        lambda: send_letter(
            (":program", program), FROM, TO, "body\n", attachments=SlowStream(), timeout=TIMEOUT
        )
    )
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # a program that saw EOF writes at once
        assert not out.exists(), "the program saw EOF and delivered a partial letter"
        time.sleep(0.05)
