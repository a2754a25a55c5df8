"""The command line, driven as a user would.

Most tests call :func:`post_office.cli.main` in this process with captured output (the
``cli`` fixture): usage and argument errors, ``parse``, ``send`` and ``check`` need no
process of their own.  Real ``python -m post_office`` subprocesses remain where the
process itself is under test: the entry point, Ctrl-C and SIGTERM, a missing sink extra,
a controlling terminal (password prompt, progress line) or none.

One ``serve`` process (STARTTLS required, AUTH, Maildir, throwaway certificate) is shared
by the tests of ``send`` and ``check``; readiness is read from its output.  Other tests
start their own ``serve`` (Ctrl-C, mbox).
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
import select
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest
from support.cli import (
    BLOCKER,
    INSTALL,
    LIMIT,
    PASSWORD,
    ROOT,
    USER,
    Cli,
    Serve,
    assert_clean_error,
    cli_env,
    password_env,
    received,
    run,
)
from support.terminal import run_on_terminal

from post_office import (
    OptionError,
    ReceivedMessage,
    Sink,
    SinkUnavailableError,
    make_throwaway_certificate,
    send_smtp_auth,
)
from post_office.cli import main

# --------------------------------------------------------------------------- help, parse


@pytest.mark.parametrize("command", ["demo", "serve", "send", "check", "parse"])
def test_every_subcommand_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: post-office {command}" in out
    assert "example" in out
    assert "post-office " + command in out.split("example", 1)[1]


def test_top_level_help_and_version() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "serve", "send", "check", "parse"):
        assert command in result.stdout
    text = " ".join(result.stdout.split())  # the epilog may be wrapped
    assert "exit status: 0 success, 1 the :program transport failed, 2 usage" in text
    assert "69 refused (5xx), 75 retry later" in text
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("post-office 0.")


def test_parse_shows_the_spec_in_lisp_and_python(cli: Cli) -> None:
    result = cli("parse", '("mail.corp" :port 587 :starttls t :ca-file "/etc/ca.pem")')
    assert result.returncode == 0, result.stderr
    assert "host:     mail.corp" in result.stdout
    assert "port:     587" in result.stdout
    assert "starttls: yes, when offered" in result.stdout
    assert 'lisp:     ("mail.corp" :port 587 :starttls t :ca-file "/etc/ca.pem")' in result.stdout
    assert (
        "python:   ('mail.corp', ':port', 587, ':starttls', True, ':ca-file', '/etc/ca.pem')"
        in result.stdout
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["parse", '("mail.corp" :port 0)'], "port 0 is not an integer in 1..65535"),
        (["parse", '("mail.corp" :port 25'], "position"),
        (["check", '("mail.corp" :bogus 1)'], "unknown keyword :bogus"),
        (["send", "mail.corp:99999", "a@b.c", "d@e.f", "--raw"], "1..65535"),
        (["send", "mail.corp", "Joe <a@b.c>", "d@e.f", "--raw"], "bare address"),
    ],
)
def test_bad_arguments_exit_2_with_the_message(cli: Cli, args: List[str], expected: str) -> None:
    result = cli(*args, input=b"Subject: x\n\nbody\n")
    line = assert_clean_error(result, 2)
    assert expected in line


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli().returncode == 2
    result = cli("send", "mail.corp", "a@b.c", "d@e.f", "--password", "secret")
    assert result.returncode == 2
    assert "unrecognized arguments: --password" in result.stderr
    raw = cli("send", "mail.corp", "a@b.c", "d@e.f", "--raw", "--subject", "x", input=b"")
    assert "--subject cannot be used with --raw" in assert_clean_error(raw, 2)


# --------------------------------------------------------------------------- without the extra


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_demo_and_serve_without_the_sink_extra_exit_2_naming_the_install(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, "aiosmtpd", command],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=ROOT,
        timeout=LIMIT,
        check=False,
    )
    line = assert_clean_error(result, 2)  # type: ignore[arg-type]
    assert "aiosmtpd" in line
    assert INSTALL in line


def test_without_cryptography_or_openssl_a_throwaway_certificate_names_the_install(
    tmp_path: Path,
) -> None:
    env = cli_env()
    env["PATH"] = str(tmp_path)  # no openssl here
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, "cryptography", "serve", "--self-signed", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=LIMIT,
        check=False,
    )
    line = assert_clean_error(result, 2)  # type: ignore[arg-type]
    assert "cryptography" in line and "openssl" in line and INSTALL in line


@pytest.mark.parametrize("method", ["cryptography", "openssl"])
def test_throwaway_certificate_verifies_strictly_as_its_own_ca_file(
    method: str, tmp_path: Path
) -> None:
    try:
        certificate = make_throwaway_certificate(tmp_path, method=method)
    except SinkUnavailableError:
        pytest.skip(f"{method} is not available here")
    assert certificate.made_with == method
    assert oct(certificate.key_file.stat().st_mode & 0o777) == "0o600"
    server = certificate.server_context()
    for host in ("localhost", "127.0.0.1", "::1"):
        client = ssl.create_default_context(cafile=str(certificate.ca_file))
        client.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default
        handshake(client, server, host)
    stranger = ssl.create_default_context()  # the system CAs do not know it
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(stranger, server, "localhost")
    other_name = ssl.create_default_context(cafile=str(certificate.ca_file))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(other_name, server, "mail.example.org")


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, host: str) -> None:
    """A TLS handshake through memory BIOs (no sockets)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    tls_client = client.wrap_bio(c_in, c_out, server_hostname=host)
    tls_server = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", tls_client), ("server", tls_server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


