"""SMTP AUTH against a real aiosmtpd server that requires STARTTLS and AUTH."""

from __future__ import annotations

import base64
import io
import logging
import smtplib

import pytest

import post_office
from post_office import AuthenticationError, OptionError, send_smtp, send_smtp_auth

FROM, TO = "me@example.test", "you@example.test"


def starttls(server) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    return (server.host, ":port", server.port, ":starttls", True, ":ca-file", server.ca_file)


def test_non_ascii_password_plain_after_starttls(smtp_auth) -> None:
    send_smtp_auth(starttls(smtp_auth), FROM, TO, smtp_auth.user, smtp_auth.password, "x\n")
    [message] = smtp_auth.messages
    assert message.auth_login == smtp_auth.user and message.tls
    assert smtp_auth.handler.login_attempts[-1].mechanism == "PLAIN"


def test_plain_smtplib_cannot_send_that_password(smtp_auth) -> None:
    """Why UTF-8 credentials matter: smtplib's login() encodes ASCII only."""
    with smtplib.SMTP(smtp_auth.host, smtp_auth.port, local_hostname="x") as client:
        client.starttls(context=smtp_auth.client_context())
        with pytest.raises(UnicodeEncodeError):
            client.login(smtp_auth.user, smtp_auth.password)


def test_login_mechanism_when_plain_is_not_offered(smtp_server_factory) -> None:
    server = smtp_server_factory("auth", auth_exclude_mechanism=["PLAIN"])
    send_smtp_auth(starttls(server), FROM, TO, server.user, server.password, "x\n")
    assert server.messages[0].auth_login == server.user
    assert server.handler.login_attempts[-1].mechanism == "LOGIN"


def test_wrong_password_raises_with_code_and_no_password(smtp_auth) -> None:
    with pytest.raises(AuthenticationError) as info:
        send_smtp_auth(starttls(smtp_auth), FROM, TO, smtp_auth.user, "wrong-sekrit", "x\n")
    err = info.value
    assert isinstance(err, smtplib.SMTPAuthenticationError)
    assert err.code == 535
    assert "wrong-sekrit" not in str(err) and "wrong-sekrit" not in repr(err.args)
    assert base64.b64encode(b"\0user\0wrong-sekrit").decode() not in str(err)
    assert smtp_auth.messages == []


def test_auth_required_server_refuses_unauthenticated_mail(smtp_auth) -> None:
    with pytest.raises(post_office.SenderRefusedError) as info:
        send_smtp(starttls(smtp_auth), FROM, TO, "x\n")
    assert info.value.code == 530


def test_transcript_never_shows_the_password(smtp_auth, monkeypatch, caplog) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(post_office, "smtp_debug", stream)
    password = smtp_auth.password
    with caplog.at_level(logging.DEBUG, logger="post_office.smtp"):
        send_smtp_auth(starttls(smtp_auth), FROM, TO, smtp_auth.user, password, "x\n")
    secrets = [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{smtp_auth.user}\0{password}".encode()).decode(),
    ]
    for text in (stream.getvalue(), caplog.text):
        assert "AUTH PLAIN <redacted>" in text
        for secret in secrets:
            assert secret not in text


def test_transcript_redacts_login_exchange(smtp_server_factory, monkeypatch) -> None:
    server = smtp_server_factory("auth", auth_exclude_mechanism=["PLAIN"])
    stream = io.StringIO()
    monkeypatch.setattr(post_office, "smtp_debug", stream)
    send_smtp_auth(starttls(server), FROM, TO, server.user, server.password, "x\n")
    text = stream.getvalue()
    assert "to smtp command: '<redacted>'" in text
    assert base64.b64encode(server.password.encode()).decode() not in text


def test_no_auth_offered_warns_and_sends(smtp_plain) -> None:
    with pytest.warns(UserWarning, match="does not offer AUTH"):
        send_smtp_auth((smtp_plain.host, smtp_plain.port), FROM, TO, "user", "pw", "x\n")
    assert len(smtp_plain.messages) == 1


@pytest.mark.parametrize("login", ["", "us\ner", "us\x00er", 42])
def test_bad_login_raises_before_connecting(smtp_auth, login) -> None:
    with pytest.raises(OptionError, match="login"):
        send_smtp_auth(starttls(smtp_auth), FROM, TO, login, "pw", "x\n")
    assert smtp_auth.connections == 0


def test_cram_md5_is_preferred_when_offered(smtp_server_factory) -> None:
    import hmac

    from aiosmtpd.smtp import AuthResult
    from support.servers import PASSWORD, USER, RecordingHandler

    class CramHandler(RecordingHandler):
        """Adds CRAM-MD5 (RFC 2195), which aiosmtpd does not ship."""

        async def auth_CRAM__MD5(self, server, args):  # type: ignore[no-untyped-def]
            challenge = b"<1896.697170952@example.test>"
            response = await server.challenge_auth(challenge)
            login, _, digest = response.decode("utf-8").rpartition(" ")
            expected = hmac.new(PASSWORD.encode("utf-8"), challenge, "md5").hexdigest()
            ok = login == USER and hmac.compare_digest(digest, expected)
            return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    server = smtp_server_factory("auth", handler=CramHandler())
    send_smtp_auth(starttls(server), FROM, TO, server.user, server.password, "x\n")
    assert len(server.messages) == 1
    assert server.handler.login_attempts == []  # PLAIN/LOGIN were never used
