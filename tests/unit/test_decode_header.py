"""decode_header_text, Allegro's decode-header-text (issue 13 item 16)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office import MimeError, decode_header_text
from post_office.message.headers import encode_header_value


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        # t-imap.cl's three test-mime cases
        ("=?utf-8?q?foo?=\n  =?utf-8?q?bar?= baz", "foobar baz"),
        ("before =?utf-8?q?bruce?=    =?utf-8?q?jones?= hello", "before brucejones hello"),
        (
            "=?utf-8?q?=5BFranz_Wiki=5D_Update_of_=22Office/EmployeeDirectory=22_by_St?=\n"
            " =?utf-8?q?eveHaflich?=",
            '[Franz Wiki] Update of "Office/EmployeeDirectory" by SteveHaflich',
        ),
        # more
        ("plain text", "plain text"),
        ("=?UTF-8?B?Y2Fmw6k=?=", "café"),
        ("=?iso-8859-1?Q?caf=E9?= au lait", "café au lait"),
        ("=?utf-8*en?q?hi?=", "hi"),
        ("=?windows-1252?q?=80?=", "€"),
        ("=?utf-8?b?Y2Fmw6k?=", "café"),  # missing padding
        # RFC 2047: white space between an encoded word and plain text is kept (Allegro
        # drops the space after "a" here: README "Differences from Allegro")
        ("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"),
    ],
)
def test_decode_header_text(encoded: str, decoded: str) -> None:
    assert decode_header_text(encoded) == decoded


def test_unknown_charset_raises_with_allegros_wording() -> None:
    with pytest.raises(MimeError, match='No external format found for MIME charset "x-klingon"'):
        decode_header_text("=?x-klingon?q?qapla?=")


def test_not_a_string() -> None:
    with pytest.raises(MimeError, match="first argument expected to be non-nil"):
        decode_header_text(None)  # type: ignore[arg-type]


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=200))
def test_decodes_what_subject_encoding_writes(text: str) -> None:
    value = encode_header_value("Subject", text)
    if "=?" in value:
        assert decode_header_text(value.replace("\n", "")) == text
