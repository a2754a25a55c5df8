"""Message arguments -> wire-ready DATA bytes, streaming and sans-IO.

README "Sending mail" says what a message argument may be; RFC 5321 4.1.1.4 and 4.5.2
say what DATA must look like.

Pure: this module opens no socket and uses neither :mod:`socket` nor :mod:`smtplib`, so
every rule about what reaches the wire is testable (and property-tested) without a
server.  The session pulls chunks from :func:`encode_content` and writes them to the
socket, then the end of the data.

The pipeline has two stages so that each can be tested alone:

1. :func:`iter_source_chunks` turns the caller's arguments (``str``, bytes-likes, binary or
   text streams, :class:`email.message.Message`, constructed MIME parts) into raw bytes,
   in bounded chunks, in order.
2. :class:`DotStuffer` turns raw bytes into SMTP DATA: every newline becomes CRLF, lines
   starting with ``.`` get one more ``.``, and :meth:`DotStuffer.finish` adds the
   terminator.  It keeps one bit of state per concern between chunks, so any split of the
   input gives the same bytes on the wire.

**Differs** from Allegro: a bare CR becomes CRLF instead of passing through, so no bare CR
or bare LF ever reaches the server (servers disagree on what those mean, which is what the
"SMTP smuggling" attacks exploit); and a message that already ends in a newline gets no
extra empty line before the terminator.
"""

from __future__ import annotations

import email.errors
import email.generator
import email.message
import io
import re
from typing import Any, Callable, Iterator, Sequence, Tuple, Union

from .._checks import is_stream as _is_stream
from .._checks import show, stream_problem
from ..errors import MessageArgumentError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "TERMINATOR",
    "DotStuffer",
    "check_messages",
    "encode_content",
    "encode_data",
    "iter_source_chunks",
    "known_7bit",
]

#: Bytes read from a stream (or sliced from a large argument) at a time.  64 KiB keeps the
#: per-chunk Python overhead negligible next to the whole-chunk ``bytes`` operations while
#: memory stays a small constant.
DEFAULT_CHUNK_SIZE = 1 << 16

#: The end-of-data line (RFC 5321 4.1.1.4); it always follows a CRLF or starts the data.
TERMINATOR = b".\r\n"

_HOOK = "__post_office_chunks__"
_ACCEPTED = (
    "accepted are None (skipped), str, bytes, bytearray, memoryview, a readable binary or "
    "text stream, an email.message.Message, or a constructed MIME part"
)
_BYTES_LIKE = (bytes, bytearray, memoryview)
_BytesLike = Union[bytes, bytearray, memoryview]
# translate() maps byte to byte in one pass with no search, the cheapest way to turn the
# bare CRs that remain after CRLF -> LF into LFs.
_CR_TO_LF = bytes.maketrans(b"\r", b"\n")
_SURROGATE = re.compile("[\ud800-\udfff]")
_REPR_LIMIT = 60  # characters of a refused value shown in an error message
_CR = 13
_LF = 10
_DOT = 46
# Dot-stuffing (see _stuff_lf): "\n." found by the regex engine, which scans faster than
# bytes.split for a two-byte pattern; the sample that tells dense text from sparse.
_LF_DOT = re.compile(rb"\n\.")
_DOT_SAMPLE = 1024
_SPARSE_DOTS = 4


# --------------------------------------------------------------------------- validation


def _describe(position: int, obj: object) -> str:
    """How an error names an argument, so the caller can find it among ``*messages``."""
    return (
        f"message argument {position} (counting from 1), "
        f"{show(obj, _REPR_LIMIT)} of type {type(obj).__qualname__}"
    )


def _has_hook(obj: object) -> bool:
    # A class is not an instance: its hook is an unbound function that would fail later.
    return not isinstance(obj, type) and callable(getattr(obj, _HOOK, None))


