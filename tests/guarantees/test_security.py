"""Issue 14: the library attacked as an adversary would, one regression test per defect.

Each test here failed before its fix (checked by reverting the fix's lines):

1. STARTTLS stripping: with credentials, ``:starttls t`` means ``:required`` on every
   path (API, ``smtp_session``, the command line), and without TLS credentials go only to
   loopback or where the spec says ``:allow-plaintext-auth t``, refused before connecting;
2. replies that arrive before their command are a ``ProtocolError``, never success; a
   refusal that arrives while the body is being sent keeps its code (``DataError``);
4. ``timeout`` bounds one whole reply (and the TLS handshake), not each ``recv``;
6. ``:ssl t`` with ``:starttls :required`` delivers;
7. a debug stream that raises never makes an accepted message look failed;
   bad input: absurd timeouts and integers beyond Python's digit limit get the
   documented errors, before any connection.

Item 3 (the ``:program`` transport) is in ``test_program.py``; Ctrl-C in
``test_interrupts.py``.
"""

from __future__ import annotations

import base64
import io
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Tuple

import pytest
from support.faultserver import FaultServer, hangup, raw, reply, trickle

import post_office
from post_office import (
    DataError,
    MailServer,
    MimeError,
    OptionError,
    ProtocolError,
    ServerSpecError,
    SMTPTimeoutError,
    StartTLSError,
    make_mime_part,
    parse_mail_server,
    read_lisp,
    send_letter,
    send_smtp,
    send_smtp_auth,
    smtp_session,
    test_email_address,
)
from post_office.cli import main
from post_office.client.session import Session
from post_office.spec.options import check_auth_transport, check_connect_options

FROM = "me@example.test"
TO = "you@example.test"
LOGIN = "me"
SECRET = "s3cret-pässword"
MESSAGE = "Subject: issue 14\r\n\r\nHello.\r\n"
LOGIN_ARGS = ("--login", LOGIN, "--password-env", "PW")
#: A host that is never contacted: ".invalid" never resolves (RFC 6761), and the
#: ``no_network`` fixture fails the test at the first attempt anyway.
REMOTE = "mail.example.invalid"
#: Small, so that the timeout tests stay fast.
TIMEOUT = 1.0
#: How much longer than ``TIMEOUT`` a call may take (slow CI machines included).
MARGIN = 2.0

FaultFactory = Callable[..., FaultServer]


def lisp_spec(server: FaultServer, *options: str) -> str:
    """The server's spec as Lisp text, as a user gives it on the command line."""
    return f'("{server.host}" :port {server.port} {" ".join(options)})'.replace(" )", ")")


def secret_traces(server: FaultServer) -> List[bytes]:
    """Every line the server received that carries the password, in any form AUTH uses."""
    plain = base64.b64encode(f"\0{LOGIN}\0{SECRET}".encode())
    alone = base64.b64encode(SECRET.encode())
    raw = SECRET.encode()
    found = []
    for record in server.connections:
        for line in [*record.commands, record.after_data, record.data or b""]:
            if line.upper().startswith(b"AUTH") or any(s in line for s in (plain, alone, raw)):
                found.append(line)
    return found


