"""EHLO replies into typed extensions (RFC 5321 section 4.1.1.1), with no server."""

from __future__ import annotations

import string
from typing import List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office.protocol.extensions import NO_EXTENSIONS, Extensions, parse_ehlo
from post_office.protocol.replies import Reply, ReplyParser


def ehlo(*lines: str, code: int = 250) -> Extensions:
    return parse_ehlo(Reply(code, ("mail.example.test greets you", *lines)))


def test_typical_reply_from_bytes() -> None:
    parser = ReplyParser()
    parser.feed(
        b"250-mail.example.test Hello\r\n"
        b"250-PIPELINING\r\n"
        b"250-SIZE 10240000\r\n"
        b"250-STARTTLS\r\n"
        b"250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
        b"250-ENHANCEDSTATUSCODES\r\n"
        b"250-8BITMIME\r\n"
        b"250 SMTPUTF8\r\n"
    )
    reply = parser.next_reply()
    assert reply is not None
    ext = parse_ehlo(reply)
    assert ext.names == {
        "PIPELINING",
        "SIZE",
        "STARTTLS",
        "AUTH",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "SMTPUTF8",
    }
    assert ext.lines == reply.lines[1:]
    assert ext.size == 10240000
    assert ext.auth == ("PLAIN", "LOGIN", "CRAM-MD5")
    assert ext.pipelining and ext.starttls and ext.smtputf8 and ext.eightbitmime
    assert ext.params["SIZE"] == "10240000"
    assert ext.params["PIPELINING"] == ""
    assert bool(ext)


def test_greeting_line_is_not_an_extension() -> None:
    ext = parse_ehlo(Reply(250, ("PIPELINING",)))
    assert not ext
    assert ext.names == frozenset()
    assert not ext.pipelining


def test_no_extensions() -> None:
    ext = ehlo()
    assert ext.names == frozenset() and ext.lines == ()
    assert not ext
    assert ext.auth == () and ext.size is None
    assert not (ext.starttls or ext.pipelining or ext.smtputf8 or ext.eightbitmime)
    assert not NO_EXTENSIONS and NO_EXTENSIONS.names == frozenset()


@pytest.mark.parametrize("keyword", ["pipelining", "Pipelining", "PIPELINING", "pIpElInInG"])
def test_keywords_in_any_case(keyword: str) -> None:
    ext = ehlo(keyword, "starttls", "SmtpUtf8", "8bitmime")
    assert ext.names == {"PIPELINING", "STARTTLS", "SMTPUTF8", "8BITMIME"}
    assert ext.pipelining and ext.starttls and ext.smtputf8 and ext.eightbitmime
    for name in ("pipelining", "PIPELINING", "Pipelining", "starttls", "8BitMime"):
        assert name in ext
    assert "CHUNKING" not in ext
    assert 42 not in ext  # not a string: simply absent
    assert None not in ext


def test_auth_mechanisms_upper_case_in_server_order() -> None:
    assert ehlo("auth login Plain cram-md5").auth == ("LOGIN", "PLAIN", "CRAM-MD5")
    assert ehlo("AUTH  PLAIN   LOGIN ").auth == ("PLAIN", "LOGIN")


def test_old_auth_form_merged_with_the_new() -> None:
    ext = ehlo("AUTH=LOGIN", "AUTH PLAIN LOGIN")
    assert ext.auth == ("LOGIN", "PLAIN")
    assert "AUTH" in ext and ext.names == {"AUTH"}
    ext = ehlo("AUTH PLAIN LOGIN", "AUTH=LOGIN XOAUTH2")
    assert ext.auth == ("PLAIN", "LOGIN", "XOAUTH2")
    assert ehlo("AUTH=PLAIN").auth == ("PLAIN",)
    assert ehlo("auth=cram-md5", "Auth Plain").auth == ("CRAM-MD5", "PLAIN")


def test_auth_without_mechanisms() -> None:
    ext = ehlo("AUTH")
    assert "AUTH" in ext and ext.auth == ()


@pytest.mark.parametrize(
    ("line", "size"),
    [
        ("SIZE 10240000", 10240000),
        ("size 1", 1),
        ("SIZE 0", None),  # RFC 1870: 0 means no fixed limit
        ("SIZE 000", None),
        ("SIZE 007", 7),
        ("SIZE", None),  # offered, no limit given
        ("SIZE  35882577 ", 35882577),
        ("SIZE abc", None),
        ("SIZE -5", None),
        ("SIZE 1.5", None),
        ("SIZE 10 20", None),
        ("SIZE=2048", 2048),
        ("SIZE 99999999999999999999", 99999999999999999999),
    ],
)
def test_size(line: str, size: object) -> None:
    ext = ehlo(line)
    assert "SIZE" in ext
    assert ext.size == size


