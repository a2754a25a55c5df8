"""The DATA encoder (README "Porting notes"): message arguments -> wire bytes, pure and streaming.

The examples pin each rule; the properties check the rules against an independent oracle
(a regex newline normaliser and a line-by-line stuffer) for any input and any split of it
into chunks, since a chunk boundary in the wrong place is where a streaming encoder breaks.
"""

from __future__ import annotations

import array
import email
import email.generator
import email.message
import email.policy
import hashlib
import io
import pathlib
import re
import tracemalloc
from typing import Any, Iterator, List, Optional, Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.oracles import normalise_newlines, unstuff

from post_office.errors import MessageArgumentError
from post_office.message.sources import (
    check_messages,
    encode_data,
    iter_source_chunks,
    known_7bit,
)
from post_office.protocol.data import DotStuffer

# --------------------------------------------------------------------------- oracle

_NEWLINE = re.compile(rb"\r\n|\r|\n")
_BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)


def oracle_normalise(content: bytes) -> bytes:
    """Newlines -> CRLF, written differently from oracles.normalise_newlines on purpose."""
    return _NEWLINE.sub(b"\r\n", content)


def oracle_emitted(content: bytes) -> bytes:
    """What a DotStuffer must have emitted once it was fed ``content`` (before finish):
    every newline as CRLF, one more "." at every line start, nothing held back."""
    return _LINE_START_DOT.sub(b"..", oracle_normalise(content))


def oracle_content(content: bytes) -> bytes:
    """What the receiver must get: CRLF newlines, and a final CRLF when content has none."""
    norm = oracle_normalise(content)
    if norm and not norm.endswith(b"\r\n"):
        norm += b"\r\n"
    return norm


def oracle_wire(content: bytes) -> bytes:
    """The DATA bytes, built line by line: the slow, obviously right version."""
    norm = oracle_content(content)
    if not norm:
        return b".\r\n"
    lines = norm[:-2].split(b"\r\n")
    stuffed = [(b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines]
    return b"".join(stuffed) + b".\r\n"


def wire(*messages: object, chunk_size: int = 1 << 16) -> bytes:
    return b"".join(encode_data(messages, chunk_size))


def stuff_chunks(chunks: Sequence[bytes]) -> bytes:
    stuffer = DotStuffer()
    return b"".join(stuffer.feed(chunk) for chunk in chunks) + stuffer.finish()


def assert_well_formed(out: bytes) -> None:
    """No bare CR/LF anywhere, and exactly one terminator, at the very end."""
    assert _BARE.search(out) is None, out
    assert out.endswith(b".\r\n")
    if out != b".\r\n":
        assert not out.startswith(b".\r\n")
        assert out.find(b"\r\n.\r\n") == len(out) - 5


# --------------------------------------------------------------------------- newlines


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\rb\r", b"a\r\nb\r\n.\r\n"),
        (b"a\r\rb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"a\n\rb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"a\r\n\nb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"\n", b"\r\n.\r\n"),
        (b"\r", b"\r\n.\r\n"),
        (b"\r\n\r\n", b"\r\n\r\n.\r\n"),
        (b"mixed\r\nlf\nbare cr\rend", b"mixed\r\nlf\r\nbare cr\r\nend\r\n.\r\n"),
    ],
)
def test_every_newline_becomes_crlf(content: bytes, expected: bytes) -> None:
    assert wire(content) == expected
    assert normalise_newlines(content) + b".\r\n" == oracle_normalise(content) + b".\r\n"


def test_cr_split_across_chunks_is_one_newline() -> None:
    assert stuff_chunks([b"a\r", b"\nb"]) == b"a\r\nb\r\n.\r\n"
    # An empty chunk in between does not forget the pending CR.
    assert stuff_chunks([b"a\r", b"", b"\nb"]) == b"a\r\nb\r\n.\r\n"
    # A CR then a chunk that is only the LF.
    assert stuff_chunks([b"a\r", b"\n", b"b\r"]) == b"a\r\nb\r\n.\r\n"
    # Two CRs: the first is a bare CR, the second pairs with the LF.
    assert stuff_chunks([b"a\r", b"\r", b"\nb"]) == b"a\r\n\r\nb\r\n.\r\n"
    # A CR at the end of the data is a newline, so no further CRLF is added.
    assert stuff_chunks([b"a\r"]) == b"a\r\n.\r\n"


