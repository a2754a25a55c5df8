"""Many messages over up to N connections, driven from one thread (README "Bulk sending").

:class:`Fleet` is what ``SmtpSession.send_many`` runs (and ``send_smtp`` on a session,
as a batch of one): it opens connections as the batch needs them (up to the session's
``connections``), gives each a :class:`~post_office.client.lane.Lane`, and waits on all
their sockets at once with one ``poll(2)`` (:class:`Watch`): no thread per connection,
and a lane takes the next message as soon as its connection is free, so a slow
connection holds back only its own messages.  When one lane alone waits, for a reply
and with nothing to write, it waits in its read instead (plain text, on Linux:
:meth:`~post_office.client.lane.Lane.wait_for_reply`): one system call a reply, not two.

Every message gets one outcome, in the caller's order.  A message lost with its
connection (dropped, a 421, or a timeout) goes again, once, on another connection when
its stage says the server certainly does not have it (:attr:`Stage.may_have_delivered`
is false: the server discards a transaction whose data never ended, RFC 5321 4.1.1.4);
any other is reported as it is, so nothing is sent twice.  The waits are bounded: each
connection's ``timeout`` without progress, and the batch's ``total_timeout``.
"""

from __future__ import annotations

import collections
import math
import select
from time import monotonic
from typing import TYPE_CHECKING, Callable, Deque, Dict, List, Optional, Sequence, Set, Tuple

from ..errors import ServerDisconnectedError, SMTPError, SMTPTimeoutError, with_stage
from ..protocol.stage import Stage
from .lane import Flight, Lane, copy_error
from .lane_writer import DONTWAIT, LaneWriter
from .session import Session

if TYPE_CHECKING:
    from .transfer import Item, Outcome

__all__ = ["Fleet", "Pool"]

#: Opens (or reuses, when still alive) the connection of one slot: 0 is the session's own.
Opener = Callable[[int], Session]


def _resend(error: SMTPError) -> bool:
    """Whether a message lost with its connection can go again: the connection is gone
    (or was closing), and the message had not started its body."""
    if error.stage is None or error.stage.may_have_delivered:
        return False
    gone = isinstance(error, (ServerDisconnectedError, SMTPTimeoutError))
    return gone or error.code == 421


class Pool:
    """The lanes of a session, kept from one batch to the next with the one wait on
    their sockets: a connection's lane is made once, not once per message."""

    def __init__(self) -> None:
        self.lanes: Dict[int, Lane] = {}  # by slot
        self.watch = Watch()


class Fleet:
    """One batch (see the module's text)."""

    def __init__(
        self,
        opener: Opener,
        limit: int,
        items: Sequence[Item],
        total_timeout: Optional[float] = None,
        pool: Optional[Pool] = None,
    ) -> None:
        self.opener = opener
        self.limit = limit
        self.queue: Deque[Tuple[int, Item]] = collections.deque(enumerate(items))
        self.results: List[Optional[Outcome]] = [None] * len(items)
        self.retried: set[int] = set()
        pool = pool if pool is not None else Pool()
        self.lanes = pool.lanes
        self.watch = pool.watch
        for lane in self.lanes.values():
            if lane.dead:
                continue
            if lane.session.connection is not lane.connection or not lane.connection.open:
                self.watch.remove(lane)  # its connection was closed outside a batch
                lane.dead = True
            else:
                lane.fleet = self
        self.opens_left = limit + len(items)  # every reopen follows a lost message
        self.cannot_open: Optional[SMTPError] = None
        self.deadline = monotonic() + total_timeout if total_timeout is not None else None
        self.expired = False
        self.reads_may_wait = bool(DONTWAIT) and not _timer_handled()

    # ------------------------------------------------------------------ what lanes call
    def take(self) -> Optional[Tuple[int, Item]]:
        return self.queue.popleft() if self.queue else None

    def done(self, index: int, outcome: Outcome) -> None:
        self.results[index] = outcome

    def lost(self, flight: Flight, error: SMTPError) -> None:
        if not self.expired and flight.index not in self.retried and _resend(error):
            self.retried.add(flight.index)
            self.queue.appendleft((flight.index, flight.item))
            return
        self.done(flight.index, error)

    def give_back(self, flight: Flight) -> None:
        """A message a lane took early and never sent: first in line again."""
        self.queue.appendleft((flight.index, flight.item))

    def want_write(self, lane: LaneWriter, on: bool) -> None:
        self.watch.write(lane, on)
        lane.writing = on

    def closing(self, lane: Lane) -> None:
        self.watch.remove(lane)

    # ------------------------------------------------------------------ the loop
    def run(self) -> List[Outcome]:
        """Send every item; one outcome per item, in order."""
        try:
            watch = self.watch
            busy = self._staff()
            while busy:
                now = monotonic()  # one clock read a turn, after the lanes were staffed
                # The first moment a lane can time out, or the batch: before it none has.
                if len(busy) == 1:
                    expiry = busy[0].last + busy[0].timeout
                else:
                    expiry = min(lane.last + lane.timeout for lane in busy)
                if self.deadline is not None and self.deadline < expiry:
                    expiry = self.deadline
                if now >= expiry:
                    self._check_time(busy)
                elif (
                    len(busy) == 1
                    and busy[0].waits_in_read
                    and not busy[0].writing
                    and self.reads_may_wait
                ):
                    busy[0].wait_for_reply(expiry - now)  # one lane waits for a reply
                else:
                    lanes = watch.lanes
                    for fd, mask in watch.wait(expiry - now):
                        lane = lanes.get(fd)
                        if lane is None:
                            continue  # closed by the lane of an event before this one
                        if mask & _READ and not lane.dead:
                            lane.readable()
                        if mask & _OUT and not lane.dead:
                            lane.flush()
                busy = self._staff()
        except BaseException:
            for lane in self.lanes.values():
                lane.abandon()
            raise
        outcomes = [outcome for outcome in self.results if outcome is not None]
        assert len(outcomes) == len(self.results)
        return outcomes

    def _staff(self) -> List[Lane]:
        """Give idle lanes the queued messages, opening connections as the queue needs
        them; the lanes with something under way (none: all is done)."""
        queue = self.queue
        while True:
            busy: List[Lane] = []
            live = 0
            for lane in self.lanes.values():
                if lane.dead:
                    continue
                live += 1
                if queue and not lane.busy:
                    lane.start_next()
                if not lane.dead and lane.busy:
                    busy.append(lane)
            if busy:
                if not queue or live >= self.limit or not self._open():
                    return busy
                continue
            if not queue:
                return busy
            if not self._open():  # nothing live, messages waiting, no connection to be had
                self._give_up()
                return busy

    def _open(self) -> bool:
        """One more connection, in the first free slot (blocking: greeting, EHLO, TLS,
        AUTH); False when none can be opened."""
        if self.cannot_open is not None or self.opens_left <= 0:
            return False
        if self.deadline is not None and monotonic() >= self.deadline:
            self.cannot_open = _out_of_time()  # no new connection once the time is up
            return False
        slot = next(slot for slot in range(self.limit + 1) if self._free(slot))
        if slot >= self.limit:
            return False
        self.opens_left -= 1
        try:
            session = self.opener(slot)
        except SMTPError as exc:
            self.cannot_open = exc
            return False
        lane = Lane(session, self)
        self.lanes[slot] = lane
        self.watch.add(lane)
        lane.start_next()
        return True

    def _free(self, slot: int) -> bool:
        lane = self.lanes.get(slot)
        return lane is None or lane.dead

    def _give_up(self) -> None:
        """No connection can be had: every message still queued is reported unsent."""
        error = self.cannot_open or ServerDisconnectedError(
            "no connection to the server could be kept open; the message was not sent"
        )
        while self.queue:
            index, _ = self.queue.popleft()
            self.done(index, with_stage(copy_error(error), Stage.BEFORE_MAIL))

    def _check_time(self, busy: Sequence[Lane]) -> None:
        now = monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.expired = True
            for lane in busy:
                if not lane.dead:
                    lane.fail(
                        SMTPTimeoutError(
                            "the time for the whole batch (total_timeout) ran out",
                            command=lane.connection.last_command,
                        )
                    )
            self.cannot_open = _out_of_time()
            self._give_up()
            return
        for lane in busy:
            if not lane.dead and lane.busy and now - lane.last >= lane.timeout:
                lane.time_out()