def test_size_absent() -> None:
    assert ehlo("PIPELINING").size is None


@pytest.mark.parametrize("value", ["\u00b2", "1\u00b2", "\u2460"])
def test_size_with_non_ascii_digits_is_ignored(value: str) -> None:
    assert ehlo(f"SIZE {value}").size is None


def test_size_with_thousands_of_digits_is_ignored() -> None:
    ext = ehlo("SIZE " + "9" * 5000)  # fits well within one reply line (MAX_LINE)
    assert ext.size is None


@pytest.mark.parametrize("code", [421, 451, 500, 502, 550, 554])
def test_other_replies_give_no_extensions(code: int) -> None:
    ext = ehlo("PIPELINING", "SIZE 100", "AUTH PLAIN", code=code)
    assert ext is NO_EXTENSIONS
    assert not ext and ext.auth == () and ext.size is None and "PIPELINING" not in ext


def test_refusal_gives_no_extensions() -> None:
    ext = ehlo("PIPELINING", "STARTTLS", code=502)
    assert not ext and "PIPELINING" not in ext and not ext.starttls


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "!!!", "-DASH-FIRST", "_UNDERSCORE", "X_BAD", "\u00c4\u00d6\u00dc", "SIZE\t100"],
)
def test_garbage_lines_are_ignored(garbage: str) -> None:
    ext = ehlo("PIPELINING", garbage, "8BITMIME")
    assert ext.names == {"PIPELINING", "8BITMIME"}
    assert garbage in ext.lines  # the raw lines stay as the server sent them


def test_keyword_with_digits_and_hyphens() -> None:
    ext = ehlo("X-EXPS GSSAPI NTLM", "X-LINK2STATE", "DSN", "BINARYMIME")
    assert ext.names == {"X-EXPS", "X-LINK2STATE", "DSN", "BINARYMIME"}
    assert ext.params["X-EXPS"] == "GSSAPI NTLM"


def test_later_duplicate_keyword_wins() -> None:
    assert ehlo("SIZE 100", "SIZE 200").size == 200


def test_repr() -> None:
    assert repr(ehlo("size 1", "PIPELINING")) == "Extensions(['PIPELINING', 'SIZE'])"


# --------------------------------------------------------------------------- property

_ALNUM = string.ascii_letters + string.digits
_keyword = st.tuples(st.sampled_from(_ALNUM), st.text(_ALNUM + "-", max_size=15)).map("".join)
_word = st.text(string.ascii_letters + string.digits + string.punctuation, min_size=1, max_size=10)
_param = st.lists(_word, min_size=1, max_size=4).map(" ".join)
_mechanism = st.text(_ALNUM + "-_", min_size=1, max_size=12)


@given(
    pairs=st.lists(
        st.tuples(_keyword.filter(lambda k: k.upper() != "AUTH"), st.none() | _param),
        max_size=12,
        unique_by=lambda pair: pair[0].upper(),  # AUTH, merged from several lines: below
    )
)
def test_any_set_of_keywords_round_trips(pairs: List[Tuple[str, Optional[str]]]) -> None:
    keywords = dict(pairs)
    lines = [k if p is None else f"{k} {p}" for k, p in keywords.items()]
    ext = ehlo(*lines)
    assert ext.names == {k.upper() for k in keywords}
    assert ext.lines == tuple(lines)
    for keyword, param in keywords.items():
        assert keyword in ext and keyword.lower() in ext and keyword.upper() in ext
        assert ext.params[keyword.upper()] == (param or "")
    assert bool(ext) == bool(keywords)


@given(
    new=st.lists(_mechanism, max_size=5),
    old=st.lists(_mechanism, max_size=5),
)
def test_auth_mechanisms_from_both_forms(new: List[str], old: List[str]) -> None:
    lines = []
    if new:
        lines.append("AUTH " + " ".join(new))
    if old:
        lines.append("AUTH=" + " ".join(old))
    ext = ehlo(*lines)
    expected = list(dict.fromkeys(m.upper() for m in [*new, *old]))
    assert list(ext.auth) == expected