def test_feed_emits_everything_at_once() -> None:
    """A trailing CR is sent as CRLF straight away; nothing is held back between feeds."""
    stuffer = DotStuffer()
    assert stuffer.feed(b"a\r") == b"a\r\n"
    assert stuffer.feed(b"\n") == b""
    assert stuffer.feed(b"b") == b"b"
    assert stuffer.finish() == b"\r\n.\r\n"


def test_normalise_newlines() -> None:
    assert normalise_newlines(b"") == b""
    assert normalise_newlines(b"a\rb\nc\r\nd\n\r") == b"a\r\nb\r\nc\r\nd\r\n\r\n"


# --------------------------------------------------------------------------- dot-stuffing


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b".x", b"..x\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\n", b"..\r\n.\r\n"),
        (b"..\n", b"...\r\n.\r\n"),
        (b"a\n.\nb\n", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r.b\r\n.c", b"a\r\n..b\r\n..c\r\n.\r\n"),
        (b"a.b\n x.\n", b"a.b\r\n x.\r\n.\r\n"),
        (b"end\n.", b"end\r\n..\r\n.\r\n"),
    ],
)
def test_lines_starting_with_a_dot_get_one_more(content: bytes, expected: bytes) -> None:
    assert wire(content) == expected


def test_dot_at_chunk_start_after_newline_in_previous_chunk() -> None:
    assert stuff_chunks([b"a\n", b".b"]) == b"a\r\n..b\r\n.\r\n"
    assert stuff_chunks([b"a\r\n", b".b"]) == b"a\r\n..b\r\n.\r\n"
    assert stuff_chunks([b"a\r", b".b"]) == b"a\r\n..b\r\n.\r\n"
    assert stuff_chunks([b"a\r", b"\n.b"]) == b"a\r\n..b\r\n.\r\n"
    assert stuff_chunks([b"a\r", b"\n", b".b"]) == b"a\r\n..b\r\n.\r\n"
    assert stuff_chunks([b".", b".", b"\n", b"."]) == b"...\r\n..\r\n.\r\n"


def test_dot_at_chunk_start_inside_a_line_is_left_alone() -> None:
    assert stuff_chunks([b"a", b".b"]) == b"a.b\r\n.\r\n"
    assert stuff_chunks([b"", b".b"]) == b"..b\r\n.\r\n"


def test_a_line_that_is_just_a_dot_cannot_end_the_data() -> None:
    out = wire("first\n.\nlast\n")
    assert out == b"first\r\n..\r\nlast\r\n.\r\n"
    assert_well_formed(out)
    assert wire(".\r\n") == b"..\r\n.\r\n"


# --------------------------------------------------------------------------- termination


def test_content_without_final_newline_gets_crlf() -> None:
    assert wire("Subject: x\n\nbody") == b"Subject: x\r\n\r\nbody\r\n.\r\n"


def test_content_with_final_newline_gets_no_empty_line() -> None:
    """Differs from Allegro, which always adds CRLF and so grows an empty line."""
    assert wire("Subject: x\n\nbody\n") == b"Subject: x\r\n\r\nbody\r\n.\r\n"
    assert wire(b"body\r\n") == b"body\r\n.\r\n"


def test_empty_message_is_just_the_terminator() -> None:
    """The DATA line's CRLF is the first CRLF of CRLF.CRLF: the server gets no lines."""
    assert wire() == b".\r\n"
    assert wire("") == b".\r\n"
    assert wire(None, b"", "", io.BytesIO(), io.StringIO(), None) == b".\r\n"
    assert unstuff(b".\r\n") == b""
    stuffer = DotStuffer()
    assert stuffer.feed(b"") == b""
    assert stuffer.finish() == b".\r\n"


