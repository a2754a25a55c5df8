"""The pytest plugin (``smtp_sink``, ``smtp_sink_factory``), used the way a user's test
module uses it: each test writes a test module with no conftest and runs it through
pytest's ``pytester``, so that fixture discovery through the plugin is tested, not only
the classes.  The plugin is loaded by its ``pytest11`` entry point when the installed
metadata has it, else with ``-p post_office.pytest_plugin``.
"""

from __future__ import annotations

import configparser
import importlib
import importlib.metadata
import pkgutil
import socket
import textwrap
from pathlib import Path
from typing import List

import pytest

import post_office

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "python -m pip install -e '.[sink]'"


# An in-process pytester run forgets the modules it imported when it ends, but the plugin
# the entry point loaded into this process keeps its own: load every module here first, so
# that each run sees the classes the plugin sees (one MailServer, not two).
for _module in pkgutil.walk_packages(post_office.__path__, "post_office."):
    importlib.import_module(_module.name)


def _entry_point_installed() -> bool:
    try:
        points = importlib.metadata.distribution("post_office").entry_points
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(p.group == "pytest11" and p.value == "post_office.pytest_plugin" for p in points)


def plugin_args() -> List[str]:
    if _entry_point_installed():
        return ["-p", "no:cacheprovider", "-p", "no:benchmark"]
    return ["-p", "post_office.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:benchmark"]


def run_user_module(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=textwrap.dedent(source))
    return pytester.runpytest(*plugin_args(), "-q", *args)


def test_the_entry_point_is_declared() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options.entry_points"]["pytest11"].strip().splitlines()
    assert "post_office = post_office.pytest_plugin" in [line.strip() for line in lines]
    try:
        points = importlib.metadata.distribution("post_office").entry_points
    except importlib.metadata.PackageNotFoundError:
        return
    for point in points:
        if point.group == "pytest11":  # installed from this checkout: the same target
            assert (point.name, point.value) == ("post_office", "post_office.pytest_plugin")


BASICS = """
import email.policy
import pytest
from email.message import EmailMessage
from post_office import send_letter, send_smtp

def test_a_ported_send_letter(smtp_sink):
    # (send-letter server "me@example.org" "you@example.org" "Hello." :subject "Hi" :bcc ...)
    send_letter(smtp_sink.server_spec(), "me@example.org", "you@example.org", "Hello.\\n",
                subject="Hi", cc="cc@example.org", bcc="hidden@example.org")
    [message] = smtp_sink.messages
    assert message.mail_from == "me@example.org"
    assert message.rcpt_tos == ("you@example.org", "cc@example.org", "hidden@example.org")
    assert isinstance(message.message, EmailMessage)
    assert message.message["Subject"] == "Hi" and "Bcc" not in message.message
    assert message.message.get_content() == "Hello.\\n"
    assert message.tls_version is None and message.login is None
    assert "from <me@example.org>" in message.summary() and "subject 'Hi'" in message.summary()
    assert smtp_sink.host == "127.0.0.1"

def test_data_is_the_wire_after_dot_unstuffing(smtp_sink):
    send_smtp(smtp_sink.server_spec(), "", ["a@example.org"], "Subject: x\\n\\n.leading dot\\nend")
    assert smtp_sink.messages[0].data == b"Subject: x\\r\\n\\r\\n.leading dot\\r\\nend\\r\\n"
    assert smtp_sink.messages[0].mail_from == ""

def test_esmtp_parameters(smtp_sink):
    send_smtp(smtp_sink.server_spec(), "m\u00e9@example.org", ["b@example.org"],
              "Subject: caf\u00e9\\n\\ncaf\u00e9\\n")
    options = smtp_sink.messages[0].mail_options
    assert "SMTPUTF8" in options and "BODY=8BITMIME" in options
    assert smtp_sink.messages[0].rcpt_options == ()

def test_messages_arrive_in_order_and_clear_forgets_them(smtp_sink):
    for n in range(3):
        send_smtp(smtp_sink.server_spec(), "a@example.org", ["b@example.org"],
                  f"Subject: {n}\\n\\n")
    assert [m.message["Subject"] for m in smtp_sink.messages] == ["0", "1", "2"]
    smtp_sink.clear()
    assert smtp_sink.messages == []

@pytest.mark.smtp_sink(tls=True)
def test_the_marker_gives_options(smtp_sink):
    assert smtp_sink.server_spec().starttls == "required"

def test_the_factory_makes_several(smtp_sink_factory):
    one, two = smtp_sink_factory(), smtp_sink_factory()
    assert one.port != two.port

def test_only_loopback(smtp_sink_factory):
    with pytest.raises(TypeError, match="127.0.0.1 only"):
        smtp_sink_factory(host="0.0.0.0", public=True)
"""


