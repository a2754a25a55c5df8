"""post_office._checks: the helpers every module shares (error-message repr, stream
test, timeout check, loopback test)."""

from __future__ import annotations

import io
import math
from pathlib import PurePosixPath

import pytest

from post_office import Keyword, OptionError
from post_office._checks import check_timeout, is_loopback_host, is_stream, show, type_name


class Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("repr called")

    def __str__(self) -> str:
        raise RuntimeError("str called")


class HostileStr(str):
    def __repr__(self) -> str:
        raise RuntimeError("repr called")


def test_show_uses_repr_of_plain_values() -> None:
    assert show("a\nb") == "'a\\nb'"
    assert show(b"\x00") == "b'\\x00'"
    assert show(None) == "None"
    assert show(3) == "3"
    assert show([1, "x"]) == "[1, 'x']"
    assert show(PurePosixPath("/a")) == "PurePosixPath('/a')"
    assert show(Keyword("utf8")) == "Keyword('utf8')"


@pytest.mark.parametrize(
    "value", [Hostile(), HostileStr("x"), [Hostile()], {"k": Hostile()}, (1, HostileStr("y"))]
)
def test_show_never_calls_user_repr(value: object) -> None:
    text = show(value)
    assert "Hostile" in text and "object>" in text


def test_show_is_bounded_and_cheap() -> None:
    assert len(show("x" * 10_000_000)) <= 120
    assert len(show(list(range(1_000_000)))) <= 120
    assert len(show("x" * 1000, 60)) == 60 and show("x" * 1000, 60).endswith("...")


def test_show_of_an_int_too_long_for_str() -> None:
    assert show(10**5000).startswith("<int")


def test_type_name() -> None:
    assert type_name(1) == "int"
    assert type_name(Hostile()) == "Hostile"


def test_is_stream() -> None:
    assert is_stream(io.BytesIO())
    assert not is_stream(io.BytesIO)  # a class is not a stream
    assert not is_stream("text")


@pytest.mark.parametrize("value", [0, -1, True, False, "5", None, math.nan, Hostile()])
def test_check_timeout_refuses(value: object) -> None:
    with pytest.raises(OptionError, match="a dead server must never hang the caller"):
        check_timeout(value)


def test_check_timeout_accepts_positive_numbers() -> None:
    assert check_timeout(1) == 1.0 and isinstance(check_timeout(1), float)
    assert check_timeout(0.25, "a program that never reads") == 0.25


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.9.8.7", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("example.test", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