def test_stuffer_refuses_use_after_finish() -> None:
    stuffer = DotStuffer()
    stuffer.finish()
    with pytest.raises(ValueError):
        stuffer.feed(b"x")
    with pytest.raises(ValueError):
        stuffer.finish()


def test_stuffer_accepts_bytes_likes() -> None:
    stuffer = DotStuffer()
    out = stuffer.feed(bytearray(b".a\n")) + stuffer.feed(memoryview(b"b"))  # type: ignore[arg-type]
    assert out + stuffer.finish() == b"..a\r\nb\r\n.\r\n"


# --------------------------------------------------------------------------- sources


def test_none_arguments_are_skipped() -> None:
    assert wire(None, "a", None, b"b", None) == b"ab\r\n.\r\n"


def test_arguments_are_concatenated_in_order() -> None:
    out = wire(
        "one\n",
        b"two\n",
        io.BytesIO(b"three\n"),
        io.StringIO("four\n"),
        bytearray(b"five\n"),
        memoryview(b"six\n"),
        "no newline, ",
        "joined",
    )
    assert out == b"one\r\ntwo\r\nthree\r\nfour\r\nfive\r\nsix\r\nno newline, joined\r\n.\r\n"


def test_argument_boundary_is_a_chunk_boundary() -> None:
    """A CR ending one argument and an LF starting the next are one newline."""
    assert wire("a\r", b"\n.b") == b"a\r\n..b\r\n.\r\n"
    assert wire("a\n", io.BytesIO(b".b")) == b"a\r\n..b\r\n.\r\n"


def test_stream_is_read_from_where_it_stands_and_left_open_at_eof() -> None:
    stream = io.BytesIO(b"skipped|kept\n")
    stream.seek(8)
    assert wire(stream) == b"kept\r\n.\r\n"
    assert not stream.closed
    assert stream.tell() == len(b"skipped|kept\n")
    text = io.StringIO("skipped|kept")
    text.seek(8)
    assert wire(text) == b"kept\r\n.\r\n"
    assert not text.closed
    assert text.read() == ""


def test_stream_is_read_in_bounded_chunks() -> None:
    sizes: List[int] = []

    class Recording(io.BytesIO):
        def read(self, size: Optional[int] = -1) -> bytes:
            sizes.append(-1 if size is None else size)
            return super().read(size)

    data = b"x" * 1000
    assert b"".join(iter_source_chunks([Recording(data)], chunk_size=64)) == data
    assert sizes and all(0 < size <= 64 for size in sizes)


def test_text_wrapper_over_a_binary_file() -> None:
    stream = io.TextIOWrapper(io.BytesIO("Grüße\n.dot\n".encode()), encoding="utf-8")
    assert wire(stream) == "Grüße\r\n..dot\r\n.\r\n".encode()
    assert not stream.closed
    stream.close()


def test_non_ascii_text_is_utf8() -> None:
    assert wire("Grüße, ☃ and 😀\n") == "Grüße, ☃ and 😀\r\n.\r\n".encode()


def test_large_arguments_are_sliced() -> None:
    data = bytes(range(256)) * 10
    for arg in (data, bytearray(data), memoryview(data)):
        chunks = list(iter_source_chunks([arg], chunk_size=100))
        assert b"".join(chunks) == data
        assert all(0 < len(chunk) <= 100 for chunk in chunks)
    text = "é" * 250
    chunks = list(iter_source_chunks([text], chunk_size=100))
    assert b"".join(chunks) == text.encode()
    assert all(0 < len(chunk) <= 400 for chunk in chunks)