_IN = getattr(select, "POLLIN", 1) | getattr(select, "POLLPRI", 2)
_OUT = getattr(select, "POLLOUT", 4)
_READ = ~_OUT  # anything but room to write: data, an end of file, a reset, an error


class Watch:
    """The sockets of a batch and one wait on all of them: ``poll(2)``, whose
    registrations cost no system call (epoll's would cost two per connection per
    batch), or ``select()`` where there is no poll.  An end of file, a reset or an error
    counts as readable: the lane's read says which."""

    def __init__(self) -> None:
        self.lanes: Dict[int, Lane] = {}  # by file descriptor
        self.writing: Set[int] = set()
        self.poll = select.poll() if hasattr(select, "poll") else None

    def add(self, lane: Lane) -> None:
        self.lanes[lane.fd] = lane
        if self.poll is not None:
            self.poll.register(lane.fd, _IN)

    def write(self, lane: LaneWriter, on: bool) -> None:
        if on:
            self.writing.add(lane.fd)
        else:
            self.writing.discard(lane.fd)
        if self.poll is not None:
            self.poll.modify(lane.fd, _IN | _OUT if on else _IN)

    def remove(self, lane: Lane) -> None:
        if self.lanes.pop(lane.fd, None) is not None and self.poll is not None:
            self.poll.unregister(lane.fd)
        self.writing.discard(lane.fd)

    def wait(self, timeout: float) -> List[Tuple[int, int]]:
        """Up to ``timeout`` seconds for the sockets with something to do: each file
        descriptor with poll's mask (``POLLOUT`` for room to write, any other bit for
        something to read), as :meth:`select.poll.poll` gives them."""
        if self.poll is not None:
            return self.poll.poll(math.ceil(max(timeout, 0.0) * 1000))
        readable, writable, _ = select.select(
            list(self.lanes), list(self.writing), [], max(timeout, 0)
        )
        masks = dict.fromkeys(readable, _IN)
        for fd in writable:
            masks[fd] = masks.get(fd, 0) | _OUT
        return list(masks.items())


#: The signals of the interval timers (``setitimer``): what can keep coming, from within
#: the process, faster than a wait's limit.
_TIMER_SIGNALS = ("SIGALRM", "SIGVTALRM", "SIGPROF")


def _timer_handled() -> bool:
    """Whether a Python handler is set for an interval timer's signal.  Python starts a
    read that a handled signal interrupted over with the socket's whole limit (PEP 475),
    so a timer firing faster than that limit would keep a wait in the read from ending;
    ``poll``'s wait is counted down instead, and then the lanes wait in ``poll``."""
    import signal

    for name in _TIMER_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None and callable(signal.getsignal(number)):
            return True
    return False


def _out_of_time() -> SMTPTimeoutError:
    return SMTPTimeoutError(
        "the time for the whole batch (total_timeout) ran out before this message was sent; "
        "it was not sent"
    )
