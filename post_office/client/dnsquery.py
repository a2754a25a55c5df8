"""DNS questions for :mod:`post_office.client.resolve`: dnspython behind a shared TTL cache.

dnspython is imported inside the functions, on first use, so that ``import post_office``
stays light.  Answers are kept for their TTL (RFC 1035 section 3.2.1); negative answers
(NXDOMAIN, NODATA) for the SOA minimum (RFC 2308).  Every question of one call shares one
deadline, so a silent DNS server cannot hang the caller.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Literal, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    import dns.resolver

__all__ = [
    "CACHE",
    "Answer",
    "BadName",
    "Dns",
    "DnsFailure",
    "DnsTimeout",
    "Nameservers",
    "TtlCache",
    "clear_cache",
    "server_text",
    "system_addresses",
]

Nameservers = Tuple[Tuple[str, int], ...]
MAX_CNAMES = 8  # aliases followed for the mail-server name (a loop must end)
MAX_DNS_SECONDS = 300.0  # DNS never waits longer, even for timeout=inf


def server_text(server: Tuple[str, int]) -> str:
    """``("192.0.2.53", 53)`` -> ``"192.0.2.53"``; other ports and IPv6 as ``[addr]:port``."""
    address, port = server
    shown = f"[{address}]" if ":" in address else address
    return shown if port == 53 else f"{shown}:{port}"


# --------------------------------------------------------------------------- cache


class TtlCache:
    """A bounded mapping whose entries expire after their TTL; safe to share between threads."""

    def __init__(self, maxsize: int = 512, clock: Callable[[], float] = time.monotonic) -> None:
        self.maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[object, Tuple[float, object]] = OrderedDict()

    def get(self, key: object) -> Optional[object]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: object, value: object, ttl: float) -> None:
        if not ttl > 0:
            return
        with self._lock:
            now = self._clock()
            self._entries[key] = (now + min(ttl, 86400.0), value)
            self._entries.move_to_end(key)
            if len(self._entries) > self.maxsize:
                for old in [k for k, (expiry, _) in self._entries.items() if expiry <= now]:
                    del self._entries[old]
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


CACHE = TtlCache()


def clear_cache() -> None:
    """Forget every cached DNS answer."""
    CACHE.clear()


# --------------------------------------------------------------------------- DNS queries


@dataclass(frozen=True)
class Answer:
    """One DNS answer, reduced to what resolution needs (cacheable: immutable)."""

    status: Literal["ok", "nodata", "nxdomain"]
    canonical: str  # the name after the aliases (CNAMEs) in the answer
    cnames: int  # how many aliases the answer followed
    mx: Tuple[Tuple[int, str], ...] = ()
    addresses: Tuple[str, ...] = ()
    texts: Tuple[str, ...] = ()  # TXT records, each one string (RFC 8461 section 3.1)


class DnsTimeout(Exception):
    """DNS gave no answer before the call's deadline."""


class DnsFailure(Exception):
    """DNS answered with a failure (SERVFAIL, refused) or no server is configured."""


class BadName(Exception):
    """The name cannot be asked: empty, an empty label, a label over 63 octets."""


def plain(name: object) -> str:
    return str(name).rstrip(".")


def check_name(name: str) -> None:
    import dns.exception
    import dns.name

    if not name.strip("."):
        raise BadName("an empty name")
    try:
        dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        raise BadName(str(exc) or type(exc).__name__) from None