def test_exotic_memoryviews() -> None:
    numbers = array.array("i", [1, 2, 3])
    assert b"".join(iter_source_chunks([memoryview(numbers)], 5)) == numbers.tobytes()
    assert b"".join(iter_source_chunks([memoryview(b"abcdef")[::2]], 2)) == b"ace"
    grid = memoryview(b"abcdef").cast("B", (2, 3))
    assert b"".join(iter_source_chunks([grid], 4)) == b"abcdef"


def test_email_message_object() -> None:
    msg = email.message.EmailMessage()
    msg["Subject"] = "Grüße"
    msg["To"] = "joe@example.com"
    msg.set_content("From here on\n.a dot line\nlast\n")
    out = wire(msg)
    assert_well_formed(out)
    content = unstuff(out)
    assert b"\r\nFrom here on\r\n" in content  # not mangled to ">From"
    assert b"\r\n.a dot line\r\n" in content
    buffer = io.BytesIO()
    email.generator.BytesGenerator(buffer, mangle_from_=False, policy=msg.policy).flatten(msg)
    assert content == oracle_content(buffer.getvalue())
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert parsed["Subject"] == "Grüße"
    assert isinstance(parsed, email.message.EmailMessage)
    assert parsed.get_content() == "From here on\r\n.a dot line\r\nlast\r\n"


def test_compat32_message_object() -> None:
    msg = email.message_from_string("Subject: old\n\nFrom the past\n.\n")
    assert unstuff(wire(msg)) == b"Subject: old\r\n\r\nFrom the past\r\n.\r\n"
    assert wire(msg).endswith(b"From the past\r\n..\r\n.\r\n")


class Part:
    """Stands in for a constructed MIME part: it only offers the hook."""

    def __init__(self, *pieces: object) -> None:
        self.pieces = pieces

    def __post_office_chunks__(self) -> Iterator[object]:
        return iter(self.pieces)


def test_hook_object() -> None:
    part = Part(b"Content-Type: text/plain\n", b"\n", b".hidden\r\n", bytearray(b"body"))
    assert wire("X-First: 1\n", part) == (
        b"X-First: 1\r\nContent-Type: text/plain\r\n\r\n..hidden\r\nbody\r\n.\r\n"
    )


def test_hook_producing_str_is_refused() -> None:
    chunks = encode_data(["a", Part(b"ok", "not bytes")])
    with pytest.raises(MessageArgumentError, match=r"message argument 2 \(counting from 1\)"):
        list(chunks)


def test_hook_returning_no_iterator_is_refused() -> None:
    class Odd:
        def __post_office_chunks__(self) -> int:
            return 3

    with pytest.raises(MessageArgumentError, match="iterator"):
        list(encode_data([Odd()]))


def test_hook_on_a_class_is_not_a_part() -> None:
    with pytest.raises(MessageArgumentError):
        check_messages([Part])


def test_many_tiny_pieces_are_coalesced() -> None:
    chunks = list(encode_data(["x\n"] * 1000, chunk_size=256))
    assert b"".join(chunks) == b"x\r\n" * 1000 + b".\r\n"
    assert len(chunks) < 20
    assert chunks[-1].endswith(b".\r\n")


