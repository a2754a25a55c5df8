"""make_mime_part, MimePart and with_mime_part_constructed_stream (README "Letters and
attachments"), in memory.

Everything a part produces is parsed back with the standard ``email`` package, the way a
receiving mail program would, and each part's decoded payload compared with the input.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
import tracemalloc
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from support.mail import crlf_free, filename, parse, payload

import post_office
from post_office import (
    HeaderError,
    Keyword,
    MimeError,
    MimePart,
    make_mime_part,
    mime_get_header,
    mime_part_boundary,
    mime_part_constructed_p,
    mime_part_description,
    mime_part_encoding,
    mime_part_headers,
    mime_part_id,
    mime_part_p,
    mime_part_parameters,
    mime_part_parts,
    mime_part_subtype,
    mime_part_type,
    mime_part_writer,
    seed_boundaries,
    with_mime_part_constructed_stream,
)
from post_office.mime.build import BOUNDARY_PREFIX


@pytest.fixture(autouse=True)
def _unseeded() -> Iterator[None]:
    """Every test starts and ends with unpredictable boundaries."""
    seed_boundaries(None)
    yield
    seed_boundaries(None)


def render(part: MimePart) -> bytes:
    with with_mime_part_constructed_stream(part) as stream:
        return stream.read()


# --------------------------------------------------------------------------- defaults


def test_str_text_defaults_to_text_plain_utf8_7bit() -> None:
    part = make_mime_part(text="hello\n")
    assert (part.type, part.subtype, part.encoding) == ("text", "plain", "7bit")
    assert part.parameters == (("charset", "utf-8"),)
    assert part.disposition is None and part.boundary is None
    assert render(part) == (
        b"MIME-Version: 1.0\n"
        b'Content-Type: text/plain;\n    charset="utf-8"\n'
        b"Content-Transfer-Encoding: 7bit\n"
        b"\n"
        b"hello\n"
    )


def test_non_ascii_str_defaults_to_base64() -> None:
    part = make_mime_part(text="grüß dich\n")
    assert part.encoding == "base64"
    message = parse(render(part))
    assert payload(message) == "grüß dich\n".encode()
    assert message.get_content() == "grüß dich\n"


def test_ascii_with_overlong_line_or_nul_is_base64() -> None:
    # RFC 5322/2045: a 7bit body has no line over 998 octets and no NUL.
    assert make_mime_part(text="x" * 999).encoding == "base64"
    assert make_mime_part(text="x" * 998 + "\n" + "y" * 998).encoding == "7bit"
    assert make_mime_part(text="a\x00b").encoding == "base64"


def test_bytes_text_is_octet_stream_base64_inline() -> None:
    part = make_mime_part(text=b"\x00\xffdata")
    assert part.content_type == "application/octet-stream"
    assert part.encoding == "base64"
    assert part.disposition == "inline"  # not text, not an attachment: Allegro's rule
    assert "charset" not in dict(part.parameters)
    assert payload(parse(render(part))) == b"\x00\xffdata"


def test_file_part_defaults(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"plain notes\n")
    part = make_mime_part(file=str(path))
    assert part.content_type == "text/plain"
    assert part.encoding == "base64"  # Allegro: always base64 unless str text
    assert part.parameters == (("charset", "utf-8"),)  # text-type file parts get one too
    assert (part.disposition, part.disposition_name) == ("attachment", "notes.txt")
    message = parse(render(part))
    assert message.get_filename() == "notes.txt"
    assert message.get_content_disposition() == "attachment"
    assert payload(message) == b"plain notes\n"


def test_content_type_from_file_name(tmp_path: Path) -> None:
    for name, expected in [
        ("logo.png", "image/png"),
        ("report.pdf", "application/pdf"),
        ("archive.tar.gz", "application/gzip"),
        ("data.unknown-ext", "application/octet-stream"),
    ]:
        path = tmp_path / name
        path.write_bytes(b"x")
        assert make_mime_part(file=path).content_type == expected, name


def test_stream_file_part_has_no_name_unless_the_stream_has_one(tmp_path: Path) -> None:
    part = make_mime_part(file=io.BytesIO(b"abc"))
    assert part.content_type == "application/octet-stream"
    assert (part.disposition, part.disposition_name) == ("attachment", None)
    path = tmp_path / "page.html"
    path.write_bytes(b"<p>hi</p>")
    with open(path, "rb") as file:
        named = make_mime_part(file=file)
        assert named.content_type == "text/html"
        assert named.disposition_name == "page.html"
        assert payload(parse(render(named))) == b"<p>hi</p>"


def test_subparts_default_to_multipart_mixed_with_boundary_first() -> None:
    part = make_mime_part(subparts=[make_mime_part(text="a")], parameters=[("x-extra", "1")])
    assert part.content_type == "multipart/mixed"
    assert part.encoding is None
    assert part.boundary is not None and part.boundary.startswith(BOUNDARY_PREFIX)
    assert part.parameters == (("boundary", part.boundary), ("x-extra", "1"))


def test_parameter_order_boundary_charset_then_callers() -> None:
    part = make_mime_part(
        content_type="multipart/alternative",
        subparts=[make_mime_part(text="a")],
        charset="utf-8",
        parameters=[("a", "1"), ("b", "2")],
    )
    assert [name for name, _ in part.parameters] == ["boundary", "charset", "a", "b"]


def test_attachmentp_and_name() -> None:
    text_attachment = make_mime_part(text="a,b\n", attachmentp=True, name="t.csv")
    assert (text_attachment.disposition, text_attachment.disposition_name) == (
        "attachment",
        "t.csv",
    )
    assert parse(render(text_attachment)).get_filename() == "t.csv"
    # A text part with a name but no disposition: Allegro writes no filename.
    assert b"filename" not in render(make_mime_part(text="a", name="ignored.txt"))
    inline = make_mime_part(file=io.BytesIO(b"img"), attachmentp=False, name="x.png")
    assert (inline.disposition, inline.disposition_name) == ("inline", "x.png")
    assert parse(render(inline)).get_content_disposition() == "inline"


def test_start_and_end_slice_the_text() -> None:
    assert payload(parse(render(make_mime_part(text="0123456789", start=2, end=5)))) == b"234"
    assert render(make_mime_part(text=b"0123456789", start=7)).endswith(b"Nzg5\n")
    part = make_mime_part(text="äöü", start=1, end=2)  # characters, not bytes
    assert payload(parse(render(part))) == "ö".encode()


def test_external_format_gives_charset_and_bytes() -> None:
    for external_format, charset in [
        (":latin1", "iso-8859-1"),
        (Keyword("latin1"), "iso-8859-1"),
        ("iso8859-15", "iso-8859-15"),
        (":utf8", "utf-8"),
        ("cp1252", "windows-1252"),
        (":shiftjis", "shift_jis"),
        (":ascii", "us-ascii"),
    ]:
        part = make_mime_part(text="abc", external_format=external_format)
        assert dict(part.parameters)["charset"] == charset, external_format
    part = make_mime_part(text="café", external_format=":latin1")
    message = parse(render(part))
    assert payload(message) == "café".encode("latin-1")
    assert message.get_content() == "café"
    assert dict(make_mime_part(text="x", charset="koi8-r").parameters)["charset"] == "koi8-r"


def test_text_stream_file_is_encoded_with_the_external_format() -> None:
    part = make_mime_part(file=io.StringIO("çà\n"), external_format="latin-1")
    assert payload(parse(render(part))) == "çà\n".encode("latin-1")


def test_headers_id_description_and_layout() -> None:
    part = make_mime_part(
        text="body\n",
        headers=[("From", "Test User <user@example.test>"), ("X-Tag", "t")],
        id="<logo@example.test>",
        description="A description",
    )
    assert render(part) == (
        b"MIME-Version: 1.0\n"
        b"From: Test User <user@example.test>\n"
        b"X-Tag: t\n"
        b'Content-Type: text/plain;\n    charset="utf-8"\n'
        b"Content-Transfer-Encoding: 7bit\n"
        b"Content-Id: <logo@example.test>\n"
        b"Content-Description: A description\n"
        b"\n"
        b"body\n"
    )
    assert mime_get_header("from", part) == "Test User <user@example.test>"
    assert mime_get_header("Cc", part) is None
    # a mapping works too
    assert make_mime_part(text="x", headers={"X-A": "1"}).headers == (("X-A", "1"),)


def test_non_ascii_free_text_headers_are_rfc2047_encoded() -> None:
    part = make_mime_part(
        text="x", headers=[("Subject", "Grüße aus Köln")], description="Beschreibung: ü"
    )
    data = render(part)
    assert data.isascii()
    message = parse(data)
    assert message["Subject"] == "Grüße aus Köln"
    assert message["Content-Description"] == "Beschreibung: ü"


def test_golden_multipart_layout() -> None:
    """Allegro's layout, byte for byte, with a fixed boundary."""
    inner = make_mime_part(text="Hello.\n")
    attachment = make_mime_part(
        text=b"\x01\x02\x03", content_type="application/x-thing", attachmentp=True, name="a.bin"
    )
    part = make_mime_part(
        subparts=[inner, attachment], boundary="BOUNDARY", headers=[("Subject", "golden")]
    )
    assert render(part) == (
        b"MIME-Version: 1.0\n"
        b"Subject: golden\n"
        b'Content-Type: multipart/mixed;\n    boundary="BOUNDARY"\n'
        b"\n"
        b"This is a multi-part message in MIME format.\n"
        b"\n--BOUNDARY\n"
        b'Content-Type: text/plain;\n    charset="utf-8"\n'
        b"Content-Transfer-Encoding: 7bit\n"
        b"\n"
        b"Hello.\n"
        b"\n--BOUNDARY\n"
        b"Content-Type: application/x-thing\n"
        b"Content-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment;\n    filename="a.bin"\n'
        b"\n"
        b"AQID\n"
        b"\n--BOUNDARY--\n"
    )
    message = parse(render(part))
    text, binary = message.iter_parts()
    assert payload(text) == b"Hello.\n"
    assert payload(binary) == b"\x01\x02\x03"


