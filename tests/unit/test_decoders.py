"""The decoders beside the encoders (issue 22 item 17): Allegro's qp-decode-string,
qp-decode-usb8, qp-decode-stream, excl's base64-decode-stream and the macro
with-decoded-part-body-stream.  Round trips are checked against the ported encoders.
"""

# Expected values are worked out by hand from Franz's imap repository,
# mime-transfer-encoding.cl (commit 0067fbb): qp-decode-stream (lines 134-189),
# qp-decode-usb8 (197-270), qp-decode-string (272-286), with-decoded-part-body-stream and
# mime-decode-transfer-encoding (290-326); and from Allegro's documentation of
# excl:base64-decode-stream.

from __future__ import annotations

import io
from email import message_from_bytes, policy

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from post_office import (
    Keyword,
    MimeError,
    base64_decode_stream,
    base64_encode_stream,
    make_mime_part,
    qp_decode_stream,
    qp_decode_string,
    qp_decode_usb8,
    qp_encode_stream,
    with_decoded_part_body_stream,
)


def qp_stream(data: bytes, count: object = None) -> bytes:
    out = io.BytesIO()
    assert qp_decode_stream(io.BytesIO(data), out, count=count) is True  # Allegro returns t
    return out.getvalue()


def b64_stream(data: bytes, **keywords: object) -> bytes:
    out = io.BytesIO()
    base64_decode_stream(io.BytesIO(data), out, **keywords)  # type: ignore[arg-type]
    return out.getvalue()


# --------------------------------------------------------------------------- quoted-printable


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"caf=E9 ok", b"caf\xe9 ok"),
        (b"lower=e9", b"lower\xe9"),  # *qp-digit-values* (lines 119-132) reads a-f too
        # line 163-166: a stray "=" at the end is written, and decoding stops
        (b"a=", b"a="),
        # lines 179-185: an invalid escape is written as its three bytes, and the third
        # is not read again (the "=" of "=41" here is the third byte of "=Z=")
        (b"=Z=41", b"=Z=41"),
        (b"==41", b"==41"),
        (b"=4", b"=4"),  # truncated at the end: both bytes (line 183, EOF)
        # lines 167-172: "=" then LF, CR LF or a lone CR is a soft line break
        (b"soft=\nbreak", b"softbreak"),
        (b"soft=\r\nbreak", b"softbreak"),
        (b"soft=\rbreak", b"softbreak"),
        (b"hard\r\nbreak\n", b"hard\r\nbreak\n"),
        (b"under_score", b"under_score"),  # no :underscores-are-spaces in the stream
    ],
)
def test_qp_decode_stream_as_allegro(encoded: bytes, decoded: bytes) -> None:
    assert qp_stream(encoded) == decoded


def test_qp_decode_stream_ends_at_count() -> None:
    # line 146-149: :count bounds the bytes read; the rest stays in the stream
    source = io.BytesIO(b"ab=41cd")
    out = io.BytesIO()
    qp_decode_stream(source, out, count=5)
    assert out.getvalue() == b"abA"
    assert source.read() == b"cd"


def test_qp_decode_stream_escape_split_across_blocks() -> None:
    # an escape that straddles two reads of the stream decodes as one
    data = b"x" * ((1 << 16) - 1) + b"=41=\r\n" + b"y"
    assert qp_stream(data) == b"x" * ((1 << 16) - 1) + b"Ay"


def test_qp_decode_usb8_values_and_bounds() -> None:
    # lines 197-270: Allegro's two values, the array and the end of what was written
    out, end = qp_decode_usb8(b"caf=E9_x")
    assert (bytes(out[:end]), end) == (b"caf\xe9_x", 5 + 1)
    buffer = bytearray(b"__a=41_")  # in place, as Allegro allows ("the same buffer")
    same, end = qp_decode_usb8(buffer, buffer, start1=2, underscores_are_spaces=True)
    assert same is buffer and bytes(buffer[:end]) == b"aA "
    # lines 246-249: "=" CR at the very end: qp-decode-usb8 steps back onto the CR and
    # writes it (qp-decode-stream writes nothing there)
    out, end = qp_decode_usb8(b"a=\r")
    assert bytes(out[:end]) == b"a\r"
    assert qp_stream(b"a=\r") == b"a"


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"start1": 3, "end1": 1}, "start1 must be less than end1"),  # line 213-214
        ({"start2": 5, "end2": 2}, "start2 must be less than end2"),  # line 216-217
        ({"end2": 2}, "Not enough room in output array"),  # line 219-220
        ({"start1": -1}, "start1: expected a non-negative integer, got -1"),
    ],
)
def test_qp_decode_usb8_errors_in_allegros_words(keywords: dict, message: str) -> None:
    with pytest.raises(MimeError, match=message):
        qp_decode_usb8(b"abcd", bytearray(10), **keywords)


def test_qp_decode_string() -> None:
    # lines 272-286: the string as Latin-1 octets, decoded, then :external-format
    assert qp_decode_string("caf=C3=A9") == "café"  # :default is UTF-8 here
    assert qp_decode_string("caf=E9", external_format=":latin1") == "café"
    assert qp_decode_string("caf=E9", external_format=Keyword("latin1")) == "café"
    assert qp_decode_string("Are_you_coming?", underscores_are_spaces=True) == "Are you coming?"
    assert qp_decode_string("a_b") == "a_b"
    assert qp_decode_string("xx=41yy", start=2, end=5) == "A"
    assert qp_decode_string("caf=E9", return_=":usb8") == b"caf\xe9"
    assert qp_decode_string("=Z=41a=") == "=Z=41a="
    assert qp_decode_string("caf=E9") == "caf\ufffd"  # not UTF-8: replaced
    with pytest.raises(MimeError, match="return_: expected one of :string, :usb8"):
        qp_decode_string("x", return_=":vector")


