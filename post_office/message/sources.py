"""Message arguments -> raw bytes, checked and streamed; and -> wire-ready DATA.

README "Sending mail" says what a message argument may be: :func:`check_messages` checks
them at the entry point, before any connection; :func:`iter_source_chunks` turns them
(``str``, bytes-likes, binary or text streams, :class:`email.message.Message`,
constructed MIME parts) into raw bytes, in bounded chunks, in order; :func:`encode_data`
and :func:`encode_content` pass those through the protocol's DATA encoder
(:mod:`post_office.protocol.data`: CRLF, dot-stuffing, the end of the data).

Pure: no socket, no :mod:`smtplib`; property-tested without a server.
"""

from __future__ import annotations

import io
import re
import sys

from .._checks import is_stream as _is_stream
from .._checks import show, stream_problem
from ..errors import MessageArgumentError
from ..protocol.data import DotStuffer, encode_chunks

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Sequence, Tuple, Union

    _BytesLike = Union[bytes, bytearray, memoryview]

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "check_messages",
    "encode_content",
    "encode_data",
    "in_memory",
    "iter_source_chunks",
    "known_7bit",
]

#: Bytes read from a stream (or sliced from a large argument) at a time.  64 KiB keeps the
#: per-chunk Python overhead negligible next to the whole-chunk ``bytes`` operations while
#: memory stays a small constant.
DEFAULT_CHUNK_SIZE = 1 << 16


_HOOK = "__post_office_chunks__"
_ACCEPTED = (
    "accepted are None (skipped), str, bytes, bytearray, memoryview, a readable binary or "
    "text stream, an email.message.Message, or a constructed MIME part"
)
_BYTES_LIKE = (bytes, bytearray, memoryview)
_IN_MEMORY = (str, *_BYTES_LIKE)
_SURROGATE = "[\ud800-\udfff]"  # compiled when non-ASCII text first comes (re's cache)
_REPR_LIMIT = 60  # characters of a refused value shown in an error message


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
    found = re.search(_SURROGATE, text)
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
        elif _has_hook(obj) or _is_email_message(obj):
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


def _is_email_message(obj: object) -> bool:
    """Whether ``obj`` is an :class:`email.message.Message`, without loading the email
    package to ask (a tenth of a send's start-up): none can exist before it is loaded."""
    module = sys.modules.get("email.message")
    return module is not None and isinstance(obj, module.Message)


def _message_chunks(position: int, message: Any, chunk_size: int) -> Iterator[bytes]:
    """Serialise an :class:`email.message.Message` as the ``email`` package would send it.

    ``BytesGenerator.flatten`` writes synchronously, so the flattened text is held once in
    memory; the Message itself is already in memory, so this at most doubles it.  Lazy
    output for big attachments is what constructed MIME parts (the hook) are for.
    ``mangle_from_=False``: a "From " line is only special in mbox files, and SMTP must
    deliver the body unchanged.  LF is fine as linesep because the DotStuffer makes every
    newline CRLF anyway.
    """
    import email.errors
    import email.generator

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
        elif _is_email_message(obj):
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
    return encode_chunks(iter_source_chunks(messages, chunk_size), chunk_size, stuffer, True)


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
    only = messages[0] if len(messages) == 1 else None
    if (type(only) is str or type(only) is bytes) and len(only) <= chunk_size:
        # One str or bytes in one chunk, most mail: encoded at once, without the chain of
        # generators a stream needs.  A lone surrogate takes the long way, which names it.
        _check_chunk_size(chunk_size)
        try:
            raw = only.encode("utf-8") if isinstance(only, str) else only
        except UnicodeEncodeError:
            pass
        else:
            out = stuffer.feed(raw)
            return iter((out,) if out else ()), stuffer.finish
    chunks = encode_chunks(iter_source_chunks(messages, chunk_size), chunk_size, stuffer, False)
    return chunks, stuffer.finish


def in_memory(messages: Sequence[object]) -> bool:
    """Whether every argument is None, ``str`` or a bytes-like: content that is all there
    and takes no time to read (a stream, a Message or a MIME part is read as it is sent)."""
    return all(obj is None or isinstance(obj, _IN_MEMORY) for obj in messages)


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