# --------------------------------------------------------------------------- demo


def test_demo_runs_end_to_end(cli: Cli) -> None:
    result = cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in result.stderr and "Traceback" not in out
    # the spec, in both forms, verifying the throwaway certificate through :ca-file
    lisp = re.search(
        r'Lisp: +(\("127\.0\.0\.1" :port (\d+) :starttls :required :ca-file "(.+?)"\))', out
    )
    assert lisp, out
    port, ca_file = lisp.group(2), lisp.group(3)
    assert f"Python: ('127.0.0.1', ':port', {port}, ':starttls', ':required', ':ca-file', " in out
    assert ca_file.endswith("cert.pem") and not os.path.exists(ca_file)  # cleaned up
    # the transcript: STARTTLS, then AUTH, redacted
    transcript = out.split("4. The SMTP transcript", 1)[1].split("5. The message", 1)[0]
    assert transcript.index("'STARTTLS'") < transcript.index("TLS established (TLSv1.")
    assert transcript.index("TLS established") < transcript.index("'AUTH CRAM-MD5'")
    assert transcript.index("'AUTH CRAM-MD5'") < transcript.index("'<redacted>'")
    assert "235 " in transcript and "250 2.0.0 OK: stored" in transcript
    assert "-> True" in out
    # the message as received: a letter with the attachment
    received_text = out.split("5. The message", 1)[1].split("\nNext:", 1)[0]
    raw = "\n".join(line[3:] for line in received_text.splitlines()[4:])
    message = email.message_from_string(raw, policy=email.policy.default)
    assert message["Subject"] == "post_office demo"
    assert message["From"] == "demo-sender@example.org"
    assert "with ESMTPSA (TLSv1." in str(message["Received"])
    body, attachment = message.iter_parts()  # type: ignore[attr-defined]
    assert "Hello from post_office!" in body.get_content()
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content().startswith("month,letters")
    assert "(TLSv1." in received_text and "auth demo" in received_text


# --------------------------------------------------------------------------- serve + send + check


