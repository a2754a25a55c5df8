"""Mail-server resolution (issue 16) against the loopback DNS server: nothing real is asked."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, List, Tuple

import dns.nameserver
import dns.resolver
import pytest
from support.dnsserver import NEGATIVE_TTL, DnsServer

import post_office
from post_office.client import dnsquery
from post_office.client.dnsquery import TtlCache
from post_office.client.resolve import (
    DnsSettings,
    Target,
    check_dns_mode,
    check_dns_nameservers,
    current_settings,
    resolve_mail_server,
    valid_email_domain_p,
)
from post_office.errors import AddressTypeError, ConnectError, OptionError

CANT = "Can't determine ip address for mail server"


def resolve(server: DnsServer, host: str, **options: Any) -> List[Target]:
    options.setdefault("timeout", 3)
    return resolve_mail_server(host, nameservers=[server.nameserver], **options)


def addresses(targets: List[Target]) -> List[str]:
    return [t.address for t in targets]


# --------------------------------------------------------------------------- no DNS


@pytest.mark.parametrize(
    "host, address",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[127.0.0.2]", "127.0.0.2"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("[IPv6:0:0::1]", "::1"),
    ],
)
def test_ip_addresses_ask_nothing(dns_server: DnsServer, host: str, address: str) -> None:
    assert resolve(dns_server, host) == [Target(address, address, None)]
    assert dns_server.queries == []


def test_localhost_asks_nothing(dns_server: DnsServer) -> None:
    for host in ("localhost", "LOCALHOST."):
        assert resolve(dns_server, host) == [
            Target("localhost", "127.0.0.1"),
            Target("localhost", "::1"),
        ]
    assert dns_server.queries == []


# --------------------------------------------------------------------------- MX first


def test_one_mx(dns_server: DnsServer) -> None:
    lines: List[str] = []
    targets = resolve(dns_server, "corp.example", note=lines.append)
    assert targets == [Target("mx1.corp.example", "127.0.0.1", 10)]
    assert lines == ["corp.example MX: mx1.corp.example (10) -> 127.0.0.1"]
    assert ("corp.example", "MX") in dns_server.queries


def test_exchangers_in_preference_order(dns_server: DnsServer) -> None:
    targets = resolve(dns_server, "two-mx.example")
    assert targets == [
        Target("down.two-mx.example", "127.0.0.2", 10),
        Target("up.two-mx.example", "127.0.0.1", 20),
    ]
    # The zone's promise for the driver tests: the preferred exchanger refuses, the next
    # one accepts (on whatever port the test server listens).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((targets[0].address, port), timeout=2).close()
        socket.create_connection((targets[1].address, port), timeout=2).close()


def test_equal_preferences_are_shuffled(dns_server: DnsServer) -> None:
    orders = {tuple(addresses(resolve(dns_server, "equal.example"))) for _ in range(60)}
    assert orders == {("127.0.0.4", "127.0.0.5"), ("127.0.0.5", "127.0.0.4")}


def test_no_mx_means_the_name_itself(dns_server: DnsServer) -> None:
    lines: List[str] = []
    assert resolve(dns_server, "a-only.example", note=lines.append) == [
        Target("a-only.example", "127.0.0.1", None)
    ]
    assert lines == ["a-only.example (no MX) -> 127.0.0.1"]


def test_ipv4_then_ipv6(dns_server: DnsServer) -> None:
    assert addresses(resolve(dns_server, "dual.example")) == ["127.0.0.1", "::1"]


@pytest.mark.parametrize("chase", [True, False])
def test_cname_is_followed(dns_server_factory: Callable[..., DnsServer], chase: bool) -> None:
    server = dns_server_factory(chase_cnames=chase)
    lines: List[str] = []
    targets = resolve(server, "alias.example", note=lines.append)
    assert targets == [Target("mx1.corp.example", "127.0.0.1", 10)]
    assert "alias.example is an alias (CNAME) of corp.example" in lines
    assert addresses(resolve(server, "alias2.example")) == ["127.0.0.1"]


def test_missing_domain(dns_server: DnsServer) -> None:
    with pytest.raises(ConnectError, match=f"^{CANT} missing.example: .*NXDOMAIN"):
        resolve(dns_server, "missing.example")


def test_null_mx(dns_server: DnsServer) -> None:
    with pytest.raises(ConnectError, match=r"nullmx\.example accepts no mail.*RFC 7505"):
        resolve(dns_server, "nullmx.example")


def test_exchanger_without_address(dns_server: DnsServer) -> None:
    lines: List[str] = []
    with pytest.raises(ConnectError, match=f"^{CANT} ghost-mx.example: .*have no address"):
        resolve(dns_server, "ghost-mx.example", note=lines.append)
    assert lines == ["ghost-mx.example MX: ghost.ghost-mx.example (10) -> no address (nxdomain)"]


def test_server_failure(dns_server: DnsServer) -> None:
    with pytest.raises(ConnectError, match=f"^{CANT} servfail.example: DNS lookup failed"):
        resolve(dns_server, "servfail.example")


@pytest.mark.parametrize("host", ["a..b", ".", "x" * 64 + ".example"])
def test_impossible_names(dns_server: DnsServer, host: str) -> None:
    with pytest.raises(ConnectError, match=CANT):
        resolve(dns_server, host)
    assert dns_server.queries == []


def test_silent_server_is_bounded_by_timeout(dns_server: DnsServer) -> None:
    dns_server.silent = True
    started = time.monotonic()
    with pytest.raises(ConnectError, match=r"no answer within 0\.4 seconds \(asking 127"):
        resolve(dns_server, "corp.example", timeout=0.4)
    assert time.monotonic() - started < 2
    assert dns_server.queries  # it was asked, and said nothing


# --------------------------------------------------------------------------- modes


def test_clib_mode_skips_mx(dns_server: DnsServer) -> None:
    lines: List[str] = []
    targets = resolve(dns_server, "corp.example", mode=":clib", note=lines.append)
    assert targets == [Target("corp.example", "127.0.0.3", None)]
    assert lines == ["corp.example -> 127.0.0.3"]
    assert {qtype for _, qtype in dns_server.queries} == {"A", "AAAA"}


def test_acldns_alone_is_mx_first(dns_server: DnsServer) -> None:
    assert addresses(resolve(dns_server, "corp.example", mode=[":ACLDNS"])) == ["127.0.0.1"]


class FakeSystem:
    """Stands in for the system resolver (getaddrinfo) and the system DNS configuration."""

    def __init__(self, hosts: dict, delay: float = 0.0) -> None:  # type: ignore[type-arg]
        self.hosts = hosts
        self.delay = delay
        self.asked: List[str] = []

    def getaddrinfo(self, name: str, *args: Any, **kwargs: Any) -> List[Tuple[Any, ...]]:
        self.asked.append(name)
        time.sleep(self.delay)
        if name not in self.hosts:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in self.hosts[name]]


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch, dns_server: DnsServer) -> FakeSystem:
    """The system resolver knows a few names; the system's DNS is the test server."""
    fake = FakeSystem({"mx1.corp.example": ["127.0.0.9"], "hosts-only": ["127.0.0.8"]})
    monkeypatch.setattr(dnsquery.socket, "getaddrinfo", fake.getaddrinfo)

    def resolver(self: dnsquery.Dns) -> dns.resolver.Resolver:
        made = dns.resolver.Resolver(configure=False)
        made.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", dns_server.port)]
        return made

    monkeypatch.setattr(dnsquery.Dns, "resolver", resolver)
    return fake