def test_fixtures_fields_marker_and_clear(pytester: pytest.Pytester) -> None:
    result = run_user_module(pytester, BASICS)
    result.assert_outcomes(passed=7)


TLS_AND_AUTH = """
import base64, hashlib, hmac, smtplib, ssl
import pytest
from post_office import AuthenticationError, StartTLSError, send_smtp, send_smtp_auth

USER, PASSWORD = "j\u00f6rg", "p\u00e4ss w\u00f6rd"

def test_starttls_with_verification_on(smtp_sink_factory):
    sink = smtp_sink_factory(tls=True)
    spec = sink.server_spec()
    assert spec.starttls == "required" and spec.tls.ca_file and spec.tls.verify is not False
    assert "ca-file" in spec.to_lisp()
    send_smtp(spec, "a@example.org", ["b@example.org"], "Subject: tls\\n\\n")
    assert sink.messages[0].tls_version.startswith("TLSv1.")

def test_require_starttls_refuses_plain_text(smtp_sink_factory):
    sink = smtp_sink_factory(require_starttls=True)
    with pytest.raises(smtplib.SMTPException) as caught:
        send_smtp(("127.0.0.1", sink.port), "a@example.org", ["b@example.org"], "x")
    assert "530" in str(caught.value)
    assert sink.messages == []

def test_implicit_tls(smtp_sink_factory):
    sink = smtp_sink_factory(ssl=True)
    spec = sink.server_spec()
    assert spec.ssl and not spec.starttls and spec.tls.ca_file
    send_smtp(spec, "a@example.org", ["b@example.org"], "Subject: ssl\\n\\n")
    assert sink.messages[0].tls_version.startswith("TLSv1.")

def test_credentials_through_the_library(smtp_sink_factory):
    sink = smtp_sink_factory(tls=True, credentials=(USER, PASSWORD))
    send_smtp_auth(sink.server_spec(), "a@example.org", ["b@example.org"], USER, PASSWORD, "x")
    assert sink.messages[0].login == USER
    with pytest.raises(AuthenticationError) as caught:
        send_smtp_auth(sink.server_spec(), "a@example.org", ["b@example.org"], USER, "no", "x")
    assert caught.value.code == 535
    assert len(sink.messages) == 1

@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_each_mechanism(smtp_sink_factory, mechanism):
    # smtplib encodes credentials as ASCII; UTF-8 ones are tested below and above
    sink = smtp_sink_factory(tls=True, credentials=("user", "secret"))
    context = ssl.create_default_context(cafile=str(sink.ca_file))
    for password, code in (("secret", 235), ("wrong", 535)):
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            client.starttls(context=context)
            client.ehlo()
            assert mechanism in client.esmtp_features["auth"].split()
            client.user, client.password = "user", password
            method = {"PLAIN": client.auth_plain, "LOGIN": client.auth_login,
                      "CRAM-MD5": client.auth_cram_md5}[mechanism]
            try:
                assert client.auth(mechanism, method)[0] == code
            except smtplib.SMTPAuthenticationError as refused:
                assert refused.smtp_code == code == 535

def test_utf8_credentials_with_plain(smtp_sink_factory):
    sink = smtp_sink_factory(tls=True, credentials=(USER, PASSWORD))
    context = ssl.create_default_context(cafile=str(sink.ca_file))
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
        client.starttls(context=context)
        client.ehlo()
        blob = base64.b64encode(("\\0" + USER + "\\0" + PASSWORD).encode()).decode()
        assert client.docmd("AUTH", "PLAIN " + blob)[0] == 235
        client.sendmail("a@example.org", ["b@example.org"], b"Subject: m\\r\\n\\r\\n")
    assert sink.messages[0].login == USER

def test_auth_is_required(smtp_sink_factory):
    sink = smtp_sink_factory(tls=True, credentials=(USER, PASSWORD))
    with pytest.raises(smtplib.SMTPException) as caught:
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "x")
    assert "530" in str(caught.value)
"""


def test_tls_ssl_and_credentials(pytester: pytest.Pytester) -> None:
    result = run_user_module(pytester, TLS_AND_AUTH)
    result.assert_outcomes(passed=9)


