"""Envelope address checks (README "Porting notes"): bare ``user@host`` or ``user``, nothing else.

The examples pin each refusal and each accepted form; the properties check that every
bare address passes unchanged, that one forbidden character anywhere is always an
AddressError (never another exception), and that whatever is accepted cannot break the
``MAIL FROM:<...>`` command line it is written into.
"""

from __future__ import annotations

import re
import sys
from typing import List, Optional

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from post_office.errors import AddressError, ArgumentError, PostOfficeError
from post_office.message import addresses
from post_office.message.addresses import check_address, check_recipients, needs_smtputf8, smtp_path

# --------------------------------------------------------------------------- examples

ACCEPTED = [
    "user@host",
    "user",
    "joe@example.com",
    "first.last+tag@mail.example.co.uk",
    "o'brien@example.ie",
    "x!#$%&'*+-/=?^_`{|}~y@example.com",
    "user@localhost",
    "user@[192.0.2.1]",
    "user@[IPv6:2001:db8::1]",
    "Δοκιμή@παράδειγμα.δοκιμή",
    "jörg@bücher.de",
    "用户@例子.广告",
    "अजय@डाटा.भारत",
    "zwnj\u200cjoin@example.com",
    "a@b",
]


@pytest.mark.parametrize("address", ACCEPTED)
def test_bare_addresses_are_returned_unchanged(address: str) -> None:
    assert check_address(address, "to") is address


def test_empty_from_is_the_null_reverse_path_only_when_allowed() -> None:
    assert check_address("", "from_", allow_empty=True) == ""
    with pytest.raises(AddressError, match=r"from_: '' is not a bare address: it is empty"):
        check_address("", "from_")