@given(st.binary(max_size=600), st.sampled_from([72, 10, None]))
@example(b"a\r", 72)
@example(b"tab\t\n", 72)
@example(b"=\r\n.", 4)
def test_qp_decode_stream_inverts_qp_encode_stream(data: bytes, wrap_at: object) -> None:
    encoded = io.BytesIO()
    qp_encode_stream(io.BytesIO(data), encoded, wrap_at=wrap_at)  # type: ignore[arg-type]
    # Allegro's encoder writes CR LF as a plain line break (mime-transfer-encoding.cl
    # 71-75 and 98-100), so a CR LF decodes as LF; every other byte comes back.
    assert qp_stream(encoded.getvalue()) == data.replace(b"\r\n", b"\n")
    text = encoded.getvalue().decode("ascii")
    out, end = qp_decode_usb8(encoded.getvalue())
    assert (
        bytes(out[:end]) == qp_decode_string(text, return_=":usb8") == qp_stream(encoded.getvalue())
    )


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=50))
def test_qp_decode_stream_any_input_any_count(data: bytes, count: int) -> None:
    """Decoding never fails, and reading at most ``count`` bytes decodes their prefix as
    a whole decode of that prefix does."""
    assert qp_stream(data, count) == qp_stream(data[:count])


# --------------------------------------------------------------------------- base64


@given(st.binary(max_size=600), st.sampled_from([72, 76, 4, None]))
def test_base64_decode_stream_inverts_base64_encode_stream(data: bytes, wrap_at: object) -> None:
    encoded = io.StringIO()
    base64_encode_stream(io.BytesIO(data), encoded, wrap_at=wrap_at)  # type: ignore[arg-type]
    assert b64_stream(encoded.getvalue().encode("ascii")) == data
    out = io.BytesIO()
    base64_decode_stream(io.StringIO(encoded.getvalue()), out)  # a text stream too
    assert out.getvalue() == data


def test_base64_decode_stream_as_allegro_documents() -> None:
    # excl:base64-decode-stream: non-base64 characters are ignored, "=" ends the data,
    # :count bounds the bytes read, an end inside a group of four is an error
    assert b64_stream(b"Y2Fm\r\nw6k=\r\n") == "café".encode()
    assert b64_stream(b"Y2Fm w6k= trailing junk") == "café".encode()
    assert b64_stream(b"QUJD", count=2, error_p=False) == b""  # not a whole group
    assert b64_stream(b"QUJDREVG", count=4) == b"ABC"
    with pytest.raises(MimeError, match="ends inside a group of four"):
        b64_stream(b"QUJDRA")
    assert b64_stream(b"QUJDRA", error_p=False) == b"ABC"  # stops there, quietly
    with pytest.raises(MimeError, match="ends inside a group of four"):
        b64_stream(b"QUJDR===")


def test_decoders_want_a_binary_outstream() -> None:
    with pytest.raises(MimeError, match="outstream: expected a binary stream"):
        qp_decode_stream(io.BytesIO(b"x"), io.StringIO())
    with pytest.raises(MimeError, match="instream: expected a readable stream"):
        base64_decode_stream(object(), io.BytesIO())


# --------------------------------------------------------------------------- part bodies


def test_with_decoded_part_body_stream_quoted_printable_latin1() -> None:
    # the macro (lines 290-311): the transfer encoding, then the charset's external format
    part = make_mime_part(
        text="caf\xe9 =\n", external_format=":latin1", encoding="quoted-printable"
    )
    body = io.BytesIO(b"caf=E9 =3D=\n\n")
    with with_decoded_part_body_stream(part, body) as s:
        assert s.read() == "café =\n"
    assert not body.closed  # the caller's stream is left open


def test_with_decoded_part_body_stream_us_ascii_is_latin1() -> None:
    # no charset is "us-ascii", which *default-charset-to-ef* (mime-api.cl 357-362) maps
    # to :latin1: every byte is a character
    part = make_mime_part(file=io.BytesIO(b"x"), content_type="application/octet-stream")
    with with_decoded_part_body_stream(part, io.BytesIO(b"Y2Fm6Q==\n")) as s:
        assert s.read() == "café"


def test_with_decoded_part_body_stream_parsed_part_and_count() -> None:
    message = message_from_bytes(
        b'Content-Type: text/plain; charset="utf-8"\n'
        b"Content-Transfer-Encoding: base64\n\nY2Fmw6k=\n--boundary--\n",
        policy=policy.default,
    )
    body = io.BytesIO(b"Y2Fmw6k=\n--boundary--\n")
    with with_decoded_part_body_stream(message, body, count=9) as s:
        assert s.buffer.read() == "café".encode()
    assert body.read() == b"--boundary--\n"  # count: the body's size, no further


def test_with_decoded_part_body_stream_refuses_other_parts() -> None:
    stream = with_decoded_part_body_stream("text", io.BytesIO())
    with pytest.raises(MimeError, match=r"part: expected a MimePart or an email\.message"):
        stream.__enter__()