def _check_str(position: int, text: str) -> None:
    """Reject a lone surrogate now, before a connection exists, rather than mid-DATA.

    ``isascii`` answers for almost every string in constant time per byte and with no copy;
    only non-ASCII text pays for the regex scan, which still copies nothing.
    """
    if text.isascii():
        return
    found = _SURROGATE.search(text)
    if found is not None:
        raise MessageArgumentError(
            f"{_describe(position, text)}: contains the lone surrogate "
            f"{found.group()!r} at index {found.start()}, which cannot be encoded in UTF-8"
        )


def _check_stream(position: int, stream: object) -> None:
    """Catch the stream mistakes that are visible without reading (closed, write-only)."""
    problem = stream_problem(stream)
    if problem is not None:
        raise MessageArgumentError(f"{_describe(position, stream)}: the stream {problem}")


def check_messages(messages: Sequence[object]) -> None:
    """Validate every message argument before any connection is opened.

    ``messages`` mirrors the ``&rest messages`` of Allegro's ``send-smtp``.  Raises
    :class:`~post_office.errors.MessageArgumentError` naming the argument's position
    (counting from 1), its repr and type, and what is accepted.  Strings are also checked
    for lone surrogates, which UTF-8 cannot encode.  Whether a stream yields ``str`` or
    ``bytes`` cannot be known without reading it; that is checked while reading.
    """
    for position, obj in enumerate(messages, 1):
        if obj is None or isinstance(obj, _BYTES_LIKE):
            continue
        if isinstance(obj, str):
            _check_str(position, obj)
        elif _has_hook(obj) or isinstance(obj, email.message.Message):
            continue
        elif _is_stream(obj):
            _check_stream(position, obj)
        else:
            raise MessageArgumentError(f"cannot send {_describe(position, obj)}: {_ACCEPTED}")


def _check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, not {chunk_size!r}")


# --------------------------------------------------------------------------- sources


def _slices(data: _BytesLike, chunk_size: int) -> Iterator[bytes]:
    """A bytes-like as bytes pieces of at most ``chunk_size``, never copied whole.

    A ``bytes`` that fits is yielded as it is (no copy at all).  Anything larger, and
    mutable or exotic buffers (bytearray, memoryview of any format or shape), is read
    through a memoryview one slice at a time, so a 1 GB buffer costs one chunk of memory.
    """
    if type(data) is bytes and len(data) <= chunk_size:
        if data:
            yield data
        return
    with memoryview(data) as view:
        # Only C-contiguous views can be cast to bytes; a strided view must be copied,
        # which is rare enough (numpy slices) to accept.
        flat = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
        with flat:
            for start in range(0, flat.nbytes, chunk_size):
                yield flat[start : start + chunk_size].tobytes()


