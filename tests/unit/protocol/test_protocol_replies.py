"""The reply parser fed bytes, with no server (RFC 5321 section 4.2)."""

from __future__ import annotations

from typing import List, Sequence, Tuple

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from post_office.protocol.replies import (
    MAX_LINE,
    MAX_REPLY_LINES,
    Reply,
    ReplyFormatError,
    ReplyParser,
)


def replies_of(parser: ReplyParser) -> List[Reply]:
    """Every reply the parser can make of what it holds now."""
    out: List[Reply] = []
    while True:
        reply = parser.next_reply()
        if reply is None:
            return out
        out.append(reply)


def parse_all(
    data: bytes, max_line: int = MAX_LINE, max_lines: int = MAX_REPLY_LINES
) -> List[Reply]:
    parser = ReplyParser(max_line=max_line, max_lines=max_lines)
    parser.feed(data)
    return replies_of(parser)


# --------------------------------------------------------------------------- Reply


def test_reply_value_semantics() -> None:
    reply = Reply(250, ("mail.example.test", "PIPELINING"))
    assert reply.code == 250
    assert reply.text == "mail.example.test\nPIPELINING"
    assert reply == Reply(250, ("mail.example.test", "PIPELINING"))
    assert reply != Reply(251, ("mail.example.test", "PIPELINING"))
    assert reply != Reply(250, ("mail.example.test",))
    code, lines = reply  # a NamedTuple: it unpacks as (code, lines)
    assert (code, lines) == (250, ("mail.example.test", "PIPELINING"))
    assert hash(reply) == hash(Reply(250, ("mail.example.test", "PIPELINING")))
    assert len({reply, Reply(250, ("mail.example.test", "PIPELINING"))}) == 1
    assert repr(reply) == "Reply(250, ('mail.example.test', 'PIPELINING'))"


# --------------------------------------------------------------------------- well-formed


@pytest.mark.parametrize("end", [b"\r\n", b"\n"])
def test_single_line_reply(end: bytes) -> None:
    assert parse_all(b"250 OK" + end) == [Reply(250, ("OK",))]


@pytest.mark.parametrize("end", [b"\r\n", b"\n"])
def test_multi_line_reply(end: bytes) -> None:
    data = end.join([b"250-mail.example.test", b"250-SIZE 1000", b"250 PIPELINING", b""])
    assert parse_all(data) == [Reply(250, ("mail.example.test", "SIZE 1000", "PIPELINING"))]


def test_mixed_line_ends_in_one_reply() -> None:
    assert parse_all(b"250-a\n250-b\r\n250 c\n") == [Reply(250, ("a", "b", "c"))]


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"250", ""),  # the code alone: the separator is the end of the line
        (b"250 ", ""),
        (b"250   spaced  \t", "spaced"),
        (b"250 \tinner  spaces kept", "inner  spaces kept"),
        (b"220 h\xc3\xa9llo", "h\u00e9llo"),
        (b"220 bad \xff utf-8", "bad \ufffd utf-8"),
    ],
)
def test_line_text(line: bytes, text: str) -> None:
    assert parse_all(line + b"\r\n") == [Reply(int(line[:3]), (text,))]


@pytest.mark.parametrize("code", [200, 250, 354, 421, 599])
def test_codes_within_range(code: int) -> None:
    assert parse_all(b"%d x\r\n" % code) == [Reply(code, ("x",))]


def test_empty_continuation_lines() -> None:
    assert parse_all(b"250-\r\n250-\r\n250\r\n") == [Reply(250, ("", "", ""))]


def test_two_replies_in_one_feed_come_out_one_by_one() -> None:
    parser = ReplyParser()
    parser.feed(b"250 first\r\n354 go ahead\r\n221-bye\r\n221 now\r\n")
    assert parser.next_reply() == Reply(250, ("first",))
    assert parser.buffered
    assert parser.next_reply() == Reply(354, ("go ahead",))
    assert parser.next_reply() == Reply(221, ("bye", "now"))
    assert parser.next_reply() is None
    assert not parser.buffered


def test_byte_by_byte() -> None:
    parser = ReplyParser()
    data = b"250-one\r\n250 two\r\n"
    got = []
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        reply = parser.next_reply()
        if reply is not None:
            got.append((i, reply))
    assert got == [(len(data) - 1, Reply(250, ("one", "two")))]