RAW_CLIENT = '''
import socket

class Raw:
    """A bare SMTP client: sends exactly the bytes given."""
    def __init__(self, sink):
        self.sock = socket.create_connection(("127.0.0.1", sink.port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.reply()
    def reply(self):
        lines = []
        while True:
            line = self.file.readline().decode()
            lines.append(line.rstrip())
            if line[3:4] != "-":
                return "\\n".join(lines)
    def send(self, data):
        self.sock.sendall(data)
        return self.reply()
    def close(self):
        self.file.close(); self.sock.close()
'''

REFUSALS = (
    RAW_CLIENT
    + """
import smtplib
import pytest
from post_office import DataError, RecipientRefusedError, SenderRefusedError, send_smtp

def test_refuse_a_recipient_keeps_the_code(smtp_sink_factory):
    sink = smtp_sink_factory(refuse={"gone@example.org": "550 5.1.1 no such user",
                                     "*@busy.example": "450 4.2.1 try later"})
    with pytest.raises(RecipientRefusedError) as caught:
        send_smtp(sink.server_spec(), "a@example.org", ["gone@example.org"], "x")
    assert caught.value.code == 550 and "no such user" in str(caught.value)
    with pytest.raises(RecipientRefusedError) as caught:
        send_smtp(sink.server_spec(), "a@example.org", ["x@BUSY.example"], "x")
    assert caught.value.code == 450
    assert sink.messages == []

def test_refuse_the_sender_and_the_data(smtp_sink_factory):
    sink = smtp_sink_factory(refuse_mail_from={"<>": "550 5.7.1 no bounces"},
                             refuse_data={"spam@example.org": "554 5.7.1 looks like spam"})
    with pytest.raises(SenderRefusedError) as caught:
        send_smtp(sink.server_spec(), "", ["b@example.org"], "x")
    assert caught.value.code == 550
    with pytest.raises(DataError) as caught:
        send_smtp(sink.server_spec(), "a@example.org", ["spam@example.org"], "x")
    assert caught.value.code == 554
    send_smtp(sink.server_spec(), "a@example.org", ["ham@example.org"], "x")
    assert [m.rcpt_tos for m in sink.messages] == [("ham@example.org",)]

def test_refuse_data_for_every_message_with_a_4xx(smtp_sink_factory):
    sink = smtp_sink_factory(refuse_data="451 4.3.0 queue full")
    with pytest.raises(DataError) as caught:
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "x")
    assert caught.value.code == 451

@pytest.mark.parametrize("body, name", [(b"one\\ntwo\\r\\n", "LF"), (b"one\\rtwo\\r\\n", "CR")])
def test_strict_newlines_refuses_bare_ones(smtp_sink_factory, body, name):
    sink = smtp_sink_factory(strict_newlines=True)
    client = Raw(sink)
    client.send(b"EHLO me\\r\\n"); client.send(b"MAIL FROM:<a@example.org>\\r\\n")
    client.send(b"RCPT TO:<b@example.org>\\r\\n")
    assert client.send(b"DATA\\r\\n").startswith("354")
    assert client.send(b"Subject: x\\r\\n\\r\\n" + body + b".\\r\\n") == (
        f"550 5.5.2 Error: bare <{name}> received")
    client.send(b"QUIT\\r\\n"); client.close()
    assert sink.messages == []

def test_without_strict_newlines_data_keeps_them(smtp_sink):
    client = Raw(smtp_sink)
    client.send(b"EHLO me\\r\\nMAIL FROM:<a@example.org>\\r\\n")
    client.reply()
    client.send(b"RCPT TO:<b@example.org>\\r\\n")
    assert client.send(b"DATA\\r\\n").startswith("354")
    assert client.send(b"one\\ntwo\\rthree\\r\\n..dot\\r\\n.\\r\\n").startswith("250")
    client.close()
    assert smtp_sink.messages[0].data == b"one\\ntwo\\rthree\\r\\n.dot\\r\\n"

def test_hide_extensions(smtp_sink_factory):
    sink = smtp_sink_factory(hide_extensions=["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE"])
    client = Raw(sink)
    ehlo = client.send(b"EHLO me\\r\\n")
    for name in ("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE"):
        assert name not in ehlo
    assert client.send(b"MAIL FROM:<a@example.org> BODY=8BITMIME\\r\\n").startswith("555")
    assert client.send(b"MAIL FROM:<a@example.org> SMTPUTF8\\r\\n").startswith("501")
    assert client.send(b"MAIL FROM:<a@example.org> SIZE=10\\r\\n").startswith("555")
    # a client that pipelines anyway is cut off, as Postfix does
    assert client.send(b"MAIL FROM:<a@example.org>\\r\\nRCPT TO:<b@example.org>\\r\\n") == (
        "554 5.5.0 Error: SMTP protocol synchronization")
    client.close()
    # the library, told nothing, still delivers: it does not pipeline when not offered
    send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "Subject: plain\\n\\nx\\n")
    assert len(sink.messages) == 1

def test_hide_starttls_and_auth(smtp_sink_factory):
    sink = smtp_sink_factory(tls=True, hide_extensions=["STARTTLS", "AUTH"])
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("starttls") and not client.has_extn("auth")
        assert client.docmd("STARTTLS")[0] == 502
        assert client.docmd("AUTH", "PLAIN AGFiAGM=")[0] == 503

def test_pipelining_is_offered_by_default(smtp_sink):
    client = Raw(smtp_sink)
    assert "PIPELINING" in client.send(b"EHLO me\\r\\n")
    client.close()

def test_max_size(smtp_sink_factory):
    sink = smtp_sink_factory(max_size=1000)
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "1000"
    with pytest.raises(smtplib.SMTPException) as caught:
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "x" * 2000)
    assert "552" in str(caught.value)
    client = Raw(sink)
    client.send(b"EHLO me\\r\\n")
    assert client.send(b"MAIL FROM:<a@example.org> SIZE=5000\\r\\n").startswith("552")
    client.close()
    assert sink.messages == []
"""
)


