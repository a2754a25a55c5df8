"""The benchmark servers, each run in its own process: ``python bench/sink.py --kind fast``.

``fast``: a plain socket responder.  It answers every SMTP command with a canned reply
(``EHLO`` advertises PIPELINING, 8BITMIME and SIZE unless ``--no-pipelining``), and in
DATA it reads into a 4 MiB buffer with ``recv_into`` and finds the terminator anywhere in
each read with one ``bytearray.find`` (see :meth:`FastConnection.read_data`), so it costs
far less per byte than any client; what follows the terminator in the same read is taken
as commands, and replies to pipelined commands go out in one write when the input has no
more complete lines, as RFC 2920 servers do.

``aiosmtpd``: aiosmtpd 1.4 with a handler that accepts and discards; as shipped it does
not advertise PIPELINING (``--pipelining`` adds it to the EHLO reply).

The child prints ``PORT <n>`` once it listens, serves until its standard input closes,
then prints one JSON line: messages and DATA bytes received (a sanity check for the
benchmark).  Standard library only (plus aiosmtpd for that kind).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
from typing import Any, Dict, List

GREETING = b"220 sink ESMTP ready\r\n"
HOSTNAME = "sink.localhost"
TERMINATOR = b"\r\n.\r\n"
QUIT = b"QUIT\r\n"


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages = 0
        self.data_bytes = 0
        self.connections = 0

    def add(self, size: int) -> None:
        with self.lock:
            self.messages += 1
            self.data_bytes += size

    def as_dict(self) -> Dict[str, int]:
        return {
            "messages": self.messages,
            "data_bytes": self.data_bytes,
            "connections": self.connections,
        }


class FastConnection:
    """One client of the fast sink."""

    BUFFER = 4 << 20

    def __init__(
        self, sock: socket.socket, stats: Stats, pipelining: bool, end_only: bool = False
    ) -> None:
        self.sock = sock
        self.stats = stats
        self.end_only = end_only
        extensions = ["PIPELINING"] if pipelining else []
        lines = [HOSTNAME, *extensions, "8BITMIME", "SIZE 0", "HELP"]
        self.ehlo = "".join(
            f"250{'-' if i < len(lines) - 1 else ' '}{line}\r\n" for i, line in enumerate(lines)
        ).encode()
        self.buffer = bytearray(self.BUFFER)

    def serve(self) -> None:
        sock = self.sock
        sock.sendall(GREETING)
        pending = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            pending += chunk
            replies: List[bytes] = []
            while True:
                end = pending.find(b"\r\n")
                if end < 0:
                    break
                verb = pending[:4].upper()
                pending = pending[end + 2 :]
                if verb == b"DATA":
                    sock.sendall(b"".join(replies) + b"354 end with <CRLF>.<CRLF>\r\n")
                    replies = []
                    pending = self.read_data(pending)
                    replies.append(b"250 2.0.0 accepted\r\n")
                elif verb == b"QUIT":
                    sock.sendall(b"".join(replies) + b"221 2.0.0 bye\r\n")
                    return
                elif verb == b"EHLO":
                    replies.append(self.ehlo)
                else:  # HELO, MAIL, RCPT, RSET, NOOP
                    replies.append(b"250 2.0.0 OK\r\n")
            if replies:
                sock.sendall(b"".join(replies))

    def read_data(self, already: bytes) -> bytes:
        """Consume DATA up to CRLF . CRLF; return what followed it (pipelined commands).

        The DATA command's own CRLF is put in front, so an empty message (the data is
        just ``.`` CRLF) ends the same way as any other.  Each read goes into a 4 MiB
        buffer with ``recv_into`` and is searched whole with one ``bytearray.find``
        (about 1.8 GB/s here, several times what any client sends): a pipelining client
        may send the end of one message's data and the next message's MAIL, RCPT and
        DATA in one write (RFC 2920 3.1), so the terminator need not end the read.  The
        last 4 bytes of a read are carried to the front of the next one, so a terminator
        split between two reads is found too.

        With ``end_only`` (``--end-only``, what bench_large.py uses) only the end of each
        read is checked (the terminator may be followed there by a QUIT, or its first
        bytes), as this sink did before: the large-message benchmarks' *floor*
        client does not dot-stuff, so its text (which has lines that are a lone ".")
        holds early terminators that a full scan would end the message at, and the scan
        would cost the physical reference (*raw*, 1-2 GB/s) a third of its speed.  No
        client of those benchmarks sends anything but that QUIT after the end of data
        before the reply.
        """
        window = b"\r\n" + already
        end = window.find(TERMINATOR)
        if end >= 0:
            self.stats.add(end)
            return window[end + 5 :]
        size = len(window) - 2  # data bytes received so far (the CRLF in front is DATA's)
        buffer = self.buffer
        view = memoryview(buffer)
        recv_into = self.sock.recv_into
        find = buffer.find
        end_only = self.end_only
        tail = window[-4:]
        kept = len(tail)
        buffer[:kept] = tail
        while True:
            got = recv_into(view[kept:])
            if not got:
                raise ConnectionError("client went away in DATA")
            size += got
            filled = kept + got
            if end_only:
                # At the very end of the read, or with (the start of) the QUIT that a
                # lone send to a PIPELINING server writes behind it (RFC 2920 3.1).
                end = buffer.rfind(TERMINATOR, max(filled - 5 - len(QUIT), 0), filled)
                if end >= 0 and not QUIT.startswith(buffer[end + 5 : filled]):
                    end = -1
            else:
                end = find(TERMINATOR, 0, filled)
            if end >= 0:
                after = end + 5
                # The data ends with the terminator's last 3 bytes (".\r\n").
                self.stats.add(size - (filled - after) - 3)
                return bytes(buffer[after:filled])
            kept = min(filled, 4)
            buffer[:kept] = buffer[filled - kept : filled]


def serve_fast(pipelining: bool, stats: Stats, end_only: bool = False) -> int:
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    port: int = listener.getsockname()[1]

    def accept_loop() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            stats.connections += 1
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handle, args=(sock,), daemon=True).start()

    def handle(sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):  # the client hung up
            FastConnection(sock, stats, pipelining, end_only).serve()

    threading.Thread(target=accept_loop, daemon=True).start()
    return port


def serve_aiosmtpd(pipelining: bool, stats: Stats) -> Any:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_EHLO(
            self, server: Any, session: Any, envelope: Any, hostname: str, responses: List[str]
        ) -> List[str]:
            session.host_name = hostname
            if pipelining:
                responses.insert(len(responses) - 1, "250-PIPELINING")
            return responses

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            stats.add(len(envelope.original_content or b""))
            return "250 2.0.0 accepted"

    class Counting(Controller):  # type: ignore[misc]
        def factory(self) -> Any:
            stats.connections += 1
            return super().factory()

        def _trigger_server(self) -> None:
            # Bound to port 0: learn the real port before the readiness probe uses it.
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = Counting(
        Handler(),
        hostname="127.0.0.1",
        port=0,
        server_hostname=HOSTNAME,
        data_size_limit=None,
    )
    controller.start()
    stats.connections = 0  # the controller's readiness probe
    return controller


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kind", choices=("fast", "aiosmtpd"), default="fast")
    parser.add_argument("--pipelining", dest="pipelining", action="store_true", default=None)
    parser.add_argument("--no-pipelining", dest="pipelining", action="store_false")
    parser.add_argument(
        "--end-only",
        action="store_true",
        help="fast sink: look for the end of data only at the end of each read",
    )
    args = parser.parse_args(argv)
    stats = Stats()
    if args.kind == "fast":
        pipelining = True if args.pipelining is None else args.pipelining
        port = serve_fast(pipelining, stats, args.end_only)
        controller = None
    else:
        controller = serve_aiosmtpd(bool(args.pipelining), stats)
        port = controller.port
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    if controller is not None:
        controller.stop()
    print(json.dumps(stats.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
