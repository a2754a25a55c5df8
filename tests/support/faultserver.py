"""A scripted SMTP fault server: plain sockets on 127.0.0.1, one thread, byte-level control.

aiosmtpd (``servers.py``) is a well-behaved server; this one misbehaves on purpose.  Each
test scripts what the server does at each *stage* of the conversation, and everything not
scripted gets a normal, successful reply, so a script names only the fault under test::

    server = FaultServer({"MAIL": reply("451 4.3.0 try later")})
    server = FaultServer({"RCPT 2": DISCONNECT})
    server = FaultServer({"greeting": split(b"22", b"0 hello\\r\\n")})

Stages (the keys of a script): ``"greeting"``, ``"EHLO"``, ``"HELO"``, ``"STARTTLS"``,
``"TLS"`` (the TLS handshake, after a 220 to STARTTLS or at once with ``implicit_tls``),
``"AUTH"``, ``"MAIL"``, ``"RCPT"`` (every RCPT) or ``"RCPT n"`` (the n-th of a
transaction, from 1), ``"DATA"`` (the command), ``"BODY"`` (while the body arrives: after
its first bytes), ``"END"`` (the reply after the end-of-data line), ``"RSET"``, ``"QUIT"``,
``"NOOP"``.  ``"MAIL n"`` and ``"END n"`` name the n-th transaction of the server's life
(its n-th MAIL, counted from 1 over all connections), so a script can fault the second
message of a session and let the retry on the next connection through.  A BODY action
takes the place of the reply after the end-of-data line, unless the script also names
``"END"`` (or ``"END n"``): a ``250`` during the body, then ``554`` to the end of data,
is ``{"BODY": reply("250 ..."), "END": reply("554 ...")}``.
:attr:`FaultServer.body_acted` is set once the BODY action was carried out.

Actions (the values): :func:`reply` / :func:`raw` bytes (a malformed reply, a reply with a
bare LF, a multi-line reply are all just bytes), :func:`split` (the same bytes in several
packets), :func:`hangup` (a reply, then close), :func:`drop` (replies in separate
packets, then close: an idle timeout firing after a reply), :data:`DISCONNECT`,
:data:`SILENCE` (say nothing more: at a command, read and discard until the client hangs
up; in the body, also stop reading, so the client's send blocks), :func:`then_silence` (a
reply, then silence), :data:`GARBAGE` (something that is not SMTP), :func:`endless` (send
a chunk forever).  In the TLS stage, a reply or garbage is sent in
place of the handshake after the ClientHello was read, and a disconnect or silence happens
after reading it.

The server records every connection (:class:`ConnectionRecord`): the commands, the raw
DATA bytes through the end-of-data line, the bytes after it, and how the connection ended
(``"client"`` when the client hung up first: the evidence that it closed its socket).
Connections are served one at a time, in the order they come.  Each command's
:class:`Arrival` says which ``recv`` completed it and how many earlier replies were still
held back, so a test sees how a client pipelines.

With ``pipelining=True`` the server advertises PIPELINING (RFC 2920) and behaves as that
RFC lets a server: the replies to MAIL and RCPT are held until the group ends (DATA, or
any other command) and then sent in one write, so a client that waited for each reply
would never get one.  A scripted action other than a plain reply first sends what is held.

Also here: :func:`open_fds` and :func:`sockets_to`, the file-descriptor counts the fault
tests use to prove that the client closed its socket.  They read ``/proc``: a test that
calls them carries :data:`linux_only`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import ssl
import sys
import threading
import time
from typing import Dict, Iterator, List, Mapping, Optional, Set, Tuple

import pytest

HOST = "127.0.0.1"
NAME = "faults.test"
#: The server's own per-operation timeout: only a safety net, so that a test whose client
#: misbehaves fails instead of hanging; the scripted faults never rely on it.
SAFETY_TIMEOUT = 10.0
#: The accepted sockets' receive buffer (set on the listener, so it is inherited): small,
#: so that a body of a few megabytes cannot fit in the buffers and a fault "during the
#: body" really happens while the client is still sending.
RECEIVE_BUFFER = 32 * 1024
#: Where :func:`endless` gives up and hangs up, so that a client without limits makes its
#: test fail (with a disconnect) instead of hanging it.
ENDLESS_LIMIT = 256 * 1024 * 1024
#: Pause between the packets of :func:`split`, so that they arrive separately.
SPLIT_PAUSE = 0.02

TERMINATOR = b"\r\n.\r\n"
#: The first command of :meth:`FaultServer.settled_connection_count`'s probe connection.
PROBE = b"NOOP fault-server-probe"


# --------------------------------------------------------------------------- actions


@dataclasses.dataclass(frozen=True)
class Action:
    """What the server does at one stage; build them with the helpers below."""

    kind: str
    """One of "send", "split", "hangup", "drop", "disconnect", "silence", "endless"."""
    parts: Tuple[bytes, ...] = ()

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)


def reply(*lines: str) -> Action:
    """A reply made of ``lines`` (``"250-first"``, ``"250 last"``), each ended by CRLF."""
    return Action("send", ("".join(line + "\r\n" for line in lines).encode("utf-8"),))


def raw(data: bytes) -> Action:
    """Exactly these bytes (a malformed reply, a bare-LF reply, ...)."""
    return Action("send", (data,))


def hangup(*lines: str) -> Action:
    """A reply, then close the connection at once (a 421 the way busy servers send it)."""
    return Action("hangup", reply(*lines).parts)


def drop(*lines: str) -> Action:
    """Each reply line in its own packet, a short pause apart, then close:
    ``drop("250 2.0.0 OK", "421 4.4.2 idle too long")`` is an idle timeout that fires just
    after a message was accepted."""
    return Action("drop", tuple(reply(line).data for line in lines))


def then_silence(*lines: str) -> Action:
    """A reply (in one write), then :data:`SILENCE`: the ``421`` sent with the last ``250``
    by a server that then waits for the client to hang up."""
    return Action("silence", reply(*lines).parts)


def split(*parts: bytes) -> Action:
    """These bytes in separate packets, with a short pause between them."""
    return Action("split", parts)


def endless(chunk: bytes, first: bytes = b"") -> Action:
    """Send ``first``, then ``chunk`` over and over until the client hangs up (or, as a
    safety net, :data:`ENDLESS_LIMIT` bytes have gone)."""
    return Action("endless", (first, chunk))


DISCONNECT = Action("disconnect")
SILENCE = Action("silence")
#: What a client pointed at a web server sees: not an SMTP reply.
GARBAGE = raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

Script = Mapping[str, Action]

# The faults of the failure matrix, by name.
FAULTS: Dict[str, Action] = {
    "4xx": reply("421 4.3.2 Service not available, closing channel"),
    "5xx": reply("554 5.7.1 Rejected"),
    "disconnect": DISCONNECT,
    "silence": SILENCE,
    "garbage": GARBAGE,
}

# Issue 14 (a server that trickles): one contiguous block of additions.

#: How long :func:`trickle` goes on at most: a safety net, like :data:`ENDLESS_LIMIT`, so
#: that a client without an overall bound per reply makes its test fail instead of hang.
TRICKLE_LIMIT = 60.0


def trickle(pattern: bytes, first: bytes = b"", seconds: float = TRICKLE_LIMIT) -> Action:
    """``first`` at once, then ``pattern`` over and over, one byte every
    :data:`SPLIT_PAUSE` seconds, for ``seconds`` (or until the client hangs up): each
    ``recv`` of the client gets something long before any per-read timeout, and the reply
    never ends.  With ``first`` a TLS record header, it trickles a TLS handshake."""
    count = max(1, int(seconds / SPLIT_PAUSE))
    data = (pattern * (count // len(pattern) + 1))[:count]
    return Action("split", (first, *(data[index : index + 1] for index in range(count))))


# --------------------------------------------------------------------------- records


@dataclasses.dataclass(frozen=True)
class Arrival:
    """How one line of :attr:`ConnectionRecord.commands` arrived."""

    line: bytes
    recv: int
    """Which ``recv`` on this connection completed the line (1 for the first)."""
    unanswered: int
    """Earlier commands still without a reply when it was read (held by ``pipelining``)."""


@dataclasses.dataclass
class ConnectionRecord:
    """What the server saw on one connection."""

    commands: List[bytes] = dataclasses.field(default_factory=list)
    """Every line the client sent outside DATA, without its line ending."""
    arrivals: List[Arrival] = dataclasses.field(default_factory=list)
    """How each of :attr:`commands` arrived, in the same order."""
    data: Optional[bytes] = None
    """The raw bytes after the 354, through the end-of-data line (the last message)."""
    body_received: int = 0
    """Bytes of the last message's DATA read so far (also of one that never ended)."""
    messages: List[bytes] = dataclasses.field(default_factory=list)
    """:attr:`data` of every message on this connection, in order."""
    after_data: bytes = b""
    """Every byte the client sent after the end-of-data line (normally ``b"QUIT\\r\\n"``)."""
    tls: bool = False
    ended_by: str = ""
    """"client" (it hung up first, also after QUIT), "server" (a scripted disconnect or
    hang-up), "released" (:meth:`FaultServer.finish` ended a silence) or "error"."""
    error: Optional[BaseException] = None

    @property
    def verbs(self) -> List[str]:
        """The command verbs, upper-cased: ``["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]``."""
        return [line.split(b" ", 1)[0].decode("ascii", "replace").upper() for line in self.commands]