def test_feed_accepts_bytearray_and_memoryview() -> None:
    parser = ReplyParser()
    parser.feed(bytearray(b"250 a"))  # type: ignore[arg-type]
    parser.feed(memoryview(b"bc\r\n"))  # type: ignore[arg-type]
    assert parser.next_reply() == Reply(250, ("abc",))


# --------------------------------------------------------------------------- properties

_text = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"]),  # no control characters, valid UTF-8
    max_size=40,
)
_reply = st.tuples(st.integers(200, 599), st.lists(_text, min_size=1, max_size=8))


def _encode(code: int, texts: Sequence[str], ends: Sequence[bytes]) -> bytes:
    out = b""
    for i, (text, end) in enumerate(zip(texts, ends)):
        separator = b" " if i == len(texts) - 1 else b"-"
        out += b"%d" % code + separator + text.encode("utf-8") + end
    return out


@given(data=st.data(), replies=st.lists(_reply, min_size=1, max_size=4))
def test_any_reply_split_anywhere_parses_the_same(
    data: st.DataObject, replies: List[Tuple[int, List[str]]]
) -> None:
    wire = b""
    for code, texts in replies:
        ends = data.draw(st.lists(st.sampled_from([b"\r\n", b"\n"]), min_size=len(texts)))
        wire += _encode(code, texts, ends)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    parser = ReplyParser()
    got: List[Reply] = []
    start = 0
    for cut in [*cuts, len(wire)]:
        parser.feed(wire[start:cut])
        start = cut
        got.extend(replies_of(parser))
    expected = [Reply(code, tuple(t.strip(" \t") for t in texts)) for code, texts in replies]
    assert got == expected
    assert not parser.buffered
    assert parser.end_of_input() is None


def _outcome(parser: ReplyParser, wire: bytes) -> Tuple[List[Reply], str]:
    parser.feed(wire)
    got: List[Reply] = []
    try:
        got.extend(replies_of(parser))
    except ReplyFormatError as exc:
        return got, exc.what
    return got, ""


_REPLY_LINES = st.lists(
    st.builds(
        lambda code, sep, text, end: code + sep + text + end,
        st.sampled_from([b"250", b"354", b"550", b"199", b"25", b"2x0"]),
        st.sampled_from([b" ", b" ", b"-", b"", b"\t"]),
        st.binary(max_size=12) | st.sampled_from([b"", b" ok \t", b"\xff", b"x" * 40]),
        st.sampled_from([b"\r\n", b"\n", b"\r\r\n", b""]),
    ),
    max_size=5,
)


@given(lines=_REPLY_LINES)
@example(lines=[b"250 ok\r\n", b"354 go \t\r\r\n"])
@example(lines=[b"250 " + b"x" * 35 + b"\r\n"])  # one byte over max_line with its end
def test_one_line_replies_made_at_once_match_the_line_by_line_path(lines: List[bytes]) -> None:
    # keep_raw_lines sends every line through the general path: the same replies, the
    # same errors, the same bytes left over.
    wire = b"".join(lines)
    fast, slow = ReplyParser(max_line=40), ReplyParser(max_line=40, keep_raw_lines=True)
    assert _outcome(fast, wire) == _outcome(slow, wire)
    assert fast.buffered == slow.buffered


@example(lines=[b"250 ok\r\n", b"250 2.1.5 fine\n", b"354 go ahead\r\n"])
@example(lines=[b"250 " + b"x" * 35 + b"\r\n"])
@given(lines=_REPLY_LINES)
def test_one_line_replies_are_what_the_parser_makes_of_the_same_read(lines: List[bytes]) -> None:
    wire = b"".join(lines)
    taken = ReplyParser(max_line=40).one_line_replies(wire)
    parser = ReplyParser(max_line=40)
    made, error = _outcome(parser, wire)
    if taken is not None:
        assert (taken, error) == (made, "") and not parser.buffered
    whole = all(line[3:4] == b" " and line.find(b"\n") == len(line) - 1 for line in lines)
    if whole and not error and lines:
        assert taken is not None  # every read of one-line replies is taken in one pass


def test_one_line_replies_wait_for_what_is_held() -> None:
    parser = ReplyParser()
    parser.feed(b"250 the start of a line, ")
    assert parser.one_line_replies(b"250 OK\r\n") is None
    parser = ReplyParser()
    parser.feed(b"250-PIPELINING\r\n")
    assert parser.next_reply() is None  # the first line of a reply, held
    assert parser.one_line_replies(b"250 OK\r\n") is None
    assert ReplyParser(keep_raw_lines=True).one_line_replies(b"250 OK\r\n") is None
    assert ReplyParser().one_line_replies(b"") is None


