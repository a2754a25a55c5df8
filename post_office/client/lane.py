"""One connection of a batch, driven without blocking on a write (README "Bulk sending").

A :class:`Lane` carries messages over one connection of an ``smtp_session``: it writes
what :class:`~post_office.protocol.transaction.Transaction` says, in the writes RFC 2920
allows (with PIPELINING the end of one message's data goes with the next message's
MAIL, RCPT and DATA, section 3.1: one round trip a message), and takes each reply as it
comes.  It waits only for a reply, and only when the fleet says so: the fleet tells it
when its socket can be read or written, so one thread drives many lanes, and a lane alone
in waiting for a reply, with nothing to write, waits in its read
(:meth:`Lane.wait_for_reply`).  What becomes of each message goes to
the fleet as it is known: the server's acceptance, a refusal, or a message the lane lost
with its connection (the fleet decides whether that one goes again, by its stage).

The rules are those of one message sent alone (README "Reliability"): success only for
a 2xx to our own end of data; a reply while the body is still going out is a refusal
or, if a 2xx, a protocol error, and the line is dropped; a 354 after a refused command
drops the line, which is the only way to deliver nothing.
"""

from __future__ import annotations

import collections
import socket
import struct
from time import monotonic
from typing import List, Optional

from ..errors import ProtocolError, ServerDisconnectedError, SMTPError
from ..protocol.replies import ReplyFormatError
from .ahead import prepare
from .connection import RECV_SIZE, io_error, said
from .lane_reader import LaneReader
from .lane_writer import WOULD_BLOCK, Flight, refusal
from .transfer import answered_early

__all__ = ["Flight", "Lane", "copy_error"]

#: The longest wait asked of one read: the fleet waits again while time is left.
_LONGEST_WAIT = 3600.0
#: How far the time left may drift from the read's limit before the limit is set again
#: (a system call): as much as poll's rounding to milliseconds lets the wait run over.
_WAIT_SLACK = 0.001


