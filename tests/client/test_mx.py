"""Allegro's default DNS mode end to end: a mail-server name reaches its mail exchanger.

A DNS server on 127.0.0.1 (tests/dnsserver.py) serves the zone; the SMTP servers of
tests/servers.py listen on 127.0.0.1, where the zone's exchangers point.  Nothing here
asks a real DNS server.
"""

from __future__ import annotations

import io
import socket
import time

import pytest
from support.dnsserver import DnsServer

import post_office
from post_office import (
    CertificateError,
    ConnectError,
    send_smtp,
    smtp_session,
)

FROM = "me@example.test"
TO = "you@example.test"
TIMEOUT = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_mail_domain_reaches_its_exchanger_not_its_own_address(
    dns_settings: DnsServer, smtp_plain
) -> None:
    # corp.example's own A record (127.0.0.3) has no mail server; its MX does.
    send_smtp(("corp.example", ":port", smtp_plain.port), FROM, TO, "hi\n", timeout=TIMEOUT)
    assert len(smtp_plain.messages) == 1
    assert ("corp.example", "MX") in dns_settings.queries


def test_clib_mode_connects_to_the_name_as_given(
    dns_settings: DnsServer, smtp_plain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(post_office, "dns_mode", ":clib")
    with pytest.raises(ConnectError, match=r"127\.0\.0\.3"):
        send_smtp(("corp.example", ":port", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert ("corp.example", "MX") not in dns_settings.queries
    assert smtp_plain.messages == []


def test_a_refusing_preferred_exchanger_is_passed_over(dns_settings: DnsServer, smtp_plain) -> None:
    transcript = io.StringIO()
    post_office.smtp_debug = transcript
    try:
        send_smtp(("two-mx.example", ":port", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    finally:
        post_office.smtp_debug = None
    assert len(smtp_plain.messages) == 1
    shown = transcript.getvalue()
    assert "two-mx.example MX" in shown and "down.two-mx.example" in shown
    assert "127.0.0.2" in shown  # the refused exchanger is named in the transcript


def test_a_name_without_mx_is_reached_at_its_own_address(
    dns_settings: DnsServer, smtp_plain
) -> None:
    send_smtp(("a-only.example", ":port", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert len(smtp_plain.messages) == 1


def test_a_name_that_does_not_exist_fails_with_allegros_words(dns_settings: DnsServer) -> None:
    with pytest.raises(ConnectError, match="Can't determine ip address for mail server") as info:
        send_smtp("no-such-domain.example", FROM, TO, "x\n", timeout=TIMEOUT)
    assert "no-such-domain.example" in str(info.value)


def test_tls_checks_the_exchangers_name(dns_settings: DnsServer, smtp_starttls) -> None:
    # The test certificate names localhost and 127.0.0.1, not mx1.corp.example: the
    # exchanger reached is what is checked, so this must fail...
    spec = ("corp.example", ":port", smtp_starttls.port, ":starttls", True)
    with pytest.raises(CertificateError):
        send_smtp((*spec, ":ca-file", smtp_starttls.ca_file), FROM, TO, "x\n", timeout=TIMEOUT)
    # ... and :server-name says which name to check instead.
    named = (*spec, ":ca-file", smtp_starttls.ca_file, ":server-name", "localhost")
    send_smtp(named, FROM, TO, "x\n", timeout=TIMEOUT)
    assert len(smtp_starttls.messages) == 1


def test_a_silent_dns_server_is_bounded_by_the_timeout(dns_settings: DnsServer) -> None:
    dns_settings.silent = True
    start = time.monotonic()
    with pytest.raises(ConnectError):
        send_smtp("corp.example", FROM, TO, "x\n", timeout=1)
    assert time.monotonic() - start < 5


def test_ip_addresses_and_localhost_ask_no_dns(dns_settings: DnsServer, smtp_plain) -> None:
    send_smtp(("127.0.0.1", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    send_smtp(("localhost", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert dns_settings.queries == []


def test_test_email_address_resolves_the_domain_with_its_port(
    dns_settings: DnsServer, smtp_plain
) -> None:
    address = f"someone@corp.example:{smtp_plain.port}"
    assert post_office.test_email_address(address, timeout=TIMEOUT) is True
    assert smtp_plain.handler.vrfy_requests == ["someone"]


def test_smtp_session_resolves_once_per_connection(dns_settings: DnsServer, smtp_plain) -> None:
    with smtp_session(("corp.example", ":port", smtp_plain.port), timeout=TIMEOUT) as session:
        for number in range(3):
            session.send_smtp(FROM, TO, f"message {number}\n")
    assert len(smtp_plain.messages) == 3
    assert dns_settings.queries.count(("corp.example", "MX")) == 1


def test_nothing_listens_anywhere_names_every_address_tried(dns_settings: DnsServer) -> None:
    port = _free_port()
    with pytest.raises(ConnectError) as info:
        send_smtp(("two-mx.example", ":port", port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert "127.0.0.2" in str(info.value) and "127.0.0.1" in str(info.value)


@pytest.mark.parametrize("mode", [":starttls", ":ssl"])
def test_the_certificate_is_checked_against_the_exchangers_name(
    dns_settings: DnsServer, tmp_path, mode: str
) -> None:
    # A certificate for mx1.corp.example only: the mail domain corp.example is not in it,
    # so only the exchanger's name can make it verify, over STARTTLS and implicit TLS.
    from post_office import Sink, make_throwaway_certificate

    certificate = make_throwaway_certificate(tmp_path, ("mx1.corp.example",))
    options = {"ssl": True} if mode == ":ssl" else {"tls": True}
    with Sink(certificate=certificate, **options) as sink:  # type: ignore[arg-type]
        spec = (
            "corp.example",
            ":port",
            sink.port,
            mode,
            True,
            ":ca-file",
            str(certificate.ca_file),
        )
        send_smtp(spec, FROM, TO, "x\n", timeout=TIMEOUT)
        assert len(sink.messages) == 1
