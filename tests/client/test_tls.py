"""Implicit TLS and STARTTLS against real aiosmtpd servers with trustme certificates."""

from __future__ import annotations

import ssl

import pytest

from post_office import (
    CertificateError,
    ServerSpecError,
    StartTLSError,
    TLSError,
    send_smtp,
)

FROM, TO = "me@example.test", "you@example.test"


def test_implicit_tls_verifies_against_ca_file(smtp_tls) -> None:
    send_smtp(
        (smtp_tls.host, ":port", smtp_tls.port, ":ssl", True, ":ca-file", smtp_tls.ca_file),
        FROM,
        TO,
        "over TLS\n",
    )
    [message] = smtp_tls.messages
    assert message.tls and message.content == b"over TLS\r\n"


def test_implicit_tls_from_lisp_text(smtp_tls) -> None:
    send_smtp(
        f'("{smtp_tls.host}" :port {smtp_tls.port} :ssl t :ca-file "{smtp_tls.ca_file}")',
        FROM,
        TO,
        "x\n",
    )
    assert smtp_tls.messages[0].tls


def test_unknown_ca_fails_verification_with_advice(smtp_tls) -> None:
    with pytest.raises(CertificateError) as info:
        send_smtp((smtp_tls.host, ":port", smtp_tls.port, ":ssl", True), FROM, TO, "x\n")
    err = info.value
    assert isinstance(err, ssl.SSLCertVerificationError) and isinstance(err, TLSError)
    assert ":ca-file" in str(err) and ":verify nil" in str(err)
    assert smtp_tls.messages == []


def test_verify_nil_restores_allegros_unverified_behaviour(smtp_tls) -> None:
    send_smtp(
        (smtp_tls.host, ":port", smtp_tls.port, ":ssl", True, ":verify", None),
        FROM,
        TO,
        "unverified\n",
    )
    assert smtp_tls.messages[0].content == b"unverified\r\n"


def test_host_name_is_checked(smtp_tls) -> None:
    with pytest.raises(CertificateError):
        send_smtp(
            (
                smtp_tls.host,
                ":port",
                smtp_tls.port,
                ":ssl",
                True,
                ":ca-file",
                smtp_tls.ca_file,
                ":server-name",
                "wrong.example.test",
            ),
            FROM,
            TO,
            "x\n",
        )


def test_server_name_keyword_sets_sni_and_the_name_checked(smtp_tls) -> None:
    send_smtp(
        (
            smtp_tls.host,
            ":port",
            smtp_tls.port,
            ":ssl",
            True,
            ":ca-file",
            smtp_tls.ca_file,
            ":server-name",
            "localhost",
        ),
        FROM,
        TO,
        "x\n",
    )
    assert len(smtp_tls.messages) == 1


def test_method_tlsv13_pins_the_minimum(smtp_tls) -> None:
    send_smtp(
        (
            smtp_tls.host,
            ":port",
            smtp_tls.port,
            ":ssl",
            True,
            ":ca-file",
            smtp_tls.ca_file,
            ":method",
            ":tlsv1.3",
        ),
        FROM,
        TO,
        "x\n",
    )
    assert smtp_tls.messages[0].tls_version == "TLSv1.3"


def test_starttls_upgrades_when_offered(smtp_starttls) -> None:
    send_smtp(
        (
            smtp_starttls.host,
            ":port",
            smtp_starttls.port,
            ":starttls",
            True,
            ":ca-file",
            smtp_starttls.ca_file,
        ),
        FROM,
        TO,
        "upgraded\n",
    )
    [message] = smtp_starttls.messages
    assert message.tls and message.content == b"upgraded\r\n"


def test_starttls_verifies_too(smtp_starttls) -> None:
    with pytest.raises(CertificateError):
        send_smtp(
            (smtp_starttls.host, ":port", smtp_starttls.port, ":starttls", True), FROM, TO, "x\n"
        )
    assert smtp_starttls.messages == []


def test_opportunistic_starttls_goes_on_in_plain_text(smtp_plain) -> None:
    send_smtp((smtp_plain.host, ":port", smtp_plain.port, ":starttls", True), FROM, TO, "x\n")
    [message] = smtp_plain.messages
    assert not message.tls


def test_starttls_required_against_a_server_without_it(smtp_plain) -> None:
    with pytest.raises(StartTLSError, match="does not offer STARTTLS"):
        send_smtp(
            (smtp_plain.host, ":port", smtp_plain.port, ":starttls", ":required"), FROM, TO, "x\n"
        )
    assert smtp_plain.messages == []


def test_without_starttls_keyword_no_upgrade_happens(smtp_starttls) -> None:
    send_smtp((smtp_starttls.host, smtp_starttls.port), FROM, TO, "x\n")
    assert not smtp_starttls.messages[0].tls


def test_missing_ca_file_is_an_argument_error_before_connecting(smtp_tls, tmp_path) -> None:
    with pytest.raises(ServerSpecError, match="ca-file"):
        send_smtp(
            (
                smtp_tls.host,
                ":port",
                smtp_tls.port,
                ":ssl",
                True,
                ":ca-file",
                str(tmp_path / "missing.pem"),
            ),
            FROM,
            TO,
            "x\n",
        )
    assert smtp_tls.connections == 0


def test_ssl_context_keyword(smtp_tls) -> None:
    send_smtp(
        (
            smtp_tls.host,
            ":port",
            smtp_tls.port,
            ":ssl",
            True,
            ":context",
            smtp_tls.client_context(),
        ),
        FROM,
        TO,
        "x\n",
    )
    assert smtp_tls.messages[0].tls
