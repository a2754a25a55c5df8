"""The failure matrix: every stage of the conversation x every fault, against a scripted server.

Each cell of :func:`test_failure_matrix` checks the four promises a mail client must keep
when the server misbehaves (README "Reliability"):

1. the documented exception, which is also the matching :mod:`smtplib` exception, with
   ``.code`` and ``.reply`` when the server gave a reply;
2. the call returns within its ``timeout`` plus a small margin, silence included;
3. the socket is closed: the process has as many file descriptors after the call as
   before it (counted while the exception, and so its traceback, is still alive), no
   socket of ours still points at the server, the server saw the client hang up, and no
   ``ResourceWarning`` comes when the exception is dropped;
4. only a 2xx after the body counts as sent: every cell before it raises, and a failed
   QUIT after it is logged, not raised.

The stages are those of ``post_office.smtp.Session``; the faults those of
``faultserver.FAULTS`` (a 421, a 554, a disconnect, silence, an HTTP reply).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import smtplib
import socket
import ssl
import time
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type

import pytest
from support.faultserver import (
    DISCONNECT,
    FAULTS,
    GARBAGE,
    SILENCE,
    Action,
    ConnectionRecord,
    FaultServer,
    endless,
    hangup,
    linux_only,
    open_fds,
    raw,
    reply,
    sockets_to,
    split,
)

from post_office import (
    AuthenticationError,
    CertificateError,
    ConnectError,
    ConnectionFailedError,
    DataError,
    HeloError,
    ProtocolError,
    RecipientRefusedError,
    SenderRefusedError,
    ServerDisconnectedError,
    SMTPError,
    SMTPTimeoutError,
    SocketError,
    StartTLSError,
    TLSError,
    send_smtp,
    send_smtp_auth,
)
from post_office import Stage as TransactionStage

#: Short, so that the silence cells stay fast; a real handshake on loopback takes ~10 ms.
TIMEOUT = 0.4
#: How much longer than ``TIMEOUT`` a failing call may take (slow CI machines included).
MARGIN = 1.5
FROM = "me@example.test"
TO = ["first@example.test", "second@example.test"]
LOGIN, PASSWORD = "user", "pässwörd"
EHLO_NAME = "client.example.test"
MESSAGE = "Subject: faults\r\n\r\nHello.\r\n"
#: Far more than the socket buffers hold (the fault server's receive buffer is 32 KiB), so
#: that a fault "during the body" finds the client still sending.
BIG_BODY = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 8000

Factory = Callable[..., FaultServer]


# --------------------------------------------------------------------------- the stages


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of the conversation, and what a refusal there raises."""

    name: str
    key: str
    """The fault server's script key for the faulty step."""
    refused: Optional[Type[SMTPError]]
    """What a 4xx or 5xx raises (None: nothing, the conversation goes on)."""
    base: Type[BaseException]
    """The smtplib (or ssl) class that ``refused`` also is."""
    command: Optional[str] = None
    """What ``.command`` of the error starts with (None: not checked)."""
    mode: str = "plain"
    """"plain", "starttls" (`:starttls t`), "implicit" (`:ssl t`) or "auth" (send_smtp_auth)."""
    setup: Tuple[Tuple[str, Action], ...] = ()
    """Script entries that lead the conversation to this stage."""
    body: bytes = MESSAGE.encode()
    tls_stage: bool = False
    """A fault here hits the TLS handshake: a reply or garbage is not TLS."""
    falls_back: Tuple[str, ...] = ()
    """Faults the client gets over by itself (EHLO refused: HELO instead)."""
    pipelining: bool = False
    """The server offers PIPELINING: MAIL, RCPT and DATA go in one write (RFC 2920)."""


