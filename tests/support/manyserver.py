"""A scripted SMTP server that serves many connections at once (a thread each), for
``smtp_session(connections=N)``: plain sockets on 127.0.0.1, PIPELINING offered.

The fault server (``faultserver.py``) serves one connection at a time, so a client with
several open would wait on the second; this one takes them all.  Faults are named by
the server's n-th transaction over all connections (its n-th MAIL, from 1), so the
message a fault hits can go again on another connection and pass::

    server = ManyServer({3: "421 at MAIL", 5: "drop in body", 7: "554 at end"})

- ``"421 at MAIL"``: 421 to MAIL, then hang up (the replies to the RCPT and DATA that
  came with it are never sent);
- ``"drop in body"``: 354 to DATA, read the first bytes of the body, hang up;
- ``"drop at end"``: read the whole body, hang up without a reply;
- ``"554 at end"``: refuse the message at its end of data;
- ``"slow end"``: wait :attr:`ManyServer.slow` seconds before the 250 to the end of data.

Every accepted message is kept (:attr:`ManyServer.accepted`, the DATA bytes), as is every
message the server had whole and then lost the connection of (:attr:`unanswered`): the
evidence for "never sent twice".
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Dict, List, Optional

HOST = "127.0.0.1"
SAFETY_TIMEOUT = 10.0


class ManyServer:
    def __init__(self, faults: Optional[Dict[int, str]] = None, *, slow: float = 1.0) -> None:
        self.faults = dict(faults or {})
        self.slow = slow
        self.accepted: List[bytes] = []
        self.unanswered: List[bytes] = []
        self.connections = 0
        self.transactions = 0
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._socks: List[socket.socket] = []
        self._stopping = False
        self._listener = socket.socket()
        # A small receive buffer (inherited by every connection), so that a body of
        # megabytes is still being written when the server acts on its first bytes.
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stopping = True
        self._listener.close()
        for sock in list(self._socks):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(SAFETY_TIMEOUT)

    def _accept(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            self._socks.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _fault(self) -> str:
        with self._lock:
            self.transactions += 1
            return self.faults.pop(self.transactions, "")

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(SAFETY_TIMEOUT)
        reader = sock.makefile("rb")
        fault = ""
        try:
            sock.sendall(b"220 many.test ESMTP\r\n")
            while True:
                line = reader.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"EHLO":
                    sock.sendall(b"250-many.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    fault = self._fault()
                    if fault == "421 at MAIL":
                        sock.sendall(b"421 4.3.2 closing\r\n")
                        return
                    sock.sendall(b"250 ok\r\n")
                elif verb == b"DATA":
                    sock.sendall(b"354 go on\r\n")
                    if fault == "drop in body":
                        reader.read(10)
                        return
                    data = self._data(reader)
                    if data is None:
                        return
                    if fault == "drop at end":
                        self.unanswered.append(data)
                        return
                    if fault == "554 at end":
                        sock.sendall(b"554 5.7.1 refused\r\n")
                        continue
                    if fault == "slow end":
                        time.sleep(self.slow)
                    with self._lock:
                        self.accepted.append(data)
                    sock.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    sock.sendall(b"221 bye\r\n")
                    return
                else:
                    sock.sendall(b"250 ok\r\n")
        except OSError:
            return
        finally:
            reader.close()
            sock.close()

    @staticmethod
    def _data(reader: object) -> Optional[bytes]:
        lines = []
        while True:
            line = reader.readline()  # type: ignore[attr-defined]
            if not line:
                return None
            if line == b".\r\n":
                return b"".join(lines)
            lines.append(line)