@given(code=st.integers(0, 999).filter(lambda c: not 200 <= c <= 599))
def test_codes_outside_200_599_are_refused(code: int) -> None:
    with pytest.raises(ReplyFormatError):
        parse_all(b"%03d text\r\n" % code)


@given(line=st.binary(max_size=30).filter(lambda b: b"\n" not in b))
def test_any_line_either_parses_or_raises_reply_format_error(line: bytes) -> None:
    parser = ReplyParser()
    parser.feed(line + b"\n")
    try:
        reply = parser.next_reply()
    except ReplyFormatError:
        return
    head = line[:4]
    assert head[:3].isdigit() and 200 <= int(head[:3]) <= 599
    if head[3:4] == b"-":
        assert reply is None and parser.buffered
    else:
        assert reply is not None and reply.code == int(head[:3])


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"\r",
        b"hello",
        b"25",
        b"25 ok",
        b"2x0 ok",
        b" 250 ok",
        b"+OK POP3 server ready",
        b"HTTP/1.1 400 Bad Request",
        b"250_ok",
        b"250:ok",
        b"250\tok",
        b"250ok",
        b"2500 ok",
        b"199 too low",
        b"600 too high",
        b"000 zero",
        b"\xef\xbc\x92\xef\xbc\x95\xef\xbc\x90 fullwidth digits",
    ],
)
def test_garbage_is_refused(line: bytes) -> None:
    parser = ReplyParser()
    parser.feed(line + b"\r\n")
    with pytest.raises(ReplyFormatError) as info:
        parser.next_reply()
    assert info.value.what == "the server sent something that is not an SMTP reply"
    assert isinstance(info.value, ValueError)


def test_error_carries_the_line_cut_to_200_characters() -> None:
    parser = ReplyParser()
    parser.feed(b"x" * 1000 + b"\r\n")
    with pytest.raises(ReplyFormatError) as info:
        parser.next_reply()
    assert info.value.text == "x" * 200


def test_changed_code_within_a_multi_line_reply() -> None:
    parser = ReplyParser()
    parser.feed(b"250-first\r\n251 second\r\n")
    with pytest.raises(ReplyFormatError) as info:
        parser.next_reply()
    assert "changed the reply code" in info.value.what
    assert info.value.text == "251 second"


def test_changed_code_in_a_continuation_line() -> None:
    with pytest.raises(ReplyFormatError, match="changed the reply code"):
        parse_all(b"250-a\r\n250-b\r\n550-c\r\n550 d\r\n")


# --------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_line_of_exactly_max_line_bytes_is_accepted(end: bytes) -> None:
    line = b"250 " + b"a" * (MAX_LINE - 4 - len(end)) + end
    assert len(line) == MAX_LINE
    parser = ReplyParser()
    parser.feed(line)
    reply = parser.next_reply()
    assert reply is not None and len(reply.lines[0]) == MAX_LINE - 4 - len(end)


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_one_byte_more_is_refused(end: bytes) -> None:
    line = b"250 " + b"a" * (MAX_LINE - 3 - len(end)) + end
    assert len(line) == MAX_LINE + 1
    parser = ReplyParser()
    parser.feed(line)
    with pytest.raises(ReplyFormatError, match=f"longer than {MAX_LINE} bytes"):
        parser.next_reply()


def test_over_long_line_is_refused_before_its_end_arrives() -> None:
    """The parser holds no more than a line's worth: MAX_LINE bytes without LF are too
    many, whatever follows."""
    parser = ReplyParser()
    parser.feed(b"250 " + b"a" * (MAX_LINE - 5))
    assert parser.next_reply() is None  # MAX_LINE - 1 bytes: an LF may still come
    parser.feed(b"a")
    with pytest.raises(ReplyFormatError):
        parser.next_reply()


def test_long_line_split_over_feeds_is_accepted_at_the_bound() -> None:
    parser = ReplyParser()
    parser.feed(b"250 " + b"a" * (MAX_LINE - 5))
    assert parser.next_reply() is None
    parser.feed(b"\n")
    reply = parser.next_reply()
    assert reply is not None and reply.lines == ("a" * (MAX_LINE - 5),)


def test_custom_max_line() -> None:
    assert parse_all(b"250 abcde\n", max_line=10) == [Reply(250, ("abcde",))]
    with pytest.raises(ReplyFormatError, match="longer than 10 bytes"):
        parse_all(b"250 abcdef\n", max_line=10)