# --------------------------------------------------------------------------- guards


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """Fail the test at the first DNS lookup or connection attempt (they are recorded
    too, in case the library swallows the AssertionError)."""
    attempts: List[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            attempts.append(what)
            raise AssertionError(f"{what} was attempted: the check must come first")

        return call

    monkeypatch.setattr(socket, "create_connection", refuse("connect"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr("post_office.client.resolve.resolve_mail_server", refuse("resolve"))
    return attempts


Cli = Callable[..., Tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``post-office ARGS`` in this process with the password in ``$PW``: (status, stdout,
    stderr)."""
    body = tmp_path / "body.txt"
    body.write_text(MESSAGE)

    def run(*args: str) -> Tuple[int, str, str]:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.setenv("PW", SECRET)
            patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
            argv = [a.replace("@BODY", str(body)) for a in args]
            status = main(argv)
        out, err = capsys.readouterr()
        return status, out, err

    return run


# =========================================================================== 1. STARTTLS
# A server (or a man in the middle) that hides STARTTLS and offers AUTH PLAIN in clear.


@pytest.fixture
def stripping(fault_server_factory: FaultFactory) -> FaultServer:
    """EHLO: ``250-faults.test`` / ``250-8BITMIME`` / ``250 AUTH PLAIN``; no STARTTLS."""
    return fault_server_factory(auth="PLAIN")


def _api_auth(server: FaultServer) -> None:
    send_smtp_auth(server.spec(":starttls", True), FROM, TO, LOGIN, SECRET, MESSAGE, timeout=5)


def _api_letter(server: FaultServer) -> None:
    send_letter(server.spec(":starttls", True), FROM, TO, "hi", login=LOGIN, password=SECRET)


def _api_session(server: FaultServer) -> None:
    with smtp_session(server.spec(":starttls", True), login=LOGIN, password=SECRET) as session:
        session.send_smtp(FROM, TO, MESSAGE)


@pytest.mark.parametrize(
    "path",
    [_api_auth, _api_letter, _api_session],
    ids=["send_smtp_auth", "send_letter", "smtp_session"],
)
def test_a_hidden_starttls_gets_no_password(
    stripping: FaultServer, path: Callable[..., None]
) -> None:
    with pytest.raises(StartTLSError) as caught:
        path(stripping)
    text = str(caught.value)
    assert "did not offer STARTTLS" in text and "password was not sent" in text
    [record] = stripping.wait_for(1)
    assert secret_traces(stripping) == []
    assert "MAIL" not in record.verbs  # nothing was sent at all
    assert record.ended_by == "client"


@pytest.mark.parametrize(
    "args",
    [
        ("send", "@SPEC", FROM, TO, *LOGIN_ARGS, "--file", "@BODY"),
        (
            "send",
            "@SPEC",
            FROM,
            TO,
            "--raw",
            "--login",
            LOGIN,
            "--password-env",
            "PW",
            "--file",
            "@BODY",
        ),
        ("check", "@SPEC", *LOGIN_ARGS),
    ],
    ids=["send", "send-raw", "check"],
)
def test_a_hidden_starttls_gets_no_password_from_the_command_line(
    stripping: FaultServer, cli: Cli, args: Tuple[str, ...]
) -> None:
    spec = lisp_spec(stripping, ":starttls t")
    status, out, err = cli(*[spec if a == "@SPEC" else a for a in args])
    assert status == 69, (out, err)  # EX_UNAVAILABLE: the server lacks what the spec needs
    assert "did not offer STARTTLS" in err and "password was not sent" in err
    assert "Traceback" not in err
    stripping.wait_for(1)
    assert secret_traces(stripping) == []
    assert SECRET not in out + err


def test_without_credentials_starttls_t_stays_opportunistic(stripping: FaultServer) -> None:
    send_smtp(stripping.spec(":starttls", True), FROM, TO, MESSAGE, timeout=5)  # Allegro's t
    [record] = stripping.wait_for(1)
    assert record.data is not None and b"Hello." in record.data


@pytest.mark.parametrize(
    "path",
    [
        lambda spec: send_smtp_auth(spec, FROM, TO, LOGIN, SECRET, MESSAGE),
        lambda spec: send_letter(spec, FROM, TO, "hi", login=LOGIN, password=SECRET),
        lambda spec: smtp_session(spec, login=LOGIN, password=SECRET),
    ],
    ids=["send_smtp_auth", "send_letter", "smtp_session"],
)
def test_plaintext_credentials_to_another_host_are_refused_before_connecting(
    no_network: List[str], path: Callable[[object], object]
) -> None:
    with pytest.raises(OptionError, match=":allow-plaintext-auth t") as caught:
        path((REMOTE, ":port", 587))
    assert REMOTE in str(caught.value) and SECRET not in str(caught.value)
    assert no_network == []


@pytest.mark.parametrize(
    "args",
    [
        ("send", REMOTE, FROM, TO, *LOGIN_ARGS, "--file", "@BODY"),
        (
            "send",
            REMOTE,
            FROM,
            TO,
            "--raw",
            "--login",
            LOGIN,
            "--password-env",
            "PW",
            "--file",
            "@BODY",
        ),
        ("check", REMOTE, *LOGIN_ARGS),
    ],
    ids=["send", "send-raw", "check"],
)
def test_plaintext_credentials_from_the_command_line_are_refused_before_connecting(
    no_network: List[str], cli: Cli, args: Tuple[str, ...]
) -> None:
    status, out, err = cli(*args)
    assert no_network == []
    assert status == 2, (out, err)
    assert ":allow-plaintext-auth t" in err and SECRET not in out + err


@pytest.fixture
def not_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make 127.0.0.1 count as another machine, so that the plaintext rule applies to a
    loopback test server."""
    monkeypatch.setattr("post_office.protocol.conversation.is_loopback_host", lambda host: False)
    monkeypatch.setattr("post_office.spec.options.is_loopback_host", lambda host: False)


@pytest.mark.parametrize("command", ["send", "check"])
def test_the_password_is_not_asked_for_a_spec_that_would_send_it_in_clear(
    no_network: List[str], cli: Cli, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    asked: List[str] = []

    def ask(args: Any) -> str:
        asked.append(args.login)
        return SECRET

    monkeypatch.setattr(f"post_office.cli.commands.{command}.ask_password", ask)
    extra = (FROM, TO, "--file", "@BODY") if command == "send" else ()
    status, _out, err = cli(command, REMOTE, *extra, "--login", LOGIN)
    assert (status, asked, no_network) == (2, [], []), err
    assert ":allow-plaintext-auth t" in err


def test_check_never_sends_plaintext_credentials_to_another_host(
    stripping: FaultServer, cli: Cli, not_loopback: None
) -> None:
    status, out, err = cli("check", lisp_spec(stripping), *LOGIN_ARGS)
    assert status == 2, (out, err)
    assert ":allow-plaintext-auth t" in err
    assert secret_traces(stripping) == []


def test_allow_plaintext_auth_opts_in_to_auth_in_clear(
    stripping: FaultServer, not_loopback: None
) -> None:
    with pytest.raises(OptionError, match=":allow-plaintext-auth t"):
        send_smtp_auth(stripping.spec(), FROM, TO, LOGIN, SECRET, MESSAGE, timeout=5)
    assert stripping.settled_connection_count() == 0  # refused before connecting
    send_smtp_auth(
        stripping.spec(":allow-plaintext-auth", True), FROM, TO, LOGIN, SECRET, MESSAGE, timeout=5
    )
    [record] = stripping.wait_for(1)
    assert any(line.startswith(b"AUTH PLAIN") for line in record.commands)
    assert record.data is not None


@pytest.mark.parametrize(
    "spec",
    [
        (REMOTE, ":port", 587, ":allow-plaintext-auth", True),
        f'("{REMOTE}" :port 587 :allow-plaintext-auth t)',
    ],
    ids=["tuple", "lisp"],
)
def test_the_allow_plaintext_auth_keyword_parses_and_round_trips(spec: object) -> None:
    server = parse_mail_server(spec)
    assert server.allow_plaintext_auth is True
    assert ":allow-plaintext-auth t" in server.to_lisp()
    assert parse_mail_server(server.to_lisp()) == server
    assert parse_mail_server(read_lisp(server.to_lisp())) == server
    check_auth_transport(server, (LOGIN, SECRET))  # no error: opted in
    default = parse_mail_server((REMOTE, ":port", 587))
    assert default.allow_plaintext_auth is False
    assert "allow-plaintext-auth" not in default.to_lisp()
    with pytest.raises(OptionError, match=":allow-plaintext-auth t"):
        check_auth_transport(default, (LOGIN, SECRET))
    check_auth_transport(default, None)  # no credentials: nothing to protect


def test_loopback_and_tls_specs_may_carry_credentials() -> None:
    for host in ("localhost", "127.0.0.1", "::1", "[::1]"):
        check_auth_transport(MailServer(host), (LOGIN, SECRET))
    check_auth_transport(parse_mail_server((REMOTE, ":starttls", True)), (LOGIN, SECRET))
    check_auth_transport(parse_mail_server((REMOTE, ":ssl", True)), (LOGIN, SECRET))


# =========================================================================== 2. early replies


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_a_250_sent_with_the_354_is_never_taken_for_the_answer(
    fault_server_factory: FaultFactory, pipelining: bool
) -> None:
    keywords = ("8BITMIME", "PIPELINING") if pipelining else ("8BITMIME",)
    server = fault_server_factory(
        {
            "DATA": raw(b"354 go ahead\r\n250 2.0.0 queued (forged)\r\n"),
            "END": reply("554 5.7.1 refused after all"),
        },
        ehlo_keywords=keywords,
    )
    with pytest.raises(ProtocolError, match="before we said"):
        send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=5)
    [record] = server.wait_for(1)
    assert record.data is None  # refused before a byte of the body went out


def test_a_whole_transcript_sent_with_the_greeting_is_a_protocol_error(
    fault_server_factory: FaultFactory,
) -> None:
    transcript = (
        b"220 mx ESMTP\r\n250 mx\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n"
        b"250 2.0.0 queued\r\n221 bye\r\n"
    )
    server = fault_server_factory({"greeting": raw(transcript)})
    with pytest.raises(ProtocolError):
        send_smtp(server.spec(), FROM, TO, MESSAGE, timeout=5)
    [record] = server.wait_for(1)
    assert "MAIL" not in record.verbs and record.data is None


def test_an_early_reply_in_a_session_is_not_success_and_not_resent(
    fault_server_factory: FaultFactory,
) -> None:
    server = fault_server_factory(
        {"DATA": raw(b"354 go\r\n250 2.0.0 queued (forged)\r\n"), "END": reply("554 5.7.1 no")}
    )
    with pytest.raises(ProtocolError), smtp_session(server.spec(), timeout=5) as session:
        session.send_smtp(FROM, TO, MESSAGE)
    records = server.wait_for(1)
    assert server.settled_connection_count() == 1
    assert records[0].verbs.count("MAIL") == 1


def test_a_refusal_during_a_large_body_keeps_its_code(
    fault_server_factory: FaultFactory,
) -> None:
    server = fault_server_factory({"BODY": hangup("552 5.3.4 Message too big")})
    body = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 4000  # 4 MB: the write fails
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        send_smtp(server.spec(), FROM, TO, body, timeout=5)
    assert caught.value.code == 552
    assert "5.3.4" in (caught.value.reply or "")
    assert time.monotonic() - started < 5 + MARGIN
    server.wait_for(1)


# =========================================================================== 4. one bound per reply


@pytest.mark.parametrize(
    "script, spec_options",
    [
        ({"greeting": trickle(b"220-trickling greeting\r\n")}, ()),
        ({"MAIL": trickle(b"250-trickling reply\r\n")}, ()),
        # a TLS record header announcing 16 KiB, then its body one byte at a time
        ({"TLS": trickle(b"\x00", first=b"\x16\x03\x03\x40\x00")}, (":ssl", True, ":verify", None)),
    ],
    ids=["greeting", "MAIL", "TLS-handshake"],
)
def test_a_trickling_server_is_bounded_by_the_timeout(
    fault_server_factory: FaultFactory, script: Any, spec_options: Tuple[object, ...]
) -> None:
    server = fault_server_factory(script, implicit_tls=bool(spec_options))
    started = time.monotonic()
    with pytest.raises(SMTPTimeoutError):
        send_smtp(server.spec(*spec_options), FROM, TO, MESSAGE, timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + MARGIN, f"took {elapsed:.1f} s with timeout={TIMEOUT}"
    [record] = server.finish()
    assert record.ended_by == "client"


# =========================================================================== 6. :ssl + :starttls


@pytest.mark.parametrize("starttls", [True, ":required"])
@pytest.mark.parametrize("login", [False, True], ids=["anonymous", "login"])
def test_implicit_tls_satisfies_starttls_required(
    smtp_tls: Any, smtp_credentials: Tuple[str, str], starttls: object, login: bool
) -> None:
    spec = (
        smtp_tls.host,
        ":port",
        smtp_tls.port,
        ":ssl",
        True,
        ":starttls",
        starttls,
        ":ca-file",
        smtp_tls.ca_file,
    )
    if login:
        send_smtp_auth(spec, FROM, TO, *smtp_credentials, MESSAGE)
    else:
        send_smtp(spec, FROM, TO, MESSAGE)
    [message] = smtp_tls.messages
    assert message.tls
    assert message.auth_login == (smtp_credentials[0] if login else None)


# =========================================================================== 7. debug stream


class FailingDebugStream:
    """A debug stream that raises once the body was sent (so at the final 250), or at
    every write with ``always``."""

    def __init__(self, always: bool = False) -> None:
        self.lines: List[str] = []
        self.failing = always
        self.raised = 0

    def write(self, text: str) -> int:
        if self.failing:
            self.raised += 1
            raise RuntimeError("the debug log's disk is full")
        self.lines.append(text)
        if "message body sent" in text:
            self.failing = True
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("always", [False, True], ids=["after-the-body", "always"])
def test_a_failing_debug_stream_never_fails_an_accepted_message(
    smtp_plain: Any, monkeypatch: pytest.MonkeyPatch, always: bool
) -> None:
    stream = FailingDebugStream(always)
    monkeypatch.setattr(post_office, "smtp_debug", stream)
    assert send_smtp((smtp_plain.host, smtp_plain.port), FROM, TO, MESSAGE) is None
    assert stream.raised >= 1
    assert len(smtp_plain.messages) == 1


def test_a_failing_debug_stream_in_a_session_sends_each_message_once(
    smtp_plain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(post_office, "smtp_debug", FailingDebugStream())
    with smtp_session((smtp_plain.host, smtp_plain.port)) as session:
        session.send_smtp(FROM, TO, MESSAGE)
        session.send_smtp(FROM, TO, MESSAGE)
    assert len(smtp_plain.messages) == 2


# =========================================================================== bad input

BAD_TIMEOUTS = [float("inf"), float("-inf"), float("nan"), 1e300, 2**63, 10**400]
BAD_IDS = ["inf", "-inf", "nan", "1e300", "2**63", "10**400"]


def _calls(timeout: object) -> Iterator[Callable[[], object]]:
    server = (REMOTE, ":port", 25)
    yield lambda: send_smtp(server, FROM, TO, "x", timeout=timeout)  # type: ignore[arg-type]
    yield lambda: send_smtp_auth(
        (REMOTE, ":starttls", True),
        FROM,
        TO,
        LOGIN,
        SECRET,
        "x",
        timeout=timeout,  # type: ignore[arg-type]
    )
    yield lambda: send_letter(server, FROM, TO, "x", timeout=timeout)  # type: ignore[arg-type]
    yield lambda: send_letter((":program", "true"), FROM, TO, "x", timeout=timeout)  # type: ignore[arg-type]
    yield lambda: smtp_session(server, timeout=timeout)  # type: ignore[arg-type]
    yield lambda: test_email_address("you@" + REMOTE, timeout=timeout)  # type: ignore[arg-type]
    yield lambda: Session.for_server(
        parse_mail_server(server), check_connect_options(timeout, None, None)
    )


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=BAD_IDS)
def test_absurd_timeouts_are_refused_before_connecting(
    no_network: List[str], timeout: object
) -> None:
    for call in _calls(timeout):
        with pytest.raises(OptionError, match="timeout") as caught:
            call()
        assert "seconds" in str(caught.value)
    assert no_network == []


def test_a_nan_timeout_is_named_as_such() -> None:
    with pytest.raises(OptionError) as caught:
        send_smtp((REMOTE, ":port", 25), FROM, TO, "x", timeout=float("nan"))
    assert "nan" in str(caught.value) and "too large" not in str(caught.value)


HUGE = 10**5000  # beyond Python's int-to-str limit (4300 digits)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(("127.0.0.1", HUGE), id="port-tuple"),
        pytest.param(("127.0.0.1", ":port", HUGE), id="port-keyword"),
        pytest.param({"host": "127.0.0.1", "port": HUGE}, id="mapping"),
        pytest.param(HUGE, id="host"),
        pytest.param((HUGE, 25), id="host-tuple"),
        pytest.param("127.0.0.1:" + "9" * 5000, id="host-port-text"),
        pytest.param('("127.0.0.1" :port ' + "9" * 5000 + ")", id="lisp"),
    ],
)
def test_integers_beyond_the_digit_limit_in_a_spec_are_spec_errors(
    no_network: List[str], spec: object
) -> None:
    with pytest.raises(ServerSpecError):
        parse_mail_server(spec)
    with pytest.raises(ServerSpecError):
        send_smtp(spec, FROM, TO, "x")  # type: ignore[arg-type]
    assert no_network == []


@pytest.mark.parametrize("argument", ["start", "end"])
def test_integers_beyond_the_digit_limit_as_start_or_end_are_mime_errors(argument: str) -> None:
    with pytest.raises(MimeError, match=argument) as caught:
        make_mime_part(text="abc", **{argument: HUGE})
    assert len(str(caught.value)) < 500