STAGES = [
    Stage("greeting", "greeting", ConnectError, smtplib.SMTPConnectError, "(connect)"),
    # A refused EHLO is no failure, the client says HELO instead; but not after a 421,
    # which says the server is closing the connection (see test_ehlo_refusals).
    Stage(
        "EHLO", "EHLO", HeloError, smtplib.SMTPHeloError, f"EHLO {EHLO_NAME}", falls_back=("5xx",)
    ),
    Stage(
        "HELO",
        "HELO",
        HeloError,
        smtplib.SMTPHeloError,
        f"HELO {EHLO_NAME}",
        setup=(("EHLO", reply("502 5.5.2 Error: command not recognized")),),
    ),
    Stage(
        "STARTTLS",
        "STARTTLS",
        StartTLSError,
        smtplib.SMTPNotSupportedError,
        "STARTTLS",
        mode="starttls",
    ),
    Stage(
        "TLS handshake after STARTTLS",
        "TLS",
        TLSError,
        ssl.SSLError,
        "STARTTLS",
        mode="starttls",
        tls_stage=True,
    ),
    Stage(
        "TLS handshake, implicit", "TLS", TLSError, ssl.SSLError, mode="implicit", tls_stage=True
    ),
    Stage(
        "AUTH",
        "AUTH",
        AuthenticationError,
        smtplib.SMTPAuthenticationError,
        "AUTH PLAIN <redacted>",
        mode="auth",
    ),
    Stage("MAIL", "MAIL", SenderRefusedError, smtplib.SMTPSenderRefused, f"MAIL FROM:<{FROM}>"),
    Stage(
        "RCPT 1",
        "RCPT 1",
        RecipientRefusedError,
        smtplib.SMTPRecipientsRefused,
        f"RCPT TO:<{TO[0]}>",
    ),
    Stage(
        "RCPT 2",
        "RCPT 2",
        RecipientRefusedError,
        smtplib.SMTPRecipientsRefused,
        f"RCPT TO:<{TO[1]}>",
    ),
    Stage("DATA", "DATA", DataError, smtplib.SMTPDataError, "DATA"),
    *(
        dataclasses.replace(stage, name=f"{stage.name} pipelined", pipelining=True)
        for stage in (
            Stage("MAIL", "MAIL", SenderRefusedError, smtplib.SMTPSenderRefused, "MAIL FROM:<"),
            Stage("RCPT 1", "RCPT 1", RecipientRefusedError, smtplib.SMTPRecipientsRefused, "RCPT"),
            Stage("RCPT 2", "RCPT 2", RecipientRefusedError, smtplib.SMTPRecipientsRefused, "RCPT"),
            Stage("DATA", "DATA", DataError, smtplib.SMTPDataError, "DATA"),
        )
    ),
    # During the body the command is "(message body)": the client stops sending at the
    # first byte of a reply (an early 4xx, 5xx or garbage), before its end of data.
    Stage("body", "BODY", DataError, smtplib.SMTPDataError, "(", body=BIG_BODY),
    Stage(
        "body over TLS", "BODY", DataError, smtplib.SMTPDataError, "(", "implicit", body=BIG_BODY
    ),
    Stage("after the body", "END", DataError, smtplib.SMTPDataError, "(end of message) ."),
    Stage("QUIT", "QUIT", None, smtplib.SMTPException),
]

#: What a fault that is not a reply raises, at any stage (and its smtplib classes).
NOT_A_REPLY: Dict[str, Tuple[Type[SMTPError], Tuple[Type[BaseException], ...]]] = {
    "disconnect": (ServerDisconnectedError, (smtplib.SMTPServerDisconnected,)),
    "silence": (SMTPTimeoutError, (smtplib.SMTPServerDisconnected, TimeoutError)),
    "garbage": (ProtocolError, (smtplib.SMTPResponseException,)),
}

REPLY_TEXT = {"4xx": (421, "Service not available"), "5xx": (554, "Rejected")}


def server_for(factory: Factory, stage: Stage, fault: Optional[Action]) -> FaultServer:
    script = dict(stage.setup)
    if fault is not None:
        script[stage.key] = fault
    return factory(
        script,
        tls=stage.mode in ("starttls", "implicit"),
        implicit_tls=stage.mode == "implicit",
        auth="PLAIN" if stage.mode == "auth" else None,
        ehlo_keywords=("8BITMIME", "PIPELINING") if stage.pipelining else ("8BITMIME",),
    )


