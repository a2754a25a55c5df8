"""The optional C encoder (post_office/_speedups.c) against the pure-Python reference.

test_wire.py runs every encoder rule on both; here the two are compared directly, chunk
by chunk, so a difference in the state carried between chunks shows at the chunk where
it happens, and the C function's own argument checks are pinned.  The C code has two
searches for the next newline (SSE2 where the compiler offers it, memchr elsewhere); both
are compared with Python here, whichever the machine uses by default.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Tuple

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import post_office.wire
from post_office.wire import DotStuffer

native = post_office.wire._built_native
needs_c = pytest.mark.skipif(native is None, reason="post_office._speedups is not built")


def c_encode(data: bytes, state: int, portable: bool = False) -> Tuple[bytes, int]:
    """The C encoder on one chunk, in a fresh buffer of exactly the size it asks for."""
    assert native is not None
    out = bytearray(2 * len(data) + 16)
    length, new_state = native(data, state, out, portable)  # type: ignore[call-arg]
    return bytes(out[:length]), new_state


# Runs of 15, 16 and 17 plain bytes put newlines on both sides of a 16-byte block edge.
_PIECES = [b"\r", b"\n", b"\r\n", b".", b"..", b"\x00", b"a", b"xyz", b"\xff", b"\r\r", b"\n\n"]
_PIECES += [b"b" * 15, b"c" * 16, b"d" * 17, b"e" * 40]
contents = st.lists(st.sampled_from(_PIECES), max_size=60).map(b"".join) | st.binary(max_size=80)


@st.composite
def split_contents(draw: st.DrawFn) -> List[bytes]:
    content = draw(contents)
    cuts = sorted(draw(st.lists(st.integers(0, len(content)), max_size=10)))
    bounds = [0, *cuts, len(content)]
    return [content[start:end] for start, end in zip(bounds, bounds[1:])]


@needs_c
@given(split_contents())
@example([b"a\r", b"\n", b".b"])
@example([b"\r", b"", b"\n."])
@example([b".", b".\r", b"\r\n."])
@example([b"x" * 70_000 + b"\n." * 5000])
def test_c_and_python_agree_chunk_by_chunk(chunks: List[bytes]) -> None:
    c, python = DotStuffer(accelerated=True), DotStuffer(accelerated=False)
    assert c.accelerated and not python.accelerated
    portable_state = 1
    assert native is not None
    for chunk in chunks:
        expected = python.feed(chunk)
        assert c.feed(chunk) == expected, chunk
        portable, portable_state = c_encode(chunk, portable_state, True)
        assert portable == expected, chunk
    assert c.finish() == python.finish()


@needs_c
@pytest.mark.parametrize("state", [0, 1, 2, 3])
@pytest.mark.parametrize("data", [b"", b"\n", b".", b"\r", b"a.\n.b\r\r\n", b"\n" * 1000])
def test_encode_chunk_states(state: int, data: bytes) -> None:
    """The state bits in and out mean what DotStuffer's Python path keeps."""
    assert native is not None
    python = DotStuffer(accelerated=False)
    python._at_line_start = bool(state & 1)
    python._skip_lf = bool(state & 2)
    expected = python.feed(data)
    expected_state = python._at_line_start | python._skip_lf << 1
    assert c_encode(data, state) == (expected, expected_state)
    assert c_encode(data, state, True) == (expected, expected_state)


@needs_c
def test_encode_chunk_takes_any_contiguous_buffer() -> None:
    assert native is not None
    for data in (b"a\n.b", bytearray(b"a\n.b"), memoryview(b"xa\n.b")[1:]):
        assert c_encode(data, 1) == (b"a\r\n..b", 0)
        assert c_encode(data, 1, True) == (b"a\r\n..b", 0)


@needs_c
def test_encode_chunk_large_input() -> None:
    """Megabytes in one call, every newline kind, dots at block edges: as Python does."""
    assert native is not None
    lines = [b"x" * n + end for n in range(40) for end in (b"\n", b"\r\n", b"\r", b"\n.")]
    data = b"".join(lines) * 500
    expected = DotStuffer(accelerated=False).feed(data)
    assert c_encode(data, 1)[0] == expected
    assert c_encode(data, 1, True)[0] == expected


@needs_c
def test_encode_into_refuses_bad_arguments() -> None:
    encode = post_office.wire._built_native
    assert encode is not None
    out = bytearray(100)
    with pytest.raises(TypeError):
        encode("text", 1, out)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="state must be 0-3"):
        encode(b"a", 4, out)
    with pytest.raises(ValueError, match="state must be 0-3"):
        encode(b"a", -1, out)
    with pytest.raises(TypeError, match="3 or 4 arguments"):
        encode(b"a", 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="3 or 4 arguments"):
        encode(b"a", 1, out, True, 5)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="out holds 17 bytes, 18 needed"):
        encode(b"a", 1, bytearray(17))
    with pytest.raises(BufferError):  # bytes are read-only
        encode(b"a", 1, b"x" * 100)  # type: ignore[arg-type]


@needs_c
def test_encode_into_writes_only_the_start_of_out() -> None:
    assert native is not None
    out = bytearray(b"\xff" * 100)
    assert native(b"a\n.b", 1, out) == (6, 0)
    assert out[:6] == b"a\r\n..b" and out[6:] == b"\xff" * 94
    assert native(b"", 1, bytearray(16)) == (0, 1)


@needs_c
def test_transient_chunks_are_overwritten_and_feed_copies() -> None:
    """feed_transient hands out a view of one buffer; feed returns bytes of its own."""
    stuffer = DotStuffer(accelerated=True)
    first = stuffer.feed_transient(b"one\n")
    assert isinstance(first, memoryview) and first == b"one\r\n"
    second = stuffer.feed_transient(b"two\n")
    assert second == b"two\r\n" and first == b"two\r\n"  # the same buffer
    third = stuffer.feed(b"six\n")
    assert type(third) is bytes and third == b"six\r\n"
    assert second == b"six\r\n"  # feed works in the same buffer, then copies
    fourth = stuffer.feed_transient(b"a much longer chunk than before\n")
    assert fourth == b"a much longer chunk than before\r\n"
    assert second == b"six\r\n"  # a bigger buffer replaced the old one, left alone


def test_forcing_c_without_it_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(post_office.wire, "_built_native", None)
    with pytest.raises(RuntimeError, match="not built"):
        DotStuffer(accelerated=True)
    assert not DotStuffer().accelerated or post_office.wire._default_native is not None


def test_pure_python_switch_at_run_time() -> None:
    """POST_OFFICE_PURE_PYTHON=1 in the environment turns the C encoder off."""
    code = "import post_office.wire as w; print(w.ACCELERATED, w.DotStuffer().accelerated)"
    env = {**os.environ, "POST_OFFICE_PURE_PYTHON": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
    env.pop("POST_OFFICE_PURE_PYTHON")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    expected = str(native is not None)
    assert result.stdout.split() == [expected, expected]
