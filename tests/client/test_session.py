"""smtp_session: many messages over one connection, against real loopback servers.

Two kinds of server: aiosmtpd (the fixtures, optionally advertising PIPELINING through
:class:`PipeliningHandler`), and the scripted ``faultserver.FaultServer``
(``fault_server_factory``), which records, for every command, how it arrived on the wire
(which ``recv`` brought it, how many earlier replies it still held back under
``pipelining=True``) and hangs up at chosen moments of chosen transactions.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import io
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.faultserver import DISCONNECT, Arrival, FaultServer, drop, hangup, then_silence
from support.oracles import unstuff
from support.servers import READY_TIMEOUT, LoopbackServer, RecordingHandler

import post_office
from post_office import (
    AddressError,
    DataError,
    MessageArgumentError,
    OptionError,
    RecipientRefusedError,
    SenderRefusedError,
    ServerDisconnectedError,
    ServerSpecError,
    SessionStateError,
    smtp_session,
)
from post_office.message.sources import encode_data

FROM = "me@example.test"
#: Short, so that a client stuck waiting for a reply fails the test quickly.
TIMEOUT = 10


def spec(server: Any) -> Tuple[str, int]:
    return (server.host, server.port)


def body(n: int) -> str:
    return f"Subject: message {n}\n\nThis is message {n}.\n.a line starting with a dot\n"


def wire_content(n: int) -> bytes:
    """What aiosmtpd records for :func:`body` (CRLF, dot un-stuffed)."""
    return body(n).replace("\n", "\r\n").encode()


class PipeliningHandler(RecordingHandler):
    """The recording handler, with PIPELINING added to the EHLO reply.

    aiosmtpd reads commands one line at a time from its stream, so it serves pipelined
    commands correctly; it only does not say so.
    """

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: List[str]
    ) -> List[str]:
        lines = await super().handle_EHLO(server, session, envelope, hostname, responses)
        if lines and lines[-1].startswith("250 "):
            lines.insert(len(lines) - 1, "250-PIPELINING")
        return lines


@pytest.fixture(params=[False, True], ids=["no-pipelining", "pipelining"])
def aio_server(request: pytest.FixtureRequest, smtp_server_factory: Any) -> LoopbackServer:
    """A plain aiosmtpd server, with and without PIPELINING advertised."""
    handler = PipeliningHandler() if request.param else RecordingHandler()
    server: LoopbackServer = smtp_server_factory("plain", handler=handler)
    return server


@pytest.fixture
def transcript(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Allegro's ``*smtp-debug*`` pointed at a buffer (read when a session is made)."""
    stream = io.StringIO()
    monkeypatch.setattr(post_office, "smtp_debug", stream)
    return stream


def commands_sent(transcript: io.StringIO) -> List[str]:
    prefix = "to smtp command: "
    return [
        line[len(prefix) :].strip("'\"")
        for line in transcript.getvalue().splitlines()
        if line.startswith(prefix)
    ]


def drop_idle_connections(server: LoopbackServer) -> None:
    """Fire aiosmtpd's own idle timeout on every open connection and wait until closed."""

    async def fire() -> None:
        for connection in list(server.controller.connections):
            if connection.closed.is_set():
                continue  # e.g. the fixture's readiness probe, not yet collected
            connection._timeout_cb()
            await connection.closed.wait()

    asyncio.run_coroutine_threadsafe(fire(), server.controller.loop).result(READY_TIMEOUT)


# --------------------------------------------------------------------------- scripted


def bodies(server: FaultServer, count: int) -> List[Tuple[int, bytes]]:
    """(connection number from 1, content) of every message, once the server has seen
    exactly ``count`` connections end."""
    records = server.wait_for(count)
    assert len(records) == count
    return [(n, unstuff(data)) for n, record in enumerate(records, 1) for data in record.messages]


# --------------------------------------------------------------------------- in order


