"""Issue 20, item 2: a reply that comes before the end of data is never success.

A reply the server sends while the body is still being written is not the answer to our
end of data (RFC 5321 4.1.1.4, 4.3.2).  The client looks (without blocking) before every
write of the body and once more right before the end-of-data line: a 4xx or 5xx stops
the body and raises :class:`DataError` with its code; a 2xx raises :class:`ProtocolError`.
After the reply to the end of data, a second reply already waiting (other than a 421
closing notice) is a :class:`ProtocolError` too.  README "Reliability".

Every case runs against the scripted fault server through ``send_smtp``, ``send_letter``
and both methods of ``smtp_session``, with and without PIPELINING advertised.  The
server acts on its first read of the body, so a body of several megabytes (more than the
socket buffers hold) is still being written when the early reply arrives, and a slow
source waits for the server to have acted: nothing depends on timing.
"""

from __future__ import annotations

import io
import threading
from typing import Callable, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.faultserver import ConnectionRecord, FaultServer, raw, reply, split

from post_office import (
    DataError,
    ProtocolError,
    SMTPError,
    send_letter,
    send_smtp,
    smtp_session,
)
from post_office.message.sources import encode_content, encode_data
from post_office.protocol.stage import Stage

FROM = "me@example.test"
TO = "you@example.test"
TIMEOUT = 2.0
#: More than the client's send buffer and the server's receive buffer hold together, so
#: the client is still writing when a reply to the body's first bytes arrives.
BIG = "Subject: big\r\n\r\n" + ("z" * 998 + "\r\n") * 8000
EARLY_250 = reply("250 2.0.0 queued (before the end of the message)")
REFUSAL = reply("554 5.7.1 refused after all")

Factory = Callable[..., FaultServer]
Send = Callable[[Tuple[object, ...], object], None]


def _send_smtp(spec: Tuple[object, ...], message: object) -> None:
    send_smtp(spec, FROM, TO, message, timeout=TIMEOUT)


def _send_letter(spec: Tuple[object, ...], message: object) -> None:
    send_letter(spec, FROM, TO, message, timeout=TIMEOUT)  # type: ignore[arg-type]


CALLS = {"send_smtp": _send_smtp, "send_letter": _send_letter}
KINDS = ["send_smtp", "send_letter", "session.send_smtp", "session.send_letter"]


def attempt(server: FaultServer, kind: str, message: object, *options: object) -> SMTPError:
    """Send ``message`` the ``kind`` way and return the error it must raise.  A session
    must then go on: the next message goes out on a new connection."""
    spec = server.spec(*options)
    if not kind.startswith("session."):
        with pytest.raises(SMTPError) as caught:
            CALLS[kind](spec, message)
        return caught.value
    with smtp_session(spec, timeout=TIMEOUT) as session:
        send = session.send_smtp if kind == "session.send_smtp" else session.send_letter
        with pytest.raises(SMTPError) as caught:
            send(FROM, TO, message)  # type: ignore[arg-type]
        server.script = {}
        session.send_smtp(FROM, TO, "next")
    assert session.connections == 2
    records = server.wait_for(2)
    assert records[1].data == b"next\r\n.\r\n"
    return caught.value


def first_record(server: FaultServer) -> ConnectionRecord:
    record = server.wait_for(1)[0]
    assert record.ended_by == "client"  # we hung up, the server still listening
    return record


# --------------------------------------------------------------------------- during the body


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_early_250_then_554_is_not_success(
    fault_server_factory: Factory, kind: str, pipelining: bool
) -> None:
    """The bug of the issue: 250 while the body is written, 554 to the end of data.
    Before the fix the 250 was read as the answer to our end of data: success."""
    server = fault_server_factory({"BODY": EARLY_250, "END": REFUSAL}, pipelining=pipelining)
    error = attempt(server, kind, BIG)
    assert type(error) is ProtocolError, repr(error)
    assert "answered before the end of the message" in str(error)
    assert "250 2.0.0 queued" in error.reply
    assert error.command == "(message body)"
    assert error.stage is Stage.BODY_STARTED
    record = first_record(server)
    assert record.data is None  # the body stopped: no end of data was ever sent
    assert record.body_received < len(BIG)


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_early_refusal_stops_a_large_body(
    fault_server_factory: Factory, kind: str, pipelining: bool
) -> None:
    """A 554 while the body is written, the server still reading: the body stops there,
    the refusal keeps its code, and no end of data follows it."""
    server = fault_server_factory({"BODY": REFUSAL}, pipelining=pipelining)
    error = attempt(server, kind, BIG)
    assert type(error) is DataError, repr(error)
    assert error.code == 554 and "5.7.1 refused after all" in error.reply
    assert error.command == "(message body)"
    assert error.stage is Stage.BODY_STARTED
    record = first_record(server)
    assert record.data is None
    assert record.body_received < len(BIG)


def test_an_early_reply_in_pieces_is_read_whole(fault_server_factory: Factory) -> None:
    """A look may find only the first bytes of the reply: the rest is waited for (within
    the timeout), and the refusal keeps its code."""
    server = fault_server_factory({"BODY": split(b"55", b"4 5.7.1 refused after all\r\n")})
    error = attempt(server, "send_smtp", BIG)
    assert type(error) is DataError, repr(error)
    assert error.code == 554 and error.command == "(message body)"
    assert first_record(server).data is None