def test_nested_multipart_has_no_preamble_or_mime_version() -> None:
    alternative = make_mime_part(
        content_type="multipart/alternative",
        subparts=[
            make_mime_part(text="plain"),
            make_mime_part(text="<b>x</b>", content_type="text/html"),
        ],
        boundary="inner",
    )
    outer = make_mime_part(subparts=[alternative], boundary="outer")
    data = render(outer)
    assert data.count(b"MIME-Version") == 1
    assert data.count(b"This is a multi-part message") == 1
    message = parse(data)
    [alt] = message.iter_parts()
    assert alt.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alt.iter_parts()] == ["text/plain", "text/html"]


# --------------------------------------------------------------------------- encodings


def test_base64_lines_are_72_characters_as_allegro_writes_them() -> None:
    data = os.urandom(54 * 100 + 13)
    body = render(make_mime_part(text=data)).split(b"\n\n", 1)[1]
    lines = body.splitlines()
    assert all(len(line) == 72 for line in lines[:-1]) and 0 < len(lines[-1]) <= 72
    assert base64.b64decode(b"".join(lines)) == data


def test_quoted_printable_round_trip() -> None:
    text = "tab\there  \n" + "ä" * 60 + "\nequals = sign\n." + "x" * 200 + "\nend \r\nlast"
    part = make_mime_part(text=text, encoding="QUOTED-PRINTABLE")
    assert part.encoding == "quoted-printable"
    data = render(part)
    body = data.split(b"\n\n", 1)[1]
    assert body.isascii()
    assert max(len(line) for line in body.split(b"\n")) <= 76
    assert not any(line.endswith((b" ", b"\t")) for line in body.split(b"\n"))
    assert crlf_free(payload(parse(data))) == crlf_free(text.encode())