def test_system_resolver_for_addresses(system: FakeSystem) -> None:
    # Default mode, no nameservers: MX by DNS, the exchanger's address from the system.
    targets = resolve_mail_server("corp.example", timeout=2)
    assert targets == [Target("mx1.corp.example", "127.0.0.9", 10)]
    assert system.asked == ["mx1.corp.example"]
    # A name DNS does not know may still be in the hosts file.
    assert addresses(resolve_mail_server("hosts-only", timeout=2)) == ["127.0.0.8"]
    with pytest.raises(ConnectError, match=f"^{CANT} nowhere.example"):
        resolve_mail_server("nowhere.example", timeout=2)
    assert addresses(resolve_mail_server("hosts-only", mode=":clib", timeout=2)) == ["127.0.0.8"]
    # DNS failing for the MX question: (:acldns :clib) falls back to the system resolver.
    with pytest.raises(ConnectError, match=f"^{CANT} servfail.example"):
        resolve_mail_server("servfail.example", timeout=2)
    assert system.asked[-1] == "servfail.example"


def test_slow_system_resolver_is_bounded(system: FakeSystem) -> None:
    system.delay = 1.0
    started = time.monotonic()
    with pytest.raises(ConnectError, match=r"no answer within 0\.2 seconds"):
        resolve_mail_server("hosts-only", mode=":clib", timeout=0.2)
    assert time.monotonic() - started < 0.9