def test_refusals_newlines_extensions_and_size(pytester: pytest.Pytester) -> None:
    result = run_user_module(pytester, REFUSALS)
    result.assert_outcomes(passed=10)


STAGES = """
import time
import pytest
from post_office import SMTPTimeoutError, ServerDisconnectedError, SMTPError, send_smtp

@pytest.mark.parametrize("stage", ["CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "END-OF-DATA"])
def test_hang_at(smtp_sink_factory, stage):
    sink = smtp_sink_factory(hang_at=stage)
    started = time.monotonic()
    with pytest.raises(SMTPTimeoutError):
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "x", timeout=0.5)
    assert time.monotonic() - started < 5
    assert sink.messages == []

@pytest.mark.parametrize("stage", ["CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "END-OF-DATA"])
def test_disconnect_at(smtp_sink_factory, stage):
    sink = smtp_sink_factory(disconnect_at=stage)
    with pytest.raises(SMTPError):  # the connection closed (or refused at once)
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "x", timeout=5)
    assert sink.messages == []

def test_disconnect_at_rcpt_is_a_dropped_connection(smtp_sink_factory):
    sink = smtp_sink_factory(disconnect_at="RCPT")
    with pytest.raises(ServerDisconnectedError):
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "x", timeout=5)

def test_a_bad_stage_names_the_stages(smtp_sink_factory):
    with pytest.raises(ValueError, match="END-OF-DATA"):
        smtp_sink_factory(hang_at="BODY")
"""


def test_hang_and_disconnect_at_a_stage(pytester: pytest.Pytester) -> None:
    result = run_user_module(pytester, STAGES)
    result.assert_outcomes(passed=14)


def test_every_sink_is_stopped_when_the_test_fails(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    ports = tmp_path / "ports"
    source = f"""
    from pathlib import Path

    def test_fails(smtp_sink, smtp_sink_factory):
        other = smtp_sink_factory(tls=True)
        Path({str(ports)!r}).write_text(f"{{smtp_sink.port}} {{other.port}}")
        assert False, "the user's test fails"
    """
    result = run_user_module(pytester, source)
    result.assert_outcomes(failed=1)
    for port in ports.read_text().split():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()


def test_without_the_sink_extra_only_tests_using_the_fixtures_fail(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        "import sys\n"
        "assert 'aiosmtpd' not in sys.modules, 'the plugin imported aiosmtpd'\n"
        "sys.modules['aiosmtpd'] = None\n"
    )
    pytester.makepyfile(
        test_user="def test_plain():\n    assert True\n\n"
        "def test_wants_a_sink(smtp_sink):\n    pass\n"
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:xdist")
    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    assert f"the smtp_sink fixtures need aiosmtpd: install the sink extra: {INSTALL}" in output
    assert "Traceback" not in output and "another exception" not in output


def test_the_readme_example_runs(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing code that sends mail", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_reports=example)
    pytester.runpytest(*plugin_args(), "-q").assert_outcomes(passed=2)