def send(server: FaultServer, stage: Stage, ca_file: str) -> None:
    """The client call of ``stage`` against ``server``."""
    options: Tuple[object, ...] = ()
    if stage.mode == "starttls":
        options = (":starttls", True, ":ca-file", ca_file)
    elif stage.mode == "implicit":
        options = (":ssl", True, ":ca-file", ca_file)
    spec = server.spec(*options)
    if stage.mode == "auth":
        send_smtp_auth(
            spec, FROM, TO, LOGIN, PASSWORD, stage.body, timeout=TIMEOUT, local_hostname=EHLO_NAME
        )
    else:
        send_smtp(spec, FROM, TO, stage.body, timeout=TIMEOUT, local_hostname=EHLO_NAME)


@dataclasses.dataclass
class Outcome:
    error: Optional[BaseException]
    elapsed: float
    records: List[ConnectionRecord]


@pytest.fixture
def no_leaks() -> Iterator[Callable[[FaultServer, Callable[[], None]], Outcome]]:
    """``run(server, call)``: make the call and prove it left no socket behind.

    The descriptor count is taken while the exception (and the frames in its traceback,
    which would keep an unclosed socket alive) still exists; the fault server's own
    connection socket is closed first (``finish``), its listening socket is there before
    and after.  Then the exception is dropped and no ``ResourceWarning`` may follow.

    Everything that existed before the test is frozen (``gc.freeze``), so the collection
    at the end looks only at what the test made (the sockets, the exception's frames)
    instead of the whole heap: a large share of the matrix's time otherwise.
    """
    gc.freeze()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)

        def run(server: FaultServer, call: Callable[[], None]) -> Outcome:
            before = open_fds()
            start = time.monotonic()
            error: Optional[BaseException] = None
            try:
                call()
            except Exception as exc:
                error = exc
            elapsed = time.monotonic() - start
            assert sockets_to(server.port) == 0, "a client socket to the server is still open"
            records = server.finish()
            assert open_fds() == before, "the call left a file descriptor open"
            return Outcome(error, elapsed, records)

        yield run
        gc.collect()
    gc.unfreeze()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


# --------------------------------------------------------------------------- the matrix


#: The matrix's stages before MAIL FROM is accepted (the MAIL refusal included).
BEFORE_MAIL_KEYS = ("greeting", "EHLO", "HELO", "STARTTLS", "TLS", "AUTH", "MAIL")

CELLS = [
    pytest.param(stage, fault, id=f"{stage.name}-{fault}") for stage in STAGES for fault in FAULTS
]


