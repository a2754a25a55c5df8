"""SMTP DATA from raw message bytes: CRLF line ends, dot-stuffing, the end of the data
(RFC 5321 4.1.1.4, 4.5.2), streaming.

:class:`DotStuffer` turns raw bytes into SMTP DATA: every newline becomes CRLF, lines
starting with ``.`` get one more ``.``, and :meth:`DotStuffer.finish` adds the terminator.
It keeps one bit of state per concern between chunks, so any split of the input gives the
same bytes on the wire.  :func:`encode_chunks` runs it over a stream of chunks.

**Differs** from Allegro: a bare CR becomes CRLF instead of passing through, so no bare CR
or bare LF ever reaches the server (servers disagree on what those mean, which is what the
"SMTP smuggling" attacks exploit); and a message that already ends in a newline gets no
extra empty line before the terminator.

Pure: no I/O.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Iterator

__all__ = ["TERMINATOR", "DotStuffer", "encode_chunks"]

#: The end-of-data line (RFC 5321 4.1.1.4); it always follows a CRLF or starts the data.
TERMINATOR = b".\r\n"

# translate() maps byte to byte in one pass with no search, the cheapest way to turn the
# bare CRs that remain after CRLF -> LF into LFs.
_CR_TO_LF = bytes.maketrans(b"\r", b"\n")
_CR = 13
_LF = 10
_DOT = 46
# Dot-stuffing (see _stuff_lf): "\n." found by the regex engine, which scans faster than
# bytes.split for a two-byte pattern; the sample that tells dense text from sparse.
_LF_DOT = re.compile(rb"\n\.")
_DOT_SAMPLE = 1024
_SPARSE_DOTS = 4
# Up to this size one regex pass costs less than jumping from dot to dot, whatever the
# dots: a 2 KB message with a few dots is stuffed in 0.9 µs instead of 2.6.
_SHORT = 8192


def _stuff_lf(data: bytes) -> bytes:
    """One more "." after every LF that is followed by one (not the chunk's first byte).

    Finding a two-byte pattern costs CPython a byte-by-byte scan (about 1 GB/s), while
    ``find`` of one byte is ``memchr`` (tens of GB/s).  So where dots are rare, as in
    base64 attachments (none at all), code or logs, we jump from dot to dot and look at
    the byte before each: a few steps per chunk instead of a scan.  Where they are dense
    (prose: a dot per sentence), a short ``count`` sample says so up front, and a dense
    chunk (or one found dense on the way) is split on ``\n.`` by the regex engine, the
    fastest full scan available (measured by bench/bench_wire.py), and so is a short
    chunk with any dot (a few KB: one pass costs less than the jumps).  With no dot
    after a newline, ``data`` itself comes back, no copy.
    """
    find = data.find
    position = find(b".", 1)
    if position < 0:
        return data
    if len(data) <= _SHORT or data.count(b".", position, position + _DOT_SAMPLE) > _SPARSE_DOTS:
        return b"\n..".join(_LF_DOT.split(data))
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


def encode_chunks(
    source: Iterator[bytes], chunk_size: int, stuffer: DotStuffer, with_end: bool
) -> Iterator[bytes]:
    """Raw message bytes -> DATA chunks through ``stuffer``, tiny pieces coalesced up to
    ``chunk_size``; ``with_end``: the end of the data in the last chunk."""
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
