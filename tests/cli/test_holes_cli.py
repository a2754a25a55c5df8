"""Holes in the command line and the sink tools (issue 20 item 5, issue 23 item 9).

- What a server sends (greeting, replies, ``--debug``'s transcript, ``--json``) reaches
  the terminal escaped, through the one escaper the sink tools use, which now also
  escapes U+061C and reads back one way only.
- ``sink-list`` / ``sink-show`` take the envelope from the lines the sink wrote first,
  never from headers the sender wrote.
- ``make_throwaway_certificate`` creates its key file anew, mode 0600, through no link.
- ``send --json`` prints its failure object for every failure, usage errors included,
  with the reply's code, enhanced status code, the stage and the server reached.

In this process (``main(argv)``) wherever no process of its own is needed.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import os
import re
import socket
import stat
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.cli import (
    ROOT,
    Cli,
    cli_env,
)
from support.faultserver import FaultServer, reply
from support.mail import raw_dialogue
from support.terminal import run_on_terminal

from post_office import Sink, make_throwaway_certificate, send_smtp
from post_office._checks import printable
from post_office.cli.transfer import enhanced_code

#: What no line printed to a terminal may hold: C0 but for the line end, DEL, C1, and
#: Unicode's bidirectional controls (UAX #9) and line separators.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
#: Hostile server text: a terminal title, a screen clear, a bell, a C1 CSI, an
#: Arabic letter mark and a right-to-left override.
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u061c\u202eevil"

# --------------------------------------------------------------------------- 1 escaping

_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})")


def unescape(text: str) -> str:
    """The reading of :func:`printable`'s output: ``\\\\`` is a backslash, ``\\xHH`` and
    ``\\uHHHH`` the character, any other backslash itself."""

    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        return "\\" if escape == "\\" else chr(int(escape[1:], 16))

    return _ESCAPE.sub(one, text)


_TRICKY = st.sampled_from(
    ["\\", "x", "u", "1", "b", "f", "F", "0", "\x1b", "\x07", "\x9b", "\x7f", "\u061c",
     "\u202e", "\u2066", "\u200f", "\r", "\n", "\t", "\ud800", "é", "\u05d0"]
)  # fmt: skip


@given(st.lists(st.one_of(_TRICKY, st.characters(blacklist_categories=()))).map("".join))
def test_printable_leaves_no_control_and_reads_back_one_way(text: str) -> None:
    shown = printable(text)
    assert not RAW_CONTROL.search(shown) and "\n" not in shown
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in shown)
    assert unescape(shown) == text


def test_printable_escapes_the_arabic_letter_mark_and_keeps_plain_backslashes() -> None:
    assert printable("a\u061cb") == "a\\u061cb"
    assert printable(r"C:\Users\me") == r"C:\Users\me"
    assert printable("\\x1b") == "\\\\x1b" and printable("\x1b") == "\\x1b"


def test_check_send_and_debug_print_what_the_server_sent_escaped(
    cli: Cli,
    fault_server_factory: Any,
) -> None:
    server = fault_server_factory(
        {
            "greeting": reply(f"220 faults.test {HOSTILE}"),
            "RCPT": reply(f"550 5.1.1 no such user {HOSTILE}"),
        }
    )
    spec = f"127.0.0.1:{server.port}"
    checked = cli("check", spec, "--timeout", "5")
    sent = cli("send", spec, "a@example.org", "b@example.org", "--debug", "--timeout", "5",
               input=b"hi\n")  # fmt: skip
    assert sent.returncode == 69
    for result in (checked, sent):
        for line in (result.stdout + result.stderr).splitlines():
            assert not RAW_CONTROL.search(line), line
    assert "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u061c\\u202eevil" in checked.stdout
    error = [line for line in sent.stderr.splitlines() if "error:" in line]
    assert len(error) == 1 and "550 5.1.1 no such user \\x1b]0;owned" in error[0]
    transcript = sent.stderr.split("post-office: error:")[0]
    assert "220 faults.test \\x1b]0;owned" in transcript and "\\u202eevil" in transcript


def test_json_escapes_server_text_and_still_parses_to_it(
    cli: Cli,
    fault_server_factory: Any,
) -> None:
    server = fault_server_factory({"MAIL": reply(f"451 4.3.0 later {HOSTILE}")})
    result = cli("send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org",
                 "--json", "--timeout", "5", input=b"hi\n")  # fmt: skip
    assert result.returncode == 75
    assert not RAW_CONTROL.search(result.stdout.rstrip("\n"))
    data = json.loads(result.stdout)
    assert data["error"].endswith(f"451 4.3.0 later {HOSTILE}")


def test_usage_errors_are_escaped(cli: Cli) -> None:
    result = cli("parse", "x", "\x1b[2Jextra")
    assert result.returncode == 2
    assert "\x1b" not in result.stderr and "\\x1b[2Jextra" in result.stderr


# --------------------------------------------------------------------------- 2 envelope

FORGED = (
    "Return-Path: <forged-sender@evil.example>\n"
    "Delivered-To: forged@evil.example\n"
    "X-Envelope-To: forged2@evil.example\n"
    "Received: from evil.example by evil.example; Mon, 1 Jan 2001 00:00:00 +0000\n"
    "Delivered-To: forged3@evil.example\n"
    "Subject: forged\n\nbody\n"
)


@pytest.mark.parametrize("store", ["maildir", "mbox"])
def test_sink_tools_show_the_envelope_the_sink_recorded_not_the_senders_headers(
    cli: Cli,
    tmp_path: Path,
    store: str,
) -> None:
    where = tmp_path / ("maildir" if store == "maildir" else "mail.mbox")
    with Sink(**{store: where}) as sink:
        send_smtp(sink.server_spec(), "real@example.org", ["to@example.org"], FORGED)
    option = ["--maildir" if store == "maildir" else "--mbox", str(where)]
    listed = cli("sink-list", *option)
    shown = cli("sink-show", "1", *option)
    assert listed.returncode == 0 and shown.returncode == 0, listed.stderr + shown.stderr
    assert "from <real@example.org> to <to@example.org>  " in listed.stdout
    assert "envelope: from <real@example.org> to <to@example.org>\n" in shown.stdout
    # The sender's lines are still shown, as the headers they are.
    assert "  Delivered-To: forged@evil.example" in shown.stdout
    assert "evil.example>" not in listed.stdout


def test_line_breaks_in_client_text_cannot_add_trace_lines(
    cli: Cli,
    tmp_path: Path,
) -> None:
    commands = [b"EHLO x\rDelivered-To: ehlo@evil.example",
                b'MAIL FROM:<"a\rDelivered-To: from@evil.example"@example.org>',
                b'RCPT TO:<"b\rDelivered-To: rcpt@evil.example"@example.org>',
                b"RCPT TO:<ok@example.org>", b"DATA", b"Subject: x\r\n\r\nhi\r\n.",
                b"QUIT"]  # fmt: skip
    with Sink(maildir=tmp_path / "maildir") as sink:
        raw_dialogue(sink.port, commands, timeout=10)
        [message] = sink.messages
        stored = sink.message_file(message)
    assert stored is not None
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(stored.read_bytes())
    assert len(parsed.get_all("Delivered-To", [])) == 2
    assert len(parsed.get_all("Received", [])) == 1
    listed = cli("sink-list", "--maildir", str(tmp_path / "maildir"))
    assert "ok@example.org" in listed.stdout and "\r" not in listed.stdout


def test_a_message_not_stored_by_the_sink_has_no_envelope(
    cli: Cli,
    tmp_path: Path,
) -> None:
    (tmp_path / "maildir" / "new").mkdir(parents=True)
    (tmp_path / "maildir" / "new" / "1.M1.dropped").write_text(
        FORGED.split("\n", 1)[1]  # starts with Delivered-To: a sender's header
    )
    listed = cli("sink-list", "--maildir", str(tmp_path / "maildir"))
    shown = cli("sink-show", "1", "--maildir", str(tmp_path / "maildir"))
    assert "from (unknown) to (unknown)" in listed.stdout
    assert "envelope: from (unknown) to (unknown)" in shown.stdout


# --------------------------------------------------------------------------- 3 key file

METHODS = ["cryptography", "openssl"]


@pytest.mark.parametrize("method", METHODS)
def test_an_existing_readable_key_file_is_replaced_by_a_private_one(
    tmp_path: Path, method: str
) -> None:
    key = tmp_path / "key.pem"
    key.write_text("old key\n")
    key.chmod(0o644)
    made = make_throwaway_certificate(tmp_path, method=method)
    assert made.key_file == key and key.read_text() != "old key\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    made.server_context()  # the key and certificate belong together


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
@pytest.mark.parametrize("method", METHODS)
def test_planted_links_are_replaced_not_written_through(tmp_path: Path, method: str) -> None:
    victims = tmp_path / "victims"
    victims.mkdir()
    target = tmp_path / "tls"
    target.mkdir()
    for name in ("key.pem", "cert.pem"):
        (victims / name).write_text("someone else's file\n")
        (victims / name).chmod(0o644)
        (target / name).symlink_to(victims / name)
    made = make_throwaway_certificate(target, method=method)
    for name in ("key.pem", "cert.pem"):
        assert (victims / name).read_text() == "someone else's file\n"
        assert stat.S_IMODE((victims / name).stat().st_mode) == 0o644
        assert not (target / name).is_symlink()
    assert stat.S_IMODE(made.key_file.stat().st_mode) == 0o600
    assert sorted(path.name for path in target.iterdir()) == ["cert.pem", "key.pem"]
    made.server_context()


# --------------------------------------------------------------------------- 4 --json

FIELDS = {"status", "exit", "error", "server", "reached", "stage", "command", "reply"}


def _json(result: Any, status: int) -> Dict[str, Any]:
    assert result.returncode == status, (result.stdout, result.stderr)
    [line] = result.stdout.splitlines()
    data: Dict[str, Any] = json.loads(line)
    assert set(data) == FIELDS and data["status"] == "failed" and data["exit"] == status
    return data


def test_json_reports_usage_and_argument_errors(cli: Cli, tmp_path: Path) -> None:
    missing = _json(cli("send", "--json", "127.0.0.1:25"), 2)
    assert "required: FROM, TO" in missing["error"]
    unknown = _json(cli("send", "127.0.0.1:25", "a@example.org", "b@example.org", "--json",
                        "--no-such-option"), 2)  # fmt: skip
    assert "--no-such-option" in unknown["error"]
    bad_from = _json(cli("send", "127.0.0.1:25", "a b@example.org", "b@example.org", "--json"), 2)
    assert "FROM" in bad_from["error"]
    no_file = _json(cli("send", "127.0.0.1:25", "a@example.org", "b@example.org", "--json",
                        "--file", str(tmp_path / "nowhere")), 2)  # fmt: skip
    assert "--file" in no_file["error"]
    for data in (missing, unknown, bad_from, no_file):
        assert data["reached"] is None and data["reply"] is None and data["stage"] is None
    after_dashes = cli("send", "127.0.0.1:25", "--", "--json")
    assert after_dashes.returncode == 2 and after_dashes.stdout == ""


def test_json_failure_carries_the_reply_stage_and_server_reached(
    cli: Cli,
    fault_server_factory: Any,
) -> None:
    def send(server: FaultServer) -> Any:
        return cli("send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org",
                   "--json", "--timeout", "5", input=b"hi\n")  # fmt: skip

    server = fault_server_factory({"RCPT": reply("550 5.1.1 no such user")})
    refused = _json(send(server), 69)
    assert refused["reply"] == {"code": 550, "enhanced": "5.1.1", "text": "5.1.1 no such user"}
    assert refused["stage"] == "mail_accepted"
    assert refused["command"] == "RCPT TO:<b@example.org>"
    assert refused["server"] == f"127.0.0.1 port {server.port}"
    assert refused["reached"] == {"host": "127.0.0.1", "address": "127.0.0.1",
                                  "port": server.port}  # fmt: skip
    greeting = _json(send(fault_server_factory({"greeting": reply("554 no service")})), 69)
    assert greeting["reply"] == {"code": 554, "enhanced": None, "text": "no service"}
    assert greeting["stage"] == "before_mail" and greeting["reached"] is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        unreachable = _json(cli("send", f"127.0.0.1:{port}", "a@example.org", "b@example.org",
                                "--json", "--allow-empty"), 75)  # fmt: skip
    assert unreachable["server"] == f"127.0.0.1 port {port}"
    assert unreachable["reached"] is None and unreachable["reply"] is None


def test_json_success_has_the_enhanced_code_and_server_reached(
    cli: Cli,
    fault_server_factory: Any,
) -> None:
    server = fault_server_factory({"END": reply("250 2.0.0 Ok: queued as 4Xyz")})
    result = cli("send", f"127.0.0.1:{server.port}", "a@example.org", "b@example.org",
                 "--json", input=b"hi\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "sent" and data["exit"] == 0
    assert data["reply"] == {"code": 250, "enhanced": "2.0.0", "text": "2.0.0 Ok: queued as 4Xyz"}
    assert data["reached"]["port"] == server.port


def test_json_on_a_terminal_is_the_object_alone(smtp_server_factory: Any, tmp_path: Path) -> None:
    """No progress line for a big message: standard output holds the JSON object only."""
    server = smtp_server_factory("plain")
    big = tmp_path / "big.eml"
    big.write_bytes(b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * 70_000)
    status, text, err = run_on_terminal(
        [sys.executable, "-m", "post_office", "send", f"127.0.0.1:{server.port}",
         "a@example.org", "b@example.org", "--raw", "--file", str(big), "--json"],
        env=cli_env(), cwd=str(ROOT),
    )  # fmt: skip
    assert status == 0, err
    assert "sending:" not in text
    assert json.loads(text)["status"] == "sent"


_CODES = st.integers(200, 599)
_PART = st.integers(0, 999).map(str)


@given(_CODES, _PART, _PART, st.text(max_size=20))
def test_enhanced_code_is_read_only_when_its_class_is_the_replys(
    code: int, subject: str, detail: str, rest: str
) -> None:
    for klass in "245":
        text = f"{klass}.{subject}.{detail} {rest}"
        found = enhanced_code(code, text)
        if klass == str(code)[0]:
            assert found == f"{klass}.{subject}.{detail}"
        else:
            assert found is None


@given(st.one_of(st.none(), _CODES), st.text())
def test_enhanced_code_never_raises_and_is_a_prefix(code: Optional[int], text: str) -> None:
    found = enhanced_code(code, text)
    if found is not None:
        assert text.lstrip(" ").startswith(found)
        assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", found)