def test_nameservers_take_every_question(dns_server: DnsServer, system: FakeSystem) -> None:
    assert addresses(resolve(dns_server, "corp.example", mode=":clib")) == ["127.0.0.3"]
    assert addresses(resolve(dns_server, "corp.example")) == ["127.0.0.1"]
    assert system.asked == []


# --------------------------------------------------------------------------- cache


def test_answers_are_cached(dns_server: DnsServer) -> None:
    resolve(dns_server, "corp.example")
    asked = len(dns_server.queries)
    resolve(dns_server, "corp.example")
    with pytest.raises(ConnectError):
        resolve(dns_server, "missing.example")
    asked_missing = len(dns_server.queries)
    with pytest.raises(ConnectError):
        resolve(dns_server, "missing.example")  # NXDOMAIN kept for the SOA minimum
    assert NEGATIVE_TTL > 0
    assert len(dns_server.queries) == asked_missing > asked
    dns_server.silent = True  # cached answers need no server
    assert addresses(resolve(dns_server, "corp.example", timeout=0.2)) == ["127.0.0.1"]


def test_ttl_zero_is_not_cached(dns_server_factory: Callable[..., DnsServer]) -> None:
    server = dns_server_factory(ttl=0)
    resolve(server, "corp.example")
    asked = len(server.queries)
    resolve(server, "corp.example")
    assert server.queries.count(("corp.example", "MX")) == 2
    assert server.queries.count(("mx1.corp.example", "A")) == 2
    assert asked == 3  # MX, A, AAAA; the empty AAAA answer is cached for the SOA minimum


def test_cache_is_per_nameserver(dns_server_factory: Callable[..., DnsServer]) -> None:
    one = dns_server_factory()
    two = dns_server_factory(zone={"corp.example": [("A", "127.0.0.6")]})
    assert addresses(resolve(one, "corp.example")) == ["127.0.0.1"]
    assert addresses(resolve(two, "corp.example")) == ["127.0.0.6"]


def test_ttl_cache_expires_and_is_bounded() -> None:
    now = [100.0]
    cache = TtlCache(maxsize=3, clock=lambda: now[0])
    cache.put("a", 1, 10)
    cache.put("b", 2, 0)  # not kept
    assert cache.get("a") == 1 and cache.get("b") is None
    now[0] = 110.0
    assert cache.get("a") is None
    for key in "cdef":
        cache.put(key, key, 60)
    assert len(cache) == 3 and cache.get("c") is None and cache.get("f") == "f"
    cache.clear()
    assert len(cache) == 0


def test_ttl_cache_is_thread_safe() -> None:
    cache = TtlCache(maxsize=50)
    errors: List[BaseException] = []

    def hammer(seed: int) -> None:
        try:
            for i in range(2000):
                cache.put((seed, i % 80), i, 60)
                cache.get((seed, (i * 7) % 80))
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(cache) <= 50


# --------------------------------------------------------------------------- settings


class Hostile:
    def __repr__(self) -> str:  # pragma: no cover - must never be called
        raise AssertionError("user __repr__ called")


def test_check_dns_mode() -> None:
    assert check_dns_mode(":clib") == (":clib",)
    assert check_dns_mode([":ACLDNS", ":clib", ":clib"]) == (":acldns", ":clib")
    for bad in ("clib", (), [":clib", ":nis"], 3, None, Hostile(), (Hostile(),)):
        with pytest.raises(OptionError, match=r"^post_office\.dns_mode is .*expected ':acldns'"):
            check_dns_mode(bad)
    with pytest.raises(OptionError, match=r"is a Hostile;"):
        check_dns_mode(Hostile())
    with pytest.raises(OptionError, match=r"is \[':clib', ':nis'\];"):
        check_dns_mode([":clib", ":nis"])