def test_quoted_printable_from_a_stream_with_huge_lines() -> None:
    text = (b"a" * 200_000 + b"\r\n") * 2 + b"tail \xff"
    part = make_mime_part(file=io.BytesIO(text), encoding="quoted-printable")
    assert crlf_free(payload(parse(render(part)))) == crlf_free(text)


def test_8bit_and_binary_pass_through() -> None:
    part = make_mime_part(text="naïve\n", encoding="8bit")
    assert render(part).endswith("naïve\n".encode())


# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize(
    "name",
    [
        "plain.txt",
        'with "quotes" and \\ backslash.txt',
        "dätä €.bin",
        "日本語のファイル名.pdf",
        "x" * 300 + ".txt",
        "é" * 120 + ".txt",
        "tab\tinside.txt",
    ],
)
def test_file_names_read_back_exactly(name: str) -> None:
    part = make_mime_part(text=b"x", attachmentp=True, name=name)
    data = render(part)
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\n")) <= 998
    message = parse(data)
    assert filename(message) == name


def test_non_ascii_file_name_uses_rfc2231() -> None:
    data = render(make_mime_part(text=b"x", attachmentp=True, name="€.txt"))
    assert b"filename*=utf-8''%E2%82%AC.txt" in data


# --------------------------------------------------------------------------- boundaries