REFUSED = [
    # (address, words the reason must contain)
    ("Joe <joe@x>", "angle brackets"),
    ("<joe@x>", "angle brackets"),
    ("joe@x>", "angle brackets"),
    ('"Joe" <joe@x>', "angle brackets"),
    ("(Joe) joe@x", "comment"),
    ("joe@x (Joe)", "comment"),
    ("joe(comment)@x", "comment"),
    ("joe @x", "whitespace ' '"),
    (" joe@x", "whitespace"),
    ("joe@x ", "whitespace"),
    ("joe@x\t", "control character '\\t'"),
    ("joe@x\u00a0", "whitespace '\\xa0'"),
    ("joe@x\u2003", "whitespace"),
    ("joe@x\u3000", "whitespace"),
    ("joe@x\u2028", "whitespace"),
    ("joe@x\r\nRCPT TO:<evil@y>", "angle brackets"),
    ("joe@x\r\nDATA", "control character '\\r'"),
    ("joe@x\n", "control character '\\n'"),
    ("joe@x\r", "control character '\\r'"),
    ("jo\x00e@x", "control character '\\x00'"),
    ("joe@x\x7f", "control character '\\x7f'"),
    ("joe@x\x1b", "control character '\\x1b'"),
    ("joe@x\x80", "control character '\\x80'"),
    ("joe@x\x85", "control character '\\x85'"),
    ("joe@x\x9f", "control character '\\x9f'"),
    ("joe@x\u200b", "invisible format character"),
    ("\ufeffjoe@x", "invisible format character"),
    ("joe@x\u202e", "invisible format character"),
    ("joe@x\ud800", "lone surrogate"),
    ("joe@x,ann@y", "comma"),
    ("joe@x;ann@y", "semicolon"),
    ('"joe smith"@x', "double quote"),
    ('"joe@home"@x', "double quote"),
    ("joe\\@x", "backslash"),
    ("@relay:joe@x", "colon"),
    ("group: joe@x;", "semicolon"),
    ("joe@x@y", "more than one '@'"),
    ("joe@@x", "more than one '@'"),
    ("@x", "nothing before the '@'"),
    ("joe@", "nothing after the '@'"),
    ("@", "nothing before the '@'"),
    ("joe@[192.0.2.1", "square brackets"),
    ("joe@x]", "square brackets"),
    ("[joe]@x", "square brackets"),
    ("joe@[a]b", "square brackets"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses_say_why_and_to_use_the_bare_address(address: str, reason: str) -> None:
    with pytest.raises(AddressError) as caught:
        check_address(address, "to[2]")
    message = str(caught.value)
    assert message.startswith(f"to[2]: {address!r} is not a bare address: ")
    assert reason in message
    assert "use the bare address, e.g. " in message


@pytest.mark.parametrize(
    ("address", "suggestion"),
    [
        ("Joe <joe@x>", "joe@x"),
        ('"Smith, Joe" <joe.smith@example.com>', "joe.smith@example.com"),
        ("<joe@x>", "joe@x"),
        ("(Joe) joe@x", "joe@x"),
        ("joe@x (Joe)", "joe@x"),
        ("joe@x\n", "joe@x"),
        ("  joe@x  ", "joe@x"),
        ("Jörg <jörg@bücher.de>", "jörg@bücher.de"),
        # Nothing recoverable: the generic example.
        ("Joe <joe smith@x>", "user@host"),
        ("joe@x@y", "user@host"),
        ("joe@x\r\nDATA", "user@host"),
        ("<>", "user@host"),
    ],
)
def test_the_suggestion_is_the_bare_address_when_one_can_be_seen(
    address: str, suggestion: str
) -> None:
    with pytest.raises(AddressError) as caught:
        check_address(address, "from_")
    assert str(caught.value).endswith(f"use the bare address, e.g. {suggestion!r}")


@pytest.mark.parametrize("value", [None, b"joe@x", bytearray(b"joe@x"), 42, ["joe@x"], object()])
def test_a_non_string_address_is_an_address_error_saying_a_str_was_expected(
    value: object,
) -> None:
    with pytest.raises(AddressError) as caught:
        check_address(value, "from_")
    message = str(caught.value)
    expected = f"from_: expected a str holding a bare address, got {type(value).__name__}"
    assert message.startswith(expected)
    assert "use the bare address, e.g. 'user@host'" in message


def test_address_error_is_a_value_error_and_an_argument_error() -> None:
    with pytest.raises(ValueError):
        check_address("a b", "to")
    with pytest.raises(ArgumentError):
        check_address(None, "to")
    assert issubclass(AddressError, PostOfficeError)


def test_a_long_value_is_shown_shortened() -> None:
    with pytest.raises(AddressError) as caught:
        check_address("x" * 100_000 + " @y", "to")
    assert len(str(caught.value)) < 400


# --------------------------------------------------------------------------- recipients


def test_a_string_recipient_becomes_a_one_element_list() -> None:
    assert check_recipients("joe@x") == ["joe@x"]


@pytest.mark.parametrize("to", [["a@x", "b@y", "c"], ("a@x", "jörg@bücher.de")])
def test_a_list_or_tuple_of_recipients_becomes_a_list(to: List[str]) -> None:
    assert check_recipients(to) == list(to)


def test_each_recipient_is_named_by_its_index() -> None:
    with pytest.raises(AddressError, match=r"^to\[2\]: 'Ann <ann@y>' is not a bare address"):
        check_recipients(["a@x", "b@x", "Ann <ann@y>"])
    with pytest.raises(AddressError, match=r"^cc\[1\]: expected a str holding a bare address"):
        check_recipients(["a@x", None], "cc")


def test_a_single_bad_recipient_string_is_named_by_the_argument() -> None:
    with pytest.raises(AddressError, match=r"^bcc: 'a@x, b@y' is not a bare address"):
        check_recipients("a@x, b@y", "bcc")


@pytest.mark.parametrize("to", [[], ()])
def test_no_recipients_is_an_address_error(to: object) -> None:
    expected = r"^to should be a string or list, not an empty (list|tuple) \(no recipients\)"
    with pytest.raises(AddressError, match=expected):
        check_recipients(to)


def test_an_empty_string_recipient_is_refused() -> None:
    with pytest.raises(AddressError, match=r"^to: '' is not a bare address: it is empty"):
        check_recipients("")
    with pytest.raises(AddressError, match=r"^to\[0\]: '' is not a bare address"):
        check_recipients([""])


@pytest.mark.parametrize(
    "to", [None, b"joe@x", 42, {"joe@x"}, {"joe@x": 1}, iter(["joe@x"]), frozenset()]
)
def test_other_recipient_types_are_refused_saying_what_was_expected(to: object) -> None:
    with pytest.raises(AddressError, match=r"^to should be a string or list, not "):
        check_recipients(to)


# --------------------------------------------------------------------------- wire helpers


@pytest.mark.parametrize(
    ("address", "expected"),
    [("joe@x", False), ("user", False), ("", False), ("jörg@x", True), ("joe@bücher.de", True)],
)
def test_needs_smtputf8_when_not_ascii(address: str, expected: bool) -> None:
    assert needs_smtputf8(address) is expected


@pytest.mark.parametrize(
    ("address", "path"), [("joe@x", "<joe@x>"), ("user", "<user>"), ("", "<>")]
)
def test_smtp_path(address: str, path: str) -> None:
    assert smtp_path(address) == path


# --------------------------------------------------------------------------- properties

_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~."
_NON_ASCII_LETTERS = st.characters(
    min_codepoint=0x80, categories=("Lu", "Ll", "Lo", "Lm", "Nd", "Mn")
)
local_parts = st.text(st.sampled_from(_ATEXT) | _NON_ASCII_LETTERS, min_size=1, max_size=40)
labels = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-") | _NON_ASCII_LETTERS,
    min_size=1,
    max_size=20,
)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join) | st.ip_addresses().map(
    lambda ip: f"[{ip}]" if ip.version == 4 else f"[IPv6:{ip}]"
)
bare_addresses = st.builds("{}@{}".format, local_parts, domains) | local_parts

