"""net.mail's address functions (issue 16): Allegro's examples, edge cases and properties."""

from __future__ import annotations

import time
from typing import List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office.errors import AddressTypeError, OptionError, PostOfficeError
from post_office.message.netmail import (
    AddressSyntaxError,
    Group,
    Mailbox,
    extract_email_addresses,
    parse_email_address,
)

# --------------------------------------------------------------------------- Allegro's test

LOCAL_64 = "1234567890123456789012345678901234567890123456789012345678901234"


@pytest.mark.parametrize(
    "text, user, domain",
    [
        ("foo@bar.com", "foo", "bar.com"),
        ("layer@franz.com", "layer", "franz.com"),
        ("\n\nlayer@franz.com", "layer", "franz.com"),
        ("\n\nlayer@franz.com\n  \n", "layer", "franz.com"),
        ("\r\rlayer@franz.com\r  \r", "layer", "franz.com"),
        (LOCAL_64 + "@foo.com", LOCAL_64, "foo.com"),
    ],
)
def test_allegro_good_addresses(text: str, user: str, domain: str) -> None:
    assert parse_email_address(text) == (user, domain)


@pytest.mark.parametrize("text", ["@foo.com", LOCAL_64 + "5@foo.com"])
def test_allegro_bad_addresses(text: str) -> None:
    assert parse_email_address(text) == (None, None)


# --------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    "text",
    [
        "Joe <joe@x.example>",
        '"joe"@x.example',
        "joe@[192.0.2.1]",
        "joe@x.example, bob@y.example",
        "jo e@x.example",
        "joe..x@x.example",
        ".joe@x.example",
        "joe@x.example.",
        "joe@",
        "",
        "joe@x@y.example",
        "jo\x01e@x.example",
    ],
)
def test_parse_refuses(text: str) -> None:
    assert parse_email_address(text) == (None, None)


def test_parse_domain_options() -> None:
    assert parse_email_address("joe@localhost") == (None, None)
    assert parse_email_address("joe@localhost", require_dotted_domain=False) == (
        "joe",
        "localhost",
    )
    assert parse_email_address("joe") == (None, None)
    assert parse_email_address("joe", require_domain=False) == ("joe", None)
    assert parse_email_address("joe", require_domain=False, require_dotted_domain=True) == (
        "joe",
        None,
    )
    assert parse_email_address("j.o+e!#$%&'*/=?^_`{|}~-@x.example") == (
        "j.o+e!#$%&'*/=?^_`{|}~-",
        "x.example",
    )
    assert parse_email_address("jöe@bücher.example") == ("jöe", "bücher.example")


def test_parse_needs_a_string() -> None:
    with pytest.raises(AddressTypeError):
        parse_email_address(b"joe@x.example")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- extract


def mb(user: str, domain: Optional[str], name: Optional[str] = None) -> Mailbox:
    return Mailbox(":mailbox", name, user, domain)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("foo@bar.com", [mb("foo", "bar.com")]),
        ("Joe User <joe@x.example>", [mb("joe", "x.example", "Joe User")]),
        ('"User, Joe" <joe@x.example>', [mb("joe", "x.example", '"User, Joe"')]),
        ("Mr. T <mr.t@pity.example>", [mb("mr.t", "pity.example", "Mr. T")]),
        ("<joe@x.example>", [mb("joe", "x.example")]),
        ("joe@x.example (Joe User)", [mb("joe", "x.example", "Joe User")]),
        ("joe@x.example (Joe (the) User)", [mb("joe", "x.example", "Joe (the) User")]),
        ("(comment) joe@x.example", [mb("joe", "x.example")]),
        ('"joe user"@x.example', [mb('"joe user"', "x.example")]),
        ("a@b.example,,, c@d.example", [mb("a", "b.example"), mb("c", "d.example")]),
        ("joe@x.example trailing words", [mb("joe", "x.example")]),
        ("Joe\r\n User <joe@x.example>", [mb("joe", "x.example", "Joe User")]),
        ("a @ b . example", [mb("a", "b")]),  # white space ends a dot-atom
        ("undisclosed-recipients:;", [Group(":group", "undisclosed-recipients", [])]),
        (
            "Team: a@b.example, Bob <c@d.example>; e@f.example",
            [
                Group(":group", "Team", [mb("a", "b.example"), mb("c", "d.example", "Bob")]),
                mb("e", "f.example"),
            ],
        ),
    ],
)
def test_extract(text: str, expected: List[object]) -> None:
    assert extract_email_addresses(text) == expected


def test_extract_entries_are_allegro_lists() -> None:
    (entry,) = extract_email_addresses("Joe <joe@x.example>") or []
    assert entry == (":mailbox", "Joe", "joe", "x.example")
    assert entry.display_name == "Joe"


def test_extract_without_domain() -> None:
    assert extract_email_addresses("joe, bob", require_domain=False) == [
        mb("joe", None),
        mb("bob", None),
    ]
    with pytest.raises(AddressSyntaxError, match=r'^Failed to parse: "joe, bob"$'):
        extract_email_addresses("joe, bob")


def test_extract_compact() -> None:
    text = "T: a@b.example, c@d.example; Joe <e@f.example>"
    assert extract_email_addresses(text, compact=True) == [
        "a@b.example",
        "c@d.example",
        "e@f.example",
    ]
    # Without a required domain a group's name reads as a mailbox first, as in Allegro.
    assert extract_email_addresses("g, T: a@b.example;", compact=True, require_domain=False) == [
        "g",
        "T",
    ]