def test_seeded_boundaries_are_deterministic() -> None:
    seed_boundaries(1234)
    first = [make_mime_part(subparts=[]).boundary for _ in range(3)]
    seed_boundaries(1234)
    again = [make_mime_part(subparts=[]).boundary for _ in range(3)]
    assert first == again and len(set(first)) == 3
    seed_boundaries(None)
    assert make_mime_part(subparts=[]).boundary not in first


def test_boundary_is_regenerated_when_text_contains_it() -> None:
    seed_boundaries(99)
    predicted = make_mime_part(subparts=[]).boundary
    assert predicted is not None
    trap = make_mime_part(text=f"look:\n--{predicted}\nnot a boundary\n")
    seed_boundaries(99)
    part = make_mime_part(subparts=[trap])
    assert part.boundary != predicted
    message = parse(render(part))
    [only] = message.iter_parts()
    assert payload(only) == f"look:\n--{predicted}\nnot a boundary\n".encode()


def test_explicit_boundary_collisions_raise() -> None:
    trap = make_mime_part(text="--fixed in the text")
    with pytest.raises(MimeError, match="contains '--fixed'"):
        make_mime_part(subparts=[trap], boundary="fixed")
    qp = make_mime_part(text="--fixed", encoding="quoted-printable")
    with pytest.raises(MimeError):
        make_mime_part(subparts=[qp], boundary="fixed")
    # base64 text has no "-": no collision possible
    make_mime_part(subparts=[make_mime_part(text=b"--fixed")], boundary="fixed")
    inner = make_mime_part(subparts=[], boundary="fixed-inner")
    with pytest.raises(MimeError, match="overlaps"):
        make_mime_part(subparts=[inner], boundary="fixed")
    for bad in ["", "x" * 71, "ends with space ", "semi;colon", 'quote"']:
        with pytest.raises(MimeError, match="boundary"):
            make_mime_part(subparts=[], boundary=bad)
    with pytest.raises(MimeError, match="not a multipart"):
        make_mime_part(text="x", boundary="b")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("keywords", "match"),
    [
        ({"text": "a", "file": io.BytesIO(b"b")}, "Only one of :text or :file may be specified"),
        ({}, "One of :text or :file must be specified"),
        ({"content_type": "text/plain"}, "One of :text or :file"),
        ({"text": "a", "content_type": "text/plain", "subparts": []}, "subparts may not be"),
        ({"text": "a", "subparts": []}, "made of subparts"),
        ({"text": "a", "content_type": "plain"}, "Invalid content-type: 'plain'"),
        ({"text": "a", "content_type": "text/plain; format=flowed"}, "parameters="),
        ({"text": "a", "content_type": "te xt/plain"}, "media type"),
        ({"text": "a", "encoding": "uuencode"}, "is not one of"),
        ({"text": "ä", "encoding": "7bit"}, "8-bit bytes"),
        ({"subparts": [], "encoding": "base64"}, "multipart cannot be base64"),
        ({"subparts": ["text"]}, r"subparts\[0\]"),
        ({"subparts": [], "text": "a", "content_type": "multipart/mixed"}, "made of subparts"),
        ({"text": "abc", "start": 2, "end": 1}, "0 <= start <= end <= 3"),
        ({"text": "abc", "end": 4}, "start"),
        ({"text": "abc", "start": True}, "integer index"),
        ({"file": io.BytesIO(b"x"), "start": 1}, "cannot be used with file"),
        ({"text": 12}, "expected a str or bytes"),
        ({"file": 12}, "file name, a path or a readable stream"),
        ({"text": "x", "external_format": ":klingon"}, "not a text encoding"),
        ({"text": "x", "external_format": "rot13"}, "not a text encoding"),
        ({"text": "€", "external_format": ":latin1"}, "cannot be encoded"),
        ({"text": "x", "charset": "utf 8"}, "charset name"),
        ({"text": "x", "headers": [("Content-Type", "text/html")]}, "writes the Content-Type"),
        ({"text": "x", "id": "<a>", "headers": [("Content-Id", "<b>")]}, "Content-Id"),
        ({"text": "x", "headers": [("X-A", "1", "2")]}, "pair"),
        ({"text": "x", "headers": "X-A: 1"}, "pairs or a mapping"),
        (
            {"text": "x", "charset": "utf-8", "parameters": [("charset", "latin1")]},
            "contradicts the charset keyword",
        ),
        ({"text": "x", "parameters": [("boundary", "b")]}, "boundary= keyword"),
        ({"text": "x", "parameters": [("bad name", "v")]}, "parameter name"),
    ],
)
def test_invalid_keywords_raise_mime_error(keywords: dict, match: str) -> None:
    with pytest.raises(MimeError, match=match):
        make_mime_part(**keywords)


