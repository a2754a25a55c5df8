"""Issue 23: what surprises a newcomer at the command line, driven in this process."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from post_office.cli.parser import build_parser

# ``cli``: the shared fixture of tests/support/cli.py (main() in this process).


BAD = '("localhost" :port 2525 :strattls t :certificate-password "hunter2")'


@pytest.mark.parametrize("command", ["send", "check", "parse"])
def test_a_bad_spec_is_quoted_as_written_everywhere(cli: Callable[..., Any], command: str) -> None:
    args = [command, BAD] + (["a@example.org", "b@example.org"] if command == "send" else [])
    result = cli(*args, input=b"hi\n")
    assert result.returncode == 2
    assert '\'("localhost" :port 2525 :strattls t :certificate-password "<redacted>")\'' in (
        result.stderr
    )
    assert "Keyword(" not in result.stderr and "hunter2" not in result.stderr


def test_a_bad_program_spec_is_quoted_as_written(cli: Callable[..., Any]) -> None:
    result = cli("send", "(:program 1)", "a@example.org", "b@example.org", input=b"hi\n")
    assert result.returncode == 2 and "'(:program 1)'" in result.stderr


@pytest.mark.parametrize("spec", ["167838211", "(167838211 :port 25)"])
def test_parse_reads_digits_as_an_ipv4_integer(cli: Callable[..., Any], spec: str) -> None:
    result = cli("parse", spec)
    assert result.returncode == 0, result.stderr
    assert "host:     10.1.2.3" in result.stdout


def test_digits_out_of_range_are_a_usage_error(cli: Callable[..., Any]) -> None:
    result = cli("parse", "4294967296")
    assert result.returncode == 2 and "0..4294967295" in result.stderr


@pytest.mark.parametrize("command", ["parse", "sink-list", "sink-show"])
def test_commands_that_speak_no_smtp_offer_no_debug(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    help_text = sub.choices[command].format_help()  # type: ignore[attr-defined]
    assert "--debug" not in help_text


@pytest.mark.parametrize("command", ["demo", "serve", "send", "check"])
def test_commands_that_speak_smtp_keep_debug(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "--debug" in sub.choices[command].format_help()  # type: ignore[attr-defined]


def test_demo_debug_writes_the_transcript_on_stderr(cli: Callable[..., Any]) -> None:
    pytest.importorskip("aiosmtpd")
    quiet = cli("demo")
    assert quiet.returncode == 0, quiet.stderr
    assert "EHLO" not in quiet.stderr
    loud = cli("demo", "--debug")
    assert loud.returncode == 0, loud.stderr
    assert "EHLO" in loud.stderr and "STARTTLS" in loud.stderr


def test_help_epilog_names_status_1_and_78_for_a_mismatched_spec() -> None:
    epilog = build_parser().epilog or ""
    for status in ("0 ", "1 the :program transport failed", "2 ", "69 ", "75 ", "76 ", "130 "):
        assert status in epilog
    assert "78 the spec does not fit the server" in epilog and ":ssl t on a plain port" in epilog


def test_certificate_subject_reads_the_same_verified_or_not(tmp_path: Any) -> None:
    pytest.importorskip("cryptography")
    import ssl

    import trustme

    from post_office.cli.certificate import cert_info

    ca = trustme.CA(organization_name="Corp CA")
    leaf = ca.issue_cert("mail.corp", organization_name="Corp")
    pem = leaf.cert_chain_pems[0].bytes()
    path = tmp_path / "leaf.pem"
    path.write_bytes(pem)
    der = ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
    decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
    verified, unverified = cert_info(der, decoded), cert_info(der, None)
    assert verified is not None and unverified is not None
    assert verified.subject == unverified.subject
    assert verified.issuer == unverified.issuer
    assert "O=Corp" in unverified.subject and "," in unverified.subject


def test_plain_success_where_starttls_was_offered_says_add_starttls(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    server = smtp_server_factory("starttls")
    spec = f"127.0.0.1:{server.port}"
    sent = cli("send", spec, "a@example.org", "b@example.org", input=b"hi\n")
    assert sent.returncode == 0, sent.stderr
    assert "plain text, though the server offers STARTTLS: add :starttls t" in sent.stdout
    as_json = cli("send", spec, "a@example.org", "b@example.org", "--json", input=b"hi\n")
    assert '"starttls": "not used"' in as_json.stdout
    checked = cli("check", spec)
    assert checked.returncode == 0, checked.stderr
    [result] = [line for line in checked.stdout.splitlines() if line.startswith("result:")]
    assert result.count(" but ") == 0 and "add :starttls t" in result


def test_plain_success_where_starttls_is_not_offered_says_nothing_more(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    server = smtp_server_factory("plain")
    sent = cli("send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org", input=b"x\n")
    assert sent.returncode == 0, sent.stderr
    assert "STARTTLS" not in sent.stdout and "over plain text; no AUTH" in sent.stdout


def test_a_530_for_starttls_gives_the_same_fix_in_send_check_and_the_library(
    cli: Callable[..., Any], fault_server_factory: Any
) -> None:
    from support.faultserver import reply

    from post_office import SenderRefusedError, send_smtp

    server = fault_server_factory(
        {"MAIL": reply("530 5.7.0 Must issue a STARTTLS command first")}, tls=True
    )
    spec = f"127.0.0.1:{server.port}"
    fix = "the server wants STARTTLS first: add :starttls t"
    sent = cli("send", spec, "a@example.org", "b@example.org", input=b"hi\n")
    assert sent.returncode == 69 and fix in sent.stderr
    checked = cli("check", spec)
    assert checked.returncode == 69 and fix in checked.stderr
    with pytest.raises(SenderRefusedError) as raised:
        send_smtp(("127.0.0.1", server.port), "a@example.org", "b@example.org", "hi\n")
    assert fix in str(raised.value) and raised.value.code == 530


def test_a_530_for_auth_says_log_in_in_each_ones_words(
    cli: Callable[..., Any], fault_server_factory: Any
) -> None:
    from support.faultserver import reply

    from post_office import SenderRefusedError, send_smtp

    server = fault_server_factory(
        {"MAIL": reply("530 5.7.0 Authentication required")}, auth="PLAIN"
    )
    spec = f"127.0.0.1:{server.port}"
    sent = cli("send", spec, "a@example.org", "b@example.org", input=b"hi\n")
    assert sent.returncode == 69
    assert "the server wants AUTH: add --login USER" in sent.stderr
    assert "send_smtp_auth" not in sent.stderr
    checked = cli("check", spec)
    assert "the server wants AUTH: add --login USER" in checked.stderr
    with pytest.raises(SenderRefusedError) as raised:
        send_smtp(("127.0.0.1", server.port), "a@example.org", "b@example.org", "hi\n")
    assert "the server wants AUTH: log in (send_smtp_auth" in str(raised.value)


@pytest.mark.parametrize("command", ["send", "check"])
def test_a_silent_port_gets_a_notice_long_before_the_timeout(
    cli: Callable[..., Any], fault_server_factory: Any, command: str
) -> None:
    from support.faultserver import then_silence

    silent = fault_server_factory({"greeting": then_silence()})
    args = [command, f"127.0.0.1:{silent.port}", "--timeout", "3"]
    if command == "send":
        args[2:2] = ["a@example.org", "b@example.org"]
    result = cli(*args, input=b"hi\n", env={"POST_OFFICE_SILENCE_NOTICE": "0.2"})
    assert result.returncode == 75
    notice = [line for line in result.stderr.splitlines() if "has said nothing" in line]
    assert len(notice) == 1, result.stderr
    assert "waiting up to 3 s for its greeting" in notice[0] and "add :ssl t" in notice[0]
    assert "error:" in result.stderr  # the failure itself still comes, with its hint


def test_a_server_that_greets_gets_no_notice(
    cli: Callable[..., Any], smtp_server_factory: Any
) -> None:
    server = smtp_server_factory("plain")
    result = cli(
        "send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org",
        input=b"hi\n", env={"POST_OFFICE_SILENCE_NOTICE": "0.2"},
    )  # fmt: skip
    assert result.returncode == 0 and "has said nothing" not in result.stderr
