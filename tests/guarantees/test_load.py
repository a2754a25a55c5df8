"""Load: 8 threads x 100 messages through send_smtp to aiosmtpd on loopback.

Every message carries a unique token in a header and in its body, so the test can tell
that each of the 800 arrived exactly once and whole; the process's file descriptors are
counted before and after (the client's side: the server's own sockets, which aiosmtpd
closes in its own time, are told apart by their local port).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Dict, List

from support.faultserver import fd_summary, linux_only

from post_office import send_smtp

THREADS = 8
MESSAGES = 100
FROM = "load@example.test"
#: Generous: only a stuck server would come near it, and then the test fails, not hangs.
TIMEOUT = 30.0


def body(token: str) -> str:
    return (
        f"From: {FROM}\nTo: sink@example.test\nSubject: load {token}\nX-Token: {token}\n\n"
        f"The body of {token}.\n.A line that starts with a dot ({token}).\n"
        + f"{token} " * 20
        + "\n"
    )


def wire_content(token: str) -> bytes:
    """What aiosmtpd records for ``body(token)``: CRLF newlines, the dot un-stuffed."""
    return body(token).replace("\n", "\r\n").encode("ascii")


@linux_only
def test_eight_threads_send_a_hundred_messages_each(smtp_plain) -> None:  # type: ignore[no-untyped-def]
    server = (smtp_plain.host, smtp_plain.port)
    before = fd_summary(smtp_plain.port)
    errors: List[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(number: int) -> None:
        try:
            start.wait(TIMEOUT)
            for index in range(MESSAGES):
                token = f"T{number}-{index}"
                send_smtp(
                    server,
                    FROM,
                    [f"rcpt{number}@example.test"],
                    body(token),
                    timeout=TIMEOUT,
                    local_hostname=f"worker{number}.example.test",
                )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 4)
    elapsed = time.monotonic() - began
    assert not any(thread.is_alive() for thread in threads), "a sender thread hung"
    assert errors == []

    received = list(smtp_plain.messages)
    tokens: Dict[str, int] = collections.Counter()
    for message in received:
        header = message.content.split(b"\r\n\r\n", 1)[0]
        [token] = [
            line[len(b"X-Token: ") :].decode()
            for line in header.split(b"\r\n")
            if line.startswith(b"X-Token: ")
        ]
        tokens[token] += 1
        assert message.content == wire_content(token)
        number = token[1:].split("-")[0]
        assert message.rcpt_tos == [f"rcpt{number}@example.test"]
        assert message.mail_from == FROM
        assert message.ehlo_name == f"worker{number}.example.test"
    expected = {f"T{n}-{i}" for n in range(THREADS) for i in range(MESSAGES)}
    assert set(tokens) == expected, "a message is missing"
    assert len(received) == THREADS * MESSAGES and set(tokens.values()) == {1}, "a duplicate"

    after = fd_summary(smtp_plain.port)
    assert after["client"] == 0, "a client socket is still open"
    assert after["other"] == before["other"], (before, after)
    print(f"{THREADS * MESSAGES} messages in {elapsed:.2f} s")