def test_many_messages_over_one_connection_arrive_in_order(aio_server: LoopbackServer) -> None:
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        for n in range(1, 21):
            session.send_smtp(FROM, [f"to{n}@example.test", "all@example.test"], body(n))
    assert [m.content for m in aio_server.messages] == [wire_content(n) for n in range(1, 21)]
    assert [m.rcpt_tos for m in aio_server.messages] == [
        [f"to{n}@example.test", "all@example.test"] for n in range(1, 21)
    ]
    assert {m.mail_from for m in aio_server.messages} == {FROM}
    assert aio_server.connections == 1
    assert session.connections == 1
    assert aio_server.handler.quits == 1


def test_every_message_argument_form_works_in_a_session(aio_server: LoopbackServer) -> None:
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", "head\n", b"bytes\n", io.BytesIO(b"stream"))
        session.send_smtp("", "you@example.test", "null reverse path")
        session.send_smtp(FROM, "you@example.test")  # empty message
    first, second, third = aio_server.messages
    assert first.content == b"head\r\nbytes\r\nstream\r\n"
    assert second.mail_from == "" and second.content == b"null reverse path\r\n"
    assert third.content == b""


def test_tls_and_auth_are_done_once(smtp_auth: LoopbackServer) -> None:
    server = (smtp_auth.host, ":port", smtp_auth.port, ":starttls", True, ":ca-file")
    with smtp_session(
        (*server, smtp_auth.ca_file), login=smtp_auth.user, password=smtp_auth.password
    ) as session:
        for n in range(3):
            session.send_smtp(FROM, "you@example.test", body(n))
    assert len(smtp_auth.messages) == 3
    assert all(m.tls and m.auth_login == smtp_auth.user for m in smtp_auth.messages)
    assert len(smtp_auth.handler.login_attempts) == 1
    assert smtp_auth.connections == 1


def test_implicit_tls_session(smtp_tls: LoopbackServer) -> None:
    server = {
        "host": smtp_tls.host,
        "port": smtp_tls.port,
        "ssl": True,
        "ca_file": smtp_tls.ca_file,
    }
    with smtp_session(server, timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", body(1))
        session.send_smtp(FROM, "you@example.test", body(2))
    assert [m.content for m in smtp_tls.messages] == [wire_content(1), wire_content(2)]
    assert smtp_tls.connections == 1


# --------------------------------------------------------------------------- refusals


def test_refused_recipient_on_message_3_raises_for_message_3_only(
    aio_server: LoopbackServer, transcript: io.StringIO
) -> None:
    aio_server.handler.refuse_recipients = {"bad@example.test"}
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        for n in range(1, 7):
            to = "bad@example.test" if n == 3 else f"to{n}@example.test"
            if n == 3:
                with pytest.raises(RecipientRefusedError) as caught:
                    session.send_smtp(FROM, to, body(n))
                assert caught.value.recipient == "bad@example.test"
                assert caught.value.code == 550
                assert "bad@example.test" in str(caught.value)
            else:
                session.send_smtp(FROM, to, body(n))
    assert [m.content for m in aio_server.messages] == [wire_content(n) for n in (1, 2, 4, 5, 6)]
    assert [m.rcpt_tos for m in aio_server.messages] == [
        [f"to{n}@example.test"] for n in (1, 2, 4, 5, 6)
    ]
    assert aio_server.connections == 1
    sent = commands_sent(transcript)
    assert sent.count("RSET") == 1
    # RSET comes right after message 3's refusal (with PIPELINING, once the DATA that was
    # sent with the refused RCPT has been answered), before message 4 begins.
    rset = sent.index("RSET")
    pipelining = isinstance(aio_server.handler, PipeliningHandler)
    assert sent[rset - 1] == ("DATA" if pipelining else "RCPT TO:<bad@example.test>")
    assert sent[rset + 1].startswith("MAIL FROM:")


def test_first_refused_recipient_sends_nothing_to_anyone(aio_server: LoopbackServer) -> None:
    """Allegro's rule, also when the server would take the other recipients.

    With PIPELINING the server has answered DATA with 354 by the time the client reads the
    refusal; the session drops that connection (so nothing is delivered) and opens a new
    one for the next message.
    """
    aio_server.handler.refuse_recipients = {"bad@example.test"}
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "a@example.test", body(1))
        with pytest.raises(RecipientRefusedError) as caught:
            session.send_smtp(FROM, ["ok@example.test", "bad@example.test"], body(2))
        assert caught.value.recipient == "bad@example.test"
        session.send_smtp(FROM, "c@example.test", body(3))
    assert [m.content for m in aio_server.messages] == [wire_content(1), wire_content(3)]
    pipelining = isinstance(aio_server.handler, PipeliningHandler)
    assert aio_server.connections == (2 if pipelining else 1)