@linux_only
@pytest.mark.parametrize(("stage", "fault"), CELLS)
def test_failure_matrix(
    stage: Stage,
    fault: str,
    fault_server_factory: Factory,
    ca_file: str,
    no_leaks: Callable[[FaultServer, Callable[[], None]], Outcome],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = server_for(fault_server_factory, stage, FAULTS[fault])
    with caplog.at_level(logging.WARNING, logger="post_office.smtp"):
        outcome = no_leaks(server, lambda: send(server, stage, ca_file))
    assert outcome.elapsed < TIMEOUT + MARGIN
    [record] = outcome.records
    error = outcome.error

    if stage.key == "QUIT":  # the message was accepted: a failed QUIT is logged only
        assert error is None
        assert record.data is not None and record.data.endswith(b"Hello.\r\n.\r\n")
        assert "QUIT was not acknowledged" in caplog.text
        return
    if fault in stage.falls_back:  # EHLO refused: HELO instead
        assert error is None
        assert record.verbs[:2] == ["EHLO", "HELO"] and record.data is not None
        return

    # Only a 2xx after the body counts as sent: every other cell raises.
    assert error is not None, "the call reported success for a message the server refused"
    if fault in REPLY_TEXT:
        expected: Type[BaseException] = stage.refused or SMTPError
        bases: Tuple[Type[BaseException], ...] = (stage.base,)
    elif stage.tls_stage and fault == "garbage":
        expected, bases = TLSError, (ssl.SSLError,)
    else:
        expected, bases = NOT_A_REPLY[fault]
    assert type(error) is expected, repr(error)
    for base in (SMTPError, *bases):
        assert isinstance(error, base)

    if fault in REPLY_TEXT and not stage.tls_stage:
        code, text = REPLY_TEXT[fault]
        assert error.code == code and text in error.reply
        assert f"{code} " in str(error) and text in str(error)
    else:  # no SMTP reply to report (TLS stage: an SMTP reply is not a TLS handshake)
        assert error.code is None
    if stage.command is not None:
        assert error.command is not None and error.command.startswith(stage.command)
    if stage.key == "BODY":  # whatever the server does, it meets the client still sending
        assert error.command == "(message body)"
    if isinstance(error, RecipientRefusedError):
        assert error.recipient == TO[int(stage.key[-1]) - 1]
    if isinstance(error, SenderRefusedError):
        assert error.sender == FROM
    if stage.pipelining and fault in REPLY_TEXT:  # DATA was written before any reply came
        assert record.verbs[1:5] == ["MAIL", "RCPT", "RCPT", "DATA"]
    # Every failure says how far it got; before MAIL FROM was accepted nothing was sent
    # (README's retry rule: safe to resend).
    assert isinstance(error, SMTPError) and error.stage is not None, repr(error)
    if stage.key in BEFORE_MAIL_KEYS:
        assert error.stage is TransactionStage.BEFORE_MAIL, (stage.key, error.stage)
    elif stage.key in ("BODY", "END"):
        assert error.stage.may_have_delivered
    # The client hung up itself whenever the server was still listening.
    if fault != "disconnect" and not (stage.key == "BODY" and fault == "silence"):
        assert record.ended_by == "client"
    assert PASSWORD not in str(error)


@linux_only
def test_connect_refused(no_leaks: Callable[[FaultServer, Callable[[], None]], Outcome]) -> None:
    with FaultServer() as server:  # for the descriptor accounting only
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        outcome = no_leaks(
            server,
            lambda: send_smtp(("127.0.0.1", port), FROM, TO, MESSAGE, timeout=TIMEOUT),
        )
    error = outcome.error
    assert type(error) is ConnectionFailedError, repr(error)
    assert isinstance(error, ConnectError) and isinstance(error, SocketError)
    assert isinstance(error, smtplib.SMTPConnectError)
    assert error.code is None and f"port {port}" in str(error)
    assert outcome.elapsed < TIMEOUT + MARGIN


@linux_only
@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_certificate_failure_in_the_handshake(
    mode: str,
    fault_server_factory: Factory,
    ca_file: str,
    tmp_path: Any,
    no_leaks: Callable[[FaultServer, Callable[[], None]], Outcome],
) -> None:
    """A server certificate the client does not trust: CertificateError, with advice."""
    import trustme

    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    stage = next(s for s in STAGES if s.mode == mode and s.tls_stage)
    server = server_for(fault_server_factory, stage, None)
    outcome = no_leaks(server, lambda: send(server, stage, str(other_ca)))
    error = outcome.error
    assert type(error) is CertificateError, repr(error)
    assert isinstance(error, ssl.SSLCertVerificationError) and isinstance(error, TLSError)
    assert ":ca-file" in str(error) and ":verify nil" in str(error)
    assert outcome.records[0].data is None


@linux_only
@pytest.mark.parametrize("stage", STAGES, ids=[stage.name for stage in STAGES])
def test_every_stage_succeeds_without_a_fault(
    stage: Stage,
    fault_server_factory: Factory,
    ca_file: str,
    no_leaks: Callable[[FaultServer, Callable[[], None]], Outcome],
) -> None:
    """The baseline of the matrix: each stage's set-up alone delivers the message."""
    server = server_for(fault_server_factory, stage, None)
    outcome = no_leaks(server, lambda: send(server, stage, ca_file))
    assert outcome.error is None
    [record] = outcome.records
    assert record.data is not None and record.data.endswith(b"\r\n.\r\n")
    assert record.after_data == b"QUIT\r\n" and record.ended_by == "client"
    assert record.tls == (stage.mode in ("starttls", "implicit"))


@pytest.mark.parametrize(
    ("ehlo", "helo"),
    [
        ("500 5.5.1 command unrecognized", True),
        ("502 5.5.2 command not implemented", True),
        ("451 4.3.0 local error", True),
        ("554 5.7.1 go away", True),
        ("421 4.3.2 closing", False),
    ],
)
def test_ehlo_refusals(ehlo: str, helo: bool, fault_server_factory: Factory) -> None:
    """A refused EHLO falls back to HELO, except a 421: the server is closing (README
    "Differences from Allegro")."""
    server = fault_server_factory({"EHLO": hangup(ehlo) if not helo else reply(ehlo)})
    if helo:
        send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT, local_hostname=EHLO_NAME)
        [record] = server.wait_for(1)
        assert record.verbs[:2] == ["EHLO", "HELO"] and record.data is not None
        return
    with pytest.raises(HeloError) as info:
        send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT, local_hostname=EHLO_NAME)
    assert info.value.code == 421 and info.value.reply == "4.3.2 closing"
    assert server.wait_for(1)[0].verbs == ["EHLO"]