def test_send_raw_through_serve_with_starttls_and_auth(cli: Cli, sink: Serve) -> None:
    message = "From: a@example.org\nTo: b@example.org\nSubject: raw ü\n\n.dot line\nbody\n"
    result = cli(
        "send", sink.spec(), "a@example.org", "b@example.org", "--bcc", "hidden@example.org",
        "--raw", "--login", USER, "--password-env", "PW",
        input=message.encode("utf-8"), env={"PW": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "for 2 recipient(s)" in result.stdout
    stored = received(sink)
    assert "from <a@example.org> to <b@example.org>, <hidden@example.org>" in stored.summary
    assert "subject 'raw ü'" in stored.summary and f"auth {USER}" in stored.summary
    assert "TLSv1." in stored.summary
    assert stored.raw.endswith(b"Subject: raw \xc3\xbc\n\n.dot line\nbody\n")
    assert stored.message.get_all("Delivered-To") == ["b@example.org", "hidden@example.org"]
    assert "with ESMTPSA" in str(stored.message["Received"])
    assert PASSWORD not in result.stdout + result.stderr


def test_send_a_letter_with_attachments_cc_and_bcc(cli: Cli, sink: Serve, tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n", encoding="utf-8")
    body = tmp_path / "body.txt"
    body.write_text("Hëllo,\n.the report is attached.\n", encoding="utf-8")
    result = cli(
        "send", sink.spec(), "me@example.org", "you@example.org", "them@example.org",
        "--cc", "cc@example.org", "--bcc", "bcc@example.org", "--subject", "Report ü",
        "--reply-to", "replies@example.org", "--header", "X-Mailer: post-office test",
        "--attach", str(report), "--file", str(body), "--login", USER, "--password-env", "PW",
        env={"PW": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "for 4 recipient(s)" in result.stdout
    stored = received(sink)
    assert (
        "from <me@example.org> to <you@example.org>, <them@example.org>, <cc@example.org>, "
        "<bcc@example.org>" in stored.summary
    )
    message = stored.message
    assert message["Subject"] == "Report ü"
    assert message["To"] == "you@example.org, them@example.org"
    assert message["Cc"] == "cc@example.org"
    assert message["Reply-To"] == "replies@example.org"
    assert message["X-Mailer"] == "post-office test"
    header = stored.raw.split(b"\n\n", 1)[0].replace(b"Delivered-To: bcc@example.org", b"")
    assert b"bcc@example.org" not in header  # only the envelope has it
    text, attachment = message.iter_parts()  # type: ignore[attr-defined]
    assert text.get_content() == "Hëllo,\n.the report is attached.\n"
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content() == "a,b\n1,2\n"


def test_send_a_letter_body_from_stdin(cli: Cli, sink: Serve) -> None:
    result = cli(
        "send", sink.spec(), "me@example.org", "you@example.org", "--subject", "stdin",
        "--login", USER, "--password-env", "PW", input=b"Body from stdin.\n",
        env={"PW": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stored = received(sink)
    assert stored.message["Subject"] == "stdin"
    assert stored.message.get_content() == "Body from stdin.\n"
    not_text = cli(
        "send", sink.spec(), "me@example.org", "you@example.org", "--login", USER,
        "--password-env", "PW", input=b"\xff\xfe binary", env={"PW": PASSWORD},
    )  # fmt: skip
    assert "not UTF-8" in assert_clean_error(not_text, 2)
    missing = cli("send", sink.spec(), "me@example.org", "you@example.org", "--attach", "nope.pdf")
    assert "--attach 'nope.pdf': no such file" in assert_clean_error(missing, 2)


def test_debug_shows_the_transcript_on_stderr_redacted(
    cli: Cli, sink: Serve, tmp_path: Path
) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(b"Subject: debug\r\n\r\nhello\r\n")
    result = cli(
        "send", sink.spec(), "a@example.org", "b@example.org", "--raw", "--file", str(eml),
        "--login", USER, "--password-env", "PW", "--debug", env={"PW": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "-> STARTTLS\n" in result.stderr  # the command line's direction markers
    assert "-> AUTH CRAM-MD5\n" in result.stderr
    assert "-> <redacted>\n" in result.stderr
    assert "<- 250 " in result.stderr and "~~ TLS established" in result.stderr
    assert "250 2.0.0 OK: stored" in result.stderr
    assert PASSWORD not in result.stderr
    assert "subject 'debug'" in received(sink).summary


def test_send_failures_exit_69_with_code_and_reply(cli: Cli, sink: Serve) -> None:
    wrong = cli(
        "send", sink.spec(), "a@example.org", "b@example.org", "--raw", "--login", USER,
        "--password-env", "PW", input=b"Subject: x\n\nx\n", env={"PW": "wrong"},
    )  # fmt: skip
    line = assert_clean_error(wrong, 69)
    assert "535" in line and "AUTH" in line and "wrong" not in line
    anonymous = cli(
        "send", sink.spec(), "a@example.org", "b@example.org", "--raw", input=b"Subject: x\n\n"
    )
    assert "530" in assert_clean_error(anonymous, 69)


def test_a_missing_password_variable_or_terminal_is_a_usage_error(cli: Cli, sink: Serve) -> None:
    unset = cli(
        "send", sink.spec(), "a@example.org", "b@example.org", "--raw", "--login", USER,
        "--password-env", "NO_SUCH_VARIABLE_HERE", input=b"x",
    )  # fmt: skip
    assert "NO_SUCH_VARIABLE_HERE is not set" in assert_clean_error(unset, 2)
    # A new session has no controlling terminal: nowhere to ask.
    no_tty = run(
        "send", sink.spec(), "a@example.org", "b@example.org", "--raw", "--login", USER,
        input=b"x", start_new_session=True,
    )  # fmt: skip
    assert "--password-env" in assert_clean_error(no_tty, 2)


def test_the_password_is_asked_on_the_terminal(sink: Serve, tmp_path: Path) -> None:
    body = tmp_path / "body.eml"
    body.write_bytes(b"Subject: prompted\n\nhi\n")
    master, slave = os.openpty()
    # Make the pty the child's controlling terminal, as a login shell would.
    take_tty = (
        "import fcntl, os, sys, termios\n"
        "os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'post_office', *sys.argv[1:]])\n"
    )
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", take_tty, "send", sink.spec(), "a@example.org",
             "b@example.org", "--raw", "--file", str(body), "--login", USER],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), cwd=ROOT,
        )  # fmt: skip
        os.close(slave)
        slave = -1
        seen = b""
        while b"password for user:" not in seen:
            ready, _, _ = select.select([master], [], [], LIMIT)
            assert ready, f"no password prompt; saw {seen!r}"
            seen += os.read(master, 1024)
        os.write(master, PASSWORD.encode("utf-8") + b"\n")
        out, err = process.communicate(timeout=LIMIT)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert process.returncode == 0, err
    assert PASSWORD.encode("utf-8") not in seen + out + err  # not echoed
    assert "subject 'prompted'" in received(sink).summary


@pytest.mark.parametrize("how", ["--raw", "--attach"])
def test_a_progress_line_for_big_messages_on_a_terminal(
    how: str, sink: Serve, tmp_path: Path
) -> None:
    big = tmp_path / "big.eml"
    line = b"x" * 76 + b"\r\n"
    big.write_bytes(b"Subject: big\r\n\r\n" + line * (5 * 1024 * 1024 // len(line)))
    if how == "--raw":
        what = ["--raw", "--file", str(big)]
    else:
        (tmp_path / "body.txt").write_text("See the attachment.\n")
        what = ["--subject", "big", "--attach", str(big), "--file", str(tmp_path / "body.txt")]
    status, text, err = run_on_terminal(
        [sys.executable, "-m", "post_office", "send", sink.spec(), "a@example.org",
         "b@example.org", *what, "--login", USER, "--password-env", "PW"],
        env=password_env(), cwd=str(ROOT),
    )  # fmt: skip
    assert status == 0, err
    assert "\rsending: " in text
    assert "of 5.2 MB (100%)" in text
    assert "(100%)\r\nsent: accepted for 1 recipient(s)" in text
    assert "subject 'big'" in received(sink).summary


def test_check_reports_what_the_server_offers(cli: Cli, sink: Serve) -> None:
    result = cli(
        "check", sink.spec(), "--login", USER, "--password-env", "PW", env={"PW": PASSWORD}
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "greeting:    220 localhost" in out
    assert re.search(r"EHLO: .*STARTTLS", out)
    assert "STARTTLS:    upgraded (TLSv1." in out
    assert "certificate: subject CN=localhost" in out
    assert "issuer  CN=localhost" in out
    assert "names   DNS:localhost, IP:127.0.0.1, IP:::1" in out
    assert re.search(r"expires \d{4}-\d\d-\d\d .* \(in \d+ days\)", out)
    assert f"verified:    yes: the chain (:ca-file {sink.ca_file}) and the name 127.0.0.1" in out
    assert re.search(r"EHLO \(TLS\): .*AUTH CRAM-MD5 LOGIN PLAIN", out)
    assert "AUTH:        CRAM-MD5 LOGIN PLAIN (post_office would use CRAM-MD5)" in out
    assert f"login:       accepted for {USER}" in out
    assert "result:      OK" in out


def test_check_fails_when_the_spec_would_not_verify(cli: Cli, sink: Serve) -> None:
    spec = f'("127.0.0.1" :port {sink.port} :starttls t)'
    line = assert_clean_error(cli("check", spec), 78)
    assert "did not verify" in line and ":ca-file" in line and ":verify nil" in line


def test_check_with_verify_nil_says_whether_verification_would_pass(cli: Cli, sink: Serve) -> None:
    result = cli(
        "check", f'("127.0.0.1" :port {sink.port} :starttls t :verify nil)', "--login", USER,
        "--password-env", "PW", env={"PW": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "verified:    no, this spec says :verify nil" in result.stdout
    assert "with verification on (the default) it would NOT" in result.stdout
    assert "certificate: subject CN=localhost" in result.stdout
    assert "the certificate is not checked (:verify nil)" in result.stdout


def test_check_without_tls_points_at_starttls(cli: Cli, sink: Serve) -> None:
    result = cli("check", f"127.0.0.1:{sink.port}")
    line = assert_clean_error(result, 69)  # send would get the same 530
    assert "530 Must issue a STARTTLS command first" in line and "add :starttls t" in line
    assert "STARTTLS:    offered, but this spec does not use it: add :starttls t" in result.stdout
    assert "AUTH:        not offered (many servers offer AUTH only after STARTTLS" in result.stdout


def test_check_a_wrong_password_and_a_closed_port_exit_69_and_75(cli: Cli, sink: Serve) -> None:
    wrong = cli("check", sink.spec(), "--login", USER, "--password-env", "PW", env={"PW": "x"})
    assert "535" in assert_clean_error(wrong, 69)
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        closed = cli("check", f"127.0.0.1:{probe.getsockname()[1]}", "--timeout", "10")
    assert "could not connect" in assert_clean_error(closed, 75)


def test_check_implicit_tls_and_a_server_without_starttls(
    cli: Cli, smtp_server_factory: Any
) -> None:
    tls = smtp_server_factory("tls")
    result = cli("check", f'("127.0.0.1" :port {tls.port} :ssl t :ca-file "{tls.ca_file}")')
    assert result.returncode == 0, result.stderr
    assert "connected:   127.0.0.1 port" in result.stdout and "(implicit TLS)" in result.stdout
    assert re.search(r"TLS: +TLSv1\.[23], ", result.stdout)
    assert "verified:    yes" in result.stdout and "result:      OK" in result.stdout
    plain = smtp_server_factory("plain")
    opportunistic = cli("check", f'("127.0.0.1" :port {plain.port} :starttls t)')
    assert opportunistic.returncode == 0, opportunistic.stderr
    assert "STARTTLS:    not offered by the server; went on in plain text" in opportunistic.stdout
    assert "works, with a caveat: the server does not offer STARTTLS" in opportunistic.stdout
    required = cli("check", f'("127.0.0.1" :port {plain.port} :starttls :required)')
    assert "does not offer STARTTLS" in assert_clean_error(required, 69)


def test_send_through_a_program(cli: Cli) -> None:
    ok = cli("send", '(:program "cat")', "a@example.org", "b@example.org", input=b"hi\n")
    assert ok.returncode == 0, ok.stderr
    failing = cli("send", '(:program "false")', "a@example.org", "b@example.org", input=b"hi\n")
    assert "exited with status 1" in assert_clean_error(failing, 1)


# --------------------------------------------------------------------------- Sink from Python


def test_sink_in_process_with_starttls_and_auth(tmp_path: Path) -> None:
    certificate = make_throwaway_certificate(tmp_path / "tls")
    seen: List[ReceivedMessage] = []
    sink = Sink(
        maildir=tmp_path / "maildir",
        tls_context=certificate.server_context(),
        require_starttls=True,
        credentials=(USER, PASSWORD),
        on_message=seen.append,
    )
    with sink:
        spec = sink.server_spec(certificate.ca_file)
        assert spec.starttls == "required" and spec.tls.ca_file == str(certificate.cert_file)
        send_smtp_auth(
            spec, "", ["x@example.org"], USER, PASSWORD, "Subject: =?utf-8?q?h=C3=A9?=\n\n.\n"
        )
        [message] = sink.messages
        assert seen == [message] and sink.received == 1
        assert message.mail_from == "" and message.rcpt_tos == ("x@example.org",)
        assert message.login == USER and (message.tls_version or "").startswith("TLSv1.")
        assert message.subject == "hé"
        assert message.content == b"Subject: =?utf-8?q?h=C3=A9?=\r\n\r\n.\r\n"
        stored = sink.message_file(message)
        assert stored is not None and stored.read_bytes().endswith(b"\n\n.\n")
        with socket.create_connection(("127.0.0.1", sink.port)) as idle:
            assert idle.recv(1024).startswith(b"220 ")
            sink.stop()  # drops the idle connection instead of waiting for it
            assert idle.recv(1024) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sink.port)).close()


def test_sink_arguments_are_checked_before_binding(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="not a loopback address"):
        Sink("192.0.2.1")
    with pytest.raises(OptionError, match="needs a certificate"):
        Sink(require_starttls=True)
    with pytest.raises(OptionError, match=r"0\.\.65535"):
        Sink(port=70000)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- serve alone


def test_serve_with_its_own_certificate_stores_in_mbox_and_stops_on_ctrl_c(
    cli: Cli,
    tmp_path: Path,
) -> None:
    certificate = make_throwaway_certificate(tmp_path / "tls")
    server = Serve(
        ["--mbox", "mail.mbox", "--tls-cert", str(certificate.cert_file), "--tls-key",
         str(certificate.key_file)],
        tmp_path,
    )  # fmt: skip
    try:
        assert "STARTTLS offered, no AUTH, storing in mbox" in server.banner[0]
        spec = f'("127.0.0.1" :port {server.port} :starttls t :ca-file "{certificate.ca_file}")'
        sent = cli(
            "send", spec, "", "b@example.org", "--raw", input=b"Subject: to mbox\n\nFrom here on\n"
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        line = server.read_until("subject 'to mbox'")[-1]
        assert "from <> to <b@example.org>" in line and "(TLSv1." in line
        rest = server.interrupt()
        assert server.process.returncode == 0
        assert "post-office sink stopped after 1 message(s)" in rest
        assert "Traceback" not in "".join(server.stderr)
    finally:
        server.kill()
    box = mailbox.mbox(str(tmp_path / "mail.mbox"))
    try:
        [message] = list(box)
        assert message.get_from().startswith("MAILER-DAEMON ")
        assert message["Subject"] == "to mbox"
        # mbox quotes a body line starting with "From " so that it cannot start a message
        assert message.get_payload() == ">From here on\n"
    finally:
        box.close()


def test_serve_refuses_a_non_loopback_address_without_public(cli: Cli, tmp_path: Path) -> None:
    result = cli("serve", "--host", "192.0.2.1", "--port", "0", cwd=tmp_path)
    line = assert_clean_error(result, 2)
    assert "--public" in line and "192.0.2.1" in line
    assert not (tmp_path / "maildir").exists()


def test_serve_on_a_busy_port_or_an_unusable_maildir_fails_cleanly(
    cli: Cli, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        taken = cli("serve", "--port", port, "--maildir", str(tmp_path / "m"), cwd=tmp_path)
    line = assert_clean_error(taken, 1)
    assert f"could not listen on 127.0.0.1 port {port}" in line
    (tmp_path / "file").write_text("not a directory")
    unusable = cli("serve", "--port", "0", "--maildir", str(tmp_path / "file" / "m"))
    assert "cannot store messages in Maildir" in assert_clean_error(unusable, 2)


def test_serve_option_errors_exit_2(cli: Cli, tmp_path: Path) -> None:
    need_cert = cli("serve", "--port", "0", "--require-starttls", cwd=tmp_path)
    assert "--require-starttls needs a certificate" in assert_clean_error(need_cert, 2)
    bad_auth = cli("serve", "--port", "0", "--auth", "nopassword", cwd=tmp_path)
    assert "USER:PASSWORD" in assert_clean_error(bad_auth, 2)
    both = cli("serve", "--self-signed", "--tls-cert", "x.pem", cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with" in both.stderr


# --------------------------------------------------------------------------- import cost


def test_importing_the_package_loads_neither_the_sink_nor_asyncio() -> None:
    """``import post_office`` stays cheap: the sink, aiosmtpd, asyncio and cryptography load
    on first use of ``Sink``, ``ReceivedMessage`` or ``make_throwaway_certificate``."""
    heavy = (
        "asyncio",
        "aiosmtpd",
        "cryptography",
        "post_office.sink.server",
        "post_office.sink.certs",
    )
    code = (
        "import sys, post_office\n"
        f"print([name for name in {heavy!r} if name in sys.modules])\n"
        "assert 'Sink' in post_office.__all__ and 'Sink' in dir(post_office)\n"
        "from post_office import ReceivedMessage, Sink, make_throwaway_certificate\n"
        "names = (Sink, ReceivedMessage, make_throwaway_certificate)\n"
        "print(*(name.__module__ for name in names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=LIMIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[]",
        "post_office.sink.server post_office.sink.store post_office.sink.certs",
    ]
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        import post_office

        post_office.no_such_name  # noqa: B018
