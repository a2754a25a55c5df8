"""The loopback servers of conftest.py, checked with plain smtplib (not post_office).

Behaviour tests of post_office trust these fixtures to record exactly what arrived; this
file pins what "exactly" means with aiosmtpd (see the docstring of ``servers.py``) and that
every fixture starts, answers, refuses on request and stops without leaking.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import smtplib
import socket
import ssl
import time
import warnings
from typing import Tuple

import pytest
from support.servers import (
    DATA_SIZE_LIMIT,
    PASSWORD,
    USER,
    LoopbackServer,
    SubprocessServer,
)

CLIENT = "client.test"  # given, so smtplib does not look up our FQDN


def connect(server: LoopbackServer, **kwargs: object) -> smtplib.SMTP:
    if server.implicit_tls:
        return smtplib.SMTP_SSL(
            server.host,
            server.port,
            local_hostname=CLIENT,
            context=server.client_context(),
            timeout=10,
        )
    return smtplib.SMTP(server.host, server.port, local_hostname=CLIENT, timeout=10)


def send_raw(client: smtplib.SMTP, wire: bytes) -> Tuple[int, bytes]:
    """DATA with ``wire`` sent as is (it must end with the terminator)."""
    code, reply = client.docmd("DATA")
    assert code == 354, reply
    client.send(wire)
    return client.getreply()


def envelope(client: smtplib.SMTP, sender: str = "a@x", recipient: str = "b@y") -> None:
    assert client.docmd(f"MAIL FROM:<{sender}>")[0] == 250
    assert client.docmd(f"RCPT TO:<{recipient}>")[0] == 250


# --------------------------------------------------------------------------- plain


def test_plain_server_receives_and_records_a_message(smtp_plain: LoopbackServer) -> None:
    assert smtp_plain.host == "127.0.0.1" and smtp_plain.port > 0
    assert smtp_plain.messages == []
    with connect(smtp_plain) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert not client.has_extn("auth")
        assert client.has_extn("8bitmime") and client.has_extn("smtputf8")
        assert int(client.esmtp_features["size"]) == DATA_SIZE_LIMIT
        refused = client.sendmail("a@x", ["b@y", "c@z"], b"Subject: hi\r\n\r\nbody\r\n")
    assert refused == {}
    [message] = smtp_plain.messages
    assert message.mail_from == "a@x"
    assert message.rcpt_tos == ["b@y", "c@z"]
    assert message.content == b"Subject: hi\r\n\r\nbody\r\n"
    assert message.mail_options == ["SIZE=21"]  # smtplib sends SIZE when offered
    assert (message.tls, message.tls_version, message.auth_login) == (False, None, None)
    assert message.ehlo_name == CLIENT
    assert smtp_plain.connections == 1
    assert smtp_plain.handler.quits == 1


def test_content_is_the_wire_bytes_unstuffed_after_crlf_only(smtp_plain: LoopbackServer) -> None:
    wire = (
        b"..leading dot\r\n"
        b"CRLF line\r\n"
        b"bare LF\n"
        b".dot after bare LF\n"
        b"bare CR\r"
        b".dot after bare CR\r\n"
        b"...two dots\r\n"
        b"last line\r\n"
        b".\r\n"
    )
    with connect(smtp_plain) as client:
        client.ehlo()
        envelope(client)
        assert send_raw(client, wire)[0] == 250
    assert smtp_plain.messages[0].content == (
        b".leading dot\r\n"
        b"CRLF line\r\n"
        b"bare LF\n"
        b".dot after bare LF\n"  # not un-stuffed: aiosmtpd lines end at CRLF only
        b"bare CR\r"
        b".dot after bare CR\r\n"  # not un-stuffed either
        b"..two dots\r\n"
        b"last line\r\n"  # the CRLF before the terminator is content
    )


def test_empty_content_and_an_immediate_terminator(smtp_plain: LoopbackServer) -> None:
    with connect(smtp_plain) as client:
        client.ehlo()
        envelope(client)
        assert send_raw(client, b".\r\n")[0] == 250
    assert smtp_plain.messages[0].content == b""


def test_null_reverse_path_is_recorded_as_empty(smtp_plain: LoopbackServer) -> None:
    with connect(smtp_plain) as client:
        client.ehlo()
        assert client.docmd("MAIL FROM:<>")[0] == 250
        assert client.docmd("RCPT TO:<b@y>")[0] == 250
        assert send_raw(client, b"bounce\r\n.\r\n")[0] == 250
    assert smtp_plain.messages[0].mail_from == ""


def test_smtputf8_addresses_and_mail_options(smtp_plain: LoopbackServer) -> None:
    with connect(smtp_plain) as client:
        client.command_encoding = "utf-8"
        client.ehlo()
        assert client.docmd("MAIL FROM:<jörg@bücher.de> BODY=8BITMIME SMTPUTF8")[0] == 250
        assert client.docmd("RCPT TO:<用户@例子.广告>")[0] == 250
        assert send_raw(client, "Grüße\r\n.\r\n".encode())[0] == 250
    [message] = smtp_plain.messages
    assert message.mail_from == "jörg@bücher.de"
    assert message.rcpt_tos == ["用户@例子.广告"]
    assert message.mail_options == ["BODY=8BITMIME", "SMTPUTF8"]
    assert message.text == "Grüße\r\n"


def test_a_line_over_1000_octets_is_refused_unless_the_limit_is_raised(
    smtp_plain: LoopbackServer, smtp_server_factory
) -> None:
    long_line = b"x" * 1000 + b"\r\n"
    with connect(smtp_plain) as client:
        client.ehlo()
        envelope(client)
        assert send_raw(client, b"x" * 999 + b"\r\n.\r\n")[0] == 250
        envelope(client)
        code, reply = send_raw(client, long_line + b".\r\n")
    assert (code, reply) == (500, b"Line too long (see RFC5321 4.5.3.1.6)")
    assert len(smtp_plain.messages) == 1
    lenient = smtp_server_factory("plain", line_length_limit=1 << 20)
    with connect(lenient) as client:
        client.ehlo()
        envelope(client)
        assert send_raw(client, b"y" * 500_000 + b"\r\n.\r\n")[0] == 250
    assert lenient.messages[0].content == b"y" * 500_000 + b"\r\n"


# --------------------------------------------------------------------------- refusals


def test_refused_sender(smtp_plain: LoopbackServer) -> None:
    smtp_plain.handler.refuse_senders.add("bad@x")
    with connect(smtp_plain) as client, pytest.raises(smtplib.SMTPSenderRefused) as caught:
        client.sendmail("bad@x", ["b@y"], b"hi\r\n")
    assert caught.value.smtp_code == 550
    assert smtp_plain.messages == []


def test_refused_recipient_with_a_custom_reply(smtp_plain: LoopbackServer) -> None:
    smtp_plain.handler.refuse_recipients.add("nobody@y")
    smtp_plain.handler.recipient_reply = "450 4.2.1 Mailbox busy"
    with connect(smtp_plain) as client:
        client.ehlo()
        assert client.docmd("MAIL FROM:<a@x>")[0] == 250
        assert client.docmd("RCPT TO:<nobody@y>") == (450, b"4.2.1 Mailbox busy")
        assert client.docmd("RCPT TO:<b@y>")[0] == 250
        assert send_raw(client, b"hi\r\n.\r\n")[0] == 250
    assert smtp_plain.messages[0].rcpt_tos == ["b@y"]


def test_refused_at_the_end_of_data(smtp_plain: LoopbackServer) -> None:
    smtp_plain.handler.data_reply = "554 5.6.0 rejected"
    with connect(smtp_plain) as client, pytest.raises(smtplib.SMTPDataError) as caught:
        client.sendmail("a@x", ["b@y"], b"hi\r\n")
    assert (caught.value.smtp_code, caught.value.smtp_error) == (554, b"5.6.0 rejected")
    assert smtp_plain.messages == []
    assert smtp_plain.handler.rejected[0].content == b"hi\r\n"


def test_hidden_extensions_refused_ehlo_vrfy_and_quit(smtp_plain: LoopbackServer) -> None:
    handler = smtp_plain.handler
    handler.hide_extensions = {"SMTPUTF8", "8bitmime"}
    handler.vrfy_replies["nobody"] = "550 5.1.1 No such user"
    handler.quit_reply = "500 5.0.0 not today"
    client = connect(smtp_plain)
    try:
        client.ehlo()
        assert client.has_extn("size")
        assert not client.has_extn("smtputf8") and not client.has_extn("8bitmime")
        assert client.verify("nobody") == (550, b"5.1.1 No such user")
        assert client.verify("somebody@x")[0] == 252
        assert client.docmd("QUIT") == (500, b"5.0.0 not today")
    finally:
        client.close()
    assert handler.vrfy_requests == ["nobody", "somebody@x"]
    handler.reset()
    handler.refuse_ehlo = True
    with connect(smtp_plain) as client:
        assert client.ehlo()[0] == 502
        assert client.docmd("MAIL FROM:<a@x>")[0] == 503  # HELO first
        assert client.helo()[0] == 250
        client.sendmail("a@x", ["b@y"], b"hi\r\n")
    assert handler.ehlo_names == [CLIENT, CLIENT]
    assert smtp_plain.messages[0].ehlo_name == CLIENT


# --------------------------------------------------------------------------- TLS


def test_starttls_server_offers_starttls_and_records_the_tls_session(
    smtp_starttls: LoopbackServer, client_ssl_context: ssl.SSLContext
) -> None:
    with connect(smtp_starttls) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")  # offered after TLS only
        client.sendmail("a@x", ["b@y"], b"in clear\r\n")  # TLS is not required
        assert client.starttls(context=client_ssl_context)[0] == 220
        client.ehlo()
        assert client.has_extn("auth") and not client.has_extn("starttls")
        client.sendmail("a@x", ["b@y"], b"secret\r\n")
    clear, secret = smtp_starttls.messages
    assert (clear.tls, clear.tls_version) == (False, None)
    assert secret.tls and secret.tls_version in ("TLSv1.2", "TLSv1.3")


def test_a_client_that_does_not_trust_the_ca_fails_verification(
    smtp_starttls: LoopbackServer,
) -> None:
    with connect(smtp_starttls) as client:
        client.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())
        client.close()
    with connect(smtp_starttls) as client:  # the server is still fine
        client.sendmail("a@x", ["b@y"], b"hi\r\n")
    assert len(smtp_starttls.messages) == 1
    # aiosmtpd wraps the handshake failure; the client had hung up before it was noted.
    assert smtp_starttls.handler.wait_for(lambda: bool(smtp_starttls.handler.errors))
    assert isinstance(smtp_starttls.handler.errors[0].__cause__, ssl.SSLError)


def test_the_certificate_names_localhost_and_127_0_0_1(
    smtp_tls: LoopbackServer, client_ssl_context: ssl.SSLContext
) -> None:
    def greeting(name: str) -> bytes:
        raw = socket.create_connection((smtp_tls.host, smtp_tls.port), 10)
        # The TLS socket takes over the connection (and closes it, also on failure).
        with client_ssl_context.wrap_socket(raw, server_hostname=name) as tls:
            return tls.recv(1024)

    assert greeting("localhost").startswith(b"220 ")
    assert greeting("127.0.0.1").startswith(b"220 ")
    with pytest.raises(ssl.SSLCertVerificationError):
        greeting("example.com")


def test_implicit_tls_server(smtp_tls: LoopbackServer) -> None:
    assert smtp_tls.implicit_tls and not smtp_tls.starttls
    with connect(smtp_tls) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.has_extn("auth")  # login accepted (not required) over implicit TLS
        client.sendmail("a@x", ["b@y"], b"over TLS\r\n")
    assert smtp_tls.messages[0].tls


def test_implicit_tls_server_does_not_speak_plain_text(smtp_tls: LoopbackServer) -> None:
    with socket.create_connection((smtp_tls.host, smtp_tls.port), 10) as raw:
        raw.sendall(b"EHLO client.test\r\n")
        assert not raw.recv(1024).startswith(b"220")


# --------------------------------------------------------------------------- AUTH


def plain_auth_line(login: str, password: str) -> str:
    token = base64.b64encode(f"\0{login}\0{password}".encode()).decode("ascii")
    return f"PLAIN {token}"


def test_auth_server_requires_starttls_then_auth(
    smtp_auth: LoopbackServer, client_ssl_context: ssl.SSLContext
) -> None:
    assert (smtp_auth.user, smtp_auth.password) == (USER, PASSWORD) == ("user", "pässwörd-ü")
    with connect(smtp_auth) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        assert client.docmd("MAIL FROM:<a@x>")[0] == 530  # STARTTLS first
        client.starttls(context=client_ssl_context)
        client.ehlo()
        assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]
        assert client.docmd("MAIL FROM:<a@x>")[0] == 530  # AUTH first
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            client.login("user", "wrong")
        assert time.monotonic() - started < 5  # a 535, not a client timeout
        assert caught.value.smtp_code == 535
    # smtplib tries each common mechanism in turn; each got its 535.
    assert [(a.mechanism, a.login, a.success) for a in smtp_auth.handler.login_attempts] == [
        ("PLAIN", "user", False),
        ("LOGIN", "user", False),
    ]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_server_accepts_the_utf8_password(
    smtp_auth: LoopbackServer, client_ssl_context: ssl.SSLContext, mechanism: str
) -> None:
    with connect(smtp_auth) as client:
        client.ehlo()
        client.starttls(context=client_ssl_context)
        client.ehlo()
        if mechanism == "PLAIN":
            reply = client.docmd("AUTH", plain_auth_line(USER, PASSWORD))
        else:
            assert client.docmd("AUTH", "LOGIN")[0] == 334
            assert client.docmd(base64.b64encode(USER.encode()).decode())[0] == 334
            reply = client.docmd(base64.b64encode(PASSWORD.encode()).decode())
        assert reply[0] == 235, reply
        client.sendmail("a@x", ["b@y"], b"authenticated\r\n")
    [message] = smtp_auth.messages
    assert (message.auth_login, message.tls) == ("user", True)
    assert [(a.mechanism, a.success) for a in smtp_auth.handler.login_attempts] == [
        (mechanism, True)
    ]


def test_the_password_is_compared_as_utf8(
    smtp_auth: LoopbackServer, client_ssl_context: ssl.SSLContext
) -> None:
    latin1 = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode("latin-1")).decode()
    with connect(smtp_auth) as client:
        client.ehlo()
        client.starttls(context=client_ssl_context)
        client.ehlo()
        assert client.docmd("AUTH", f"PLAIN {latin1}")[0] == 535


# --------------------------------------------------------------------------- life cycle


def test_each_fixture_is_a_fresh_server(smtp_plain: LoopbackServer, smtp_server_factory) -> None:
    other = smtp_server_factory("plain")
    assert other.port != smtp_plain.port
    assert other.handler is not smtp_plain.handler
    with connect(other) as client:
        client.sendmail("a@x", ["b@y"], b"hi\r\n")
    assert smtp_plain.messages == [] and len(other.messages) == 1


@pytest.mark.parametrize("kind", ["plain", "starttls", "tls", "auth"])
def test_stopping_under_an_open_connection_leaks_nothing(
    smtp_server_factory, client_ssl_context: ssl.SSLContext, kind: str
) -> None:
    server = smtp_server_factory(kind)
    client = connect(server)
    try:
        client.ehlo()
        if server.starttls:
            client.starttls(context=client_ssl_context)
            client.ehlo()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 5
            gc.collect()
        with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
            client.noop()
    finally:
        client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), 5).close()


def test_servers_start_quickly(smtp_server_factory) -> None:
    for kind in ("plain", "starttls", "tls", "auth"):
        started = time.monotonic()
        smtp_server_factory(kind).stop()
        assert time.monotonic() - started < 2, kind


# --------------------------------------------------------------------------- subprocess


def test_subprocess_server_records_digests(smtp_subprocess: SubprocessServer) -> None:
    assert smtp_subprocess.process.poll() is None
    assert smtp_subprocess.records() == []
    line = b"0123456789" * 7 + b"\r\n"
    body = line * 150_000  # about 10.8 MB
    with smtplib.SMTP(
        smtp_subprocess.host, smtp_subprocess.port, local_hostname=CLIENT, timeout=60
    ) as client:
        client.sendmail("", ["b@y", "c@z"], b".stuffed\r\n" + body)
    [record] = smtp_subprocess.records()
    expected = b".stuffed\r\n" + body
    assert record.mail_from == ""
    assert record.rcpt_tos == ["b@y", "c@z"]
    assert record.size == len(expected)
    assert record.sha256 == hashlib.sha256(expected).hexdigest()


def test_subprocess_server_stops_when_told(tmp_path) -> None:
    server = SubprocessServer(tmp_path)
    server.stop()
    assert server.process.returncode == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), 5).close()
