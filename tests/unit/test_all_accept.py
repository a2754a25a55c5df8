"""Which reads a lane takes in one pass (README "Bulk sending"): one accepting reply for
each reply awaited, with no server."""

from __future__ import annotations

from typing import Deque, List, Optional, Tuple

from hypothesis import given
from hypothesis import strategies as st

from post_office.client.lane_reader import all_accept
from post_office.client.lane_writer import END, GROUP, RSET, Flight
from post_office.protocol.extensions import Extensions
from post_office.protocol.replies import Reply
from post_office.protocol.transaction import Transaction

PIPELINING = Extensions(("PIPELINING",))
LOCKSTEP = Extensions(())
Expected = Deque[Tuple[int, Optional[Flight]]]


def flight(index: int, extensions: Extensions = PIPELINING) -> Flight:
    item = ("from@example.test", ("to@example.test",), ("Subject: x\n\nbody\n",))
    return Flight(index, item, Transaction(*item[:2], extensions, eight_bit=False))


def replies(*codes: int) -> List[Reply]:
    return [Reply(code, ("text",)) for code in codes]


def steady() -> Expected:
    """The end of message 0's data, then message 1's pipelined MAIL, RCPT and DATA."""
    first, second = flight(0), flight(1)
    return Deque([(END, first), (GROUP, second), (GROUP, second), (GROUP, second)])


def test_the_end_of_one_message_and_the_next_envelope_accepted() -> None:
    assert all_accept(steady(), replies(250, 250, 251, 354))


@given(codes=st.lists(st.sampled_from([250, 251, 221, 354, 421, 450, 503, 550]), max_size=6))
def test_taken_only_when_every_reply_accepts_what_it_answers(codes: List[int]) -> None:
    accepting = (
        len(codes) == 4
        and 200 <= codes[0] < 300
        and all(200 <= code < 300 for code in codes[1:3])
        and codes[3] == 354
    )
    assert all_accept(steady(), replies(*codes)) == accepting


def test_a_group_begun_in_an_earlier_read_takes_the_usual_path() -> None:
    # Its earlier replies are judged with the rest of the group when it is complete: a
    # refused RCPT then a 354 to DATA is a refusal (and a line to drop), not a success.
    second = flight(1)
    second.replies = replies(550)
    expected: Expected = Deque([(GROUP, second), (GROUP, second)])
    assert not all_accept(expected, replies(250, 354))
    second.replies = replies(250)
    assert not all_accept(expected, replies(250, 354))


def test_without_pipelining_one_command_at_a_time() -> None:
    lone = flight(0, LOCKSTEP)
    assert all_accept(Deque([(GROUP, lone)]), replies(250))
    lone.group = 2  # DATA
    assert not all_accept(Deque([(GROUP, lone)]), replies(250))
    assert all_accept(Deque([(GROUP, lone)]), replies(354))


def test_rset_and_a_group_finished_before_the_last_reply_take_the_usual_path() -> None:
    assert not all_accept(Deque([(RSET, None)]), replies(250))
    lone = flight(0, LOCKSTEP)
    expected: Expected = Deque([(GROUP, lone), (END, flight(1))])
    assert not all_accept(expected, replies(250, 250))  # MAIL's reply would write RCPT
