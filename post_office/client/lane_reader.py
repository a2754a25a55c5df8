"""The reading side of a batch's connection: what each reply means to its message
(README "Bulk sending").

:class:`LaneReader` takes the replies a :class:`~post_office.client.lane.Lane` reads,
in order, against what its writer said it waits for: a command of an envelope group,
the end of a message's data, or RSET.  A group's replies are judged together, as
:meth:`~post_office.protocol.transaction.Transaction.answer_group` says (RFC 2920: the
first refusal is the one that counts); a 2xx to the end of data is the message's
success, unless a second reply came behind it (README "Reliability").

A read that is exactly one reply of one line to each reply awaited, each accepting (in
bulk most reads are: the end of one message's data and the next one's MAIL, RCPT and
DATA), is taken in one pass (:meth:`LaneReader.take_whole`): the same steps for each
message, without holding each reply of a group until the group is complete.  Only a read
that emptied the socket is (in plain text: a TLS read does not say so), so no reply can
be waiting behind the last one taken.
"""

from __future__ import annotations

from typing import Deque, Dict, List, Optional, Tuple

from ..errors import ProtocolError
from ..protocol.failures import Failure
from ..protocol.replies import Reply, ReplyFormatError
from ..protocol.transaction import END_OF_DATA
from .connection import said
from .lane_writer import END, GROUP, RSET, Flight, LaneWriter, refusal
from .transfer import two_replies

__all__ = ["LaneReader", "all_accept"]


class LaneReader(LaneWriter):
    """What the replies of one connection of a batch mean (see the module's text)."""

    def take_whole(self, data: bytes) -> bool:
        """Take ``data`` in one pass when it is one accepting reply of one line for each
        reply awaited (the parser is then not fed it); False, and nothing done, when not."""
        if self.streaming is not None or self.early or self.transcript.enabled:
            return False
        replies = self.parser.one_line_replies(data)
        if replies is None or not all_accept(self.expected, replies):
            return False
        expected = self.expected
        for reply in replies:
            if self.dead:  # (all_accept lets only the last reply write, or fail)
                break
            kind, flight = expected.popleft()
            assert flight is not None  # all_accept: no RSET
            if kind == END:
                self._end_reply(flight, reply)
                continue
            group = flight.groups[flight.group]
            flight.transaction.accepted(group[len(flight.replies)])
            flight.replies.append(reply)
            if len(flight.replies) == len(group):
                self._group_done(flight)
        return True

    def _take_replies(self) -> None:
        while not self.dead:
            try:
                reply = self.parser.next_reply()
            except ReplyFormatError as exc:
                self._show()
                command = self._waiting_for()
                self.fail(ProtocolError(exc.what + said(command), command=command, reply=exc.text))
                return
            if reply is None:
                return
            if self.transcript.enabled:
                self._show()
            if not self.expected:
                self._unasked_reply(reply)
                return
            self._dispatch(reply)

    def _dispatch(self, reply: Reply) -> None:
        kind, flight = self.expected.popleft()
        if kind == RSET or flight is None:
            if not 200 <= reply.code < 300:
                self.close()
        elif kind == GROUP:
            self._group_reply(flight, reply)
        else:
            self._end_reply(flight, reply)

    def _group_reply(self, flight: Flight, reply: Reply) -> None:
        replies = flight.replies
        replies.append(reply)
        group = flight.groups[flight.group]
        if len(replies) < len(group):
            return
        flight.replies = []
        failure, drop = flight.transaction.answer_group(group, replies)
        if failure is not None:
            error = flight.error(refusal(failure))
            if failure.code == 421:  # the server is closing (RFC 5321 3.8)
                self.fail(error, flight)
            elif drop:
                self.transcript.note("DATA was accepted after a refusal: dropping the line")
                self.fleet.done(flight.index, error)
                self.close()
            else:
                self.fleet.done(flight.index, error)
                self._write_rset()
            return
        self._group_done(flight)

    def _group_done(self, flight: Flight) -> None:
        """Every command of the flight's group accepted: the next group, or the body."""
        flight.replies = []
        flight.group += 1
        if flight.group < len(flight.groups):
            self._write_group(flight)
        else:
            self._start_body(flight)

    def _end_reply(self, flight: Flight, reply: Reply) -> None:
        # (A read that emptied the socket just now: a look could see only what came
        # in the microseconds since, at the cost of a system call a message.)
        if (
            200 <= reply.code < 300
            and not self.expected
            and (self.parser.buffered or (not self.drained and self._look()))
        ):
            # A second reply behind the 2xx: the 2xx came before the server read our
            # end of data, unless the second is a 421 (it is closing, RFC 5321 3.8).
            second = self._next_reply()
            if second is None or second.code != 421:
                self.fleet.done(flight.index, flight.error(two_replies(second)))
                self.close()
                return
            self.transcript.note("the server is closing the connection (421)")
            self.close()
        try:
            flight.transaction.finish(reply)
        except Failure as failure:
            self.fleet.done(flight.index, flight.error(refusal(failure)))
            return
        self.fleet.done(flight.index, reply)

    def _next_reply(self) -> Optional[Reply]:
        try:
            reply = self.parser.next_reply()
        except ReplyFormatError:
            return None
        self._show()
        return reply

    def _unasked_reply(self, reply: Reply) -> None:
        """A reply while nothing was asked: a 421 is a server closing, anything else a
        server out of step; either way no message of ours is under way."""
        if reply.code == 421:
            self.transcript.note("the server is closing the connection (421)")
        self.close()

    def _show(self) -> None:
        if self.transcript.enabled:
            for line in self.parser.take_raw_lines():
                self.transcript.reply(line)

    def _waiting_for(self) -> str:
        if self.expected:
            kind, flight = self.expected[0]
            if kind == RSET or flight is None:
                return "RSET"
            if kind == END:
                return END_OF_DATA
            return flight.groups[flight.group][len(flight.replies)].line
        return self._sending()


def all_accept(expected: Deque[Tuple[int, Optional[Flight]]], replies: List[Reply]) -> bool:
    """Whether ``replies`` are one for each reply ``expected`` waits for, in order, and
    each accepts what it answers; every group they answer is answered by them alone (a
    group begun in an earlier read is judged whole, as it comes, by the usual path), and
    may be completed (so that the lane writes again) only by the last of them."""
    if len(replies) != len(expected):
        return False
    last = len(replies) - 1
    taken: Dict[int, int] = {}  # replies to a flight's group so far, by its place in the batch
    for number, (reply, (kind, flight)) in enumerate(zip(replies, expected)):
        if flight is None or kind == RSET:
            return False
        if kind == END:
            if not 200 <= reply.code < 300:
                return False
            continue
        if flight.replies:  # some of its group's replies came before, unjudged
            return False
        place = taken.get(flight.index, 0)
        group = flight.groups[flight.group]
        if not group[place].accepts(reply) or (place + 1 == len(group) and number != last):
            return False
        taken[flight.index] = place + 1
    return True