def _encode_text(position: int, obj: object, text: str, offset: int) -> bytes:
    """UTF-8 of one piece of a str argument; ``offset`` locates the piece for the error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MessageArgumentError(
            f"{_describe(position, obj)}: contains the lone surrogate "
            f"{text[exc.start]!r} at index {offset + exc.start}, which cannot be encoded "
            "in UTF-8"
        ) from exc


def _str_chunks(position: int, text: str, chunk_size: int) -> Iterator[bytes]:
    # Slicing by characters bounds each encoded piece to 4 * chunk_size bytes; a valid str
    # holds code points, so no cut can split a character.
    if len(text) <= chunk_size:
        if text:
            yield _encode_text(position, text, text, 0)
        return
    for start in range(0, len(text), chunk_size):
        yield _encode_text(position, text, text[start : start + chunk_size], start)


def _stream_chunks(position: int, stream: Any, chunk_size: int) -> Iterator[bytes]:
    """Read from where the stream stands to EOF; never seek, rewind or close it.

    The caller owns the stream (Allegro reads it the same way), and may want to know how
    far it was read.  Each ``read`` is bounded, so a stream of any size costs one chunk.
    """
    read = stream.read
    while True:
        piece = read(chunk_size)
        if isinstance(piece, str):
            if not piece:
                return
            yield _encode_text(position, stream, piece, 0)
        elif isinstance(piece, _BYTES_LIKE):
            if not piece:  # len() works for every format; b"" is EOF
                return
            yield from _slices(piece, chunk_size)
        elif piece is None:
            raise MessageArgumentError(
                f"{_describe(position, stream)}: read() returned None, which means a "
                "non-blocking stream has no data yet; pass a blocking stream"
            )
        else:
            raise MessageArgumentError(
                f"{_describe(position, stream)}: read() returned {show(piece, _REPR_LIMIT)} of "
                f"type {type(piece).__qualname__}, neither str nor bytes"
            )


def _message_chunks(
    position: int, message: email.message.Message, chunk_size: int
) -> Iterator[bytes]:
    """Serialise an :class:`email.message.Message` as the ``email`` package would send it.

    ``BytesGenerator.flatten`` writes synchronously, so the flattened text is held once in
    memory; the Message itself is already in memory, so this at most doubles it.  Lazy
    output for big attachments is what constructed MIME parts (the hook) are for.
    ``mangle_from_=False``: a "From " line is only special in mbox files, and SMTP must
    deliver the body unchanged.  LF is fine as linesep because the DotStuffer makes every
    newline CRLF anyway.
    """
    buffer = io.BytesIO()
    policy = message.policy.clone(linesep="\n")
    try:
        email.generator.BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(message)
    except (UnicodeError, email.errors.MessageError) as exc:
        raise MessageArgumentError(
            f"{_describe(position, message)}: the email package cannot serialise it: {exc}"
        ) from exc
    data = buffer.getbuffer()
    try:
        yield from _slices(data, chunk_size)
    finally:
        data.release()


def _hook_chunks(position: int, part: object, chunk_size: int) -> Iterator[bytes]:
    """A constructed MIME part produces its own text, lazily, through the hook."""
    try:
        pieces = iter(getattr(part, _HOOK)())
    except TypeError as exc:
        raise MessageArgumentError(
            f"{_describe(position, part)}: {_HOOK}() did not return an iterator of bytes"
        ) from exc
    for piece in pieces:
        if not isinstance(piece, _BYTES_LIKE):
            raise MessageArgumentError(
                f"{_describe(position, part)}: {_HOOK}() produced {show(piece, _REPR_LIMIT)} of "
                f"type {type(piece).__qualname__}, not bytes"
            )
        yield from _slices(piece, chunk_size)


def _source_chunks(messages: Sequence[object], chunk_size: int) -> Iterator[bytes]:
    for position, obj in enumerate(messages, 1):
        if obj is None:
            continue
        if isinstance(obj, str):
            yield from _str_chunks(position, obj, chunk_size)
        elif isinstance(obj, _BYTES_LIKE):
            yield from _slices(obj, chunk_size)
        elif _has_hook(obj):
            yield from _hook_chunks(position, obj, chunk_size)
        elif isinstance(obj, email.message.Message):
            yield from _message_chunks(position, obj, chunk_size)
        else:  # check_messages has let only streams through
            yield from _stream_chunks(position, obj, chunk_size)


def iter_source_chunks(
    messages: Sequence[object], chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[bytes]:
    """The raw bytes of the concatenated message arguments, in order, in bounded chunks.

    ``messages`` mirrors Allegro's ``&rest messages``.  The arguments are validated with
    :func:`check_messages` at call time (not at the first ``next()``), so a bad argument
    fails before anything is read.  ``str`` is encoded UTF-8 (Allegro's default external
    format); bytes-likes are sliced without being copied whole; streams are read
    ``chunk_size`` at a time from their current position to EOF and left open; Messages
    go through :class:`email.generator.BytesGenerator`; constructed MIME parts through
    their ``__post_office_chunks__`` hook.  No newline conversion happens here.
    """
    _check_chunk_size(chunk_size)
    messages = tuple(messages)  # iterated twice; a caller's generator would run dry
    check_messages(messages)
    return _source_chunks(messages, chunk_size)


# --------------------------------------------------------------------------- DATA encoding


def _stuff_lf(data: bytes) -> bytes:
    """One more "." after every LF that is followed by one (not the chunk's first byte).

    Finding a two-byte pattern costs CPython a byte-by-byte scan (about 1 GB/s), while
    ``find`` of one byte is ``memchr`` (tens of GB/s).  So where dots are rare, as in
    base64 attachments (none at all), code or logs, we jump from dot to dot and look at
    the byte before each: a few steps per chunk instead of a scan.  Where they are dense
    (prose: a dot per sentence), a short ``count`` sample says so up front, and a dense
    chunk (or one found dense on the way) is split on ``\n.`` by the regex engine, the
    fastest full scan available (measured by bench/bench_wire.py).  With no dot after a
    newline, ``data`` itself comes back, no copy.
    """
    if data.count(b".", 0, _DOT_SAMPLE) > _SPARSE_DOTS:
        return b"\n..".join(_LF_DOT.split(data))
    find = data.find
    position = find(b".", 1)
    if position < 0:
        return data
    budget = (len(data) >> 9) + _SPARSE_DOTS  # about one dot per 512 bytes
    starts = []
    while position >= 0:
        if data[position - 1] == _LF:
            starts.append(position)
        budget -= 1
        if not budget:
            return b"\n..".join(_LF_DOT.split(data))
        position = find(b".", position + 1)
    if not starts:
        return data
    with memoryview(data) as view:  # slices of a view copy nothing; join copies once
        return b".".join([view[a:b] for a, b in zip([0, *starts], [*starts, len(data)])])


class DotStuffer:
    """Incremental SMTP DATA encoder: CRLF newlines, dot-stuffing, terminator.

    Sans-IO: :meth:`feed` takes raw bytes and returns the wire bytes for them at once;
    :meth:`finish` returns the end of the data.  LF, CRLF and bare CR each become one
    CRLF; a line starting with ``.`` gets one more.  Every chunk is handled with
    whole-chunk ``bytes`` operations (``in``, ``count``, ``find``, ``split``/``join``,
    ``replace``, ``translate``) that run in C, so the cost per byte is a few memory passes,
    never a Python loop over bytes or lines.

    Two facts carry over between chunks, which is what makes any split give the same
    output: whether the output stands at the start of a line (so a ``.`` opening the next
    chunk is stuffed), and whether the last chunk ended in a CR (already sent as CRLF, so
    an LF opening the next chunk is the same newline and is dropped).  Emitting that CR at
    once rather than holding it back means :meth:`feed` never keeps bytes.

    Termination: CRLF is added only when the data does not already end with one (Allegro
    always adds it, which grows an extra empty line), then ``.`` CRLF.  **Decision**: for
    empty content the whole DATA is just ``.`` CRLF.  RFC 5321 4.1.1.4 says the first CRLF
    of the ``CRLF . CRLF`` terminator "is actually the terminator of the previous line";
    here that line is our ``DATA`` command, so the server sees an empty message.  (smtplib
    sends CRLF ``.`` CRLF instead, which delivers a message of one empty line.)  A
    line-based receiver such as aiosmtpd ends the data at a first line of ``.`` and
    stores an empty message.
    """

    __slots__ = ("_at_line_start", "_finished", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._at_line_start = True  # the data begins a line, so a leading "." is stuffed
        self._skip_lf = False  # the last chunk ended in CR, already emitted as CRLF
        self._started = False  # any byte emitted (decides the empty-message terminator)
        self._finished = False

    def feed(self, data: bytes) -> bytes:
        """Wire bytes for ``data``; everything fed so far is fully emitted on return."""
        if self._finished:
            raise ValueError("DotStuffer.feed() after finish()")
        if type(data) is not bytes:
            data = bytes(data)
        if self._skip_lf and data:
            self._skip_lf = False
            if data[0] == _LF:
                data = data[1:]
        if not data:
            return b""
        if b"\r" not in data:
            # The common case (text from Python, Unix files): one memchr proves it.
            out = _stuff_lf(data).replace(b"\n", b"\r\n")
        elif len(data) - len(data.translate(None, b"\r\n")) == 2 * data.count(b"\r\n"):
            # Already clean CRLF (mail read from the wire, a .eml file): only the dots need
            # work.  Each CRLF pair holds one CR and one LF, so CRs + LFs == 2 * pairs
            # exactly when there is no bare CR and no bare LF; two C passes tell.
            out = _stuff_lf(data)
        else:
            self._skip_lf = data[-1] == _CR
            data = data.replace(b"\r\n", b"\n").translate(_CR_TO_LF)
            out = _stuff_lf(data).replace(b"\n", b"\r\n")
        if self._at_line_start and out[0] == _DOT:
            out = b"." + out
        self._at_line_start = out[-1] == _LF
        self._started = True
        return out

    def finish(self) -> bytes:
        """The end of the data: CRLF unless already at a line start, then ``.`` CRLF."""
        if self._finished:
            raise ValueError("DotStuffer.finish() called twice")
        self._finished = True
        if not self._started or self._at_line_start:
            return TERMINATOR
        return b"\r\n" + TERMINATOR


def encode_data(
    messages: Sequence[object], chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[bytes]:
    """Wire-ready DATA for the message arguments: what the session sends after ``354``.

    ``messages`` mirrors Allegro's ``&rest messages``; the arguments are validated at call
    time (see :func:`iter_source_chunks`).  The result is a generator of non-empty chunks
    whose concatenation is the dot-stuffed, CRLF-only content followed by the terminator;
    the last chunk ends with ``.`` CRLF.  Tiny pieces (many short arguments, a MIME part
    producing lines) are coalesced up to ``chunk_size`` so the socket sees few writes;
    at most about ``5 * chunk_size`` bytes (``8 *`` more for text streams, whose
    characters may take 4 bytes each) are held at any time, whatever the message size.
    The one exception is an :class:`email.message.Message`, which the email package can
    only flatten whole: it is held once more in serialised form.

    If reading an argument fails part-way (a stream error, a stream yielding neither str
    nor bytes), the exception propagates from ``next()``: the caller must then drop the
    connection rather than send the terminator, or a truncated message would be delivered.
    """
    stuffer = DotStuffer()
    return _encode(iter_source_chunks(messages, chunk_size), chunk_size, stuffer, True)


def encode_content(
    messages: Sequence[object], chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Tuple[Iterator[bytes], Callable[[], bytes]]:
    """:func:`encode_data` with the end of the data kept apart: the content chunks, and
    a function that returns the end (a CRLF if needed, then ``.`` CRLF) once they are
    exhausted.

    The session writes the end on its own, after one last look for a reply: a reply
    that arrived before it is not the answer to it (RFC 5321 4.1.1.4; README
    "Reliability").  Joined, the two give exactly :func:`encode_data`'s bytes.
    """
    stuffer = DotStuffer()
    chunks = _encode(iter_source_chunks(messages, chunk_size), chunk_size, stuffer, False)
    return chunks, stuffer.finish


def _encode(
    source: Iterator[bytes], chunk_size: int, stuffer: DotStuffer, with_end: bool
) -> Iterator[bytes]:
    feed = stuffer.feed
    pending: list[bytes] = []
    pending_len = 0
    for chunk in source:
        out = feed(chunk)
        if not out:
            continue
        if not pending and len(out) >= chunk_size:
            yield out  # the usual case for big inputs: no join, no copy
            continue
        pending.append(out)
        pending_len += len(out)
        if pending_len >= chunk_size:
            yield b"".join(pending)
            pending.clear()
            pending_len = 0
    if with_end:
        pending.append(stuffer.finish())
    if pending:
        yield b"".join(pending)


def known_7bit(messages: Sequence[object]) -> bool:
    """Whether the content is known to be 7-bit, so ``MAIL FROM`` may omit BODY=8BITMIME.

    True only when every argument is None, ``str`` or a bytes-like and all are pure ASCII.
    A stream, Message or MIME part would have to be read to know, so it answers False
    (claiming 8BITMIME for 7-bit content is harmless; the reverse is not).  ``isascii``
    runs in C without copying; a memoryview is checked a slice at a time.
    """
    for obj in messages:
        if obj is None:
            continue
        if isinstance(obj, (str, bytes, bytearray)):
            if not obj.isascii():
                return False
        elif isinstance(obj, memoryview):
            if not all(piece.isascii() for piece in _slices(obj, DEFAULT_CHUNK_SIZE)):
                return False
        else:
            return False
    return True