class Dns:
    """One call's DNS: where to ask, and the deadline shared by all its questions."""

    def __init__(self, servers: Optional[Nameservers], timeout: float) -> None:
        self.servers = servers
        self.timeout = timeout
        self.deadline = time.monotonic() + min(timeout, MAX_DNS_SECONDS)
        self._resolver: Optional[dns.resolver.Resolver] = None

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DnsTimeout()
        return left

    def resolver(self) -> dns.resolver.Resolver:
        if self._resolver is None:
            import dns.nameserver
            import dns.resolver

            if self.servers is None:
                try:
                    self._resolver = dns.resolver.Resolver(configure=True)
                except dns.resolver.NoResolverConfiguration as exc:
                    raise DnsFailure("no DNS server is configured on this system") from exc
            else:
                self._resolver = dns.resolver.Resolver(configure=False)
                self._resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(address, port) for address, port in self.servers
                ]
            self._resolver.cache = None  # ours is shared between resolvers (TtlCache)
        return self._resolver

    def query(self, name: str, rdtype: str, *, max_cnames: int = MAX_CNAMES) -> Answer:
        """Ask for ``rdtype`` records of ``name``, following up to ``max_cnames`` aliases.

        Aliases beyond ``max_cnames`` count as no record.  Raises :class:`DnsTimeout` or
        :class:`DnsFailure` when no answer could be had.
        """
        check_name(name)
        current, hops = name, 0
        while True:
            answer = self._cached(current, rdtype)
            hops += answer.cnames
            if hops > max_cnames:
                return Answer("nodata", answer.canonical, hops)
            if answer.status != "nodata" or answer.canonical.lower() == current.lower():
                return Answer(
                    answer.status, answer.canonical, hops, answer.mx, answer.addresses, answer.texts
                )
            current = answer.canonical  # the server gave the alias only: ask for its target

    def _cached(self, name: str, rdtype: str) -> Answer:
        key = (name.lower().rstrip("."), rdtype, self.servers)
        hit = CACHE.get(key)
        if isinstance(hit, Answer):
            return hit
        answer, ttl = self._ask(name, rdtype)
        CACHE.put(key, answer, ttl)
        return answer

    def _ask(self, name: str, rdtype: str) -> Tuple[Answer, float]:
        import dns.exception
        import dns.resolver

        resolver = self.resolver()
        try:
            reply = resolver.resolve(
                name, rdtype, raise_on_no_answer=False, lifetime=self.remaining()
            )
        except dns.resolver.NXDOMAIN as exc:
            ttls = [r.resolve_chaining().minimum_ttl for r in exc.responses().values()]  # type: ignore[no-untyped-call]
            return Answer("nxdomain", name, 0), float(min(ttls, default=0))
        except dns.exception.Timeout as exc:
            raise DnsTimeout() from exc
        except dns.exception.DNSException as exc:
            raise DnsFailure(str(exc) or type(exc).__name__) from exc
        chain = reply.chaining_result
        canonical, cnames = plain(chain.canonical_name), len(chain.cnames)
        ttl = max(0.0, reply.expiration - time.time())
        if reply.rrset is None:
            return Answer("nodata", canonical, cnames), ttl
        if rdtype == "MX":
            mx = tuple((int(r.preference), plain(r.exchange)) for r in reply.rrset)
            return Answer("ok", canonical, cnames, mx=mx), ttl
        if rdtype == "TXT":
            texts = tuple(
                b"".join(r.strings).decode("utf-8", "replace")  # a record's strings are one
                for r in reply.rrset
            )
            return Answer("ok", canonical, cnames, texts=texts), ttl
        addresses = tuple(str(r.address) for r in reply.rrset)
        return Answer("ok", canonical, cnames, addresses=addresses), ttl

    def addresses(self, name: str, *, system: bool) -> Tuple[str, Tuple[str, ...]]:
        """``name``'s IPv4 then IPv6 addresses -> ``(status, addresses)``.

        ``system``: ask the system's resolver (``getaddrinfo``: hosts file, nsswitch) instead.
        """
        if system:
            return system_addresses(name, self.remaining())
        found: List[str] = []
        statuses: List[str] = []
        error: Optional[Exception] = None
        for rdtype in ("A", "AAAA"):
            try:
                answer = self.query(name, rdtype)
            except (DnsTimeout, DnsFailure) as exc:
                error = error or exc
                continue
            statuses.append(answer.status)
            found.extend(answer.addresses)
        if found:
            return "ok", tuple(dict.fromkeys(found))
        if error is not None:
            raise error
        return ("nxdomain" if "nxdomain" in statuses else "nodata"), ()


def system_addresses(name: str, timeout: float) -> Tuple[str, Tuple[str, ...]]:
    """``getaddrinfo`` in a helper thread: a silent DNS server cannot outlast ``timeout``."""
    box: Dict[str, object] = {}

    def run() -> None:
        try:
            box["infos"] = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, name="post_office-getaddrinfo", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise DnsTimeout()
    error = box.get("error")
    if isinstance(error, socket.gaierror) and error.errno in _NO_NAME:
        return "nxdomain", ()
    if isinstance(error, OSError):
        raise DnsFailure(f"the system resolver failed: {error}")
    infos = box.get("infos")
    assert isinstance(infos, list)
    addresses = [str(info[4][0]) for info in infos]
    return "ok", tuple(dict.fromkeys(addresses))


_NO_NAME = {
    getattr(socket, code)
    for code in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY")
    if hasattr(socket, code)
}
