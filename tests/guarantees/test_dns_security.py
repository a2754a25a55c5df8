"""DNS security and robustness (issues 20 and 22), against the loopback DNS server.

Nothing here asks a real DNS server: ``tests/dnsserver.py`` answers on 127.0.0.1 and every
address in its zones is a loopback address, where the test SMTP servers listen.

- Issue 20 item 1: credentials never follow an MX answer.  One spoofed answer
  (``submit.corp.example MX 10 mx.attacker.example``) must not bring the password to the
  attacker's exchanger, even though its certificate verifies for the exchanger's name.
- Issue 20 item 4: DNS cannot multiply the wait: at most ``post_office.mx_address_limit``
  addresses are tried, and connecting ends within ``CONNECT_TIMEOUTS`` x ``timeout``.
- Issue 22 items 8-12: MX and ``dns_mode`` on broken DNS, as Allegro where it says so.
"""

from __future__ import annotations

import io
import socket
import ssl
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, List, Tuple

import dns.nameserver
import dns.resolver
import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st
from support.dnsserver import ZONE, DnsServer, Zone
from support.servers import USER, LoopbackServer, start_loopback_server

import post_office
from post_office import (
    CertificateError,
    ConnectError,
    ConnectionFailedError,
    ConnectTimeoutError,
    OptionError,
    Sink,
    SocketError,
    StartTLSError,
    send_letter,
    send_smtp,
    send_smtp_auth,
    smtp_session,
)
from post_office.cli import main
from post_office.client.dnsquery import Dns, clear_cache
from post_office.client.driver import CONNECT_TIMEOUTS
from post_office.client.resolve import (
    DEFAULT_MX_ADDRESS_LIMIT,
    check_mx_address_limit,
    current_settings,
    resolve_mail_server,
)
from post_office.client.session import Session
from post_office.spec.mailserver import parse_mail_server
from post_office.spec.options import check_connect_options

FROM = "me@example.test"
TO = "you@example.test"
LOGIN = USER
SECRET = "s3cret-pw"
TIMEOUT = 5.0
CANT = "Can't determine ip address for mail server"

# =========================================================================== issue 20.1
# The mail-server name the user configured, and one spoofed MX answer for it.

SUBMIT = "submit.corp.example"
ATTACKER = "mx.attacker.example"
SPOOFED: Zone = {
    SUBMIT: [("MX", (10, ATTACKER)), ("A", "127.0.0.2")],
    ATTACKER: [("A", "127.0.0.1")],
}


class Scene:
    """The spoofed DNS, the attacker's exchanger on 127.0.0.1:P (a certificate for
    ``mx.attacker.example`` from the test CA, AUTH accepted) and the real submission
    server on 127.0.0.2:P (a certificate for ``submit.corp.example``, AUTH required)."""

    def __init__(
        self, dns_server: DnsServer, attacker: LoopbackServer, real: Sink, ca_file: str, mode: str
    ) -> None:
        self.dns = dns_server
        self.attacker = attacker
        self.real = real
        self.ca_file = ca_file
        self.mode = mode
        self.port = attacker.port

    def spec(self) -> Tuple[Any, ...]:
        tls = (":ssl", True) if self.mode == "ssl" else (":starttls", ":required")
        return (SUBMIT, ":port", self.port, *tls, ":ca-file", self.ca_file)

    def lisp(self) -> str:
        tls = ":ssl t" if self.mode == "ssl" else ":starttls :required"
        return f'("{SUBMIT}" :port {self.port} {tls} :ca-file "{self.ca_file}")'

    def asked_mx(self) -> bool:
        return (SUBMIT, "MX") in self.dns.queries

    def attacker_saw_nothing(self) -> bool:
        return self.attacker.connections == 0 and self.attacker.handler.login_attempts == []


