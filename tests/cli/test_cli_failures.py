"""Failures a user can act on (issue 15): every error of ``post-office`` says what
happened and what to type instead, with the exit status mail tools use (sysexits).

Each test runs the command line the way a user types it: ``main(argv)`` in this process
with captured output, or a real ``python -m post_office`` process where the process
itself is under test (Ctrl-C, a closed pipe, a terminal).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest
import trustme
from support.faultserver import DISCONNECT, FaultServer, reply

from post_office import CertificateError, send_smtp

ROOT = Path(__file__).resolve().parents[2]
USER = "user"
PASSWORD = "pässwörd-ü"
LIMIT = 60.0
Result = "subprocess.CompletedProcess[str]"


def env_with_tree(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


# ``cli``: the shared fixture of tests/support/cli.py (main() in this process).


def one_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    """The run exited ``status`` with one ``post-office: error:`` line and no traceback."""
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


def lisp(server: Any, *keywords: str) -> str:
    return f'("127.0.0.1" :port {server.port}{"".join(" " + k for k in keywords)})'


# --------------------------------------------------------------------------- 1 certificates


def test_certificate_hint_keeps_the_users_spec_and_adds_ca_file(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    starttls = smtp_server_factory("starttls")
    typed = lisp(starttls, ":starttls t")
    result = cli("check", typed)
    line = one_error(result, 78)
    assert "did not verify" in line
    assert f'{typed[:-1]} :ca-file "/path/to/ca.pem")' in line  # :starttls t kept
    assert ":verify nil" in line
    # The certificate is shown although it does not verify.
    assert "certificate: subject" in result.stdout and "names   DNS:localhost" in result.stdout
    assert re.search(r"expires \d{4}-\d\d-\d\d", result.stdout)
    sent = cli("send", typed, "a@example.org", "b@example.org", input=b"hi\n")
    assert f'{typed[:-1]} :ca-file "/path/to/ca.pem")' in one_error(sent, 78)
    assert starttls.messages == []

    implicit = smtp_server_factory("tls")
    typed = lisp(implicit, ":ssl t")
    line = one_error(cli("check", typed), 78)
    assert f'{typed[:-1]} :ca-file "/path/to/ca.pem")' in line  # :ssl t kept
    plain_form = cli("check", f"127.0.0.1:{implicit.port}", "--timeout", "2")
    assert "add :ssl t" in one_error(plain_form, 75)


def test_certificate_hint_in_the_library_keeps_the_spec(smtp_server_factory: Any) -> None:
    server = smtp_server_factory("starttls")
    with pytest.raises(CertificateError) as caught:
        send_smtp(
            ("127.0.0.1", ":port", server.port, ":starttls", True), "a@x.org", "b@x.org", "hi"
        )
    text = str(caught.value)
    assert f"('127.0.0.1', ':port', {server.port}, ':starttls', True, ':ca-file'" in text
    assert "'/path/to/ca.pem')" in text


def test_a_name_mismatch_names_the_names_the_certificate_holds(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    server = smtp_server_factory("starttls")
    typed = lisp(
        server, ":starttls t", f':ca-file "{server.ca_file}"', ':server-name "wrong.example"'
    )
    line = one_error(cli("check", typed), 78)
    assert "is not for wrong.example" in line and "DNS:localhost" in line and "IP:127.0.0.1" in line
    assert ':server-name "localhost"' in line and ":ca-file" in line
    assert "point :ca-file" not in line  # not the unknown-CA hint


@pytest.fixture
def expired_tls_server(tmp_path: Path) -> Iterator[Any]:
    """An implicit-TLS fault server whose certificate expired on 2020-01-02."""
    ca = trustme.CA()
    leaf = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc),
        not_after=datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone.utc),
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = FaultServer(tls_context=context, implicit_tls=True)
    server.ca_file = str(ca_file)  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def test_an_expired_certificate_says_so_with_the_date(
    cli: Callable[..., Any], expired_tls_server: Any
) -> None:
    server = expired_tls_server
    typed = lisp(server, ":ssl t", f':ca-file "{server.ca_file}"')
    result = cli("check", typed)
    line = one_error(result, 78)
    assert "expired on 2020-01-02" in line and "renew" in line
    assert "point :ca-file" not in line
    assert "EXPIRED" in result.stdout


# --------------------------------------------------------------------------- 2 TLS mode


def test_ssl_on_a_plain_port_says_use_starttls_at_once(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    plain = smtp_server_factory("plain")
    started = time.monotonic()
    result = cli("send", lisp(plain, ":ssl t"), "a@example.org", "b@example.org", input=b"hi\n")
    line = one_error(result, 78)  # a configuration error: retrying cannot help (issue 23)
    assert time.monotonic() - started < 10  # not after the 60 s timeout
    assert "speaks plain SMTP here: use :starttls t instead of :ssl t" in line
    assert plain.messages == []


def test_no_greeting_from_a_silent_port_suggests_ssl(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    implicit = smtp_server_factory("tls")
    result = cli(
        "send", lisp(implicit, ":starttls t"), "a@example.org", "b@example.org",
        "--timeout", "1", input=b"hi\n",
    )  # fmt: skip
    line = one_error(result, 75)
    assert "no greeting" in line and "may expect TLS at once" in line and "add :ssl t" in line


# --------------------------------------------------------------------------- 3 check


def test_check_goes_to_mail_from_and_says_auth_is_required(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    server = smtp_server_factory("auth")
    typed = lisp(server, ":starttls :required", f':ca-file "{server.ca_file}"')
    anonymous = cli("check", typed)
    line = one_error(anonymous, 69)  # what send without --login would get
    assert "MAIL FROM:<> was refused: 530" in line and "add --login USER" in line
    assert "AUTH:" in anonymous.stdout
    with_login = cli("check", typed, "--login", USER, "--password-env", "PW", env={"PW": PASSWORD})
    assert with_login.returncode == 0, with_login.stderr
    assert "MAIL FROM:   250" in with_login.stdout and "result:      OK" in with_login.stdout
    assert server.messages == []


def test_check_says_auth_is_offered_only_after_starttls(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    server = smtp_server_factory("auth")
    result = cli(
        "check", lisp(server, ":starttls t", f':ca-file "{server.ca_file}"'), "--login", USER,
        "--password-env", "PW", env={"PW": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(offered only after STARTTLS)" in result.stdout


def test_check_and_send_with_login_fail_when_no_auth_is_offered(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    plain = smtp_server_factory("plain")
    pw = {"PW": PASSWORD}
    check = cli("check", f"127.0.0.1:{plain.port}", "--login", USER, "--password-env", "PW", env=pw)
    assert "does not offer AUTH" in one_error(check, 69)
    # 4: send --login without AUTH offered sends nothing ...
    sent = cli(
        "send", f"127.0.0.1:{plain.port}", "a@example.org", "b@example.org", "--login", USER,
        "--password-env", "PW", input=b"hi\n", env=pw,
    )  # fmt: skip
    line = one_error(sent, 69)
    assert "does not offer AUTH" in line and "--allow-no-auth" in line
    assert plain.messages == []
    # ... unless --allow-no-auth says so.
    allowed = cli(
        "send", f"127.0.0.1:{plain.port}", "a@example.org", "b@example.org", "--login", USER,
        "--password-env", "PW", "--allow-no-auth", input=b"hi\n", env=pw,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert "does not offer AUTH" in allowed.stderr  # the library's warning
    assert "no AUTH (--allow-no-auth)" in allowed.stdout
    assert len(plain.messages) == 1


def test_auth_after_starttls_hint_when_login_and_no_tls(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    server = smtp_server_factory("auth")  # AUTH only after STARTTLS
    sent = cli(
        "send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org", "--login", USER,
        "--password-env", "PW", input=b"hi\n", env={"PW": PASSWORD},
    )  # fmt: skip
    line = one_error(sent, 69)
    assert "AUTH only after it, so add :starttls t" in line


# --------------------------------------------------------------------------- 5 spec errors


def test_spec_errors_quote_lisp_as_written_and_suggest_a_keyword(cli: Callable[..., Any]) -> None:
    typed = '("127.0.0.1" :port 2525 :strattls t)'
    line = one_error(cli("parse", typed), 2)
    assert f"'{typed}'" in line and "did you mean :starttls?" in line
    assert "Keyword(" not in line and "[" not in line
    line = one_error(cli("parse", '("h" :ssl :required)'), 2)
    assert ":ssl :required is not" in line and "Keyword(" not in line
    line = one_error(cli("check", '("127.0.0.1" :starttls t :ca-file "/no/such/ca.pem")'), 2)
    assert ":ca-file '/no/such/ca.pem'" in line and "None" not in line


def test_argument_errors_name_the_arguments_as_typed(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    line = one_error(cli("send", "127.0.0.1:1", "a@example.org", "x y"), 2)
    assert line.startswith("post-office: error: TO: 'x y'") and "[0]" not in line
    line = one_error(cli("send", "127.0.0.1:1", "a@example.org", "b@example.org", "--cc", "c d"), 2)
    assert "--cc: 'c d'" in line
    line = one_error(
        cli("send", "127.0.0.1:1", "a@example.org", "b@example.org", "--attach", str(tmp_path)), 2
    )
    assert f"--attach '{tmp_path}': is a directory" in line and "no such file" not in line
    line = one_error(
        cli("send", "127.0.0.1:1", "a@example.org", "b@example.org", "--file", str(tmp_path)), 2
    )
    assert "--file" in line and "is a directory" in line


# --------------------------------------------------------------------------- secrets


SECRET = "s3cret-never-shown"


def test_the_certificate_password_never_appears(cli: Callable[..., Any], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        typed = (
            f'("127.0.0.1" :port {port} :starttls t :certificate "{tmp_path}/c.pem" '
            f':certificate-password "{SECRET}")'
        )
        parsed = cli("parse", typed)
        checked = cli("check", typed, "--timeout", "5")
        sent = cli("send", typed, "a@example.org", "b@example.org", "--json", input=b"x")
        broken = cli("parse", typed.replace(":starttls t", ":strattls t"))
    assert parsed.returncode == 0, parsed.stderr
    assert "lisp:" in parsed.stdout and "python:" in parsed.stdout
    assert "checking:" in checked.stdout and "<redacted>" in checked.stdout
    for result in (parsed, checked, sent, broken):
        assert SECRET not in result.stdout + result.stderr, result


# --------------------------------------------------------------------------- exit statuses


def test_exit_statuses_as_sysexits(cli: Callable[..., Any], fault_server_factory: Any) -> None:
    def send(server: FaultServer) -> subprocess.CompletedProcess[str]:
        return cli("send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org",
                   "--timeout", "10", input=b"hi\n")  # fmt: skip

    assert "451" in one_error(send(fault_server_factory({"MAIL": reply("451 4.3.0 later")})), 75)
    assert "550" in one_error(send(fault_server_factory({"RCPT": reply("550 5.1.1 no")})), 69)
    one_error(send(fault_server_factory({"RCPT": DISCONNECT})), 75)
    one_error(send(fault_server_factory({"greeting": reply("554 5.3.2 go away")})), 69)
    one_error(send(fault_server_factory({"MAIL": reply("2x0 nonsense")})), 76)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = cli("send", f"127.0.0.1:{probe.getsockname()[1]}", "a@x.org", "b@x.org")
    one_error(refused, 75)
    assert cli("send", "--no-such-option").returncode == 2


# --------------------------------------------------------------------------- success


def test_success_says_what_happened(cli: Callable[..., Any], smtp_server_factory: Any) -> None:
    server = smtp_server_factory("auth")
    typed = lisp(server, ":starttls t", f':ca-file "{server.ca_file}"')
    pw = {"PW": PASSWORD}
    args = (
        "send",
        typed,
        "a@example.org",
        "b@example.org",
        "--login",
        USER,
        "--password-env",
        "PW",
    )
    result = cli(*args, input=b"hi\n", env=pw)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith(
        f"sent: accepted for 1 recipient(s) by 127.0.0.1 port {server.port}: 250"
    )
    assert re.match(r"      over TLSv1\.[23] after STARTTLS; AUTH (PLAIN|LOGIN) as user$", second)
    quiet = cli(*args, "--quiet", input=b"hi\n", env=pw)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    as_json = cli(*args, "--json", input=b"hi\n", env=pw)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["status"] == "sent" and data["recipients"] == ["b@example.org"]
    assert data["tls"].startswith("TLSv1.") and data["auth"] in ("PLAIN", "LOGIN")
    assert data["reply"]["code"] == 250 and data["starttls"] == "upgraded"
    assert len(server.messages) == 3
    failed = cli("send", lisp(server), "a@example.org", "b@example.org", "--json", input=b"hi\n")
    assert failed.returncode == 69
    data = json.loads(failed.stdout)
    assert data["status"] == "failed" and data["exit"] == 69 and "530" in data["error"]


def test_success_says_starttls_fell_back_to_plain_text(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    plain = smtp_server_factory("plain")
    result = cli("send", lisp(plain, ":starttls t"), "a@example.org", "b@example.org", input=b"x")
    assert result.returncode == 0, result.stderr
    assert "plain text: the server did not offer STARTTLS" in result.stdout


def test_an_empty_body_warns_unless_allowed(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    plain = smtp_server_factory("plain")
    spec = f"127.0.0.1:{plain.port}"
    for extra in ([], ["--raw"]):
        warned = cli("send", spec, "a@example.org", "b@example.org", *extra)
        assert warned.returncode == 0, warned.stderr
        assert "warning: sending an empty body" in warned.stderr
        allowed = cli("send", spec, "a@example.org", "b@example.org", "--allow-empty", *extra)
        assert allowed.returncode == 0 and allowed.stderr == ""
    assert len(plain.messages) == 4
