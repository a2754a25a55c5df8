"""What swaks and msmtp had that we lacked: ``check --rcpt``, and named servers (``send @work``,
``check @work``) from a config file in Lisp
form (README "Named servers"): login, password from an environment variable or a command,
DKIM key; unknown names and malformed files are usage errors naming the file and line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from post_office.cli.config import read_config
from post_office.errors import ArgumentError

MESSAGE = b"Subject: named\n\nhello\n"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "servers.lisp"
    monkeypatch.setenv("POST_OFFICE_CONFIG", str(path))
    return path


def test_send_to_a_named_server_with_its_login(
    config: Path, cli: Any, smtp_auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(
        "; my servers\n"
        f'(:work ("127.0.0.1" :port {smtp_auth.port} :starttls t :ca-file "{smtp_auth.ca_file}")\n'
        f'       :login "{smtp_auth.user}" :password-env "WORK_PW")  ; the office\n'
    )
    result = cli("send", "@work", "me@example.org", "you@example.org", "--raw",
                 input=MESSAGE, env={"WORK_PW": smtp_auth.password})  # fmt: skip
    assert result.returncode == 0, result.stderr
    [received] = smtp_auth.messages
    assert received.auth_login == smtp_auth.user and received.tls


def test_the_password_command(config: Path, cli: Any, smtp_auth: Any) -> None:
    command = f"{sys.executable} -c \"print('{smtp_auth.password}')\""
    quoted = command.replace('"', '\\"')  # a Lisp string
    config.write_text(
        f'(:work ("127.0.0.1" :port {smtp_auth.port} :starttls t :ca-file "{smtp_auth.ca_file}")'
        f' :login "{smtp_auth.user}" :password-command "{quoted}")\n'
    )
    result = cli("send", "@work", "me@example.org", "you@example.org", "--raw", input=MESSAGE)
    assert result.returncode == 0, result.stderr
    assert smtp_auth.password not in result.stdout + result.stderr
    assert len(smtp_auth.messages) == 1


def test_check_a_named_server(config: Path, cli: Any, smtp_plain: Any) -> None:
    config.write_text(f'(:plain ("127.0.0.1" :port {smtp_plain.port}))\n')
    result = cli("check", "@plain")
    assert f"127.0.0.1 port {smtp_plain.port}" in result.stdout, result.stdout + result.stderr


def test_an_unknown_name_lists_the_known_ones(config: Path, cli: Any) -> None:
    config.write_text('(:work "mail.corp")\n(:home "mail.home")\n')
    result = cli("send", "@nowhere", "a@example.org", "b@example.org", "--raw", input=MESSAGE)
    assert result.returncode == 2
    assert "@nowhere" in result.stderr and "known: @home, @work" in result.stderr


def test_errors_name_the_file_and_line(config: Path) -> None:
    config.write_text('(:work "mail.corp")\n\n(:home "mail.home" :password "secret")\n')
    with pytest.raises(ArgumentError, match=rf"{config}:3: @home: a password is never stored"):
        read_config(config)
    config.write_text('(:work "mail.corp"\n :login "me"\n')
    with pytest.raises(ArgumentError, match=rf"{config}:\d+: .*unclosed"):
        read_config(config)
    config.write_text('(:work "mail.corp" :loggin "me")\n')
    with pytest.raises(ArgumentError, match=rf"{config}:1: @work: unknown keyword :loggin"):
        read_config(config)


def test_the_command_line_wins_over_the_file(config: Path) -> None:
    import argparse

    from post_office.cli.config import apply_named_server

    config.write_text('(:work "mail.corp" :login "me" :password-env "PW")\n')
    args = argparse.Namespace(server="@work", login="other", password_env=None)
    apply_named_server(args)
    assert (args.server, args.login, args.password_env) == ("mail.corp", "other", "PW")


def test_a_named_server_signs_with_its_dkim_key(
    config: Path, cli: Any, smtp_plain: Any, tmp_path: Path
) -> None:
    pytest.importorskip("dkim")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = tmp_path / "dkim.pem"
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config.write_text(
        f'(:out ("127.0.0.1" :port {smtp_plain.port}) :dkim-key "{key}"\n'
        '      :dkim-selector "s2026" :dkim-domain "example.org")\n'
    )
    message = b"From: me@example.org\nTo: you@example.org\nSubject: signed\n\nhello\n"
    result = cli("send", "@out", "me@example.org", "you@example.org", "--raw", input=message)
    assert result.returncode == 0, result.stderr
    [received] = smtp_plain.messages
    assert b"DKIM-Signature: " in received.content and b"s=s2026" in received.content
    assert str(key) not in result.stdout + result.stderr


def test_check_rcpt_asks_without_sending(cli: Any, smtp_plain: Any) -> None:
    """``check --rcpt`` (swaks' --quit-after RCPT): RCPT TO, RSET, no message; the exit
    status says accepted (0), refused (69) or temporarily refused (75)."""
    spec = f"127.0.0.1:{smtp_plain.port}"
    ok = cli("check", spec, "--rcpt", "you@example.org")
    assert ok.returncode == 0, ok.stderr
    assert "RCPT TO:     <you@example.org>: 250" in ok.stdout
    smtp_plain.handler.refuse_recipients = {"gone@example.org"}
    refused = cli("check", spec, "--rcpt", "you@example.org", "--rcpt", "gone@example.org")
    assert refused.returncode == 69, refused.stderr
    assert "refused <gone@example.org> (550): no message was sent" in refused.stderr
    assert smtp_plain.messages == []
    bad = cli("check", spec, "--rcpt", "not an address")
    assert bad.returncode == 2


def test_check_rcpt_temporary_refusal_is_75(cli: Any, fault_server_factory: Any) -> None:
    from support.faultserver import reply

    server = fault_server_factory({"RCPT": reply("450 4.2.0 try later")})
    result = cli("check", f"127.0.0.1:{server.port}", "--rcpt", "you@example.org")
    assert result.returncode == 75, result.stdout + result.stderr
    assert "temporarily refused <you@example.org> (450)" in result.stderr