def _many(count: int) -> bytes:
    return b"".join(b"250-line\r\n" for _ in range(count - 1)) + b"250 last\r\n"


def test_reply_of_exactly_max_reply_lines_is_accepted() -> None:
    [reply] = parse_all(_many(MAX_REPLY_LINES))
    assert len(reply.lines) == MAX_REPLY_LINES and reply.lines[-1] == "last"


def test_reply_of_one_line_more_is_refused() -> None:
    with pytest.raises(ReplyFormatError, match=f"more than {MAX_REPLY_LINES} lines"):
        parse_all(_many(MAX_REPLY_LINES + 1))


def test_endless_continuation_is_refused_without_its_last_line() -> None:
    parser = ReplyParser()
    parser.feed(b"250-x\r\n" * MAX_REPLY_LINES)
    with pytest.raises(ReplyFormatError):
        parser.next_reply()


def test_custom_max_lines() -> None:
    assert parse_all(b"250-a\n250-b\n250 c\n", max_lines=3) == [Reply(250, ("a", "b", "c"))]
    with pytest.raises(ReplyFormatError, match="more than 2 lines"):
        parse_all(b"250-a\n250-b\n250 c\n", max_lines=2)


def test_line_count_restarts_with_each_reply() -> None:
    replies = parse_all(_many(MAX_REPLY_LINES) * 3)
    assert [len(r.lines) for r in replies] == [MAX_REPLY_LINES] * 3


# --------------------------------------------------------------------------- state


def test_buffered() -> None:
    parser = ReplyParser()
    assert not parser.buffered
    parser.feed(b"25")
    assert parser.buffered  # half a line
    parser.feed(b"0-a\r\n")
    assert parser.next_reply() is None
    assert parser.buffered  # a line of an unfinished reply
    parser.feed(b"250 b\r\n")
    assert parser.next_reply() == Reply(250, ("a", "b"))
    assert not parser.buffered


def test_partial() -> None:
    parser = ReplyParser()
    assert parser.partial == ""
    parser.feed(b"250-first\r\n250-second\r\n250 thi")
    assert parser.next_reply() is None
    assert parser.partial == "first\nsecond\n250 thi"
    parser2 = ReplyParser()
    parser2.feed(b"250 only pending")
    assert parser2.partial == "250 only pending"
    parser3 = ReplyParser()
    parser3.feed(b"250-only lines\r\n")
    parser3.next_reply()
    assert parser3.partial == "only lines"


def test_end_of_input_takes_a_last_line_without_its_end() -> None:
    parser = ReplyParser()
    parser.feed(b"421 closing")
    assert parser.next_reply() is None
    assert parser.end_of_input() == Reply(421, ("closing",))
    assert not parser.buffered


def test_end_of_input_finishes_a_multi_line_reply() -> None:
    parser = ReplyParser()
    parser.feed(b"250-a\r\n250 b\r")
    assert parser.next_reply() is None
    assert parser.end_of_input() == Reply(250, ("a", "b"))


def test_end_of_input_with_nothing_pending() -> None:
    parser = ReplyParser()
    assert parser.end_of_input() is None
    parser.feed(b"250-a\r\n")
    assert parser.next_reply() is None
    assert parser.end_of_input() is None  # half a reply: nothing to make of it
    assert parser.buffered


def test_end_of_input_after_an_unfinished_continuation() -> None:
    parser = ReplyParser()
    parser.feed(b"250-a")
    assert parser.next_reply() is None
    assert parser.end_of_input() is None


def test_end_of_input_with_garbage() -> None:
    parser = ReplyParser()
    parser.feed(b"garbage")
    assert parser.next_reply() is None
    with pytest.raises(ReplyFormatError):
        parser.end_of_input()


def test_clear_forgets_everything_buffered() -> None:
    parser = ReplyParser()
    parser.feed(b"250-injected before TLS\r\n")
    assert parser.next_reply() is None
    parser.feed(b"250 more")
    parser.clear()
    assert not parser.buffered
    assert parser.partial == ""
    parser.feed(b"220 ready\r\n")
    assert parser.next_reply() == Reply(220, ("ready",))


def test_clear_resets_the_code_of_an_unfinished_reply() -> None:
    parser = ReplyParser()
    parser.feed(b"250-a\r\n")
    parser.next_reply()
    parser.clear()
    parser.feed(b"220 other code, fine after clear\r\n")
    assert parser.next_reply() == Reply(220, ("other code, fine after clear",))


