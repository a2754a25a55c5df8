"""Which commands end their input at a lone "." line, and the guard that finds such a line
in a letter whatever its chunks (README "Differences from Allegro", the ``:program``
transport)."""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office.client.mail_programs import LoneDotGuard, LoneDotLine, ends_input_at_a_dot


@pytest.mark.parametrize(
    "command, expected",
    [
        ("sendmail -t", "sendmail"),
        ("/usr/sbin/sendmail -t", "sendmail"),
        (["/usr/sbin/sendmail", "-t"], "sendmail"),
        ("exec sendmail -t", "sendmail"),
        ("LANG=C sendmail -f me@example.org -t", "sendmail"),
        ("sendmail -fi -t", "sendmail"),  # -f takes "i" as its argument: no -i here
        ("sendmail -f -i -t", "sendmail"),  # "-i" is -f's argument
        ("sendmail.postfix -t", "sendmail.postfix"),
        ("exim4 -t", "exim4"),
        ("sendmail -t -- -i", "sendmail"),  # after "--" it is an address
        ("sendmail -t -i", None),
        ("sendmail -ti", None),
        ("sendmail -it", None),
        ("sendmail -oi -t", None),
        (["exim", "-t", "-oitrue"], None),
        ("cat", None),
        ("msmtp -t", None),
        ("/usr/bin/python3 -c 'pass'", None),
        ("", None),
    ],
)
def test_which_commands_end_at_a_dot(
    command: Union[str, Sequence[str]], expected: Optional[str]
) -> None:
    assert ends_input_at_a_dot(command) == expected


def scan(data: bytes, cuts: List[int]) -> Optional[int]:
    """The lone-dot line the guard reports for ``data`` split at ``cuts``, or None."""
    guard = LoneDotGuard()
    points = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    try:
        for start, end in zip(points, points[1:]):
            guard.check(data[start:end])
        guard.finish()
    except LoneDotLine as found:
        return found.line
    return None


def first_lone_dot(data: bytes) -> Optional[int]:
    """The oracle: the first line that is only "." (LF or CRLF, or the last line)."""
    for number, line in enumerate(re.split(rb"\n", data), start=1):
        if line in (b".", b".\r"):
            return number
    return None


@given(
    st.lists(st.sampled_from([b"a", b".", b"..", b"\n", b"\r", b"\r\n", b"x."]), max_size=40),
    st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_the_guard_finds_a_lone_dot_whatever_the_chunks(
    pieces: List[bytes], cuts: List[int]
) -> None:
    data = b"".join(pieces)
    assert scan(data, cuts) == first_lone_dot(data)


def test_the_guard_on_a_dot_split_over_two_chunks() -> None:
    assert scan(b"Subject: x\n\nbody\n.\nmore\n", [17]) == 4
    assert scan(b"Subject: x\n\nbody\n.\nmore\n", [18]) == 4
    assert scan(b"body\n..\n.x\n", [5]) is None
    assert scan(b"body\n.", [5]) == 2  # the last line, without a line break