def test_an_early_reply_over_tls_is_seen(fault_server_factory: Factory, ca_file: str) -> None:
    """Over TLS the look goes through the TLS layer (records that carry no data, data
    already decrypted): the early 250 is still caught."""
    server = fault_server_factory({"BODY": EARLY_250, "END": REFUSAL}, implicit_tls=True)
    error = attempt(server, "send_smtp", BIG, ":ssl", True, ":ca-file", ca_file)
    assert type(error) is ProtocolError, repr(error)
    record = first_record(server)
    assert record.tls and record.data is None


class SlowStream(io.RawIOBase):
    """A source that gives ``head``, then waits until the server has acted on the body
    (a pipe whose writer is slow), then ends.  The wait is bounded so that a client that
    never writes the head fails the test instead of hanging it."""

    def __init__(self, head: bytes, acted: threading.Event) -> None:
        super().__init__()
        self._head = io.BytesIO(head)
        self._acted = acted
        self.waited = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self._head.readinto(buffer)
        if count:
            return count
        if not self.waited:
            self.waited = True
            assert self._acted.wait(TIMEOUT * 5), "the body never reached the server"
        return 0


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_early_250_with_a_slow_source_is_a_protocol_error(
    fault_server_factory: Factory, kind: str, pipelining: bool
) -> None:
    """The server says 250 while the source is still being read, and nothing after our
    end of data: before the fix that 250 was taken for the acceptance of the message.
    The look right before the end of data sees it."""
    server = fault_server_factory({"BODY": EARLY_250}, pipelining=pipelining)
    # A little more than one write (256 KiB): the rest is held until the source ends.
    head = b"Subject: slow\r\n\r\n" + b"line of a slowly produced message\r\n" * 8000
    stream = SlowStream(head, server.body_acted)
    error = attempt(server, kind, stream)
    assert stream.waited
    assert type(error) is ProtocolError, repr(error)
    assert "answered before the end of the message" in str(error)
    assert error.command == "(message body)"
    assert first_record(server).data is None


# --------------------------------------------------------------------------- after the end


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
@pytest.mark.parametrize("kind", KINDS)
def test_two_replies_to_the_end_of_data_are_not_success(
    fault_server_factory: Factory, kind: str, pipelining: bool
) -> None:
    """An early 250 that arrived just after our last look, its real 554 already behind
    it when we read the 250: the first reply to the end of data must stand alone."""
    script = {"END": raw(b"250 2.0.0 queued\r\n554 5.7.1 refused after all\r\n")}
    server = fault_server_factory(script, pipelining=pipelining)
    error = attempt(server, kind, "Subject: small\r\n\r\nHello.\r\n")
    assert type(error) is ProtocolError, repr(error)
    assert "two replies to the end of the message" in str(error)
    assert "554 5.7.1 refused after all" in error.reply
    assert error.stage is Stage.BODY_SENT
    record = first_record(server)
    # No RSET; QUIT only where it went with the end of the data (PIPELINING, RFC 2920 3.1).
    expected = b"QUIT\r\n" if pipelining and kind in ("send_smtp", "send_letter") else b""
    assert record.data is not None and record.after_data == expected


@pytest.mark.parametrize("kind", KINDS)
def test_a_421_after_the_250_is_a_closing_notice(fault_server_factory: Factory, kind: str) -> None:
    """RFC 5321 3.8 lets a closing server send 421 at any time: after the 250 it does not
    undo the acceptance; the connection is dropped without QUIT."""
    script = {"END 1": raw(b"250 2.0.0 queued\r\n421 4.4.2 closing, idle too long\r\n")}
    server = fault_server_factory(script)
    if kind.startswith("session."):
        with smtp_session(server.spec(), timeout=TIMEOUT) as session:
            getattr(session, kind.split(".")[1])(FROM, TO, "one")
            session.send_smtp(FROM, TO, "two")
        assert session.connections == 2
    else:
        CALLS[kind](server.spec(), "one")
    record = first_record(server)
    assert record.data is not None and record.after_data == b""


# --------------------------------------------------------------------------- the encoder


MESSAGES = st.lists(
    st.one_of(st.none(), st.binary(max_size=300), st.text(max_size=200)), max_size=5
)


@settings(max_examples=200, deadline=None)
@given(messages=MESSAGES, chunk_size=st.integers(1, 64))
def test_content_and_end_are_exactly_encode_data(
    messages: List[Optional[object]], chunk_size: int
) -> None:
    """The session writes the content, looks, then writes the end: together the very
    bytes of encode_data, the end being only CRLF?"." CRLF and no content chunk empty."""
    chunks, end = encode_content(messages, chunk_size)
    content = list(chunks)
    assert all(content)
    tail = end()
    assert tail in (b".\r\n", b"\r\n.\r\n")
    assert b"".join(content) + tail == b"".join(encode_data(messages, chunk_size))