def test_check_dns_nameservers() -> None:
    assert check_dns_nameservers(None) is None
    assert check_dns_nameservers("192.0.2.53") == (("192.0.2.53", 53),)
    assert check_dns_nameservers(["127.0.0.1:5353", "2001:db8::1", "[2001:db8::2]:54"]) == (
        ("127.0.0.1", 5353),
        ("2001:db8::1", 53),
        ("2001:db8::2", 54),
    )
    for bad in ("dns.example", ["127.0.0.1:0"], ["127.0.0.1:x"], [], "[::1]x", Hostile(), [1]):
        with pytest.raises(OptionError, match=r"^post_office\.dns_nameservers is .*expected None"):
            check_dns_nameservers(bad)


def test_current_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(post_office, "dns_mode", raising=False)
    monkeypatch.delattr(post_office, "dns_nameservers", raising=False)
    assert current_settings() == DnsSettings((":acldns", ":clib"), None)
    assert current_settings().describe() == (
        "dns_mode (:acldns :clib): MX first; nameservers: the system's resolver"
    )
    monkeypatch.setattr(post_office, "dns_mode", ":clib", raising=False)
    monkeypatch.setattr(post_office, "dns_nameservers", ["127.0.0.1:5353", "::1"], raising=False)
    settings = current_settings()
    assert settings == DnsSettings((":clib",), (("127.0.0.1", 5353), ("::1", 53)))
    assert not settings.mx_first
    assert settings.describe().endswith("no MX lookup; nameservers: 127.0.0.1:5353, [::1]")
    monkeypatch.setattr(post_office, "dns_mode", "mx", raising=False)
    with pytest.raises(OptionError, match=r"post_office\.dns_mode is 'mx'"):
        current_settings()


def test_settings_are_read_at_each_call(
    dns_settings: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert addresses(resolve_mail_server("corp.example", timeout=2)) == ["127.0.0.1"]
    monkeypatch.setattr(post_office, "dns_mode", ":clib")
    assert addresses(resolve_mail_server("corp.example", timeout=2)) == ["127.0.0.3"]
    monkeypatch.setattr(post_office, "dns_mode", ("acldns",))
    with pytest.raises(OptionError, match=r"^post_office\.dns_mode is \('acldns'\);"):
        resolve_mail_server("corp.example", timeout=2)
    with pytest.raises(OptionError, match=r"^mode is 'acldns';"):
        resolve_mail_server("corp.example", mode="acldns", nameservers=None, timeout=2)


@pytest.mark.parametrize("timeout", [0, -1, "5", True, None])
def test_timeout_is_checked(timeout: Any) -> None:
    with pytest.raises(OptionError, match="timeout"):
        resolve_mail_server("corp.example", timeout=timeout)


def test_import_post_office_does_not_load_dnspython() -> None:
    code = (
        "import sys, post_office, post_office.client.resolve, post_office.message.netmail; "
        "assert not any(m == 'dns' or m.startswith('dns.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


# --------------------------------------------------------------------------- valid domains


@pytest.mark.parametrize(
    "domain, expected",
    [
        ("corp.example", True),
        ("a-only.example", True),
        ("dual.example", True),
        ("alias.example", True),
        ("alias2.example", None),  # Allegro follows one CNAME only
        ("missing.example", None),
        ("nullmx.example", None),
        ("servfail.example", ":unknown"),
        ("a..b", None),
    ],
)
def test_valid_email_domain_p(dns_settings: DnsServer, domain: str, expected: object) -> None:
    assert valid_email_domain_p(domain) == expected


def test_valid_email_domain_p_unchased_cname(
    dns_server_factory: Callable[..., DnsServer],
) -> None:
    server = dns_server_factory(chase_cnames=False)
    assert valid_email_domain_p("alias.example", nameservers=[server.nameserver]) is True
    assert valid_email_domain_p("alias2.example", nameservers=[server.nameserver]) is None


def test_valid_email_domain_p_silent_server(dns_settings: DnsServer) -> None:
    dns_settings.silent = True
    assert valid_email_domain_p("corp.example", timeout=0.3) == ":unknown"


def test_valid_email_domain_p_needs_a_string() -> None:
    with pytest.raises(AddressTypeError):
        valid_email_domain_p(b"corp.example")  # type: ignore[arg-type]
