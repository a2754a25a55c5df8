"""The MTA-STS parsers (RFC 8461 sections 3.1, 3.2, 4.1): pure, property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office.client.mta_sts import (
    MAX_AGE_LIMIT,
    PolicyError,
    check_mode,
    mx_matches,
    parse_policy,
    parse_txt,
)
from post_office.errors import OptionError

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hostname = st.lists(label, min_size=2, max_size=4).map(".".join)
ident = st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True)


@given(
    st.sampled_from(["enforce", "testing"]),
    st.lists(hostname, min_size=1, max_size=4),
    st.integers(0, MAX_AGE_LIMIT),
    st.sampled_from(["\r\n", "\n"]),
)
def test_policy_round_trip(mode: str, mx: list[str], age: int, newline: str) -> None:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {age}"]
    lines.insert(2, "future_key: ignored")
    assert parse_policy(newline.join(lines) + newline) == (mode, tuple(mx), age)


@given(st.text(max_size=300))
def test_any_text_parses_or_is_a_policy_error(text: str) -> None:
    try:
        mode, mx, age = parse_policy(text)
    except PolicyError:
        return
    assert mode in ("enforce", "testing", "none") and 0 <= age <= MAX_AGE_LIMIT
    assert mx or mode == "none"


@pytest.mark.parametrize(
    "text",
    [
        "mode: enforce\nmx: a.example\nmax_age: 1\n",  # no version
        "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",  # no mx
        "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
        f"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: {MAX_AGE_LIMIT + 1}\n",
        "version: STSv1\ngarbage\n",
    ],
)
def test_bad_policies(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_policy(text)


@given(label, hostname)
def test_wildcard_covers_exactly_one_label(first: str, rest: str) -> None:
    assert mx_matches(f"*.{rest}", f"{first}.{rest}")
    assert mx_matches(f"*.{rest}", f"{first.upper()}.{rest}.")
    assert not mx_matches(f"*.{rest}", rest)
    assert not mx_matches(f"*.{rest}", f"x.{first}.{rest}")
    assert mx_matches(f"{first}.{rest}", f"{first}.{rest}")


@given(ident)
def test_txt_id(found: str) -> None:
    assert parse_txt([f"v=STSv1; id={found};"]) == found
    assert parse_txt(["unrelated", f"v=STSv1;id={found}"]) == found
    assert parse_txt([f"v=STSv1; id={found}", f"v=STSv1; id={found}"]) is None  # two: none
    assert parse_txt([f"v=STSv2; id={found}"]) is None


def test_txt_bad_id() -> None:
    assert parse_txt(["v=STSv1; id=has-dash"]) is None
    assert parse_txt(["v=STSv1"]) is None


def test_check_mode() -> None:
    assert check_mode("Require") == "require"
    with pytest.raises(OptionError, match=r"post_office\.mta_sts is 'on'"):
        check_mode("on")
    with pytest.raises(OptionError, match="a bool"):
        check_mode(True)