def test_refused_sender_and_refused_message_leave_the_session_usable(
    aio_server: LoopbackServer, transcript: io.StringIO
) -> None:
    aio_server.handler.refuse_senders = {"spammer@example.test"}
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        with pytest.raises(SenderRefusedError) as sender:
            session.send_smtp("spammer@example.test", "you@example.test", body(1))
        assert sender.value.sender == "spammer@example.test"
        session.send_smtp(FROM, "you@example.test", body(2))
        aio_server.handler.data_reply = "554 5.6.0 content rejected"
        with pytest.raises(DataError) as data:
            session.send_smtp(FROM, "you@example.test", body(3))
        assert data.value.code == 554
        aio_server.handler.data_reply = None
        session.send_smtp(FROM, "you@example.test", body(4))
    assert [m.content for m in aio_server.messages] == [wire_content(2), wire_content(4)]
    assert aio_server.connections == 1
    # RSET after the refused sender only: a refused end of data ends its transaction
    # (RFC 5321 4.1.1.4), so the next MAIL needs no RSET before it.
    assert commands_sent(transcript).count("RSET") == 1


def test_bad_arguments_raise_before_anything_is_sent(aio_server: LoopbackServer) -> None:
    with pytest.raises(ServerSpecError):
        smtp_session(("127.0.0.1", 0))
    with pytest.raises(OptionError, match="password"):
        smtp_session(spec(aio_server), login="user")
    with pytest.raises(OptionError, match="timeout"):
        smtp_session(spec(aio_server), timeout=0)
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        with pytest.raises(AddressError):
            session.send_smtp("Me <me@example.test>", "you@example.test", "x")
        with pytest.raises(AddressError):
            session.send_smtp(FROM, ["you@example.test", "bad address"], "x")
        with pytest.raises(MessageArgumentError):
            session.send_smtp(FROM, "you@example.test", "ok", 42)
        session.send_smtp(FROM, "you@example.test", body(1))
    assert [m.content for m in aio_server.messages] == [wire_content(1)]
    assert aio_server.connections == 1
    assert aio_server.connections == 1


def test_session_is_usable_only_inside_its_with_block(smtp_plain: LoopbackServer) -> None:
    session = smtp_session(spec(smtp_plain), timeout=TIMEOUT)
    assert smtp_plain.connections == 0  # making it does not connect
    with pytest.raises(SessionStateError, match="with block") as before:
        session.send_smtp(FROM, "you@example.test", "x")
    assert isinstance(before.value, RuntimeError)
    with session:
        session.send_smtp(FROM, "you@example.test", body(1))
    with pytest.raises(SessionStateError, match="with block"):
        session.send_smtp(FROM, "you@example.test", "x")
    with pytest.raises(SessionStateError, match="only once"), session:
        pass
    assert len(smtp_plain.messages) == 1