_WHITESPACE = [chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()]
forbidden = (
    st.characters(categories=("Cc",))
    | st.sampled_from(_WHITESPACE)
    | st.sampled_from('<>(),;"\\')
    | st.characters(categories=("Cs",))
)


@given(bare_addresses)
@example("jörg@bücher.de")
@example("user")
def test_every_bare_address_is_accepted_unchanged(address: str) -> None:
    assert check_address(address, "to") is address
    assert check_recipients([address, address]) == [address, address]


@given(bare_addresses, st.data())
@example("joe@x", None)
def test_one_forbidden_character_anywhere_is_an_address_error(
    address: str, data: Optional[st.DataObject]
) -> None:
    if data is None:  # the explicit example: CR LF at the end
        position, bad = len(address), "\r\n"
    else:
        position = data.draw(st.integers(0, len(address)), label="position")
        bad = data.draw(forbidden, label="character")
    spoiled = address[:position] + bad + address[position:]
    with pytest.raises(AddressError) as caught:
        check_address(spoiled, "to[7]")
    assert str(caught.value).startswith("to[7]: ")
    with pytest.raises(AddressError):
        check_recipients(["ok@x", spoiled])


@given(st.text())
@example("")
@example("joe@x\r\n")
@example("\udcff")
def test_any_text_is_returned_unchanged_or_refused_with_address_error(text: str) -> None:
    try:
        result = check_address(text, "to")
    except AddressError as error:
        assert str(error).startswith("to: ")
        assert "use the bare address, e.g. " in str(error)
        return
    assert result is text


@given(st.text())
def test_an_accepted_address_cannot_break_the_command_line(text: str) -> None:
    try:
        check_address(text, "from_", allow_empty=True)
    except AddressError:
        return
    line = f"MAIL FROM:{smtp_path(text)}\r\n".encode()
    assert line.count(b"\r") == line.count(b"\n") == 1
    assert line.count(b"<") == line.count(b">") == 1
    assert line.count(b" ") == 1
    assert not re.search(rb"[\x00-\x1f\x7f]", line[:-2])


@given(
    st.one_of(
        st.none(), st.integers(), st.floats(), st.binary(), st.dictionaries(st.text(), st.text())
    )
)
def test_any_non_string_is_refused_with_address_error(value: object) -> None:
    with pytest.raises(AddressError):
        check_address(value, "from_")
    with pytest.raises(AddressError):
        check_recipients(value)


def _reasons_by_scanning(address: str) -> Optional[str]:
    """The character check written plainly: every form, the colon, then every character
    (``_scan_characters``), in order, for every address.

    ``_character_fault`` decides the common case with shortcuts (one regex for the forms,
    no per-character scan for printable ASCII); this is what the shortcuts must agree with.
    """
    for characters, reason in addresses._FORMS:
        if any(c in address for c in characters):
            return reason
    literal = addresses._DOMAIN_LITERAL.search(address)
    if ":" in (address[: literal.start()] if literal else address):
        return addresses._COLON
    return addresses._scan_characters(address)


@given(st.text() | st.text(st.characters(max_codepoint=127)) | bare_addresses)
@example("a b@c")
@example("a\x7f@c")
@example("user@[IPv6:2001:db8::1]")
@example("user:x@[IPv6:2001:db8::1]")
@example("joe <a,b>")
@example("x\u200b@y")
def test_the_character_check_shortcut_agrees_with_scanning(text: str) -> None:
    assert addresses._character_fault(text) == _reasons_by_scanning(text)