def test_chunk_size_must_be_positive() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            encode_data(["x"], chunk_size=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bad arguments


class _Class:
    pass


@pytest.mark.parametrize(
    "bad",
    [42, 3.5, object(), ["a"], ("a",), {"a": 1}, array.array("b", b"ab"), io.BytesIO, _Class()],
    ids=lambda bad: type(bad).__name__,
)
def test_bad_types_name_their_position(bad: object) -> None:
    for check in (check_messages, iter_source_chunks, encode_data):
        with pytest.raises(MessageArgumentError) as info:
            check(["fine", None, bad])
        text = str(info.value)
        assert "message argument 3 (counting from 1)" in text
        assert type(bad).__qualname__ in text
        assert "accepted" in text
    assert isinstance(info.value, TypeError)


def test_bad_argument_repr_is_shortened() -> None:
    with pytest.raises(MessageArgumentError) as info:
        check_messages([["x" * 10_000]])
    assert "message argument 1 (counting from 1)" in str(info.value)
    assert len(str(info.value)) < 400


def test_bad_argument_with_broken_repr() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    with pytest.raises(MessageArgumentError, match="Broken"):
        check_messages([Broken()])


def test_lone_surrogate_is_refused_before_sending() -> None:
    for check in (check_messages, iter_source_chunks, encode_data):
        with pytest.raises(MessageArgumentError) as info:
            check([b"ok", "abc\ud800def"])
        assert "message argument 2 (counting from 1)" in str(info.value)
        assert "index 3" in str(info.value)


def test_lone_surrogate_from_a_text_stream() -> None:
    chunks = encode_data([io.StringIO("ok\udcffno")])
    with pytest.raises(MessageArgumentError, match=r"message argument 1 \(counting from 1\)"):
        list(chunks)


def test_stream_yielding_neither_str_nor_bytes() -> None:
    class Numbers:
        def read(self, size: int = -1) -> int:
            return 7

    chunks = encode_data([Numbers()])
    with pytest.raises(MessageArgumentError, match=r"message argument 1 .* int"):
        list(chunks)


def test_non_blocking_stream_without_data() -> None:
    class Empty(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: object) -> Optional[int]:
            return None

    with Empty() as stream, pytest.raises(MessageArgumentError, match="non-blocking"):
        list(encode_data([stream]))


def test_closed_or_unreadable_stream_is_refused_early(tmp_path: pathlib.Path) -> None:
    closed = io.BytesIO(b"x")
    closed.close()
    with pytest.raises(MessageArgumentError, match="closed"):
        check_messages([closed])
    path = tmp_path / "out.txt"
    with open(path, "wb") as write_only, pytest.raises(MessageArgumentError, match="not readable"):
        check_messages([write_only])


def test_check_messages_accepts_every_kind() -> None:
    check_messages(
        [
            None,
            "s",
            b"b",
            bytearray(b"b"),
            memoryview(b"m"),
            io.BytesIO(),
            io.StringIO(),
            email.message.EmailMessage(),
            Part(),
        ]
    )


def test_messages_may_be_any_iterable_once() -> None:
    assert b"".join(encode_data(iter(["a", "b"]))) == b"ab\r\n.\r\n"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- known_7bit


def test_known_7bit() -> None:
    assert known_7bit([])
    assert known_7bit([None, "plain", b"bytes", bytearray(b"x"), memoryview(b"y" * 100_000)])
    assert not known_7bit(["Grüße"])
    assert not known_7bit([b"\xff"])
    assert not known_7bit([bytearray(b"\x80")])
    assert not known_7bit([memoryview(b"a" * 100_000 + b"\x80")])
    assert not known_7bit([io.BytesIO(b"ascii")])
    assert not known_7bit([email.message.EmailMessage()])
    assert not known_7bit([Part(b"ascii")])


# --------------------------------------------------------------------------- unstuff


def test_unstuff() -> None:
    assert unstuff(b"..a\r\nb\r\n...\r\n.\r\n") == b".a\r\nb\r\n..\r\n"
    assert unstuff(b"\r\n.\r\n") == b"\r\n"
    for bad in (b"", b"a\r\n", b"a.\r\n", b"a\r\n.\r\nb\r\n.\r\n", b".\r\na\r\n.\r\n"):
        with pytest.raises(ValueError):
            unstuff(bad)


# --------------------------------------------------------------------------- properties

# Small pieces that make the hard cases likely: CR and LF in every combination, dots at
# line starts, NUL, and non-ASCII (including half of a UTF-8 sequence).
_PIECES = [b"\r", b"\n", b"\r\n", b".", b"..", b"\x00", b"a", b"xyz", b"\xff", b"\xc3\xa9", b"\xc3"]
contents = st.lists(st.sampled_from(_PIECES), max_size=40).map(b"".join) | st.binary(max_size=60)
_TEXT_PIECES = ["\r", "\n", "\r\n", ".", "a", "é", "€", "😀", "\x00"]
texts = st.lists(st.sampled_from(_TEXT_PIECES), max_size=20).map("".join) | st.text(
    st.characters(max_codepoint=0xD7FF), max_size=20
)


@st.composite
def split_contents(draw: st.DrawFn) -> List[bytes]:
    content = draw(contents)
    cuts = sorted(draw(st.lists(st.integers(0, len(content)), max_size=8)))
    bounds = [0, *cuts, len(content)]
    return [content[start:end] for start, end in zip(bounds, bounds[1:])]


@given(split_contents())
@example([b"a\r", b"\nb"])
@example([b"a\n", b".b"])
@example([b"a\r", b"", b"\n.", b"\n"])
@example([b".", b"\r", b"\r\n", b"."])
def test_any_split_gives_the_same_wire(chunks: List[bytes]) -> None:
    content = b"".join(chunks)
    out = stuff_chunks(chunks)
    assert out == stuff_chunks([content])
    assert out == oracle_wire(content)


@given(contents)
@example(b"")
@example(b".")
@example(b"\r.\r")
@example(b"\n.\r\n")
def test_output_is_well_formed_and_unstuffs_to_the_content(content: bytes) -> None:
    out = wire(content)
    assert_well_formed(out)
    assert unstuff(out) == oracle_content(content)
    expected = normalise_newlines(content)
    if content and not content.endswith((b"\r", b"\n")):
        expected += b"\r\n"
    assert unstuff(out) == expected


@given(contents)
def test_normalise_newlines_matches_the_oracle(content: bytes) -> None:
    assert normalise_newlines(content) == oracle_normalise(content)


def _argument(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["none", "str", "bytes", "bytearray", "memoryview", "bio", "sio"]))
    if kind == "none":
        return None
    if kind in ("str", "sio"):
        text = draw(texts)
        return text if kind == "str" else io.StringIO(text)
    data = draw(contents)
    factories = {
        "bytes": bytes,
        "bytearray": bytearray,
        "memoryview": memoryview,
        "bio": io.BytesIO,
    }
    return factories[kind](data)


