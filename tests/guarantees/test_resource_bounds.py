"""A hostile server cannot make the client grow without end.

The fault server sends an endless reply line (no line ending, ever) or an endless
multi-line reply (``250-...`` forever) at a stage of the conversation; the client must
give up with a clear :class:`~post_office.ProtocolError` after ``MAX_LINE`` bytes of one
line or ``MAX_REPLY_LINES`` lines, with its memory bounded (measured with tracemalloc,
whose peak covers every thread of the process, the server's included), and close its
socket.  At QUIT, after the message was accepted, the same fault is only logged.
"""

from __future__ import annotations

import logging
import smtplib
import time
import tracemalloc
from typing import Callable, Optional, Tuple

import pytest
from support.faultserver import Action, FaultServer, endless, linux_only, sockets_to

from post_office import ProtocolError, send_smtp
from post_office.protocol.replies import MAX_LINE, MAX_REPLY_LINES

FROM, TO = "me@example.test", "you@example.test"
TIMEOUT = 2.0
MARGIN = 1.5
MIB = 1024 * 1024

#: (name, action, what the error says, peak memory allowed)
FLOODS = [
    (
        "endless line",
        endless(b"x" * 65536, first=b"250 "),
        f"longer than {MAX_LINE} bytes",
        MIB,
    ),
    (
        "endless multi-line reply",
        endless(b"250-" + b"y" * 100 + b"\r\n"),
        f"more than {MAX_REPLY_LINES} lines",
        MIB,
    ),
    (
        # The worst that fits the limits: MAX_REPLY_LINES lines just under MAX_LINE each.
        "endless multi-line reply of long lines",
        endless(b"250-" + b"z" * (MAX_LINE - 8) + b"\r\n"),
        f"more than {MAX_REPLY_LINES} lines",
        3 * MAX_LINE * MAX_REPLY_LINES // 2,
    ),
]

STAGES = ["greeting", "EHLO", "MAIL", "RCPT", "DATA", "END"]


def _with_code(stage: str, action: Action) -> Action:
    """The flood with the code that stage expects (220, 354 or 250), so that every line
    of it is a well-formed reply line until a limit is reached."""
    first, chunk = action.parts
    code = {"greeting": b"220", "DATA": b"354"}.get(stage, b"250")
    return endless(chunk.replace(b"250", code, 1), first=first.replace(b"250", code, 1))


def _measure(call: Callable[[], None]) -> Tuple[Optional[BaseException], int, float]:
    tracemalloc.start()
    start = time.monotonic()
    error: Optional[BaseException] = None
    try:
        call()
    except Exception as exc:
        error = exc
    elapsed = time.monotonic() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return error, peak, elapsed


@pytest.mark.parametrize("stage", STAGES)
@linux_only
@pytest.mark.parametrize(
    ("flood", "says", "limit"),
    [pytest.param(action, says, limit, id=name) for name, action, says, limit in FLOODS],
)
def test_a_flood_of_reply_ends_in_a_clear_error_within_bounded_memory(
    stage: str,
    flood: Action,
    says: str,
    limit: int,
    fault_server_factory: Callable[..., FaultServer],
) -> None:
    server = fault_server_factory({stage: _with_code(stage, flood)})
    error, peak, elapsed = _measure(
        lambda: send_smtp(server.spec(), FROM, TO, "Hello.\n", timeout=TIMEOUT)
    )
    assert type(error) is ProtocolError, repr(error)
    assert isinstance(error, smtplib.SMTPResponseException)
    assert says in str(error)
    assert peak < limit, f"peak {peak} bytes"
    assert elapsed < TIMEOUT + MARGIN
    assert sockets_to(server.port) == 0
    assert server.finish()[0].ended_by == "client"


@pytest.mark.parametrize(
    ("flood", "says", "limit"),
    [pytest.param(action, says, limit, id=name) for name, action, says, limit in FLOODS],
)
def test_a_flood_at_quit_is_logged_not_raised(
    flood: Action,
    says: str,
    limit: int,
    fault_server_factory: Callable[..., FaultServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = fault_server_factory({"QUIT": _with_code("QUIT", flood)})
    with caplog.at_level(logging.WARNING, logger="post_office.smtp"):
        error, peak, _ = _measure(
            lambda: send_smtp(server.spec(), FROM, TO, "Hello.\n", timeout=TIMEOUT)
        )
    assert error is None
    assert says in caplog.text
    assert peak < limit
    [record] = server.finish()
    assert record.data == b"Hello.\r\n.\r\n" and record.ended_by == "client"