# --------------------------------------------------------------------------- reply shapes

#: Stage -> (split, multi-line, bare LF) forms of its normal reply.
SHAPES: Dict[str, Tuple[Action, Action, Action]] = {
    "greeting": (
        split(b"22", b"0 faults.test", b" ready\r\n"),
        reply("220-faults.test ESMTP", "220-no UCE", "220 ready"),
        raw(b"220 faults.test ready\n"),
    ),
    "EHLO": (
        split(b"250-faults.test\r\n250-8BIT", b"MIME\r\n", b"250 SIZE 100000\r\n"),
        reply("250-faults.test", "250-PIPE", "250-8BITMIME", "250 HELP"),
        raw(b"250-faults.test\n250 8BITMIME\n"),
    ),
    "MAIL": (
        split(b"2", b"50 2.1.0", b" OK\r", b"\n"),
        reply("250-2.1.0 sender", "250 2.1.0 OK"),
        raw(b"250 OK\n"),
    ),
    "RCPT": (
        split(b"250 2.1.5 OK\r\n"[:5], b"250 2.1.5 OK\r\n"[5:]),
        reply("250-one", "250-two", "250 three"),
        raw(b"250 OK\n"),
    ),
    "DATA": (
        split(b"354 go", b" ahead\r\n"),
        reply("354-go", "354 ahead"),
        raw(b"354 go ahead\n"),
    ),
    "END": (
        split(b"250 2.0.0 ", b"queued as 1\r\n"),
        reply("250-2.0.0 queued", "250 2.0.0 as 1"),
        raw(b"250 queued\n"),
    ),
    "QUIT": (
        split(b"221 ", b"bye\r\n"),
        reply("221-2.0.0 closing", "221 2.0.0 bye"),
        raw(b"221 bye\n"),
    ),
    "code only": (  # RFC 5321 4.2: the text after the code is optional
        raw(b"250\r\n"),
        reply("250-", "250"),
        raw(b"250\n"),
    ),
}


@pytest.mark.parametrize("shape", ["split", "multi-line", "bare LF"])
@pytest.mark.parametrize("key", list(SHAPES))
def test_reply_shapes_are_understood(key: str, shape: str, fault_server_factory: Factory) -> None:
    """Replies split across packets, multi-line replies and bare-LF replies all work."""
    action = SHAPES[key][["split", "multi-line", "bare LF"].index(shape)]
    server = fault_server_factory({"MAIL" if key == "code only" else key: action})
    send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT, local_hostname=EHLO_NAME)
    [record] = server.wait_for(1)
    assert record.data == b"Subject: faults\r\n\r\nHello.\r\n.\r\n"
    assert record.ended_by == "client"


def test_multi_line_refusal_keeps_every_line(fault_server_factory: Factory) -> None:
    server = fault_server_factory(
        {
            "RCPT 2": split(
                b"550-5.1.1 no such user\r\n550-5.1.1 ", b"try later\r\n550 5.1.1 bye\r\n"
            )
        }
    )
    with pytest.raises(RecipientRefusedError) as info:
        send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT)
    assert info.value.code == 550
    assert info.value.reply == "5.1.1 no such user\n5.1.1 try later\n5.1.1 bye"


MALFORMED = [
    b"2500 OK\r\n",  # four digits
    b"250OK\r\n",  # no separator after the code
    b"25 OK\r\n",
    b"OK 250\r\n",
    b" 250 OK\r\n",
    b"099 too low\r\n",
    b"600 too high\r\n",
    b"\r\n",
    b"\x00\xff\xfe\r\n",
    b"250-first\r\n550 second has another code\r\n",
    b"+OK POP3 server ready\r\n",
]