@st.composite
def argument_lists(draw: st.DrawFn) -> List[object]:
    return [_argument(draw) for _ in range(draw(st.integers(0, 5)))]


def _raw(arg: object) -> bytes:
    if arg is None:
        return b""
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, io.StringIO):
        return arg.getvalue().encode()
    if isinstance(arg, io.BytesIO):
        return arg.getvalue()
    assert isinstance(arg, (bytes, bytearray, memoryview))
    return bytes(arg)


@settings(max_examples=200)
@given(argument_lists(), st.integers(1, 16))
def test_mixed_arguments_any_chunk_size(args: List[object], chunk_size: int) -> None:
    content = b"".join(_raw(arg) for arg in args)
    chunks = list(encode_data(args, chunk_size))
    assert b"".join(chunks) == oracle_wire(content)
    assert all(chunks)
    assert chunks[-1].endswith(b".\r\n")
    # Never more than a few chunk sizes at once (text may take 4 bytes per character).
    assert all(len(chunk) <= 10 * chunk_size + 8 for chunk in chunks)


@given(split_contents(), st.integers(1, 64))
@example([b"x" * 100, b"\n.", b"y" * 3], 16)
def test_streams_split_anywhere_give_the_same_wire(chunks: List[bytes], chunk_size: int) -> None:
    """Argument boundaries and read sizes that cut lines, CRLFs and dots anywhere."""
    content = b"".join(chunks)
    streams = [io.BytesIO(chunk) for chunk in chunks]
    out = list(encode_data(streams, chunk_size))
    assert b"".join(out) == oracle_wire(content)
    assert all(out)


