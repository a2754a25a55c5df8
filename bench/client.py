"""One measured client run, in its own process: ``python bench/client.py '<json task>'``.

Started by the benchmark scripts (see ``common.run_client``), never by hand.  Everything
that is not the client's work (imports, generating or reading the message into memory
for the smtplib variants) happens before the clock starts; the work is timed with
``perf_counter`` (wall) and ``process_time`` (this process's CPU, user + system).  The
peak resident memory is ``VmHWM`` from ``/proc/self/status``, read at the end by the
process itself, so it is the client's own peak whatever its parent did.

Prints one JSON line: ``wall``, ``cpu`` (seconds), ``hwm_kib``, ``messages``.
"""

from __future__ import annotations

import asyncio
import json
import random
import smtplib
import socket
import sys
import time
from typing import Any, Callable, Dict, List

import post_office
from post_office import send_smtp, smtp_session

HOST = "127.0.0.1"
FROM = "bench@example.test"
TO = "sink@example.test"
WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "mail", "server",
    "reply", "message", "body", "transaction", "envelope", "recipient", "pipelining",
]  # fmt: skip


def peak_rss_kib() -> int:
    """VmHWM of this process in KiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def small_message(number: int, size: int) -> str:
    """About ``size`` bytes of ASCII mail: a header, LF line endings, some "." lines."""
    rng = random.Random(number)
    lines = [
        f"From: {FROM}",
        f"To: {TO}",
        f"Subject: benchmark message {number}",
        f"Message-ID: <{number}.bench@example.test>",
        "",
    ]
    length = sum(len(line) + 1 for line in lines)
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        if rng.random() < 0.05:
            line = "." + line
        lines.append(line)
        length += len(line) + 1
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- large


def read_reply(sock: socket.socket, pending: bytearray) -> bytes:
    """One (possibly multi-line) reply, by hand, for the raw variant."""
    while True:
        start = 0
        while True:
            end = pending.find(b"\r\n", start)
            if end < 0:
                break
            if pending[start + 3 : start + 4] != b"-":
                reply = bytes(pending[: end + 2])
                del pending[: end + 2]
                return reply
            start = end + 2
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the sink closed the connection")
        pending += chunk


def raw_send(port: int, wire: bytes) -> None:
    """The physical reference: the same DATA bytes, already encoded, one sendall."""
    with socket.create_connection((HOST, port)) as sock:
        pending = bytearray()
        read_reply(sock, pending)
        sock.sendall(b"EHLO bench.localhost\r\n")
        read_reply(sock, pending)
        sock.sendall(f"MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nDATA\r\n".encode())
        for _ in range(3):
            read_reply(sock, pending)
        sock.sendall(wire)
        code = read_reply(sock, pending)[:3]
        if code != b"250":
            raise RuntimeError(f"raw DATA not accepted: {code!r}")
        sock.sendall(b"QUIT\r\n")
        read_reply(sock, pending)


def floor_send(port: int, path: str) -> None:
    """The least a streaming client must do: read, LF -> CRLF, write (no dot-stuffing).

    Not a correct SMTP client (lines starting with "." go out unstuffed): the ceiling
    for any converter built from the standard library's bytes operations.
    """
    chunk = 1 << 18
    with socket.create_connection((HOST, port)) as sock, open(path, "rb") as file:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = bytearray()
        read_reply(sock, pending)
        sock.sendall(b"EHLO bench.localhost\r\n")
        read_reply(sock, pending)
        sock.sendall(f"MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nDATA\r\n".encode())
        for _ in range(3):
            read_reply(sock, pending)
        read = file.read
        sendall = sock.sendall
        while True:
            data = read(chunk)
            if not data:
                break
            sendall(data.replace(b"\n", b"\r\n"))
        sendall(b".\r\n")
        if read_reply(sock, pending)[:3] != b"250":
            raise RuntimeError("floor DATA not accepted")
        sock.sendall(b"QUIT\r\n")
        read_reply(sock, pending)


def large(task: Dict[str, Any]) -> Callable[[], int]:
    port = task["port"]
    variant = task["variant"]
    path = task["path"]
    if variant == "send_smtp":

        def run() -> int:
            with open(path, "rb") as stream:
                send_smtp((HOST, port), FROM, TO, stream)
            return 1

        return run
    if variant in ("sendmail_str", "sendmail_bytes"):
        if variant == "sendmail_str":
            with open(path, encoding="ascii", newline="") as file:
                content: Any = file.read()
        else:
            with open(path, "rb") as file:
                content = file.read()

        def run() -> int:
            with smtplib.SMTP(HOST, port) as client:
                client.sendmail(FROM, TO, content)
            return 1

        return run
    if variant == "aiosmtplib_bytes":
        import aiosmtplib  # only here: the other variants must not pay for its import

        with open(path, "rb") as file:
            data = file.read()

        async def send() -> None:
            # aiosmtplib turns every newline into CRLF and dot-stuffs (two regexes on the
            # whole message), so bytes are a correct way to send this file with it.
            async with aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False) as client:
                await client.sendmail(FROM, [TO], data)

        def run() -> int:
            asyncio.run(send())
            return 1

        return run
    if variant == "floor":

        def run() -> int:
            floor_send(port, path)
            return 1

        return run
    if variant == "raw":
        with open(task["wire"], "rb") as file:
            wire = file.read()

        def run() -> int:
            raw_send(port, wire)
            return 1

        return run
    raise ValueError(f"unknown large variant {variant!r}")


# --------------------------------------------------------------------------- small


def small(task: Dict[str, Any]) -> Callable[[], int]:
    port = task["port"]
    variant = task["variant"]
    messages: List[str] = [small_message(n, task["size"]) for n in range(task["count"])]
    server = (HOST, port)

    if variant == "send_smtp":

        def run() -> int:
            for message in messages:
                send_smtp(server, FROM, TO, message)
            return len(messages)

    elif variant in ("smtplib", "smtplib_hostname"):
        options = {"local_hostname": "localhost"} if variant == "smtplib_hostname" else {}

        def run() -> int:
            for message in messages:
                with smtplib.SMTP(HOST, port, **options) as client:
                    client.sendmail(FROM, TO, message)
            return len(messages)

    elif variant == "session":

        def run() -> int:
            with smtp_session(server) as session:
                for message in messages:
                    session.send_smtp(FROM, TO, message)
            return len(messages)

    elif variant == "smtplib_reused":

        def run() -> int:
            with smtplib.SMTP(HOST, port) as client:
                for message in messages:
                    client.sendmail(FROM, TO, message)
            return len(messages)

    else:
        raise ValueError(f"unknown small variant {variant!r}")
    return run


def signed_letter(task: Dict[str, Any]) -> Callable[[], int]:
    """``send_letter`` with one large attachment, DKIM-signed when the task names a key."""
    key = None
    if task.get("key"):
        key = post_office.DkimKey("bench.example", "bench", task["key"])

    def run() -> int:
        post_office.send_letter(
            (HOST, task["port"]),
            FROM,
            TO,
            "The attachment.\n",
            subject="large",
            attachments=[task["path"]],
            dkim=key,
        )
        return 1

    return run


TASKS = {"large": large, "small": small, "dkim": signed_letter}


def main(argv: List[str]) -> int:
    task: Dict[str, Any] = json.loads(argv[0])
    run = TASKS[task["task"]](task)
    assert post_office.smtp_debug is None
    wall0 = time.perf_counter()
    cpu0 = time.process_time()
    messages = run()
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    print(json.dumps({"wall": wall, "cpu": cpu, "hwm_kib": peak_rss_kib(), "messages": messages}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