def _server_context(tls_ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture(params=["starttls", "ssl"])
def scene(
    request: pytest.FixtureRequest,
    dns_server_factory: Callable[..., DnsServer],
    tls_ca: trustme.CA,
    ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Scene]:
    mode = str(request.param)
    dns_server = dns_server_factory(zone=SPOOFED)
    monkeypatch.setattr(post_office, "dns_mode", (":acldns", ":clib"), raising=False)
    monkeypatch.setattr(post_office, "dns_nameservers", [dns_server.nameserver], raising=False)
    # 127.0.0.1 goes into the attacker's certificate only for the fixture's readiness probe.
    attacker = start_loopback_server(
        "tls" if mode == "ssl" else "starttls",
        ca_file=ca_file,
        server_context=_server_context(tls_ca, ATTACKER, "127.0.0.1"),
    )
    try:
        real = Sink(
            host="127.0.0.2",
            port=attacker.port,
            tls_context=_server_context(tls_ca, SUBMIT),
            ssl=mode == "ssl",
            credentials=(LOGIN, SECRET),
        )
        with real:
            yield Scene(dns_server, attacker, real, ca_file, mode)
    finally:
        attacker.stop()


def _send_smtp_auth(scene: Scene) -> None:
    send_smtp_auth(scene.spec(), FROM, TO, LOGIN, SECRET, "hi\n", timeout=TIMEOUT)


def _send_letter(scene: Scene) -> None:
    send_letter(scene.spec(), FROM, TO, "hi", login=LOGIN, password=SECRET, timeout=TIMEOUT)


def _smtp_session(scene: Scene) -> None:
    with smtp_session(scene.spec(), login=LOGIN, password=SECRET, timeout=TIMEOUT) as session:
        session.send_smtp(FROM, TO, "hi\n")


@pytest.mark.parametrize(
    "path", [_send_smtp_auth, _send_letter, _smtp_session], ids=lambda f: f.__name__[1:]
)
def test_credentials_never_follow_an_mx_answer(scene: Scene, path: Callable[[Scene], None]) -> None:
    path(scene)
    assert scene.attacker_saw_nothing()
    assert not scene.asked_mx()
    [message] = scene.real.messages
    assert message.login == LOGIN and message.tls_version is not None


def test_without_credentials_mx_is_still_used(scene: Scene) -> None:
    # The same spec without a login goes to the exchanger, as Allegro does: this is what
    # would have carried the password before the fix (its certificate verifies).
    send_smtp(scene.spec(), FROM, TO, "hi\n", timeout=TIMEOUT)
    assert len(scene.attacker.messages) == 1 and scene.asked_mx()
    assert scene.real.messages == []
    # The spoofed answer is now cached for its TTL: credentials still do not follow it.
    _send_smtp_auth(scene)
    assert scene.attacker.handler.login_attempts == []
    assert scene.attacker.connections == 1
    assert [m.login for m in scene.real.messages] == [LOGIN]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """``post-office ARGS`` in this process, the password in ``$PW``: (status, out, err)."""
    body = tmp_path / "body.txt"
    body.write_text("Subject: hi\n\nhi\n")

    def run(*args: str) -> Tuple[int, str, str]:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.setenv("PW", SECRET)
            patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
            status = main([a.replace("@BODY", str(body)) for a in args])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_cli_send_login_goes_to_the_name_as_written(scene: Scene, cli: Any) -> None:
    login = ("--login", LOGIN, "--password-env", "PW")
    status, out, err = cli("send", scene.lisp(), FROM, TO, *login, "--file", "@BODY")
    assert status == 0, err
    assert scene.attacker_saw_nothing() and not scene.asked_mx()
    assert [m.login for m in scene.real.messages] == [LOGIN]
    assert f"by {SUBMIT} port {scene.port}" in out


def test_cli_check_login_verifies_and_names_the_host_reached(scene: Scene, cli: Any) -> None:
    status, out, err = cli("check", scene.lisp(), "--login", LOGIN, "--password-env", "PW")
    assert status == 0, err
    assert scene.attacker_saw_nothing() and not scene.asked_mx()
    assert f"connected:   {SUBMIT} port {scene.port}, address 127.0.0.2" in out
    assert f"and the name {SUBMIT}\n" in out
    assert f"login:       accepted for {LOGIN}" in out


def test_cli_check_without_login_names_the_exchanger_it_verified(scene: Scene, cli: Any) -> None:
    status, out, err = cli("check", scene.lisp())
    assert status == 0, err
    reached = f"{ATTACKER} (mail exchanger of {SUBMIT}) port {scene.port}, address 127.0.0.1"
    assert f"connected:   {reached}" in out
    assert f"and the name {ATTACKER}\n" in out  # not the name the user wrote


def test_a_session_reached_through_mx_refuses_to_authenticate(scene: Scene) -> None:
    # Defence in depth: a session opened without saying credentials would follow, then
    # asked to authenticate, sends nothing.
    session = Session.for_server(
        parse_mail_server(scene.spec()), check_connect_options(TIMEOUT, None, None)
    )
    with session:
        session.open()
        assert session.target is not None and session.target.name == ATTACKER
        with pytest.raises(OptionError, match=f"refusing to send credentials to {ATTACKER}"):
            session.authenticate(LOGIN, SECRET)
    assert scene.attacker.handler.login_attempts == []


def test_certificate_hints_name_the_exchanger_checked(
    dns_server_factory: Callable[..., DnsServer],
    smtp_starttls: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    cli: Any,
) -> None:
    # corp.example's exchanger mx1.corp.example is at 127.0.0.1, whose certificate names
    # localhost: the check is against the exchanger, and every message says so.
    dns_server = dns_server_factory()
    monkeypatch.setattr(post_office, "dns_nameservers", [dns_server.nameserver], raising=False)
    port, ca = smtp_starttls.port, smtp_starttls.ca_file
    spec = f'("corp.example" :port {port} :starttls t :ca-file "{ca}")'
    with pytest.raises(CertificateError) as caught:
        send_smtp(spec, FROM, TO, "x\n", timeout=TIMEOUT)
    where = f"mx1.corp.example (mail exchanger of corp.example) port {smtp_starttls.port}"
    assert f"the certificate of {where}" in str(caught.value)
    assert caught.value.checked_name == "mx1.corp.example"
    status, _out, err = cli("check", spec)
    assert status != 0
    assert f"the certificate of {where}" in err
    assert "the certificate is not for mx1.corp.example" in err


@pytest.mark.parametrize(
    "tls, says",
    [
        ((":ssl", True), "{where} port {port} answered the TLS handshake in plain text"),
        ((":starttls", ":required"), "the server {where} does not offer STARTTLS"),
    ],
    ids=["ssl-on-plain", "starttls-required"],
)
def test_tls_failures_name_the_exchanger_reached(
    dns_server_factory: Callable[..., DnsServer],
    smtp_plain: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    tls: Tuple[Any, ...],
    says: str,
) -> None:
    dns_server = dns_server_factory()
    monkeypatch.setattr(post_office, "dns_nameservers", [dns_server.nameserver], raising=False)
    with pytest.raises(SocketError if tls[0] == ":ssl" else StartTLSError) as caught:
        send_smtp(("corp.example", ":port", smtp_plain.port, *tls), FROM, TO, "x\n", timeout=2)
    where = "mx1.corp.example (mail exchanger of corp.example)"
    assert says.format(where=where, port=smtp_plain.port) in str(caught.value)


# =========================================================================== issue 20.4
# DNS picks the number of addresses; it must not pick the length of the wait.


def _many(count: int, last: str) -> Zone:
    """``many.example``: ``count`` exchangers by preference; all but the last at
    127.0.0.(20+i), where nothing listens, the last at ``last``."""
    zone: Zone = {"many.example": []}
    for number in range(count):
        host = f"mx{number}.many.example"
        zone["many.example"].append(("MX", (10 + number, host)))
        zone[host] = [("A", last if number == count - 1 else f"127.0.0.{20 + number}")]
    return zone


def _exchangers_looked_up(server: DnsServer) -> int:
    return len({name for name, qtype in server.queries if name.startswith("mx")})


def test_at_most_mx_address_limit_addresses_are_tried(
    dns_server_factory: Callable[..., DnsServer],
    smtp_plain: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dns_server = dns_server_factory(zone=_many(30, "127.0.0.1"))
    monkeypatch.setattr(post_office, "dns_nameservers", [dns_server.nameserver], raising=False)
    spec = ("many.example", smtp_plain.port)
    with pytest.raises(ConnectionFailedError) as caught:
        send_smtp(spec, FROM, TO, "x\n", timeout=TIMEOUT)
    tried = str(caught.value).count("Connection refused")
    assert tried == DEFAULT_MX_ADDRESS_LIMIT == 5
    assert smtp_plain.connections == 0  # the 30th exchanger was never reached
    assert _exchangers_looked_up(dns_server) == 5  # nor were 25 exchangers looked up
    # The limit is settable, and with it the server at the end of the list is reached.
    monkeypatch.setattr(post_office, "mx_address_limit", 30, raising=False)
    send_smtp(spec, FROM, TO, "x\n", timeout=TIMEOUT)
    assert smtp_plain.connections == 1 and len(smtp_plain.messages) == 1


@pytest.fixture
def black_holes(smtp_plain: LoopbackServer) -> Iterator[List[str]]:
    """Ten loopback addresses on ``smtp_plain``'s port that drop every SYN: each listens
    with a backlog of 0, filled by one connection nobody accepts."""
    holding: List[socket.socket] = []
    addresses = [f"127.0.0.{40 + number}" for number in range(10)]
    try:
        for address in addresses:
            listener = socket.socket()
            holding.append(listener)
            listener.bind((address, smtp_plain.port))
            listener.listen(0)
            holding.append(socket.create_connection((address, smtp_plain.port), TIMEOUT))
        yield addresses
    finally:
        for sock in holding:
            sock.close()


def test_connecting_ends_within_a_bound_of_the_timeout(
    dns_server_factory: Callable[..., DnsServer],
    smtp_plain: LoopbackServer,
    black_holes: List[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zone: Zone = {"holes.example": [("MX", (90, "last.holes.example"))]}
    zone["last.holes.example"] = [("A", "127.0.0.1")]
    for number, address in enumerate(black_holes):
        zone["holes.example"].append(("MX", (10 + number, f"mx{number}.holes.example")))
        zone[f"mx{number}.holes.example"] = [("A", address)]
    dns_server = dns_server_factory(zone=zone)
    monkeypatch.setattr(post_office, "dns_nameservers", [dns_server.nameserver], raising=False)
    monkeypatch.setattr(post_office, "mx_address_limit", 11, raising=False)
    with pytest.raises(ConnectTimeoutError) as caught:
        send_smtp(("holes.example", smtp_plain.port), FROM, TO, "x\n", timeout=0.5)
    text = str(caught.value)
    # Each address gets the timeout, and all of them together CONNECT_TIMEOUTS of it.
    assert 1 <= text.count("timed out") <= CONNECT_TIMEOUTS
    assert "more not tried: the time for connecting ran out" in text
    assert smtp_plain.connections == 0


exchanger_lists = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=12
)  # (preference, how many addresses) per exchanger


def test_resolution_never_exceeds_the_limit_and_keeps_the_order() -> None:
    server = DnsServer({}).start()  # one server; each example serves its own zone

    @given(exchangers=exchanger_lists, limit=st.integers(1, 8))
    def resolves(exchangers: List[Tuple[int, int]], limit: int) -> None:
        zone: Zone = {"prop.example": [("A", "127.0.0.99")]}
        owner = {}
        for number, (pref, count) in enumerate(exchangers):
            host = f"x{number}.prop.example"
            zone["prop.example"].append(("MX", (pref, host)))
            addresses = [f"127.1.{number}.{n}" for n in range(count)]
            zone[host] = [("A", a) for a in addresses]
            owner.update({a: (host, pref) for a in addresses})
        server.zone = zone
        clear_cache()
        targets = resolve_mail_server(
            "prop.example", nameservers=[server.nameserver], address_limit=limit, timeout=5
        )
        total = sum(count for _, count in exchangers)
        if total == 0:  # no exchanger has an address: the name's own, as Allegro
            assert [(t.name, t.address) for t in targets] == [("prop.example", "127.0.0.99")]
            return
        assert len(targets) == min(limit, total)
        assert all(owner[t.address] == (t.name, t.preference) for t in targets)
        preferences = [t.preference or 0 for t in targets]
        assert preferences == sorted(preferences)
        # Nothing better was left out: every address of a preference below the last
        # one kept is in the list.
        kept = {t.address for t in targets}
        assert all(a in kept for a, (_, p) in owner.items() if p < preferences[-1])

    try:
        resolves()
    finally:
        server.stop()
        clear_cache()


def test_mx_address_limit_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_mx_address_limit(1) == 1
    for bad in (0, -3, True, 2.5, "5", None):
        with pytest.raises(OptionError, match=r"^post_office\.mx_address_limit is .*positive"):
            check_mx_address_limit(bad)
    monkeypatch.setattr(post_office, "mx_address_limit", 0, raising=False)
    with pytest.raises(OptionError, match="mx_address_limit is 0"):
        current_settings()
    with pytest.raises(OptionError, match="mx_address_limit is 0"):  # before any DNS
        send_smtp(("corp.example", 25), FROM, TO, "x\n", timeout=TIMEOUT)


# =========================================================================== issue 22


@pytest.fixture
def nameservers(
    dns_server_factory: Callable[..., DnsServer], monkeypatch: pytest.MonkeyPatch
) -> Callable[[Zone], DnsServer]:
    """Serve a zone (added to the standard one) and point dns_nameservers at it."""

    def serve(zone: Zone) -> DnsServer:
        server = dns_server_factory(zone={**ZONE, **zone})
        monkeypatch.setattr(post_office, "dns_mode", (":acldns", ":clib"), raising=False)
        monkeypatch.setattr(post_office, "dns_nameservers", [server.nameserver], raising=False)
        return server

    return serve


def test_an_exchanger_without_address_falls_back_to_the_name(
    nameservers: Callable[[Zone], DnsServer], smtp_plain: LoopbackServer
) -> None:
    # As Allegro (smtp.cl 678-711, determine-mail-server): when the MX query yields no
    # address, the name's own address is looked up (dns-lookup-hostname) and used.
    nameservers({"lost-mx.example": [("MX", (10, "gone.lost-mx.example")), ("A", "127.0.0.1")]})
    transcript = io.StringIO()
    post_office.smtp_debug = transcript
    try:
        send_smtp(("lost-mx.example", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    finally:
        post_office.smtp_debug = None
    assert len(smtp_plain.messages) == 1
    assert "no mail exchanger has an address" in transcript.getvalue()


class MxFailServer(DnsServer):
    """Answers SERVFAIL to every MX question, and everything else from the zone."""

    def answer(self, data: bytes) -> Any:
        from dnslib import QTYPE, RCODE, DNSRecord

        request = DNSRecord.parse(data)
        if QTYPE[request.q.qtype] != "MX":
            return super().answer(data)
        with self._lock:
            self.queries.append((str(request.q.qname).rstrip("."), "MX"))
        reply = request.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())


@pytest.fixture
def mx_failing() -> Iterator[DnsServer]:
    clear_cache()
    server = MxFailServer().start()
    try:
        yield server
    finally:
        server.stop()
        clear_cache()


@pytest.mark.parametrize("configured", ["dns_nameservers", "system configuration"])
def test_a_failing_mx_query_falls_back_to_the_name(
    mx_failing: DnsServer,
    smtp_plain: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    configured: str,
) -> None:
    # As Allegro (smtp.cl 678-711): a failed MX query (dns-query gives nothing) falls
    # back to the name's own address.
    if configured == "dns_nameservers":
        monkeypatch.setattr(post_office, "dns_nameservers", [mx_failing.nameserver], raising=False)
    else:  # no dns_nameservers: the system's DNS configuration, here the loopback server
        monkeypatch.setattr(post_office, "dns_nameservers", None, raising=False)
        monkeypatch.setattr(post_office, "dns_mode", ":acldns", raising=False)

        def system_dns(self: Dns) -> dns.resolver.Resolver:
            made = dns.resolver.Resolver(configure=False)
            made.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", mx_failing.port)]
            made.cache = None
            return made

        monkeypatch.setattr(Dns, "resolver", system_dns)
    send_smtp(("a-only.example", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert len(smtp_plain.messages) == 1
    assert ("a-only.example", "MX") in mx_failing.queries


def test_a_null_mx_beside_an_address_is_refused(
    nameservers: Callable[[Zone], DnsServer], smtp_plain: LoopbackServer
) -> None:
    # Allegro differs (README "Differences from Allegro"): its MX lookup finds no address
    # for "." and falls back to the A record (smtp.cl 678-711), so it delivers.  RFC 7505
    # says the domain accepts no mail: refused, and the A record is never contacted.
    nameservers({"null-and-a.example": [("MX", (0, ".")), ("A", "127.0.0.1")]})
    with pytest.raises(ConnectError, match=r"null-and-a\.example accepts no mail.*RFC 7505"):
        send_smtp(("null-and-a.example", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert smtp_plain.connections == 0


def test_failover_to_the_next_exchanger_and_what_is_left_to_catch(
    nameservers: Callable[[Zone], DnsServer], smtp_plain: LoopbackServer
) -> None:
    # Allegro connects to the best exchanger only and signals socket-error when it
    # refuses (smtp.cl 380-385); we go on to the next one, so a program that queued the
    # message on that error now finds it delivered ...
    nameservers({})
    send_smtp(("two-mx.example", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert len(smtp_plain.messages) == 1
    # ... and gets the socket error only when every address tried refused.
    smtp_plain.stop()
    with pytest.raises(SocketError) as caught:
        send_smtp(("two-mx.example", smtp_plain.port), FROM, TO, "x\n", timeout=TIMEOUT)
    assert isinstance(caught.value, ConnectionFailedError)
    assert "127.0.0.2" in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_a_silent_dns_server_raises_connect_error(
    nameservers: Callable[[Zone], DnsServer],
) -> None:
    # Allegro's "Can't determine ip address for mail server" is a plain error, not a
    # socket-error: README's Reliability table says ConnectError for a silent DNS server.
    server = nameservers({})
    server.silent = True
    with pytest.raises(ConnectError, match=f"^{CANT} corp.example: DNS gave no answer") as caught:
        send_smtp("corp.example", FROM, TO, "x\n", timeout=0.5)
    assert type(caught.value) is ConnectError
    assert not isinstance(caught.value, (SocketError, TimeoutError))


def test_credentials_ask_no_mx_whatever_the_mode(
    nameservers: Callable[[Zone], DnsServer],
) -> None:
    # The final rule in one place (README "DNS"): MX only for delivery without credentials.
    server = nameservers({})
    lines: List[str] = []
    targets = resolve_mail_server("corp.example", follow_mx=False, timeout=2, note=lines.append)
    assert [(t.name, t.address, t.preference) for t in targets] == [
        ("corp.example", "127.0.0.3", None)
    ]
    assert ("corp.example", "MX") not in server.queries
    assert lines[0] == "corp.example: no MX lookup, credentials go to the name as written"