@pytest.mark.parametrize("stage", ["greeting", "MAIL", "END"])
@pytest.mark.parametrize("data", MALFORMED, ids=[repr(m)[2:14] for m in MALFORMED])
def test_malformed_replies_are_protocol_errors(
    stage: str, data: bytes, fault_server_factory: Factory
) -> None:
    """Not an RFC 5321 reply: ProtocolError, never a success ("2500" after the body is not 2xx)."""
    server = fault_server_factory({stage: raw(data)})
    with pytest.raises(ProtocolError) as info:
        send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT)
    assert isinstance(info.value, smtplib.SMTPResponseException)
    assert info.value.code is None
    assert "not an SMTP reply" in str(info.value) or "changed the reply code" in str(info.value)
    assert "None" not in str(info.value)
    [record] = server.finish()
    assert record.ended_by == "client"


def test_starttls_response_injection_is_ignored(
    fault_server_factory: Factory, ca_file: str
) -> None:
    """Plain-text bytes sent along with the 220 must not be read as a reply after TLS starts.

    (The STARTTLS command-injection family, CVE-2011-0411 and its client-side cousins: a
    man in the middle appends a reply that the client would take as the answer to its
    first encrypted command.)
    """
    server = fault_server_factory(
        {"STARTTLS": raw(b"220 2.0.0 go ahead\r\n554 5.7.1 injected\r\n")}, tls=True
    )
    send_smtp(
        server.spec(":starttls", True, ":ca-file", ca_file), FROM, TO, MESSAGE, timeout=TIMEOUT
    )
    [record] = server.wait_for(1)
    assert record.tls and record.verbs == [
        "EHLO",
        "STARTTLS",
        "EHLO",
        "MAIL",
        "RCPT",
        "RCPT",
        "DATA",
        "QUIT",
    ]


@linux_only
@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("greeting", ConnectError),
        ("MAIL", SenderRefusedError),
        ("RCPT 2", RecipientRefusedError),
        ("DATA", DataError),
        ("END", DataError),
    ],
)
def test_a_421_and_a_hang_up_reports_the_421(
    stage: str,
    expected: Type[SMTPError],
    fault_server_factory: Factory,
    no_leaks: Callable[[FaultServer, Callable[[], None]], Outcome],
) -> None:
    """A 421 then an immediate close (what busy servers do): the reply is what is told."""
    server = fault_server_factory({stage: hangup("421 4.7.0 too busy, closing")})
    outcome = no_leaks(server, lambda: send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT))
    error = outcome.error
    assert type(error) is expected, repr(error)
    assert error.code == 421 and error.reply == "4.7.0 too busy, closing"


@linux_only
def test_half_a_reply_then_silence_times_out(
    fault_server_factory: Factory,
    no_leaks: Callable[[FaultServer, Callable[[], None]], Outcome],
) -> None:
    """A server that stops in the middle of a multi-line reply is silence too."""
    server = fault_server_factory({"MAIL": raw(b"250-2.1.0 first line\r\n250 2.1")})
    outcome = no_leaks(server, lambda: send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=TIMEOUT))
    assert type(outcome.error) is SMTPTimeoutError
    assert outcome.elapsed < TIMEOUT + MARGIN
    assert outcome.records[0].ended_by == "client"


def test_the_fault_server_goes_silent_endless_or_garbled(fault_server_factory: Factory) -> None:
    """The fault server's own actions behave as the tests rely on (a raw socket client)."""
    server = fault_server_factory({"greeting": SILENCE})
    with (
        socket.create_connection((server.host, server.port), TIMEOUT) as sock,
        pytest.raises(socket.timeout),
    ):
        sock.recv(1)
    assert server.finish()[-1].ended_by == "client"
    server.script["greeting"] = endless(b"220-")
    with socket.create_connection((server.host, server.port), TIMEOUT) as sock:
        assert sock.recv(4) == b"220-"
    server.finish()
    server.script["greeting"] = GARBAGE
    with socket.create_connection((server.host, server.port), TIMEOUT) as sock:
        assert sock.recv(4) == b"HTTP"
    server.finish()
    server.script["greeting"] = DISCONNECT
    with socket.create_connection((server.host, server.port), TIMEOUT) as sock:
        assert sock.recv(1) == b""
    assert [record.ended_by for record in server.finish()] == [
        "client",
        "client",
        "client",
        "server",
    ]