def test_unreadable_file_raises_at_make_time(tmp_path: Path) -> None:
    with pytest.raises(MimeError, match="cannot be read"):
        make_mime_part(file=tmp_path / "missing.bin")
    with pytest.raises(MimeError, match="is a directory, not a file"):
        make_mime_part(file=str(tmp_path))
    closed = io.BytesIO(b"x")
    closed.close()
    with pytest.raises(MimeError, match="closed"):
        make_mime_part(file=closed)


@pytest.mark.parametrize(
    "keywords",
    [
        {"headers": [("Subject", "hi\r\nBcc: victim@example.test")]},
        {"headers": [("X-Evil\nBcc", "x")]},
        {"headers": [("X-A", "line\nbreak")]},
        {"id": "<a@b>\r\nX-Injected: 1"},
        {"description": "d\nX-Injected: 1"},
        {"name": "evil\r\n.txt", "attachmentp": True},
        {"parameters": [("format", "flowed\r\nX: y")]},
    ],
)
def test_header_injection_raises(keywords: dict) -> None:
    with pytest.raises(HeaderError):
        make_mime_part(text="x", **keywords)


# --------------------------------------------------------------------------- accessors


def test_accessors_mirror_allegro() -> None:
    leaf = make_mime_part(text="x", id="<i@x>", description="d", headers=[("X-A", "1")])
    part = make_mime_part(subparts=[leaf], content_type="multipart/related")
    assert (mime_part_type(part), mime_part_subtype(part)) == ("multipart", "related")
    assert mime_part_parts(part) == (leaf,)
    assert mime_part_boundary(part) == part.boundary
    assert mime_part_parameters(part) == (("boundary", part.boundary),)
    assert mime_part_encoding(leaf) == "7bit"
    assert mime_part_id(leaf) == "<i@x>"
    assert mime_part_description(leaf) == "d"
    assert mime_part_headers(leaf) == (("X-A", "1"),)
    assert mime_part_boundary(leaf) is None
    assert mime_part_constructed_p(part) and mime_part_p(leaf)
    assert not mime_part_constructed_p("text") and not mime_part_p(None)
    with pytest.raises(MimeError, match="expected a MimePart"):
        mime_part_type("text/plain")  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        part.parts = ()  # type: ignore[misc]
    assert "multipart/related" in repr(part)


def test_mime_part_writer_binary_and_text_streams() -> None:
    part = make_mime_part(text="hi\n")
    binary = io.BytesIO()
    mime_part_writer(part, binary)
    text = io.StringIO()
    mime_part_writer(part, stream=text)
    assert binary.getvalue() == render(part) == text.getvalue().encode()


# --------------------------------------------------------------------------- streaming


def test_file_part_streams_twice_and_stream_source_once(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"file data")
    from_file = make_mime_part(file=path)
    assert render(from_file) == render(from_file)
    source = io.BytesIO(b"stream data")
    from_stream = make_mime_part(file=source)
    first = render(from_stream)
    assert payload(parse(first)) == b"stream data"
    assert payload(parse(render(from_stream))) == b""  # read once, as in Allegro
    assert not source.closed  # never closed by us


def test_nothing_is_read_until_streamed() -> None:
    source = io.BytesIO(b"abcdef")
    source.seek(2)
    part = make_mime_part(file=source)
    assert source.tell() == 2
    assert payload(parse(render(part))) == b"cdef"  # from where it stood


def test_leaving_the_block_early_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(1 << 20))
    part = make_mime_part(subparts=[make_mime_part(file=path)])
    with with_mime_part_constructed_stream(part) as stream:
        stream.read(1000)  # the file is open now
    assert stream.closed
    # (pytest turns an unclosed file's ResourceWarning into an error.)


def test_stream_supports_readline_and_small_reads() -> None:
    part = make_mime_part(text="one\ntwo\n")
    with with_mime_part_constructed_stream(part) as stream:
        assert stream.readline() == b"MIME-Version: 1.0\n"
        rest = b"".join(iter(lambda: stream.read(3), b""))
    assert rest.endswith(b"one\ntwo\n")


