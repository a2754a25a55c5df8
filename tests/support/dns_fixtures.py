"""Pytest fixtures for the loopback DNS server (:mod:`dnsserver`).

- ``dns_server``: a fresh :class:`dnsserver.DnsServer` serving :data:`dnsserver.ZONE`
  (answers chase CNAMEs), stopped after the test; the resolver cache is cleared around it.
- ``dns_server_factory(**options)``: more of them, or with options (``chase_cnames=False``,
  ``ttl=0``, ``zone=...``).
- ``dns_settings``: points ``post_office.dns_nameservers`` at ``dns_server`` for the test
  (``post_office.dns_mode`` is reset to the default), restoring both afterwards.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest

import post_office
from post_office.client.dnsquery import clear_cache
from support.dnsserver import DnsServer


@pytest.fixture
def dns_server_factory() -> Iterator[Callable[..., DnsServer]]:
    started: List[DnsServer] = []

    def make(**options: Any) -> DnsServer:
        server = DnsServer(**options).start()
        started.append(server)
        return server

    clear_cache()
    try:
        yield make
    finally:
        for server in started:
            server.stop()
        clear_cache()


@pytest.fixture
def dns_server(dns_server_factory: Callable[..., DnsServer]) -> DnsServer:
    return dns_server_factory()


@pytest.fixture
def dns_settings(dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch) -> DnsServer:
    monkeypatch.setattr(post_office, "dns_mode", (":acldns", ":clib"), raising=False)
    monkeypatch.setattr(post_office, "dns_nameservers", [dns_server.nameserver], raising=False)
    return dns_server