class _Hangup(Exception):
    """The connection is over (either side closed it)."""


# --------------------------------------------------------------------------- server


class FaultServer:
    """A scripted SMTP server on a free port of 127.0.0.1, in a daemon thread.

    ``script`` maps stages to actions (see the module docstring); ``ehlo_keywords`` are
    advertised after EHLO, plus ``STARTTLS`` when ``tls_context`` is given (and TLS is not
    on yet), ``AUTH <auth>`` when ``auth`` is given and ``PIPELINING`` with ``pipelining``
    (which also holds replies back, see the module docstring).  ``implicit_tls`` starts TLS
    at once.  Change :attr:`script` between connections freely.  :attr:`transactions`
    counts the MAIL commands received so far, on all connections.
    """

    def __init__(
        self,
        script: Optional[Script] = None,
        *,
        ehlo_keywords: Tuple[str, ...] = ("8BITMIME",),
        tls_context: Optional[ssl.SSLContext] = None,
        implicit_tls: bool = False,
        auth: Optional[str] = None,
        pipelining: bool = False,
    ) -> None:
        if implicit_tls and tls_context is None:
            raise ValueError("implicit_tls needs a tls_context")
        self.script: Dict[str, Action] = dict(script or {})
        self.ehlo_keywords = ehlo_keywords
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.auth = auth
        self.pipelining = pipelining
        self.transactions = 0
        #: set once a scripted BODY action has been carried out (it stays set)
        self.body_acted = threading.Event()
        self.host = HOST
        self.connections: List[ConnectionRecord] = []
        self._changed = threading.Condition()
        self._active: Optional[socket.socket] = None
        self._release = threading.Event()
        self._was_cut = False
        self._stopping = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self._listener.bind((HOST, 0))
            self._listener.listen(16)
        except BaseException:
            self._listener.close()
            raise
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="fault-server", daemon=True)
        self._thread.start()

    # -- the test's side ------------------------------------------------------------------

    def spec(self, *options: object) -> Tuple[object, ...]:
        """The mail-server argument for this server, with extra keyword ``options``."""
        return (self.host, ":port", self.port, *options)

    @property
    def connection_count(self) -> int:
        with self._changed:
            return len(self.connections)

    def clear(self) -> None:
        """Forget the recorded connections (between hypothesis examples)."""
        with self._changed:
            self.connections.clear()
            self.transactions = 0

    def wait_for(self, count: int, timeout: float = SAFETY_TIMEOUT) -> List[ConnectionRecord]:
        """Wait until ``count`` connections have ended, and return the records."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: len(self.connections) >= count and self._active is None, timeout
            )
            if not done:
                raise AssertionError(f"the fault server saw {len(self.connections)} of {count}")
            return list(self.connections)

    def settled_connection_count(self) -> int:
        """How many connections clients made so far, exactly: none can be still on its way.

        A probe connection (``NOOP`` marked, not counted) is served after every earlier
        one, because connections are served in order; once the probe is recorded, so is
        every connection made before it, even one whose client gave up at once.
        """
        with socket.create_connection((self.host, self.port), SAFETY_TIMEOUT) as probe:
            probe.sendall(PROBE + b"\r\nQUIT\r\n")
            answer = b""
            while b"\r\n221 " not in answer:  # the server waits for us to hang up first
                chunk = probe.recv(4096)
                assert chunk, f"the fault server hung up on its probe: {answer!r}"
                answer += chunk
        with self._changed:
            probed = self._changed.wait_for(
                lambda: any(record.commands[:1] == [PROBE] for record in self.connections),
                SAFETY_TIMEOUT,
            )
            assert probed, "the fault server did not serve its probe"
            index = next(i for i, r in enumerate(self.connections) if r.commands[:1] == [PROBE])
            del self.connections[index]
            return len(self.connections)

    def finish(self, timeout: float = 5.0) -> List[ConnectionRecord]:
        """End a stalled body (silence), wait until no connection is open, return the records.

        A client that closed its socket has already ended its connection, or ends it within
        moments; only after ``timeout`` is a connection cut from this side (``"released"``),
        which a test that checks ``ended_by == "client"`` then reports.
        """
        self._release.set()
        with self._changed:
            if not self._changed.wait_for(lambda: self._active is None, timeout):
                self._cut()
                self._changed.wait_for(lambda: self._active is None, SAFETY_TIMEOUT)
            self._release.clear()
            return list(self.connections)

    def stop(self) -> None:
        """Close everything and end the thread; again is a no-op."""
        with self._changed:
            if self._stopping:
                return
            self._stopping = True
            self._release.set()
            self._cut()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._thread.join(SAFETY_TIMEOUT)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _cut(self) -> None:
        if self._active is not None:
            self._was_cut = True
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._active, socket.SHUT_RDWR)

    # -- the server's side -----------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            record = ConnectionRecord()
            with self._changed:
                if self._stopping:
                    conn.close()
                    return
                self._active = conn
                self._was_cut = False
            try:
                conn.settimeout(SAFETY_TIMEOUT)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                _Handler(self, conn, record).run()
            except BaseException as exc:  # recorded for the test, never raised in the thread
                record.error = exc
                record.ended_by = record.ended_by or "error"
            finally:
                with self._changed:
                    with contextlib.suppress(OSError):
                        (self._active or conn).close()
                    self._active = None
                    self.connections.append(record)
                    self._changed.notify_all()

    def _set_active(self, conn: socket.socket) -> None:
        with self._changed:
            self._active = conn


class _Handler:
    """One connection's conversation."""

    def __init__(self, server: FaultServer, conn: socket.socket, record: ConnectionRecord) -> None:
        self.server = server
        self.conn = conn
        self.record = record
        self.buffer = b""
        self.rcpt_count = 0
        self.in_body = False
        self.after_data = False
        self.recvs = 0
        self.transaction = 0  # the server's number of the current transaction
        self.held: List[bytes] = []  # replies held back by ``pipelining``

    # -- I/O
    def _recv(self) -> bytes:
        try:
            data = self.conn.recv(65536)
        except (ConnectionError, ssl.SSLError) as exc:
            self._hung_up()
            raise _Hangup() from exc
        if not data:
            self._hung_up()
            raise _Hangup()
        self.recvs += 1
        if self.after_data:
            self.record.after_data += data
        return data

    def _readline(self) -> bytes:
        while b"\n" not in self.buffer:
            self.buffer += self._recv()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def _take_line(self) -> bytes:
        """The next line from the client, recorded as a command with its arrival."""
        line = self._readline()
        self.record.commands.append(line)
        self.record.arrivals.append(Arrival(line, self.recvs, len(self.held)))
        return line

    def _send(self, data: bytes) -> None:
        try:
            self.conn.sendall(data)
        except (ConnectionError, ssl.SSLError) as exc:
            self._hung_up()
            raise _Hangup() from exc

    def _hung_up(self) -> None:
        """The connection ended under us: the client hung up, or finish() cut it."""
        self.record.ended_by = self.record.ended_by or (
            "released" if self.server._was_cut else "client"
        )

    def _action(self, stage: str, default: Action) -> Action:
        return self.server.script.get(stage, default)

    def _perform(self, action: Action, *, hold: bool = False) -> None:
        """Carry out ``action``; raise :class:`_Hangup` when it ends the connection.

        With ``hold`` (a MAIL or RCPT under ``pipelining``) a plain reply is kept back;
        otherwise what is held goes first (in the same write as a plain reply).
        """
        if action.kind == "send" and hold:
            self.held.append(action.data)
            return
        held, self.held = b"".join(self.held), []
        if action.kind == "send":
            self._send(held + action.data)
            return
        if held:
            self._send(held)
        if action.kind in ("split", "drop"):
            for index, part in enumerate(action.parts):
                if index:
                    time.sleep(SPLIT_PAUSE)
                self._send(part)
            if action.kind == "drop":
                self.record.ended_by = "server"
                raise _Hangup()
        elif action.kind in ("disconnect", "hangup"):
            if action.parts:
                self._send(action.data)
            self.record.ended_by = "server"
            raise _Hangup()
        elif action.kind == "silence":
            if action.parts:
                self._send(action.data)
            if self.in_body:
                self.server._release.wait(SAFETY_TIMEOUT)  # not even reading
                self.record.ended_by = "released"
                raise _Hangup()
            while True:
                self._recv()
        elif action.kind == "endless":
            first, chunk = action.parts
            self._send(first)
            sent = len(first)
            while sent < ENDLESS_LIMIT:  # until the client hangs up (or finish() cuts)
                self._send(chunk)
                sent += len(chunk)
            self.record.ended_by = "server"
            raise _Hangup()
        else:
            raise ValueError(f"unknown action {action.kind!r}")

    # -- the conversation
    def run(self) -> None:
        try:
            if self.server.implicit_tls:
                self._handshake()
            self._perform(self._action("greeting", reply(f"220 {NAME} ESMTP fault server")))
            while True:
                self._command(self._take_line())
        except _Hangup:
            pass

    def _command(self, line: bytes) -> None:
        verb = line.split(b" ", 1)[0].decode("ascii", "replace").upper()
        if verb == "EHLO":
            keywords = list(self.server.ehlo_keywords)
            if self.server.pipelining:
                keywords.append("PIPELINING")
            if self.server.tls_context is not None and not self.record.tls:
                keywords.append("STARTTLS")
            if self.server.auth:
                keywords.append(f"AUTH {self.server.auth}")
            lines = [NAME, *keywords]
            text = [f"250-{item}" for item in lines[:-1]] + [f"250 {lines[-1]}"]
            self._perform(self._action("EHLO", reply(*text)))
        elif verb == "HELO":
            self._perform(self._action("HELO", reply(f"250 {NAME}")))
        elif verb == "STARTTLS":
            action = self._action("STARTTLS", reply("220 2.0.0 Ready to start TLS"))
            self._perform(action)
            if action.kind in ("send", "split") and action.data.startswith(b"220"):
                self.buffer = b""
                self._handshake()
        elif verb == "AUTH":
            self._auth(line)
        elif verb == "MAIL":
            self.rcpt_count = 0
            self.server.transactions += 1
            self.transaction = self.server.transactions
            default = self._action("MAIL", reply("250 2.1.0 OK"))
            hold = self.server.pipelining
            self._perform(self._action(f"MAIL {self.transaction}", default), hold=hold)
        elif verb == "RCPT":
            self.rcpt_count += 1
            default = self._action("RCPT", reply("250 2.1.5 OK"))
            hold = self.server.pipelining
            self._perform(self._action(f"RCPT {self.rcpt_count}", default), hold=hold)
        elif verb == "DATA":
            action = self._action("DATA", reply("354 End data with <CR><LF>.<CR><LF>"))
            self._perform(action)
            if action.kind in ("send", "split") and action.data.startswith(b"354"):
                self._body()
        elif verb == "RSET":
            self._perform(self._action("RSET", reply("250 2.0.0 OK")))
        elif verb == "NOOP":
            self._perform(self._action("NOOP", reply("250 2.0.0 OK")))
        elif verb == "QUIT":
            self._perform(self._action("QUIT", reply("221 2.0.0 Bye")))
            self._drain_until_hangup()
        else:
            self._perform(reply("500 5.5.2 Error: command not recognized"))

    def _drain_until_hangup(self) -> None:
        while True:
            self._recv()

    def _auth(self, line: bytes) -> None:
        words = line.split()
        mechanism = words[1].upper() if len(words) > 1 else b""
        action = self._action("AUTH", reply("235 2.7.0 Authentication successful"))
        if action.kind in ("send", "split") and action.data.startswith(b"235"):
            if mechanism == b"LOGIN":
                for prompt in (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"):
                    self._send(b"334 " + prompt + b"\r\n")
                    self._take_line()
            elif mechanism == b"PLAIN" and len(words) == 2:
                self._send(b"334 \r\n")
                self._take_line()
        self._perform(action)

    def _body(self) -> None:
        """Read DATA through the end-of-data line; BODY acts after the first bytes."""
        self.after_data = False
        body_action = self.server.script.get("BODY")
        data = bytearray(b"\r\n")  # so that an empty message's "." line is found too
        data += self.buffer
        self.buffer = b""
        acted = False
        searched = 0
        while True:
            self.record.body_received = len(data) - 2
            end = data.find(TERMINATOR, searched)
            if end >= 0:
                break
            searched = max(0, len(data) - len(TERMINATOR) + 1)
            if body_action is not None and not acted and len(data) > 2:
                acted = True
                self.in_body = True
                self._perform(body_action)
                self.server.body_acted.set()
                self.in_body = False
            data += self._recv()
        cut = end + len(TERMINATOR)
        self.record.data, self.buffer = bytes(data[2:cut]), bytes(data[cut:])
        self.record.messages.append(self.record.data)
        self.record.after_data = self.buffer
        self.after_data = True
        if body_action is not None and not acted:  # the whole body came in one packet
            self._perform(body_action)
            self.server.body_acted.set()
        end_named = "END" in self.server.script or f"END {self.transaction}" in self.server.script
        if body_action is None or end_named:
            default = self._action("END", reply("250 2.0.0 OK queued"))
            self._perform(self._action(f"END {self.transaction}", default))

    def _handshake(self) -> None:
        """The TLS stage: a real server-side handshake, or the scripted fault instead."""
        action = self.server.script.get("TLS")
        if action is None:
            context = self.server.tls_context
            assert context is not None
            try:
                tls = context.wrap_socket(self.conn, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                self.record.ended_by = "client"
                raise _Hangup() from exc
            self.conn = tls
            self.server._set_active(tls)
            self.record.tls = True
            return
        self._recv()  # the ClientHello
        self._perform(action)
        if action.kind in ("send", "split"):
            self._drain_until_hangup()


# --------------------------------------------------------------------------- descriptors


#: For tests that count descriptors with the functions below: they read ``/proc``.
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="counts descriptors through /proc"
)


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def _tcp_sockets() -> Iterator[Tuple[int, int, int]]:
    """(inode, local port, remote port) of every IPv4 TCP socket on the host."""
    with open("/proc/net/tcp", encoding="ascii") as table:
        next(table)
        for row in table:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            yield int(fields[9]), local_port, remote_port


def fd_summary(port: int) -> Dict[str, int]:
    """This process's descriptors: ``client`` (sockets to ``port``), ``server`` (sockets of
    ``port``: the listener and the connections it accepted) and ``other`` (all the rest).

    The socket table is read before the descriptors are listed (once), so a server socket
    that closes meanwhile is never miscounted as ``other``.
    """
    table = {inode: (local, remote) for inode, local, remote in _tcp_sockets()}
    summary = {"client": 0, "server": 0, "other": 0}
    for target in _fd_targets():
        local, remote = (0, 0)
        if target.startswith("socket:["):
            local, remote = table.get(int(target[8:-1]), (0, 0))
        kind = "client" if remote == port else "server" if local == port else "other"
        summary[kind] += 1
    return summary


def _fd_targets() -> List[str]:
    """What each of this process's descriptors points at (``socket:[inode]``, a path...)."""
    targets = []
    for name in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{name}"))
        except OSError:  # closed meanwhile (the listdir's own descriptor)
            continue
    return targets


def _own_socket_inodes() -> Set[int]:
    """The inodes of this process's sockets."""
    return {int(t[8:-1]) for t in _fd_targets() if t.startswith("socket:[")}


def sockets_to(port: int) -> int:
    """How many of this process's sockets are connected to ``port`` (the client side)."""
    own = _own_socket_inodes()
    return sum(1 for inode, _, remote in _tcp_sockets() if remote == port and inode in own)
