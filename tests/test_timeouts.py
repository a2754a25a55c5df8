"""How the session enforces its ``timeout`` on a connected socket (post_office.smtp).

On Linux a plain connection is a blocking socket with SO_RCVTIMEO and SO_SNDTIMEO (no
``poll`` before every ``recv`` and ``send``); TLS keeps Python's own timeout.  Either way
no read or write may wait longer than the timeout: silence at every stage is covered by
the failure matrix in test_faults.py, and a peer that keeps taking a little, which a
per-``send()`` kernel timeout alone would not stop, here.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Iterator, Tuple

import pytest
from post_office.smtp import Session, _Connection, _use_kernel_timeouts

from post_office.debug import Transcript
from post_office.spec import parse_mail_server

ON_LINUX_64 = sys.platform.startswith("linux") and sys.maxsize > 2**32
TIMEOUT = 0.5
MARGIN = 1.5


def connection(sock: socket.socket, *, kernel: bool) -> _Connection:
    conn = _Connection(
        context=None,
        server_name="peer",
        timeout=TIMEOUT,
        source_address=None,
        transcript=Transcript(use_global=False),
    )
    sock.settimeout(TIMEOUT)
    conn.sock = sock
    conn.kernel_timeouts = _use_kernel_timeouts(sock, TIMEOUT) if kernel else False
    if kernel and ON_LINUX_64:
        assert conn.kernel_timeouts and sock.gettimeout() is None
    return conn


def tcp_pair() -> Tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname()[:2], TIMEOUT)
        theirs, _ = listener.accept()
    return ours, theirs


@pytest.fixture
def trickling_pair() -> Iterator[Tuple[socket.socket, threading.Event]]:
    """A TCP socket whose peer reads 16 KiB every 20 ms until told to stop.

    TCP, as the session uses: on a Unix socket SO_SNDTIMEO bounds each buffer's wait
    within one send(), on TCP the whole send() call.
    """
    ours, theirs = tcp_pair()
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                if not theirs.recv(16384):
                    return
            except OSError:
                return
            stop.wait(0.02)  # the slow reader under test, not a wait for readiness

    reader = threading.Thread(target=trickle, daemon=True)
    reader.start()
    try:
        yield ours, stop
    finally:
        stop.set()
        ours.close()
        reader.join(5)
        theirs.close()


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel timeouts", "python timeouts"])
def test_a_peer_that_keeps_taking_a_little_cannot_hold_one_write_past_the_timeout(
    trickling_pair: Tuple[socket.socket, threading.Event], kernel: bool
) -> None:
    ours, _ = trickling_pair
    conn = connection(ours, kernel=kernel)
    data = b"x" * (64 << 20)  # at 800 KB/s, a minute and more to take it all
    start = time.monotonic()
    with pytest.raises((socket.timeout, BlockingIOError)):
        conn.sendall(ours, data)
    assert time.monotonic() - start < TIMEOUT + MARGIN


def test_a_whole_write_returns_and_a_silent_peer_times_out() -> None:
    ours, theirs = tcp_pair()
    with ours, theirs:
        conn = connection(ours, kernel=True)
        conn.sendall(ours, b"EHLO x\r\n")
        conn.sendall(ours, bytearray(b"NOOP\r\n"))
        assert theirs.recv(100) == b"EHLO x\r\nNOOP\r\n"
        start = time.monotonic()
        with pytest.raises((socket.timeout, BlockingIOError)):
            ours.recv(10)
        assert TIMEOUT * 0.9 < time.monotonic() - start < TIMEOUT + MARGIN


@pytest.mark.skipif(not ON_LINUX_64, reason="kernel timeouts are used on 64-bit Linux only")
def test_plain_connections_use_kernel_timeouts_and_starttls_goes_back(
    smtp_starttls: object,
) -> None:
    server = parse_mail_server(
        (smtp_starttls.host, ":port", smtp_starttls.port)  # type: ignore[attr-defined]
    )
    with Session(server, timeout=7) as session:
        session.open()
        assert session.conn is not None and session.conn.sock is not None
        assert session.conn.kernel_timeouts and session.conn.sock.gettimeout() is None
        session.conn.use_python_timeouts()
        assert not session.conn.kernel_timeouts and session.conn.sock.gettimeout() == 7
        session.quit()