# Long runs next to the hard cases: chunks of more than the 1 KiB the encoder samples to
# tell dense dots from sparse, and dots after 512 plain bytes, so that both dot-stuffing
# paths, and the switch from one to the other part way through a chunk, are taken.
_LONG_PIECES = [*_PIECES, b"\r\r", b"\n\n", b"\n.", b"e" * 600, b"f" * 1500, b"g." * 300]
long_contents = st.lists(st.sampled_from(_LONG_PIECES), max_size=60).map(b"".join)


@st.composite
def long_split_contents(draw: st.DrawFn) -> List[bytes]:
    content = draw(long_contents | contents)
    cuts = sorted(draw(st.lists(st.integers(0, len(content)), max_size=10)))
    bounds = [0, *cuts, len(content)]
    return [content[start:end] for start, end in zip(bounds, bounds[1:])]


@given(long_split_contents())
@example([b"a\r", b"\n", b".b"])
@example([b"\r", b"", b"\n."])
@example([b".", b".\r", b"\r\n."])
@example([b"a.b.c\n.d", b".e.\n.f"])  # line-start dots as the sparse path's budget runs out
@example([b"x" * 70_000 + b"\n." * 5000])
@example([b"y" * 3000, b"\n." * 3000, b"z\r\n." * 1000])
def test_each_feed_emits_exactly_its_share(chunks: List[bytes]) -> None:
    """After every chunk, all that was fed so far is on the wire, exactly as the oracle has
    it: a state bit carried wrongly between chunks shows at the chunk where it happens."""
    stuffer = DotStuffer()
    fed = b""
    emitted = b""
    for chunk in chunks:
        fed += chunk
        emitted += stuffer.feed(chunk)
        assert emitted == oracle_emitted(fed), chunk
    assert emitted + stuffer.finish() == oracle_wire(fed)


@given(argument_lists())
def test_known_7bit_means_ascii(args: List[object]) -> None:
    plain = [arg for arg in args if not isinstance(arg, (io.BytesIO, io.StringIO))]
    content = b"".join(_raw(arg) for arg in plain)
    assert known_7bit(plain) == content.isascii()
    if len(plain) != len(args):
        assert not known_7bit(args)


# --------------------------------------------------------------------------- memory


class GeneratedMail(io.RawIOBase):
    """A big binary stream made on the fly from one repeated block: it costs no memory."""

    def __init__(self, block: bytes, repeat: int) -> None:
        super().__init__()
        self._block = memoryview(block)
        self._total = len(block) * repeat
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        offset = self._pos % len(self._block)
        size = min(len(buffer), len(self._block) - offset, self._total - self._pos)
        buffer[:size] = self._block[offset : offset + size]
        self._pos += size
        return size

    def close(self) -> None:
        self._block.release()
        super().close()


def test_32_mb_stream_in_constant_memory() -> None:
    # Lines of varied length, every 7th starting with ".", the block starting with one so
    # dots meet read boundaries; the block is not a divisor of the 64 KiB reads, so read
    # and line boundaries drift apart.
    lines = [
        (b"." if i % 7 == 0 else b"") + b"line %d of a generated message: " % i + b"x" * (i % 50)
        for i in range(1400)
    ]
    block = b"\n".join(lines) + b"\n"
    block = block[: block.rfind(b"\n", 0, 65537) + 1]
    size = 32 * 1024 * 1024  # the bound is per chunk: four times the peak allowed below
    repeat = size // len(block) + 1
    stuffed_block = oracle_wire(block)[:-3]
    expected = hashlib.sha1()
    for _ in range(repeat):
        expected.update(stuffed_block)
    expected.update(b".\r\n")

    digest = hashlib.sha1()
    total = 0
    with GeneratedMail(block, repeat) as stream:
        tracemalloc.start()
        try:
            for chunk in encode_data([stream]):
                total += len(chunk)
                digest.update(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert not stream.closed
    assert total == len(stuffed_block) * repeat + 3
    assert total > size
    assert digest.hexdigest() == expected.hexdigest()
    assert peak < 8_000_000, f"peak {peak} bytes"
