"""The ``timeout`` is the same on every connection: plain, after STARTTLS, implicit TLS.

Every socket of a session carries Python's own timeout (``socket.settimeout``), on every
platform, so a silent server makes the call fail with ``SMTPTimeoutError`` (also a
``TimeoutError``) ``timeout`` seconds after it went quiet (README "Reliability"): not
sooner, and not much later.  The failure matrix in test_faults.py checks the upper
bound and the clean-up at every stage; here both bounds are checked for each kind of
connection, through the public ``send_smtp`` against the scripted fault server.
"""

from __future__ import annotations

import time
from typing import Callable, Tuple

import pytest
from support.faultserver import SILENCE, FaultServer

from post_office import SMTPTimeoutError, send_smtp

TIMEOUT = 0.4
#: How much longer than ``TIMEOUT`` a failing call may take (slow CI machines included).
MARGIN = 1.5
FROM = "me@example.test"
TO = "you@example.test"
#: Far more than the socket buffers hold (the fault server reads 32 KiB at a time and stops
#: reading when silent), so that silence in the body finds the client still sending.
BIG_BODY = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 8000

CASES = [
    ("plain", "greeting"),
    ("plain", "MAIL"),
    ("plain", "BODY"),
    ("plain", "END"),
    ("starttls", "MAIL"),
    ("starttls", "BODY"),
    ("implicit", "greeting"),
    ("implicit", "BODY"),
]


@pytest.mark.parametrize(("mode", "stage"), CASES, ids=[f"{m}-{s}" for m, s in CASES])
def test_a_silent_server_times_out_after_the_timeout_not_before(
    mode: str, stage: str, fault_server_factory: Callable[..., FaultServer], ca_file: str
) -> None:
    server = fault_server_factory(
        {stage: SILENCE}, tls=mode != "plain", implicit_tls=mode == "implicit"
    )
    options: Tuple[object, ...] = ()
    if mode == "starttls":
        options = (":starttls", True, ":ca-file", ca_file)
    elif mode == "implicit":
        options = (":ssl", True, ":ca-file", ca_file)
    body = BIG_BODY if stage == "BODY" else b"Subject: quiet\r\n\r\nHello.\r\n"
    start = time.monotonic()
    with pytest.raises(SMTPTimeoutError) as info:
        send_smtp(server.spec(*options), FROM, TO, body, timeout=TIMEOUT)
    elapsed = time.monotonic() - start
    assert isinstance(info.value, TimeoutError)
    assert TIMEOUT * 0.9 < elapsed < TIMEOUT + MARGIN, elapsed
    record = server.finish()[-1]
    assert record.tls == (mode != "plain")
    # Silent in the body, the server is not even reading, so finish() has to end it; the
    # failure matrix proves by counting descriptors that the client closed its socket.
    assert record.ended_by == ("released" if stage == "BODY" else "client")
