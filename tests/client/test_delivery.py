"""The one delivery path returns what happened (README "Architecture"): ``deliver`` gives a
frozen ``Delivery`` with the final reply, the host reached, TLS, STARTTLS and AUTH; the
command line sends through it and never assigns ``post_office.smtp_debug``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import post_office
from post_office import Delivery, specials
from post_office.client.delivery import Envelope, deliver
from post_office.client.transcript import Transcript
from post_office.spec.mailserver import parse_mail_server
from post_office.spec.options import ConnectOptions

FROM = "me@example.test"
TO = ("you@example.test",)


def test_a_plain_delivery(smtp_plain: Any) -> None:
    server = parse_mail_server((smtp_plain.host, smtp_plain.port))
    delivery = deliver(server, Envelope(FROM, TO), ["Subject: x\n\nbody\n"], ConnectOptions())
    assert isinstance(delivery, Delivery)
    assert delivery.reply is not None and delivery.reply.code == 250
    assert delivery.server == f"{smtp_plain.host} port {smtp_plain.port}"
    assert delivery.reached is not None and delivery.reached.address == smtp_plain.host
    assert (delivery.tls_version, delivery.starttls, delivery.auth_mechanism) == (None,) * 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        delivery.server = "elsewhere"  # type: ignore[misc]


def test_starttls_and_auth_are_reported(smtp_auth: Any) -> None:
    server = parse_mail_server(
        (smtp_auth.host, ":port", smtp_auth.port, ":starttls", True, ":ca-file", smtp_auth.ca_file)
    )
    credentials = (smtp_auth.user, smtp_auth.password)
    delivery = deliver(server, Envelope(FROM, TO), ["x\n"], ConnectOptions(), credentials)
    assert delivery.starttls == "upgraded" and delivery.tls_version is not None
    assert delivery.tls_version.startswith("TLSv1.")
    assert delivery.auth_mechanism in ("PLAIN", "LOGIN")
    assert smtp_auth.messages[0].auth_login == smtp_auth.user


def test_starttls_not_offered_is_reported(smtp_plain: Any) -> None:
    server = parse_mail_server((smtp_plain.host, ":port", smtp_plain.port, ":starttls", True))
    delivery = deliver(server, Envelope(FROM, TO), ["x\n"], ConnectOptions())
    assert delivery.starttls == "not offered" and delivery.tls_version is None


def test_the_transcript_is_passed_in(smtp_plain: Any) -> None:
    import io

    stream = io.StringIO()
    server = parse_mail_server((smtp_plain.host, smtp_plain.port))
    deliver(server, Envelope(FROM, TO), ["x\n"], ConnectOptions(),
            transcript=Transcript(stream, use_global=False))  # fmt: skip
    assert "to smtp command: 'MAIL FROM:<me@example.test>'" in stream.getvalue()


def test_the_command_line_never_assigns_smtp_debug(
    smtp_plain: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assigned = []
    real_assign = specials.assign
    monkeypatch.setattr(specials, "assign", lambda *a: assigned.append(a) or real_assign(*a))
    spec = f"{smtp_plain.host}:{smtp_plain.port}"
    result = cli("send", spec, FROM, TO[0], "--raw", "--debug", input=b"Subject: x\n\nhi\n")
    assert result.returncode == 0, result.stderr
    assert "MAIL FROM:<me@example.test>" in result.stderr  # --debug's transcript
    assert assigned == [] and post_office.smtp_debug is None
    assert len(smtp_plain.messages) == 1
