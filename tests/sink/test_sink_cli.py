"""``post-office serve`` for the people who use it, and ``sink-list`` / ``sink-show``:
run the way a user types them, checking the exit status and what is printed."""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path

import pytest
from support.cli import (
    Cli,
    Serve,
    assert_clean_error,
    run,
)
from support.mail import raw_dialogue

from post_office import Sink, send_letter, send_smtp


def test_auth_from_the_environment_and_refusals_logged_one_line_each(
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SINK_AUTH", "user:s3cret-pw")
    server = Serve(["--self-signed", "--auth-env", "SINK_AUTH", "--maildir", "m"], tmp_path)
    try:
        assert "AUTH required (login 'user')" in server.banner[0]
        assert "s3cret-pw" not in "\n".join(server.banner)
        spec = server.spec()
        ok = cli("send", spec, "a@example.org", "b@example.org", "--login", "user",
                 "--password-env", "PW", env={"PW": "s3cret-pw"}, input=b"hi\n")  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        server.read_until(" bytes, subject ")
        bad = cli("send", spec, "a@example.org", "b@example.org", "--login", "user",
                  "--password-env", "PW", env={"PW": "wrong-pw"}, input=b"hi\n")  # fmt: skip
        assert bad.returncode != 0
        plain = cli("send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org",
                    input=b"hi\n")  # fmt: skip
        assert plain.returncode != 0
        server.interrupt()
    finally:
        server.kill()
    log = "".join(server.stderr)
    refused = [line for line in log.splitlines() if " refused " in line]
    # one line per refused command (the client pipelines MAIL, RCPT and DATA)
    assert len(refused) == 4, log
    assert "refused AUTH" in refused[0] and "(login 'user')" in refused[0] and "535" in refused[0]
    assert "refused MAIL FROM:<a@example.org>" in refused[1] and "530" in refused[1]
    assert "refused RCPT TO:<b@example.org>" in refused[2] and "refused DATA" in refused[3]
    assert "wrong-pw" not in log and "s3cret-pw" not in log


def test_auth_env_help_and_errors(cli: Cli, tmp_path: Path) -> None:
    help_text = run("serve", "--help").stdout
    assert "--auth-env VAR" in help_text and "(ps)" in help_text
    missing = cli("serve", "--port", "0", "--auth-env", "NO_SUCH_VARIABLE_X", cwd=tmp_path)
    assert "--auth-env NO_SUCH_VARIABLE_X" in assert_clean_error(missing, 2)
    malformed = cli("serve", "--port", "0", "--auth-env", "BAD", env={"BAD": "nocolon"},
                    cwd=tmp_path)  # fmt: skip
    line = assert_clean_error(malformed, 2)
    assert "USER:PASSWORD" in line and "nocolon" not in line


def test_serve_ssl_and_each_line_names_where_it_was_stored(cli: Cli, tmp_path: Path) -> None:
    server = Serve(["--ssl", "--maildir", "mail"], tmp_path)
    try:
        assert "implicit TLS" in server.banner[0]
        [spec] = re.findall(r"send '(.+?)' FROM", "\n".join(server.banner))
        assert ":ssl t" in spec and ":ca-file" in spec and ":starttls" not in spec
        sent = cli("send", spec, "a@example.org", "b@example.org", "--subject", "over ssl",
                   input=b"hi\n")  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        [line] = server.read_until("subject 'over ssl'")[-1:]
        server.interrupt()
    finally:
        server.kill()
    assert "(TLSv1." in line
    stored = Path(line.split("stored in ", 1)[1])
    assert stored.parent == (tmp_path / "mail" / "new").absolute() and stored.is_file()


def test_serve_escapes_what_clients_send(tmp_path: Path) -> None:
    server = Serve(["--mbox", "mail.mbox"], tmp_path)
    try:
        commands = [b"EHLO x", b'MAIL FROM:<"\x1b]0;owned\x07\x1b[2J"@example.org>',
                    b"RCPT TO:<b@example.org>", b"DATA",
                    b"Subject: \x1b[5mblink\r\n\r\nhi\r\n.", b"QUIT"]  # fmt: skip
        raw_dialogue(server.port, commands)
        line = server.read_until(" bytes, subject ")[-1]
        server.interrupt()
    finally:
        server.kill()
    assert "\x1b" not in line and "\x07" not in line
    assert '"\\x1b]0;owned\\x07\\x1b[2J"@example.org' in line and "\\x1b[5mblink" in line
    assert f"stored in {(tmp_path / 'mail.mbox').absolute()}" in line


def test_public_without_auth_warns_and_public_auth_without_tls_is_refused(
    cli: Cli,
    tmp_path: Path,
) -> None:
    warned = cli("serve", "--public", "--host", "192.0.2.1", "--port", "0", cwd=tmp_path)
    assert "post-office: warning: the sink listens on 192.0.2.1 without credentials" in (
        warned.stderr
    )
    refused = cli("serve", "--public", "--host", "192.0.2.1", "--port", "0", "--auth", "a:b",
                  cwd=tmp_path)  # fmt: skip
    line = assert_clean_error(refused, 2)
    assert "without TLS" in line and "--allow-plaintext-auth" in line


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A Maildir with three messages, as serve stores them."""
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    with Sink(maildir=tmp_path / "maildir") as sink:
        spec = sink.server_spec()
        send_smtp(spec, "first@example.org", ["b@example.org"], "Subject: one\n\nfirst\n")
        send_letter(spec, "second@example.org", "you@example.org", "The body.\n\tTabbed.\n",
                    subject="two", bcc="hidden@example.org",
                    attachments=[str(attachment)])  # fmt: skip
        send_smtp(spec, "x@example.org", ["c@example.org"], "Subject: \x1b[2Jthree\n\nx\n")
    return tmp_path / "maildir"


def test_sink_list_prints_one_line_per_message(cli: Cli, stored: Path) -> None:
    result = cli("sink-list", "--maildir", str(stored))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("  1  ")
    assert "from <first@example.org> to <b@example.org>" in lines[0]
    assert "to <you@example.org>, <hidden@example.org>" in lines[1] and "subject 'two'" in lines[1]
    assert "\x1b" not in result.stdout and "\\x1b[2Jthree" in lines[2]
    assert lines[0].endswith(".vm") or str(stored) in lines[0]
    default = cli("sink-list", cwd=stored.parent)  # ./maildir, as serve
    assert default.stdout == result.stdout


def test_sink_show_prints_headers_text_and_attachment_names(cli: Cli, stored: Path) -> None:
    result = cli("sink-show", "2", "--maildir", str(stored))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("message 2 of 3: " + str(stored.absolute()))
    assert "envelope: from <second@example.org> to <you@example.org>, <hidden@example.org>" in out
    assert "  Subject: two" in out
    assert "  | The body." in out and "  |         Tabbed." in out
    assert "attachment 2: 'report.csv' (text/csv" in out
    newest = cli("sink-show", "-1", "--maildir", str(stored))
    assert "message 3 of 3" in newest.stdout and "\x1b" not in newest.stdout


def test_sink_show_and_list_errors(cli: Cli, stored: Path, tmp_path: Path) -> None:
    assert "no message 7: 3 stored (1..3" in assert_clean_error(
        cli("sink-show", "7", "--maildir", str(stored)), 2
    )
    assert "no Maildir at" in assert_clean_error(
        cli("sink-list", "--maildir", str(tmp_path / "nowhere")), 2
    )
    empty = tmp_path / "empty"
    (empty / "new").mkdir(parents=True)
    assert cli("sink-list", "--maildir", str(empty)).stdout == "no messages stored yet\n"


def test_sink_list_reads_an_mbox(cli: Cli, tmp_path: Path) -> None:
    with Sink(mbox=tmp_path / "mail.mbox") as sink:
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "Subject: boxed\n\nx\n")
    result = cli("sink-list", "--mbox", str(tmp_path / "mail.mbox"))
    assert "subject 'boxed'" in result.stdout and "(message 1)" in result.stdout
    shown = cli("sink-show", "1", "--mbox", str(tmp_path / "mail.mbox"))
    assert "envelope: from <a@example.org> to <b@example.org>" in shown.stdout


def test_the_certificate_works_for_ssl_clients_of_other_kinds(tmp_path: Path) -> None:
    with Sink(ssl=True) as sink:
        assert sink.ca_file is not None
        context = ssl.create_default_context(cafile=str(sink.ca_file))
        raw = socket.create_connection(("127.0.0.1", sink.port), timeout=10)
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.recv(100).startswith(b"220 ")


@pytest.mark.parametrize("store", ["maildir", "mbox"])
def test_one_message_one_size_in_the_sinks_line_and_sink_list(
    tmp_path: Path,
    cli: Cli,
    store: str,
) -> None:
    where = tmp_path / store
    with Sink(**{store: where}) as sink:  # type: ignore[arg-type]
        body = "line one\nline two\n" + "x" * 300 + "\n"
        send_letter(("127.0.0.1", sink.port), "a@example.org", ["b@example.org", "c@x.org"],
                    body, subject="sizes")  # fmt: skip
        [message] = sink.messages
    said = re.search(r"([\d,]+) bytes", message.summary())
    assert said is not None
    listed = cli("sink-list", f"--{store}", str(where))
    assert listed.returncode == 0, listed.stderr
    assert f"  {said.group(1)} bytes  " in listed.stdout
    assert int(said.group(1).replace(",", "")) == len(message.content)