def test_stream_yielding_garbage_raises_while_streaming() -> None:
    class Odd(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> object:  # type: ignore[override]
            return 42

    part = make_mime_part(file=Odd())
    with pytest.raises(MimeError, match="neither str nor bytes"):
        render(part)


def test_a_32_mb_file_is_base64_encoded_in_bounded_memory(tmp_path: Path) -> None:
    """Encode-only: the part is streamed and drained; what comes out is checked.

    The bound is per chunk, so 32 MB (43 MB of base64) is eight times what may be held.
    """
    size = 32 * 1024 * 1024
    path = tmp_path / "big.bin"
    with open(path, "wb") as file:
        file.truncate(size)  # sparse: reads back as zeros without using the disk
        file.seek(size - 5)
        file.write(b"\x01tail")
    part = make_mime_part(file=path, headers=[("Subject", "big")])
    decoded = hashlib.sha256()
    total = 0
    tracemalloc.start()
    try:
        with with_mime_part_constructed_stream(part) as stream:
            head = stream.read(4096)
            header, _, body = head.partition(b"\n\n")
            pending = body
            while True:
                block = stream.read(1 << 16)
                data = pending + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                decoded.update(base64.b64decode(data[:cut].replace(b"\n", b"")))
                total += cut
                pending = data[cut:]
                if not block:
                    break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            expected.update(block)
    assert decoded.hexdigest() == expected.hexdigest()
    full_lines, rest = divmod(size, 54)
    assert total == full_lines * 73 + (len(base64.b64encode(b"x" * rest)) + 1 if rest else 0)
    assert b"Content-Transfer-Encoding: base64" in header
    print(f"peak traced memory {peak} bytes")
    assert peak < 4 * 1024 * 1024, f"peak traced memory {peak} bytes"


# --------------------------------------------------------------------------- round trip

CHARSETS = ["utf-8", "latin-1", "iso8859-15", "cp1252", "shift_jis", "koi8-r", "ascii"]

text_parts = st.builds(
    lambda text, charset, encoding: ("text", text, charset, encoding),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
    st.sampled_from(CHARSETS),
    st.sampled_from([None, "quoted-printable", "base64"]),
)
binary_parts = st.builds(
    lambda data, name: ("binary", data, name, None),
    st.binary(max_size=600),
    st.one_of(
        st.none(),
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40),
    ),
)


def _build(spec: Tuple[str, object, object, object]) -> Tuple[MimePart, bytes, object]:
    kind, value, extra, encoding = spec
    if kind == "text":
        assert isinstance(value, str) and isinstance(extra, str)
        try:
            expected = value.encode(extra)
        except UnicodeEncodeError:
            expected = value.encode("utf-8")
            extra = "utf-8"
        return make_mime_part(text=value, external_format=extra, encoding=encoding), expected, None
    assert isinstance(value, bytes)
    part = make_mime_part(
        text=value, content_type="application/x-test", attachmentp=extra is not None, name=extra
    )
    return part, value, extra


@given(st.lists(st.one_of(text_parts, binary_parts), min_size=1, max_size=5))
@example([("text", "--" + BOUNDARY_PREFIX, "utf-8", None)])
@example([("text", "line\r\n.\r\nFrom x\n", "ascii", "quoted-printable")])
@example([("binary", b"", "=?utf-8?q?x?=", None)])
@example([("text", "ends in a bare CR\r", "utf-8", None), ("text", "\r", "ascii", None)])
def test_round_trip_any_parts(specs: List[Tuple[str, object, object, object]]) -> None:
    built = [_build(spec) for spec in specs]
    part = make_mime_part(subparts=[b[0] for b in built])
    data = render(part)
    message = parse(data)
    assert message.get_content_type() == "multipart/mixed"
    assert not message.defects
    received = list(message.iter_parts())
    assert len(received) == len(built)
    for (sent, expected, name), got in zip(built, received):
        assert got.get_content_type() == sent.content_type
        assert not got.defects
        if sent.type == "text":
            assert got.get_content_charset() == dict(sent.parameters)["charset"]
            assert crlf_free(payload(got)) == crlf_free(expected)
        else:
            assert payload(got) == expected
            assert filename(got) == name
    assert post_office.mime_part_constructed_p(part)