def test_extract_start_end() -> None:
    text = "To: joe@x.example, bob@y.example"
    assert extract_email_addresses(text, start=4, end=16) == [mb("joe", "x.exampl")]
    assert extract_email_addresses(text, start=19) == [mb("bob", "y.example")]
    for start, end in [(-1, None), (5, 4), (0, 999)]:
        with pytest.raises(OptionError):
            extract_email_addresses(text, start=start, end=end)
    with pytest.raises(OptionError):
        extract_email_addresses(text, start="1")  # type: ignore[arg-type]
    with pytest.raises(AddressTypeError):
        extract_email_addresses(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, message",
    [
        ('"unterminated <joe@x.example>', "Unterminated quoted string"),
        ("joe@x.example (never closed", "Unterminated comment or nesting too deep"),
        ("joe@x.example (a (b (c (d))))", "Unterminated comment or nesting too deep"),
        ("", 'Failed to parse: ""'),
        ('<"x\\y>', "Unterminated quoted string"),
        ('say "hi"', 'Failed to parse: "say \\"hi\\""'),
    ],
)
def test_extract_errors(text: str, message: str) -> None:
    with pytest.raises(AddressSyntaxError) as caught:
        extract_email_addresses(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, (PostOfficeError, ValueError))
    assert extract_email_addresses(text, errorp=False) is None


def test_three_nested_comments_are_fine() -> None:
    assert extract_email_addresses("joe@x.example (a (b (c)))") == [
        mb("joe", "x.example", "a (b (c))")
    ]


def test_extract_is_linear_on_hostile_input() -> None:
    words = "a " * 10_000  # quadratic rescanning would take minutes
    started = time.perf_counter()
    assert len(extract_email_addresses(words, require_domain=False) or []) == 10_000
    assert extract_email_addresses(words + "<x@y.example>") == [mb("x", "y.example", words.strip())]
    assert extract_email_addresses("(" * 50_000, errorp=False) is None
    assert extract_email_addresses('"' + "\\x" * 50_000, errorp=False) is None
    assert time.perf_counter() - started < 3


# --------------------------------------------------------------------------- properties

ATEXT = st.characters(
    blacklist_characters=' ()<>[]:;@\\,."', blacklist_categories=("Cc", "Cs")
).filter(lambda c: ord(c) > 0x1F)
ATOM = st.text(ATEXT, min_size=1, max_size=8)
DOT_ATOM = st.lists(ATOM, min_size=1, max_size=4).map(".".join)
ASCII_ATOM = st.text(
    "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=8
)
ASCII_DOT_ATOM = st.lists(ASCII_ATOM, min_size=1, max_size=4).map(".".join)
DOMAIN = st.lists(ASCII_ATOM, min_size=2, max_size=4).map(".".join)


@given(st.text(max_size=40))
def test_parse_accepts_only_what_round_trips(text: str) -> None:
    parsed = parse_email_address(text, require_domain=False, require_dotted_domain=False)
    if parsed:
        user, domain = parsed
        again = user if domain is None else f"{user}@{domain}"
        assert parse_email_address(again, require_domain=False, require_dotted_domain=False) == (
            user,
            domain,
        )
        assert again == text.strip(" \t\n\r\f\v")


@given(DOT_ATOM, DOT_ATOM, st.sampled_from(["", " ", "\r\n", "\t "]))
def test_parse_reads_every_dot_atom_address(user: str, domain: str, blank: str) -> None:
    parsed = parse_email_address(f"{blank}{user}@{domain}{blank}", require_dotted_domain=False)
    assert parsed == ((user, domain) if len(user) <= 64 else (None, None))


NAME = st.one_of(
    st.none(),
    st.lists(ASCII_ATOM, min_size=1, max_size=3).map(" ".join),
    st.text("abc ,;:<>@xyz", min_size=1, max_size=10).map(lambda s: '"' + s + '"'),
)
MAILBOX = st.tuples(NAME, ASCII_DOT_ATOM, DOMAIN, st.booleans())


def render(name: Optional[str], user: str, domain: str, comment: bool) -> str:
    if name is None:
        return f"{user}@{domain}"
    if comment and not name.startswith('"'):
        return f"{user}@{domain} ({name})"
    return f"{name} <{user}@{domain}>"


@given(
    st.lists(
        st.one_of(
            MAILBOX.map(lambda m: [m]),
            st.tuples(st.just("group"), st.lists(MAILBOX, max_size=3)),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([", ", ",", " ,\r\n ", ",,"]),
)
def test_extract_finds_every_mailbox(items: List[object], separator: str) -> None:
    parts: List[str] = []
    expected: List[Tuple[str, str]] = []
    for item in items:
        if isinstance(item, tuple):
            _, members = item
            parts.append("Group: " + ", ".join(render(*m) for m in members) + ";")
            expected.extend((m[1], m[2]) for m in members)
        else:
            assert isinstance(item, list)
            parts.append(render(*item[0]))
            expected.append((item[0][1], item[0][2]))
    found = extract_email_addresses(separator.join(parts), compact=True)
    assert found == [f"{user}@{domain}" for user, domain in expected]
