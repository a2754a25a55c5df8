"""The writing side of a batch's connection: envelopes and bodies, never blocking
(README "Bulk sending").

:class:`LaneWriter` is what a :class:`~post_office.client.lane.Lane` writes: each
message's envelope as :class:`~post_office.protocol.transaction.Transaction` groups it,
then its body a piece at a time as the socket takes it (a lane holds one piece of one
message, whatever its size), its end of data with the next message's envelope behind it
when the server offers PIPELINING (RFC 2920 3.1: one round trip a message), and a look
for an early reply before each piece (README "Reliability").  What the replies mean is
the lane's.
"""

from __future__ import annotations

import abc
import collections
import socket
import ssl
import sys
from time import monotonic
from typing import TYPE_CHECKING, Callable, Deque, Iterator, List, Optional, Tuple

from ..errors import SMTPError, from_failure, with_stage
from ..message.sources import encode_content, in_memory, known_7bit
from ..protocol.failures import Failure
from ..protocol.replies import Reply
from ..protocol.transaction import Transaction
from .connection import RECV_SIZE, io_error
from .transfer import BODY_CHUNK_SIZE, group_bytes

if TYPE_CHECKING:
    from .ahead import Ready
    from .fleet import Fleet
    from .session import Session
    from .transfer import Item

__all__ = ["END", "GROUP", "RSET", "Flight", "LaneWriter", "refusal"]

#: What a reply we wait for answers: a command of an envelope group, the end of a
#: message's data, or RSET.
GROUP, END, RSET = 0, 1, 2
WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
#: The flag that makes one call on a blocking socket return at once, where a lane may wait
#: for its reply in the read itself (:meth:`~post_office.client.lane.Lane.wait_for_reply`):
#: Linux, whose ``SO_RCVTIMEO`` bounds that read and whose ``MSG_DONTWAIT`` every other
#: call of the lane passes.  Elsewhere 0: the socket is non-blocking and always polled.
DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0) if sys.platform.startswith("linux") else 0


class Flight:
    """One message on its way: its place in the batch, its transaction, and the replies
    to the envelope group in progress."""

    __slots__ = ("group", "groups", "index", "item", "replies", "transaction")

    def __init__(self, index: int, item: Item, transaction: Transaction) -> None:
        self.index = index
        self.item = item
        self.transaction = transaction
        self.groups = transaction.groups()
        self.group = 0
        self.replies: List[Reply] = []

    def error(self, error: SMTPError) -> SMTPError:
        return with_stage(error, self.transaction.stage)