def test_leaving_the_block_by_an_exception_still_quits(smtp_plain: LoopbackServer) -> None:
    with pytest.raises(KeyError), smtp_session(spec(smtp_plain), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", body(1))
        raise KeyError("caller's bug")
    assert smtp_plain.handler.quits == 1
    assert len(smtp_plain.messages) == 1


# --------------------------------------------------------------------------- send_letter


def parsed(message: Any) -> email.message.EmailMessage:
    # aiosmtpd keeps the CRLFs; parsed with LF, contents compare as plain text.
    content = message.content.replace(b"\r\n", b"\n")
    result = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(result, email.message.EmailMessage)
    return result


def test_send_letter_builds_letters_like_send_letter(
    aio_server: LoopbackServer, tmp_path: Path
) -> None:
    attachment = tmp_path / "notes.txt"
    attachment.write_text("attached\n")
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        for n in range(3):
            assert (
                session.send_letter(
                    FROM,
                    [f"to{n}@example.test"],
                    f"letter {n}\n",
                    cc="cc@example.test",
                    bcc=["hidden@example.test"],
                    subject=f"Grüße {n}",
                    reply_to="replies@example.test",
                    headers="X-Mailer: bulk",
                    attachments=str(attachment) if n == 2 else None,
                )
                is True
            )
    assert aio_server.connections == 1
    assert [m.rcpt_tos for m in aio_server.messages] == [
        [f"to{n}@example.test", "cc@example.test", "hidden@example.test"] for n in range(3)
    ]
    letters = [parsed(m) for m in aio_server.messages]
    for n, letter in enumerate(letters):
        assert letter["From"] == FROM
        assert letter["To"] == f"to{n}@example.test"
        assert letter["Cc"] == "cc@example.test"
        assert letter["Bcc"] is None
        assert letter["Subject"] == f"Grüße {n}"
        assert letter["Reply-To"] == "replies@example.test"
        assert letter["X-Mailer"] == "bulk"
        assert letter["Date"] and letter["Message-ID"]
    assert letters[0].get_content() == "letter 0\n"
    text, attached = letters[2].iter_parts()
    assert text.get_content() == "letter 2\n"
    assert attached.get_filename() == "notes.txt"
    assert attached.get_content() == "attached\n"
    assert len({letter["Message-ID"] for letter in letters}) == 3


def test_send_letter_over_tls_and_auth_and_its_refusals(smtp_auth: LoopbackServer) -> None:
    server = (smtp_auth.host, ":port", smtp_auth.port, ":starttls", ":required", ":ca-file")
    smtp_auth.handler.refuse_recipients = {"bad@example.test"}
    with smtp_session(
        (*server, smtp_auth.ca_file), login=smtp_auth.user, password=smtp_auth.password
    ) as session:
        session.send_letter(FROM, "a@example.test", "one")
        with pytest.raises(RecipientRefusedError):
            session.send_letter(FROM, "a@example.test", "two", bcc="bad@example.test")
        with pytest.raises(AddressError):
            session.send_letter(FROM, "Joe <joe@example.test>", "three")
        session.send_letter(FROM, "a@example.test", "four")
    assert [parsed(m).get_content() for m in smtp_auth.messages] == ["one\n", "four\n"]
    assert all(m.tls and m.auth_login == smtp_auth.user for m in smtp_auth.messages)
    assert smtp_auth.connections == 1
    assert len(smtp_auth.handler.login_attempts) == 1


# --------------------------------------------------------------------------- reconnects


def test_idle_disconnect_is_survived(aio_server: LoopbackServer) -> None:
    with smtp_session(spec(aio_server), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", body(1))
        drop_idle_connections(aio_server)  # aiosmtpd's own idle timeout
        session.send_smtp(FROM, "you@example.test", body(2))
        session.send_smtp(FROM, "you@example.test", body(3))
    assert [m.content for m in aio_server.messages] == [wire_content(n) for n in (1, 2, 3)]
    assert aio_server.connections == 2
    assert session.connections == 2


Factory = Callable[..., FaultServer]
IDLE_DROP = drop("250 2.0.0 accepted", "421 4.4.2 idle too long, closing")
NOTICE_421 = then_silence("250 2.0.0 accepted", "421 4.4.2 closing soon")


@pytest.mark.parametrize("pipelining", [False, True])
def test_idle_drop_with_421_is_survived(fault_server_factory: Factory, pipelining: bool) -> None:
    server = fault_server_factory({"END 1": IDLE_DROP}, pipelining=pipelining)
    with smtp_session(spec(server), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", "one")
        server.wait_for(1)  # the 421 was sent and the connection closed
        session.send_smtp(FROM, "you@example.test", "two")
    assert bodies(server, 2) == [(1, b"one\r\n"), (2, b"two\r\n")]
    # The dead connection got no command after the drop: the idle check caught it.
    assert server.connections[0].verbs[-1] == "DATA"
    assert server.connections[0].ended_by == "server"


@pytest.mark.parametrize("pipelining", [False, True])
def test_421_read_with_the_last_reply_is_seen_before_the_next_message(
    fault_server_factory: Factory, pipelining: bool
) -> None:
    """The 421 came in the same packet as the 250: it sits in our buffer, not on the
    socket, and the idle check must still see it."""
    server = fault_server_factory({"END 1": NOTICE_421}, pipelining=pipelining)
    with smtp_session(spec(server), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", "one")
        session.send_smtp(FROM, "you@example.test", "two")
    assert bodies(server, 2) == [(1, b"one\r\n"), (2, b"two\r\n")]
    first = server.connections[0]
    assert first.after_data == b""  # nothing was sent on the closing connection
    assert first.ended_by == "client"
    assert session.connections == 2


MAIL_FAULTS = {
    "close_on_mail": DISCONNECT,
    "refuse_421_on_mail": hangup("421 4.3.2 shutting down"),
}


@pytest.mark.parametrize("pipelining", [False, True])
@pytest.mark.parametrize("fault", sorted(MAIL_FAULTS))
def test_hang_up_racing_mail_from_is_retried_once(
    fault_server_factory: Factory, pipelining: bool, fault: str
) -> None:
    """The idle check passed, but the server hung up as MAIL FROM arrived: send again."""
    server = fault_server_factory({"MAIL 2": MAIL_FAULTS[fault]}, pipelining=pipelining)
    with smtp_session(spec(server), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", "one")
        session.send_smtp(FROM, "you@example.test", "two")
        session.send_smtp(FROM, "you@example.test", "three")
    assert bodies(server, 2) == [(1, b"one\r\n"), (2, b"two\r\n"), (2, b"three\r\n")]
    assert session.connections == 2


def test_reconnect_happens_only_once_per_message(fault_server_factory: Factory) -> None:
    server = fault_server_factory({"MAIL 1": DISCONNECT, "MAIL 2": DISCONNECT})
    with smtp_session(spec(server), timeout=TIMEOUT) as session:
        with pytest.raises(ServerDisconnectedError):
            session.send_smtp(FROM, "you@example.test", "one")
        assert server.transactions == 2  # the first try and one retry
        session.send_smtp(FROM, "you@example.test", "two")  # a fresh connection
    assert bodies(server, 3) == [(3, b"two\r\n")]


@pytest.mark.parametrize("pipelining", [False, True])
def test_message_without_final_reply_is_never_sent_again(
    fault_server_factory: Factory, pipelining: bool
) -> None:
    server = fault_server_factory({"END 2": DISCONNECT}, pipelining=pipelining)
    stream = io.BytesIO(b"two, from a stream")
    with smtp_session(spec(server), timeout=TIMEOUT) as session:
        session.send_smtp(FROM, "you@example.test", "one")
        with pytest.raises(ServerDisconnectedError) as caught:
            session.send_smtp(FROM, "you@example.test", stream)
        assert "end of message" in str(caught.value)
        session.send_smtp(FROM, "you@example.test", "three")
    assert bodies(server, 2) == [
        (1, b"one\r\n"),
        (1, b"two, from a stream\r\n"),
        (2, b"three\r\n"),
    ]
    assert server.transactions == 3


# --------------------------------------------------------------------------- PIPELINING


def envelope_arrivals(arrivals: List[Arrival]) -> List[Arrival]:
    return [a for a in arrivals if a.line.startswith((b"MAIL", b"RCPT", b"DATA"))]


def test_pipelining_is_used_when_offered(fault_server_factory: Factory) -> None:
    server = fault_server_factory(pipelining=True)
    with smtp_session(spec(server), timeout=TIMEOUT) as session:
        for n in range(3):
            session.send_smtp(FROM, ["a@example.test", "b@example.test", "c@example.test"], f"{n}")
    assert bodies(server, 1) == [(1, b"0\r\n"), (1, b"1\r\n"), (1, b"2\r\n")]
    groups = envelope_arrivals(server.connections[0].arrivals)
    assert len(groups) == 15
    by_recv: Dict[int, List[Arrival]] = {}
    for arrival in groups:
        by_recv.setdefault(arrival.recv, []).append(arrival)
    # Each transaction's five commands came in one write (one recv) ...
    assert sorted(len(g) for g in by_recv.values()) == [5, 5, 5]
    for group in by_recv.values():
        assert [a.line.split(b":")[0] for a in group] == [b"MAIL FROM"] + [b"RCPT TO"] * 3 + [
            b"DATA"
        ]
        # ... before the server had answered any of them.
        assert [a.unanswered for a in group] == [0, 1, 2, 3, 4]


def test_pipelining_is_not_used_when_not_offered(fault_server_factory: Factory) -> None:
    server = fault_server_factory(pipelining=False)
    with smtp_session(spec(server), timeout=TIMEOUT) as session:
        for n in range(3):
            session.send_smtp(FROM, ["a@example.test", "b@example.test"], f"{n}")
    assert bodies(server, 1) == [(1, b"0\r\n"), (1, b"1\r\n"), (1, b"2\r\n")]
    record = server.connections[0]
    assert record.commands[1:5] == [
        b"MAIL FROM:<me@example.test>",
        b"RCPT TO:<a@example.test>",
        b"RCPT TO:<b@example.test>",
        b"DATA",
    ]
    # Every command waited for the reply to the one before.
    assert all(a.unanswered == 0 for a in record.arrivals)
    assert len({a.recv for a in record.arrivals}) == len(record.arrivals)


def test_send_smtp_pipelines_too(fault_server_factory: Factory) -> None:
    """The one-message call shares the session code: one round trip for the envelope."""
    server = fault_server_factory(pipelining=True)
    post_office.send_smtp(spec(server), FROM, ["a@example.test", "b@example.test"], "hi")
    assert bodies(server, 1) == [(1, b"hi\r\n")]
    envelope = envelope_arrivals(server.connections[0].arrivals)
    assert len(envelope) == 4
    assert len({a.recv for a in envelope}) == 1


# --------------------------------------------------------------------------- hot path
# The session's DATA path uses wire.encode_data with big chunks, whose dot-stuffing picks
# a strategy per chunk (sparse dots: memchr jumps; dense: a regex split; and a switch
# half-way when a chunk turns out dense).  Each strategy against a line-by-line oracle.


def oracle_wire(content: bytes) -> bytes:
    """DATA for ``content`` the obvious way: split into lines, stuff, rejoin with CRLF."""
    text = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not text:
        return b".\r\n"
    lines = text[:-1].split(b"\n") if text.endswith(b"\n") else text.split(b"\n")
    return b"".join(
        (b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines
    ) + (b".\r\n")


_HOT_PIECES = [b".", b"\n.", b"\n..", b"\n", b"\r\n", b"\r", b"x", b"a.b", b"y" * 700, b"z" * 3000]


@pytest.mark.parametrize(
    "content",
    [
        b"y" * 5000 + b"\n.a" * 600,  # sparse sample, then dense: the switch half-way
        (b"words. more words. " * 40 + b"\n.dot line\n") * 50,  # dense from the start
        (b"A" * 76 + b"\n") * 4000,  # base64-like: no dot at all
        b"x" * 3000 + b"\n.x" * 3 + b"y" * 3000,  # a few line-start dots, sparse
        b"a.b.c\n" * 3000,  # dots only inside lines
        b".\n" * 5000,  # every line is a dot
    ],
    ids=["switch", "dense", "no-dots", "sparse", "inner-dots", "all-dots"],
)
@pytest.mark.parametrize("chunk_size", [1, 1000, 1 << 16, 1 << 18])
def test_dot_stuffing_strategies_match_the_oracle(content: bytes, chunk_size: int) -> None:
    if chunk_size == 1 and len(content) > 10000:
        content = content[:10000]
    assert b"".join(encode_data([content], chunk_size)) == oracle_wire(content)


@settings(max_examples=150)
@given(
    pieces=st.lists(st.sampled_from(_HOT_PIECES), max_size=80),
    chunk_size=st.sampled_from([7, 1024, 4096, 1 << 18]),
)
def test_dot_stuffing_any_mix_matches_the_oracle(pieces: List[bytes], chunk_size: int) -> None:
    content = b"".join(pieces)
    assert b"".join(encode_data([content], chunk_size)) == oracle_wire(content)
