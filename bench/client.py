"""One measured client run, in its own process: ``python bench/client.py '<json task>'``.

Started by the benchmark scripts (see ``common.run_client``), never by hand.  Everything
that is not the client's work (imports, generating or reading the message into memory
for the smtplib variants) happens before the clock starts; the work is timed with
``perf_counter`` (wall) and ``process_time`` (this process's CPU, user + system).  The
peak resident memory is ``VmHWM`` from ``/proc/self/status``, read at the end by the
process itself, so it is the client's own peak whatever its parent did.

Prints one JSON line: ``wall``, ``cpu`` (seconds), ``hwm_kib``, ``messages`` (those the
server accepted); or ``skipped`` (why) when the variant cannot run with this tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import smtplib
import socket
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

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


def small_message(number: int, size: int, token: str = "bench") -> str:
    """About ``size`` bytes of ASCII mail: a header, LF line endings, some "." lines.

    The Message-ID is ``<number.token@example.test>``: a token unique to the run makes it
    unique across runs (bench_bulk.py counts distinct ones in Postfix's Maildir).
    """
    rng = random.Random(number)
    lines = [
        f"From: {FROM}",
        f"To: {TO}",
        f"Subject: benchmark message {number}",
        f"Message-ID: <{number}.{token}@example.test>",
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
        run = smtplib_reused(port, messages)

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


# --------------------------------------------------------------------------- bulk


class Skip(Exception):
    """The variant cannot run here (reported as ``{"skipped": reason}``)."""


def smtplib_reused(port: int, messages: List[str]) -> Callable[[], int]:
    """The baseline of the small and bulk tasks: one ``smtplib.SMTP``, ``sendmail`` per
    message."""

    def run() -> int:
        with smtplib.SMTP(HOST, port) as client:
            for message in messages:
                client.sendmail(FROM, TO, message)
        return len(messages)

    return run


def encode_for_wire(message: str) -> bytes:
    """What goes after DATA: CRLF line endings, dot-stuffed, the end-of-data line."""
    data = message.encode("ascii").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    data = b"\r\n" + data  # so that a "." on the first line is stuffed like the others
    return data.replace(b"\r\n.", b"\r\n..")[2:] + b".\r\n"


def raw_hello(sock: socket.socket, pending: bytearray) -> None:
    reply = read_reply(sock, pending)
    if not reply.startswith(b"220"):
        raise RuntimeError(f"raw: greeting {reply!r}")
    sock.sendall(b"EHLO bench.localhost\r\n")
    reply = read_reply(sock, pending)
    if not reply.startswith(b"250"):
        raise RuntimeError(f"raw: EHLO {reply!r}")


def raw_expect(sock: socket.socket, pending: bytearray, codes: bytes) -> int:
    """Read one reply per byte of ``codes`` (the first digit each must have); count the
    replies that were not as expected."""
    bad = 0
    for code in codes:
        if read_reply(sock, pending)[0] != code:
            bad += 1
    return bad


def raw_2rt(port: int, envelope: bytes, wires: List[bytes]) -> int:
    """MAIL, RCPT and DATA in one write, three replies; the data in one write, one reply."""
    accepted = 0
    with socket.create_connection((HOST, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = bytearray()
        raw_hello(sock, pending)
        sendall = sock.sendall
        for wire in wires:
            sendall(envelope)
            if raw_expect(sock, pending, b"223"):
                raise RuntimeError("raw_2rt: MAIL, RCPT or DATA refused")
            sendall(wire)
            accepted += raw_expect(sock, pending, b"2") == 0
        sendall(b"QUIT\r\n")
        read_reply(sock, pending)
    return accepted


def raw_4rt(port: int, commands: List[bytes], wires: List[bytes]) -> int:
    """One command at a time, as without PIPELINING: MAIL, RCPT, DATA and the data each
    wait for their reply (four round trips a message; no option set on the socket, as
    smtplib sets none)."""
    accepted = 0
    with socket.create_connection((HOST, port)) as sock:
        pending = bytearray()
        raw_hello(sock, pending)
        sendall = sock.sendall
        for wire in wires:
            bad = 0
            for command, code in zip(commands, b"223"):
                sendall(command)
                bad += read_reply(sock, pending)[0] != code
            if bad:
                raise RuntimeError("raw_4rt: MAIL, RCPT or DATA refused")
            sendall(wire)
            accepted += read_reply(sock, pending)[0] == ord("2")
        sendall(b"QUIT\r\n")
        read_reply(sock, pending)
    return accepted


def one_rt_writes(envelope: bytes, wires: List[bytes]) -> List[Tuple[bytes, bytes]]:
    """The writes of a one-round-trip client, each with the replies it waits for: the
    first envelope; then each message's data with the next message's envelope (or QUIT).
    """
    writes = [(envelope, b"223")]
    for index, wire in enumerate(wires):
        if index + 1 < len(wires):
            writes.append((wire + envelope, b"2223"))
        else:
            writes.append((wire + b"QUIT\r\n", b"22"))
    return writes


def raw_1rt(port: int, writes: List[Tuple[bytes, bytes]]) -> int:
    """One write and one wait per message: its data goes with the next one's envelope."""
    bad = 0
    with socket.create_connection((HOST, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = bytearray()
        raw_hello(sock, pending)
        sendall = sock.sendall
        for data, codes in writes:
            sendall(data)
            bad += raw_expect(sock, pending, codes)
    if bad:
        raise RuntimeError(f"raw_1rt: {bad} replies not as expected")
    return len(writes) - 1


def raw_multi_1rt(port: int, shares: List[List[Tuple[bytes, bytes]]]) -> int:
    """One-round-trip connections multiplexed from one thread with ``selectors``."""
    import selectors

    selector = selectors.DefaultSelector()
    states = []
    for writes in shares:
        sock = socket.create_connection((HOST, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = bytearray()
        raw_hello(sock, pending)
        if pending:
            raise RuntimeError("raw_8x1rt: the server sent more than its EHLO reply")
        sock.setblocking(False)
        # [socket, writes, next write, output left, codes still awaited, input]
        state = [sock, writes, 1, memoryview(writes[0][0]), writes[0][1], bytearray()]
        states.append(state)
        selector.register(sock, selectors.EVENT_WRITE, state)
    bad = 0
    open_count = len(states)
    while open_count:
        for key, events in selector.select():
            state = key.data
            sock = state[0]
            if events & selectors.EVENT_WRITE:
                sent = sock.send(state[3])
                state[3] = state[3][sent:]
                if not state[3]:
                    selector.modify(sock, selectors.EVENT_READ, state)
                continue
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("raw_8x1rt: the server closed a connection")
            buffer = state[5]
            buffer += chunk
            codes = state[4]
            start = 0
            while codes:
                end = buffer.find(b"\r\n", start)
                if end < 0:
                    break
                if buffer[start + 3] != 0x2D:  # not "-": the reply's last line
                    bad += buffer[start] != codes[0]
                    codes = codes[1:]
                start = end + 2
            del buffer[:start]
            state[4] = codes
            if codes:
                continue
            writes = state[1]
            if state[2] == len(writes):
                selector.unregister(sock)
                sock.close()
                open_count -= 1
                continue
            data, state[4] = writes[state[2]]
            state[2] += 1
            sent = 0
            with contextlib.suppress(BlockingIOError):
                sent = sock.send(data)
            if sent < len(data):
                state[3] = memoryview(data)[sent:]
                selector.modify(sock, selectors.EVENT_WRITE, state)
    selector.close()
    if bad:
        raise RuntimeError(f"raw_8x1rt: {bad} replies not as expected")
    return sum(len(writes) - 1 for writes in shares)


def bulk(task: Dict[str, Any]) -> Callable[[], int]:
    """Many messages of about ``size`` bytes over few connections (bench_bulk.py)."""
    port = task["port"]
    variant = task["variant"]
    token = task.get("token", "bench")
    messages: List[str] = [small_message(n, task["size"], token) for n in range(task["count"])]
    spec = (HOST, ":port", port)
    envelope = f"MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nDATA\r\n".encode()

    def accepted(results: List[Any]) -> int:
        failures = [r for r in results if isinstance(r, post_office.SMTPError)]
        for failure in failures[:3]:
            print(f"{variant}: not accepted: {failure!r}", file=sys.stderr)
        return len(results) - len(failures)

    if variant == "session":
        session = smtp_session(spec)

        def run() -> int:
            with session as s:
                for message in messages:
                    s.send_smtp(FROM, TO, message)
            return len(messages)

    elif variant in ("send_many", "send_many_8"):
        session = smtp_session(spec, connections=8 if variant == "send_many_8" else 1)
        items = [(FROM, TO, message) for message in messages]

        def run() -> int:
            with session as s:
                results = s.send_many(items)
            return accepted(results)

    elif variant == "smtplib_reused":
        run = smtplib_reused(port, messages)

    elif variant in ("aiosmtplib_1", "aiosmtplib_8"):
        try:
            import aiosmtplib  # only here: the other variants must not pay for its import
        except ImportError:
            raise Skip("aiosmtplib is not installed") from None

        connections = 1 if variant == "aiosmtplib_1" else 8
        shares = [messages[i::connections] for i in range(connections)]

        async def send_share(share: List[str]) -> int:
            async with aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False) as client:
                for message in share:
                    await client.sendmail(FROM, [TO], message)
            return len(share)

        async def send_all() -> int:
            return sum(await asyncio.gather(*(send_share(share) for share in shares)))

        def run() -> int:
            return asyncio.run(send_all())

    elif variant == "raw_4rt":
        wires = [encode_for_wire(message) for message in messages]
        commands = [f"MAIL FROM:<{FROM}>\r\n".encode(), f"RCPT TO:<{TO}>\r\n".encode(), b"DATA\r\n"]

        def run() -> int:
            return raw_4rt(port, commands, wires)

    elif variant == "raw_2rt":
        wires = [encode_for_wire(message) for message in messages]

        def run() -> int:
            return raw_2rt(port, envelope, wires)

    elif variant == "raw_1rt":
        writes = one_rt_writes(envelope, [encode_for_wire(message) for message in messages])

        def run() -> int:
            return raw_1rt(port, writes)

    elif variant == "raw_8x1rt":
        wires = [encode_for_wire(message) for message in messages]
        shares = [one_rt_writes(envelope, wires[i::8]) for i in range(8) if wires[i::8]]

        def run() -> int:
            return raw_multi_1rt(port, shares)

    else:
        raise ValueError(f"unknown bulk variant {variant!r}")
    return run


TASKS = {"large": large, "small": small, "dkim": signed_letter, "bulk": bulk}


def main(argv: List[str]) -> int:
    task: Dict[str, Any] = json.loads(argv[0])
    try:
        run = TASKS[task["task"]](task)
    except Skip as exc:
        print(f"{task['variant']}: skipped: {exc}", file=sys.stderr)
        print(json.dumps({"skipped": str(exc)}))
        return 0
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
