"""The write a lane decides before its reply comes, for a server without PIPELINING
(README "Bulk sending").

Without PIPELINING each command waits for the reply to the one before (RFC 5321 3.3):
four round trips a message, and each waits for the client as well as the server, since
the time from a reply's arrival to the next write is the client's part of it.  So while
a lane waits, it works out what it will write if the reply accepts (a :class:`Ready`):
the next command of the envelope, the whole content after DATA when it is in memory and
small, or the next message's ``MAIL FROM`` after the end of data.  When the reply comes
and accepts, those bytes go out first and the bookkeeping follows (what the reply means
to the transaction, the transcript, the next plan).  Any other reply, or more than the
one reply, takes the usual path, and the prepared bytes are dropped unsent.

The content, and a message after the 2xx to the one before, would otherwise go out after
a look for a reply that came early (README "Reliability").  They go ahead only when the
reply came alone in a read shorter than asked for, which emptied the socket: the look
could have seen only what arrived in the microseconds since.  Over TLS a read does not
say that, so there they take the usual path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

from ..message.sources import encode_content, in_memory
from .lane_writer import END, RSET
from .transfer import BODY_CHUNK_SIZE

if TYPE_CHECKING:
    from .lane_writer import LaneWriter

__all__ = ["AHEAD_LIMIT", "Ready", "content_wire", "prepare"]

#: The most message content (characters or bytes) encoded before its 354: bulk mail is
#: small, and a larger message is read a piece at a time as it is sent.
AHEAD_LIMIT = 1 << 16


class Ready:
    """Bytes to write the moment the one reply awaited comes alone, of code ``expect``
    (one digit: any code of that class)."""

    __slots__ = ("expect", "wire")

    def __init__(self, expect: int, wire: bytes) -> None:
        self.expect = expect
        self.wire = wire


def prepare(lane: LaneWriter) -> None:
    """Set ``lane.ready`` while the lane waits for one reply from a server without
    PIPELINING and nothing else: what to write the moment that reply accepts."""
    if lane.ready is not None or lane.held is not None or lane.dead or lane.out:
        return
    if lane.streaming is not None or lane.early or len(lane.expected) != 1:
        return
    kind, flight = lane.expected[0]
    if flight is None or kind == RSET or flight.transaction.pipelining:
        return
    wire: Optional[bytes]
    if kind == END:  # the next message's MAIL FROM, after the 2xx to this one
        if lane.tls:  # a TLS read does not say the socket is empty: the look stays
            return
        lane.held = following = lane.take_next()
        if following is not None:
            wire = following.transaction.wire(0)
            if wire is not None:
                lane.ready = Ready(2, wire)
        return
    command = flight.groups[flight.group][0]
    if flight.group + 1 < len(flight.groups):  # the next command of the envelope
        wire = flight.transaction.wire(flight.group + 1)
        if wire is not None:
            lane.ready = Ready(command.expect, wire)
    elif not lane.tls:  # the content and its end, after the 354 to DATA
        wire = content_wire(flight.item[2], BODY_CHUNK_SIZE)
        if wire is not None:
            lane.ready = Ready(command.expect, wire)


def content_wire(messages: Sequence[object], chunk_size: int) -> Optional[bytes]:
    """The content and its end as one write, for message arguments all in memory and
    together at most :data:`AHEAD_LIMIT` long; else None (a stream, a Message or a MIME
    part is read as it is sent, and so is a large message)."""
    if not in_memory(messages):
        return None
    size = 0
    for part in messages:
        if isinstance(part, memoryview):
            size += part.nbytes
        elif isinstance(part, (str, bytes, bytearray)):
            size += len(part)
    if size > AHEAD_LIMIT:
        return None
    chunks, end = encode_content(messages, chunk_size)
    try:
        content = b"".join(chunks)
    except UnicodeError:  # a lone surrogate: the usual path names it when it is sent
        return None
    return content + end()