class LaneWriter(abc.ABC):
    """What one connection of a batch writes (see the module's text); what the replies
    mean is :class:`~post_office.client.lane_reader.LaneReader`'s, and what a failure
    does :class:`~post_office.client.lane.Lane`'s."""

    def __init__(self, session: Session, fleet: Fleet) -> None:
        self.session = session
        self.fleet = fleet
        connection = session.connected_connection()
        self.connection = connection
        assert connection.sock is not None
        self.sock = connection.sock
        self.fd = self.sock.fileno()
        self.tls = isinstance(self.sock, ssl.SSLSocket)
        self.parser = connection.parser
        self.transcript = session.transcript
        # What the server offers and its name in errors: fixed for the connection's life.
        self.extensions = session.extensions
        self.server_name = f"the server {session.server.host}"
        self.timeout = connection.timeout
        self.expected: Deque[Tuple[int, Optional[Flight]]] = collections.deque()
        self.out = b""  # what is to be written, from ``self.sent`` on
        self.sent = 0
        self.body: Optional[Iterator[bytes]] = None  # the content still to be read
        self.end: Callable[[], bytes] = bytes
        self.streaming: Optional[Flight] = None  # whose body is going out
        self.early = False  # the server spoke while a body was going out
        self.drained = False  # in the read that emptied the socket just now
        self.unread = False  # the next piece of body needs no look first (see _start_body)
        self.writing = False  # the fleet watches the socket for room to write
        # A server without PIPELINING: what to write the moment the reply we wait for
        # accepts (README "Bulk sending"), the next message taken early for it, and
        # whether it went out (the bookkeeping of that reply then writes nothing).
        self.ready: Optional[Ready] = None
        self.held: Optional[Flight] = None
        self.wrote_ahead = False
        self.dead = False
        self.last = monotonic()  # when the server last read or said something
        # In plain text on Linux the socket blocks, and every call but the wait for a
        # reply passes MSG_DONTWAIT; elsewhere (and over TLS, whose calls take no flags)
        # it is non-blocking from the first batch on.
        self.dontwait = 0 if self.tls else DONTWAIT
        self.read_limit = 0.0  # the SO_RCVTIMEO set on the socket, in seconds (0: none)
        mode = None if self.dontwait else 0.0  # blocking, or non-blocking
        if self.sock.gettimeout() != mode:
            self.sock.settimeout(mode)

    # ------------------------------------------------------------------ state
    @property
    def waits_in_read(self) -> bool:
        """The socket blocks: a wait for a reply may be in the read itself."""
        return self.dontwait != 0

    @property
    def busy(self) -> bool:
        """Waiting for a reply or for room to write: the timeout runs."""
        return bool(self.expected or self.streaming or self.out or self.early)

    # ------------------------------------------------------------------ writing
    def start_next(self) -> None:
        """Take the next message from the fleet and write its envelope (an idle lane)."""
        flight = self.take_next()
        if flight is not None:
            self._write_group(flight)

    def take_next(self) -> Optional[Flight]:
        """The next message for this lane: the one it took early, else the fleet's next."""
        if self.held is not None:
            flight, self.held = self.held, None
            return flight
        while True:
            taken = self.fleet.take()
            if taken is None:
                return None
            index, item = taken
            try:
                return Flight(index, item, self._transaction(item))
            except Failure as failure:  # SMTPUTF8 needed and not offered: nothing sent
                self.fleet.done(index, refusal(failure))

    def _transaction(self, item: Item) -> Transaction:
        sender, recipients, messages = item
        return Transaction(
            sender,
            recipients,
            self.extensions,
            eight_bit=not known_7bit(messages),
            server_name=self.server_name,
        )

    def _group_bytes(self, flight: Flight) -> bytes:
        group = flight.groups[flight.group]
        self.expected.extend([(GROUP, flight)] * len(group))
        if self.transcript.enabled:
            for command in group:
                self.transcript.command(command.line)
        return group_bytes(flight.transaction, flight.group)

    def _write_group(self, flight: Flight) -> None:
        if self.wrote_ahead:  # these bytes went out the moment the reply came
            self.wrote_ahead = False
            self._group_bytes(flight)
            self._wrote()
            return
        if self.parser.buffered:  # RFC 5321 4.3.1: no reply before its command
            self._unasked(flight, flight.groups[flight.group][0].line)
            return
        self._write(self._group_bytes(flight))

    def _write(self, data: bytes) -> None:
        self.last = monotonic()  # the wait for this server starts now
        self.out = self.out[self.sent :] + data if self.out else data
        self.sent = 0
        self.flush()

    def flush(self) -> None:
        """Write what the socket takes now; the body is read a chunk at a time as the
        socket drains, so a lane holds one chunk of it, whatever its size."""
        while not self.dead:
            if self.sent >= len(self.out) and not self._refill():
                break
            try:
                self.sent += self.sock.send(memoryview(self.out)[self.sent :], self.dontwait)
            except WOULD_BLOCK:
                self.fleet.want_write(self, True)
                return
            except OSError as exc:
                self.fail(io_error(exc, self._sending(), "sending"))
                return
            self.last = monotonic()
        if self.writing and not self.dead:
            self.fleet.want_write(self, False)

    def _look(self) -> bool:
        """One look at the socket that never blocks (as before every write of a body
        sent alone, README "Reliability"): True when the server sent bytes no reply we
        waited for has used.  An end of file or a reset is left to the next read."""
        if self.parser.buffered:
            return True
        try:
            data = self.receive()
        except WOULD_BLOCK:
            return False
        except OSError:
            return False
        if not data:
            return False
        self.last = monotonic()
        self.parser.feed(data)
        return True

    def _sending(self) -> str:
        return "(message body)" if self.streaming is not None else self.connection.last_command

    def _refill(self) -> bool:
        """The next piece to write, from the body being sent; False when all is out."""
        self.out, self.sent = b"", 0
        flight = self.streaming
        if flight is None or self.early:
            return False
        if self.body is None:  # the end of the data (and what went with it) is out
            flight.transaction.body_sent()
            self.streaming = None
            return False
        pieces: List[bytes] = []
        size = 0
        for chunk in self.body:
            pieces.append(chunk)
            size += len(chunk)
            if size >= BODY_CHUNK_SIZE:
                break
        else:  # the content is all read: its end, and the next envelope behind it
            self.body = None
            pieces.append(self.end())
            self.expected.append((END, flight))
            following = self.take_next() if flight.transaction.pipelining else None
            if following is not None:
                pieces.append(self._group_bytes(following))
        self.out = b"".join(pieces)
        if self.unread:  # the read that brought the 354 emptied the socket just now
            self.unread = False
        elif self._look():  # a reply before this piece of the body: not an answer to it
            self._spoke_during_body()
            return False
        return True

    def _start_body(self, flight: Flight) -> None:
        if self.wrote_ahead:  # the content and its end went out with the 354
            self.wrote_ahead = False
            flight.transaction.body_started()
            self.body, self.streaming = None, flight
            self.expected.append((END, flight))
            self.connection.last_command = "(message body)"
            self._wrote()
            return
        if self.parser.buffered:
            self._unasked(flight, "(message body)")
            return
        flight.transaction.body_started()
        # A body in memory goes out within microseconds of the read that brought its
        # 354 and found nothing behind it: a look now could see only what arrived in
        # those microseconds, at the cost of a system call a message.  A stream, a
        # Message or a MIME part takes its time: look first, as for every later piece.
        self.unread = self.drained and in_memory(flight.item[2])
        chunks, self.end = encode_content(flight.item[2], BODY_CHUNK_SIZE)
        self.body = iter(chunks)
        self.streaming = flight
        self.connection.last_command = "(message body)"
        self.flush()

    # ------------------------------------------------------------------ ahead of the reply
    def write_ahead(self, wire: bytes) -> None:
        """Write a :class:`Ready`'s bytes now; the bookkeeping of the reply follows."""
        self.wrote_ahead = True
        try:
            sent = self.sock.send(wire, self.dontwait)
        except OSError:  # would block, or failed: the flush after the bookkeeping says
            sent = 0
        if sent < len(wire):
            self.out, self.sent = wire, sent

    def _wrote(self) -> None:
        """The bookkeeping of a write made ahead is done: the wait starts, and what the
        socket did not take goes as it drains."""
        self.last = monotonic()
        self.flush()

    def _write_rset(self) -> None:
        if self.parser.buffered:
            self.close()
            return
        self.expected.append((RSET, None))
        self.transcript.command("RSET")
        self._write(b"RSET\r\n")

    def receive(self, wait: bool = False) -> bytes:
        """What the socket has (b"" at its end); raises what would block, or fails
        (``wait``: the read may wait, within the socket's SO_RCVTIMEO)."""
        data = self.sock.recv(RECV_SIZE, 0 if wait else self.dontwait)
        if self.tls:
            while self.sock.pending():  # type: ignore[attr-defined]
                data += self.sock.recv(RECV_SIZE)  # decrypted already: poll would not say
        return data

    # ------------------------------------------------------------------ the lane's
    @abc.abstractmethod
    def fail(self, error: SMTPError, first: Optional[Flight] = None) -> None:
        """The connection is gone: what became of each message on it (Lane.fail)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Drop the line (Lane.close)."""

    @abc.abstractmethod
    def _unasked(self, flight: Flight, about_to: str) -> None:
        """Bytes no command asked for, before ``about_to`` (Lane._unasked)."""

    @abc.abstractmethod
    def _spoke_during_body(self) -> None:
        """The server spoke while a body was going out (Lane._spoke_during_body)."""


def refusal(failure: Failure) -> SMTPError:
    """A transaction's failure as its error (an SMTP one: options were checked before)."""
    error = from_failure(failure)
    assert isinstance(error, SMTPError)
    return error
