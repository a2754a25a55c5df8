"""MTA-STS (RFC 8461) against the loopback DNS server, a loopback HTTPS policy server with
the test CA, and aiosmtpd exchangers (README "MTA-STS")."""

from __future__ import annotations

import contextlib
import io
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List

import pytest
import trustme
from support.dnsserver import ZONE, DnsServer

import post_office
from post_office.client import mta_sts
from post_office.errors import ConnectError, OptionError, StartTLSError

DOMAIN = "sts.example"
MX = "mx.sts.example"
POLICY = "version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 86400\r\n"


class PolicyServer:
    """HTTPS on 127.0.0.1 serving ``body`` at /.well-known/mta-sts.txt."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.body = POLICY.format(mode="enforce", mx=MX).encode()
        self.status = 200
        self.delay = 0.0
        self.requests: List[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if outer.delay:
                    time.sleep(outer.delay)
                self.send_response(outer.status)
                if outer.status in (301, 302):
                    self.send_header("Location", "https://elsewhere.example/")
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may hang up first
                    self.wfile.write(outer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _zone(policy_id: str = "one1") -> Dict[str, Any]:
    zone = dict(ZONE)
    zone[DOMAIN] = [("MX", (10, MX))]
    zone[MX] = [("A", "127.0.0.1")]
    zone[f"mta-sts.{DOMAIN}"] = [("A", "127.0.0.1")]
    zone[f"_mta-sts.{DOMAIN}"] = [("TXT", f"v=STSv1; id={policy_id}")]
    return zone


@pytest.fixture
def names_ca(tls_ca: trustme.CA) -> trustme.LeafCert:
    return tls_ca.issue_cert(MX, f"mta-sts.{DOMAIN}")


@pytest.fixture
def names_context(names_ca: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    names_ca.configure_cert(context)
    return context


@pytest.fixture
def policy_server(names_context: ssl.SSLContext) -> Iterator[PolicyServer]:
    server = PolicyServer(names_context)
    yield server
    server.stop()


@pytest.fixture
def sts(
    dns_server_factory: Callable[..., DnsServer],
    policy_server: PolicyServer,
    ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DnsServer]:
    dns = dns_server_factory(zone=_zone(), ttl=0)
    monkeypatch.setattr(post_office, "dns_mode", (":acldns", ":clib"), raising=False)
    monkeypatch.setattr(post_office, "dns_nameservers", [dns.nameserver], raising=False)
    monkeypatch.setattr(post_office, "mta_sts_port", policy_server.port, raising=False)
    context = ssl.create_default_context(cafile=ca_file)
    monkeypatch.setattr(post_office, "mta_sts_context", context, raising=False)
    mta_sts.clear_cache()
    yield dns
    mta_sts.clear_cache()


MESSAGE = "Subject: hi\r\n\r\nbody\r\n"


def _send(port: int, ca_file: str, **kwargs: Any) -> None:
    spec = (DOMAIN, ":port", port, ":ca-file", ca_file)
    post_office.send_smtp(spec, "a@b.example", "c@sts.example", MESSAGE, timeout=5, **kwargs)


def test_enforce_delivers_over_verified_starttls(
    sts: DnsServer, smtp_server_factory: Any, names_context: ssl.SSLContext, ca_file: str
) -> None:
    smtp = smtp_server_factory("starttls", tls_context=names_context)
    debug = io.StringIO()
    post_office.smtp_debug = debug
    try:
        _send(smtp.port, ca_file)
    finally:
        del post_office.smtp_debug
    assert len(smtp.messages) == 1
    assert "MTA-STS policy of sts.example (id one1): mode enforce" in debug.getvalue()


def test_enforce_refuses_stripped_starttls(sts: DnsServer, smtp_plain: Any, ca_file: str) -> None:
    with pytest.raises(StartTLSError, match=r"^MTA-STS policy of sts\.example .*STARTTLS"):
        _send(smtp_plain.port, ca_file)
    assert smtp_plain.messages == []


def test_enforce_refuses_a_different_mx(
    sts: DnsServer, policy_server: PolicyServer, smtp_plain: Any, ca_file: str
) -> None:
    policy_server.body = POLICY.format(mode="enforce", mx="*.other.example").encode()
    with pytest.raises(ConnectError, match=r"MTA-STS policy of sts.example.*mx.sts.example"):
        _send(smtp_plain.port, ca_file)
    assert smtp_plain.messages == []


def test_testing_delivers_and_warns(
    sts: DnsServer, policy_server: PolicyServer, smtp_plain: Any, ca_file: str
) -> None:
    policy_server.body = POLICY.format(mode="testing", mx="*.other.example").encode()
    with pytest.warns(UserWarning, match="would refuse"):
        _send(smtp_plain.port, ca_file)
    assert len(smtp_plain.messages) == 1


def test_none_and_off_deliver_as_before(
    sts: DnsServer,
    policy_server: PolicyServer,
    smtp_plain: Any,
    ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy_server.body = b"version: STSv1\r\nmode: none\r\nmax_age: 60\r\n"
    _send(smtp_plain.port, ca_file)
    monkeypatch.setattr(post_office, "mta_sts", "off", raising=False)
    policy_server.body = POLICY.format(mode="enforce", mx="*.other.example").encode()
    mta_sts.clear_cache()
    _send(smtp_plain.port, ca_file)
    assert len(smtp_plain.messages) == 2


def test_require_without_policy_sends_nothing(
    sts: DnsServer, smtp_plain: Any, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sts.zone.pop(f"_mta-sts.{DOMAIN}")
    monkeypatch.setattr(post_office, "mta_sts", "require", raising=False)
    with pytest.raises(ConnectError, match="'require'"):
        _send(smtp_plain.port, ca_file)
    assert smtp_plain.messages == []


def test_bad_mta_sts_setting_is_an_option_error(
    sts: DnsServer, smtp_plain: Any, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(post_office, "mta_sts", "always", raising=False)
    with pytest.raises(OptionError, match=r"post_office\.mta_sts"):
        _send(smtp_plain.port, ca_file)
    assert smtp_plain.messages == []


def _policy() -> Any:
    return mta_sts.policy_for(DOMAIN, timeout=2, note=lambda _line: None)


def test_cache_id_change_and_expiry(
    sts: DnsServer, policy_server: PolicyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _policy()
    assert first is not None and first.id == "one1"
    assert _policy() == first and len(policy_server.requests) == 1  # same id: the cache
    sts.zone[f"_mta-sts.{DOMAIN}"] = [("TXT", "v=STSv1; id=two2")]
    policy_server.body = POLICY.format(mode="testing", mx=MX).encode()
    second = _policy()
    assert second is not None and (second.id, second.mode) == ("two2", "testing")
    assert len(policy_server.requests) == 2
    later = time.monotonic() + 86400 + 1
    monkeypatch.setattr(mta_sts, "_clock", lambda: later)
    assert mta_sts.cached(DOMAIN) is None  # expired
    assert _policy() is not None and len(policy_server.requests) == 3


def test_oversized_policy_is_no_policy(sts: DnsServer, policy_server: PolicyServer) -> None:
    policy_server.body = POLICY.format(mode="enforce", mx=MX).encode() + b"#" * 70000
    assert _policy() is None


def test_redirect_is_not_followed(sts: DnsServer, policy_server: PolicyServer) -> None:
    policy_server.status = 301
    assert _policy() is None
    assert policy_server.requests == ["/.well-known/mta-sts.txt"]


def test_slow_policy_is_bounded(sts: DnsServer, policy_server: PolicyServer) -> None:
    policy_server.delay = 3.0
    assert mta_sts.policy_for(DOMAIN, timeout=0.5, note=lambda _line: None) is None


def test_untrusted_policy_certificate_is_no_policy(
    sts: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(post_office, "mta_sts_context", ssl.create_default_context())
    assert _policy() is None


def test_check_shows_the_policy(
    sts: DnsServer,
    smtp_server_factory: Any,
    names_context: ssl.SSLContext,
    ca_file: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from post_office.cli import main

    smtp = smtp_server_factory("starttls", tls_context=names_context)
    spec = f'("{DOMAIN}" :port {smtp.port} :ca-file "{ca_file}")'
    status = main(["check", spec, "--timeout", "5"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "mta-sts:     MTA-STS policy of sts.example (id one1): mode enforce" in out
    assert smtp.messages == []


def test_testing_warns_about_plain_text(
    sts: DnsServer, policy_server: PolicyServer, smtp_plain: Any, ca_file: str
) -> None:
    policy_server.body = POLICY.format(mode="testing", mx=MX).encode()
    with pytest.warns(UserWarning, match="not using TLS"):
        _send(smtp_plain.port, ca_file)
    assert len(smtp_plain.messages) == 1


def test_require_with_a_policy_delivers(
    sts: DnsServer,
    smtp_server_factory: Any,
    names_context: ssl.SSLContext,
    ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(post_office, "mta_sts", "require", raising=False)
    smtp = smtp_server_factory("starttls", tls_context=names_context)
    _send(smtp.port, ca_file)
    assert len(smtp.messages) == 1


def test_credentials_never_look_for_a_policy(
    sts: DnsServer, policy_server: PolicyServer, smtp_auth: Any, ca_file: str
) -> None:
    # A connection carrying credentials goes to the name as written (README "DNS"), so
    # MTA-STS, which is about MX answers, is not consulted.
    with pytest.raises(ConnectError):  # sts.example has no A record: nothing to reach
        post_office.send_smtp_auth(
            (DOMAIN, ":port", smtp_auth.port, ":starttls", True, ":ca-file", ca_file),
            "a@b.example",
            "c@sts.example",
            "user",
            "pw",
            MESSAGE,
            timeout=5,
        )
    assert policy_server.requests == []


def test_the_mta_sts_keyword_overrides_the_special(
    sts: DnsServer, policy_server: PolicyServer, smtp_plain: Any, ca_file: str
) -> None:
    # :mta-sts :off on the spec: the enforce policy (which lists another MX) is not applied.
    policy_server.body = POLICY.format(mode="enforce", mx="*.other.example").encode()
    spec = (DOMAIN, ":port", smtp_plain.port, ":ca-file", ca_file, ":mta-sts", ":off")
    post_office.send_smtp(spec, "a@b.example", "c@sts.example", MESSAGE, timeout=5)
    assert len(smtp_plain.messages) == 1
    # :mta-sts :require on the spec, and no policy published: nothing is sent.
    sts.zone.pop(f"_mta-sts.{DOMAIN}")
    mta_sts.clear_cache()
    lisp = f'("{DOMAIN}" :port {smtp_plain.port} :ca-file "{ca_file}" :mta-sts :require)'
    with pytest.raises(ConnectError, match="no MTA-STS policy"):
        post_office.send_smtp(lisp, "a@b.example", "c@sts.example", MESSAGE, timeout=5)
    assert len(smtp_plain.messages) == 1