class Lane(LaneReader):
    """One connection of a batch (see the module's text): what its writer wrote, read
    back reply by reply, and what becomes of each message."""

    def abandon(self) -> None:
        """The batch was interrupted mid-message: the line cannot be used again."""
        self.dead = True
        self.session.close()

    def start_next(self) -> None:
        super().start_next()
        prepare(self)

    def wait_for_reply(self, seconds: float) -> None:
        """Wait for the server in the read itself, up to ``seconds``, then act as
        :meth:`readable` (a lane that :attr:`waits_in_read`, alone in its batch in waiting
        for a reply, with nothing to write).  One system call where ``poll(2)`` and the
        read are two, and the reply is acted on sooner: without PIPELINING that time is
        part of every command's round trip (README "Bulk sending")."""
        seconds = min(seconds, _LONGEST_WAIT)
        if not self.read_limit or abs(seconds - self.read_limit) > _WAIT_SLACK:
            whole = int(seconds)
            micro = max(int((seconds - whole) * 1e6), 0 if whole else 1)  # 0, 0: no limit
            try:
                self.sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", whole, micro)
                )
            except OSError as exc:
                self.fail(io_error(exc, self._waiting_for(), "waiting for the reply"))
                return
            self.read_limit = seconds
        self.readable(wait=True)

    def readable(self, wait: bool = False) -> None:
        """Read what the server sent and act on every complete reply in it (``wait``:
        the read may wait, see :meth:`wait_for_reply`)."""
        try:
            data = self.receive(wait)
        except WOULD_BLOCK:
            # A TLS record with no data in it (a session ticket), or a wait in the read
            # that reached its limit: the fleet's clock says whether the time is up.
            return
        except OSError as exc:
            self.fail(io_error(exc, self._waiting_for(), "waiting for the reply"))
            return
        if not data:
            self._hung_up()
            return
        ready = self.ready
        if ready is not None:  # the one reply awaited: if it accepts, write at once
            self.ready = None
            code = self.parser.sole_code(data)
            if code == ready.expect or code // 100 == ready.expect:
                self.write_ahead(ready.wire)
        self.last = monotonic()
        # This read took all there was (less than it asked, nothing held by TLS).
        self.drained = len(data) < RECV_SIZE and not self.tls
        try:
            if not (self.drained and self.take_whole(data)):
                self.parser.feed(data)
                if self.streaming is not None or self.early:
                    self._spoke_during_body()
                    return
                self._take_replies()
            # After the 2xx to the end of data the next message's envelope, which may
            # be out already (its bookkeeping, then, is all that is left).
            if not self.dead and (self.wrote_ahead or not self.busy):
                self.start_next()
            prepare(self)
        finally:
            self.drained = False

    def _spoke_during_body(self) -> None:
        """Bytes while the body was going out: no answer to our end of data.  Stop
        writing, read that reply (within the timeout) and drop the line."""
        self.early = True
        self.body, self.out, self.sent = None, b"", 0
        flight = self.streaming
        reply = self._next_reply()
        if reply is None or flight is None:
            return  # the rest of the reply is still coming
        self.fleet.done(flight.index, answered_early(reply, flight.transaction))
        self.streaming = None
        self.expected = collections.deque(
            entry for entry in self.expected if entry[1] is not flight
        )
        self.close()

    def _unasked(self, flight: Flight, about_to: str) -> None:
        """Bytes no command asked for, before we say ``about_to``: refuse to go on."""
        self.fleet.done(
            flight.index,
            flight.error(
                ProtocolError(
                    f"the server sent a reply before we said {about_to!r}; refusing to go on",
                    command=about_to,
                    reply=self.parser.partial,
                )
            ),
        )
        self.close()

    # ------------------------------------------------------------------ the end
    def _hung_up(self) -> None:
        try:
            last = self.parser.end_of_input()  # a last reply without its line end
        except ReplyFormatError:
            last = None
        if last is not None and self.expected and self.streaming is None:
            self._dispatch(last)
            if self.dead:
                return
        command = self._waiting_for()
        self.fail(
            ServerDisconnectedError(
                "the server closed the connection" + said(command),
                command=command,
                reply=self.parser.partial,
            )
        )

    def time_out(self) -> None:
        self.fail(_timed_out(self._waiting_for()))

    def fail(self, error: SMTPError, first: Optional[Flight] = None) -> None:
        """The connection is gone (or must go): every message on it is lost, each with
        its own stage, to the fleet, which resends those certainly not delivered."""
        flights: List[Flight] = [first] if first is not None else []
        if self.streaming is not None and self.streaming not in flights:
            flights.append(self.streaming)
        for _, flight in self.expected:
            if flight is not None and flight not in flights:
                flights.append(flight)
        self.expected.clear()
        self.streaming = None
        self.close()
        for number, flight in enumerate(flights):
            lost = error if number == 0 else copy_error(error)
            if flight.replies:  # a reply to part of a group (a 421 and the end) says more
                group = flight.groups[flight.group]
                failure, _ = flight.transaction.answer_group(group, flight.replies)
                if failure is not None:
                    lost = refusal(failure)
            self.fleet.lost(flight, flight.error(lost))

    def close(self) -> None:
        """Drop the line; a message still on it is the fleet's through :meth:`fail`."""
        if self.dead:
            return
        self.dead = True
        self.early = False
        self.writing = False
        self.body, self.out, self.sent = None, b"", 0
        pending = [flight for _, flight in self.expected if flight is not None]
        if self.streaming is not None:
            pending.append(self.streaming)
        self.expected.clear()
        self.streaming = None
        self.ready, self.wrote_ahead = None, False
        self.fleet.closing(self)
        self.session.close()
        if self.held is not None:  # taken early; at most its MAIL FROM went out
            self.fleet.give_back(self.held)
            self.held = None
        for flight in dict.fromkeys(pending):  # behind a message whose failure dropped it
            self.fleet.lost(
                flight,
                flight.error(
                    ServerDisconnectedError(
                        "the connection was dropped after a failure of an earlier message; "
                        "this one was not sent",
                        command=flight.groups[0][0].line,
                    )
                ),
            )


def _timed_out(command: str) -> SMTPError:
    from ..errors import SMTPTimeoutError

    return SMTPTimeoutError(
        "the server did not answer in time while waiting for the reply" + said(command),
        command=command,
    )


def copy_error(error: SMTPError) -> SMTPError:
    """The same failure for another message, which gets its own stage."""
    import copy

    twin = copy.copy(error)
    twin.stage = None
    return twin