def test_raw_lines_are_not_kept_by_default() -> None:
    parser = ReplyParser()
    parser.feed(b"250 a\r\n")
    parser.next_reply()
    assert parser.raw_lines == []
    assert parser.take_raw_lines() == []


def test_keep_raw_lines() -> None:
    parser = ReplyParser(keep_raw_lines=True)
    parser.feed(b"250-first  \r\n250 second\n354 go\r\n")
    assert parser.next_reply() == Reply(250, ("first", "second"))
    assert parser.take_raw_lines() == ["250-first  ", "250 second"]
    assert parser.raw_lines == []
    assert parser.next_reply() == Reply(354, ("go",))
    parser.feed(b"221 by\xffe")
    assert parser.end_of_input() == Reply(221, ("by\ufffde",))
    assert parser.take_raw_lines() == ["354 go", "221 by\ufffde"]


def test_keep_raw_lines_keeps_the_offending_line() -> None:
    parser = ReplyParser(keep_raw_lines=True)
    parser.feed(b"250-ok\r\nnot a reply\r\n")
    with pytest.raises(ReplyFormatError):
        parser.next_reply()
    assert parser.take_raw_lines() == ["250-ok", "not a reply"]


@given(
    max_line=st.integers(5, 64),
    length=st.integers(4, 80),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(0, 90), max_size=4),
)
def test_line_bound_holds_however_the_line_arrives(
    max_line: int, length: int, crlf: bool, cuts: List[int]
) -> None:
    """A line and its line end are accepted iff they fit in ``max_line`` bytes."""
    end = b"\r\n" if crlf else b"\n"
    wire = b"250 " + b"x" * (length - 4) + end
    parser = ReplyParser(max_line=max_line)
    got: List[Reply] = []
    start = 0
    try:
        for cut in [*sorted(c for c in cuts if c < len(wire)), len(wire)]:
            parser.feed(wire[start:cut])
            start = cut
            got.extend(replies_of(parser))
    except ReplyFormatError:
        assert len(wire) > max_line
    else:
        assert len(wire) <= max_line
        assert got == [Reply(250, ("x" * (length - 4),))]


@given(max_lines=st.integers(1, 20), count=st.integers(1, 25))
def test_lines_per_reply_bound(max_lines: int, count: int) -> None:
    wire = _many(count)
    if count <= max_lines:
        [reply] = parse_all(wire, max_lines=max_lines)
        assert len(reply.lines) == count
    else:
        with pytest.raises(ReplyFormatError):
            parse_all(wire, max_lines=max_lines)


# --------------------------------------------------------------------------- sole_code


@given(
    held=st.binary(max_size=12),
    data=st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda code, text, end: b"%d %s%s" % (code, text, end),
            st.integers(150, 650),
            st.binary(max_size=20),
            st.sampled_from([b"\r\n", b"\n", b"", b"\r\n250 more\r\n"]),
        ),
    ),
)
def test_sole_code_is_the_code_the_parser_then_makes(held: bytes, data: bytes) -> None:
    """A lane writes on sole_code's word before it parses (README "Bulk sending"): a
    code it gives is the code of the one reply the parser then makes, holding nothing."""
    parser = ReplyParser()
    parser.feed(held)
    try:
        replies_of(parser)
    except ReplyFormatError:
        return
    code = parser.sole_code(data)
    if code == 0:
        return
    assert not parser.buffered  # a code only when nothing was held
    parser.feed(data)
    reply = parser.next_reply()
    assert reply is not None and reply.code == code
    assert not parser.buffered


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"250 OK\r\n", 250),
        (b"354 go ahead\r\n", 354),
        (b"250 OK\n", 250),
        (b"250-OK\r\n", 0),  # the first line of several
        (b"250 OK", 0),  # not whole yet
        (b"250 OK\r\n550 no\r\n", 0),  # two replies
        (b"2x0 OK\r\n", 0),
        (b"199 OK\r\n", 0),
        (b"250 " + b"x" * MAX_LINE + b"\r\n", 0),  # longer than a line may be
    ],
)
def test_sole_code_of_one_read(data: bytes, code: int) -> None:
    assert ReplyParser().sole_code(data) == code


def test_sole_code_is_0_while_bytes_are_held() -> None:
    parser = ReplyParser()
    parser.feed(b"25")
    assert parser.sole_code(b"250 OK\r\n") == 0
    multi = ReplyParser()
    multi.feed(b"250-first\r\n")
    assert multi.next_reply() is None
    assert multi.sole_code(b"250 OK\r\n") == 0
