"""A small DNS server on 127.0.0.1 for the resolver tests (a test dependency: dnslib).

It answers from a dictionary zone, never recursing and never touching a real DNS server.
Every address in :data:`ZONE` is a loopback address (127.0.0.0/8, plus ``::1`` for one
IPv6 test name), so a test that connects where the zone points stays on this machine:

- ``corp.example``: one MX, ``mx1.corp.example`` -> 127.0.0.1 (where the test SMTP
  servers listen); the domain's own A record, 127.0.0.3, has no mail server behind it, so
  a client that skipped the MX lookup fails.
- ``two-mx.example``: MX 10 ``down.two-mx.example`` -> 127.0.0.2 (nothing listens there:
  connections are refused) and MX 20 ``up.two-mx.example`` -> 127.0.0.1.
- ``a-only.example``: an A record (127.0.0.1) and no MX (NODATA for MX).
- ``alias.example``: a CNAME to ``corp.example``.
- ``alias2.example``: a CNAME to ``alias.example`` (two hops).
- ``nullmx.example``: a null MX (RFC 7505: ``0 .``): the domain accepts no mail.
- ``equal.example``: two MX of equal preference (``a.equal.example`` -> 127.0.0.4,
  ``b.equal.example`` -> 127.0.0.5).
- ``dual.example``: A 127.0.0.1 and AAAA ::1, no MX.
- ``ghost-mx.example``: one MX whose exchanger does not exist.
- ``servfail.example``: every query is answered SERVFAIL.
- ``missing.example`` (and any name not in the zone): NXDOMAIN.

``server.silent = True`` makes it read queries and never answer; ``server.queries`` lists
every ``(name, type)`` asked, for tests that check what was (not) looked up.
"""

from __future__ import annotations

import socketserver
import threading
from typing import Dict, List, Optional, Set, Tuple, Union

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, SOA, TXT, A, DNSLabel, DNSRecord

Value = Union[str, Tuple[int, str]]
Record = Tuple[str, Value]  # ("A", "127.0.0.1"), ("MX", (10, "mx.example")), ...
Zone = Dict[str, List[Record]]

ZONE: Zone = {
    "corp.example": [("MX", (10, "mx1.corp.example")), ("A", "127.0.0.3")],
    "mx1.corp.example": [("A", "127.0.0.1")],
    "two-mx.example": [("MX", (20, "up.two-mx.example")), ("MX", (10, "down.two-mx.example"))],
    "down.two-mx.example": [("A", "127.0.0.2")],
    "up.two-mx.example": [("A", "127.0.0.1")],
    "a-only.example": [("A", "127.0.0.1")],
    "alias.example": [("CNAME", "corp.example")],
    "alias2.example": [("CNAME", "alias.example")],
    "nullmx.example": [("MX", (0, "."))],
    "equal.example": [("MX", (10, "a.equal.example")), ("MX", (10, "b.equal.example"))],
    "a.equal.example": [("A", "127.0.0.4")],
    "b.equal.example": [("A", "127.0.0.5")],
    "dual.example": [("AAAA", "::1"), ("A", "127.0.0.1")],
    "ghost-mx.example": [("MX", (10, "ghost.ghost-mx.example"))],
}

SERVFAIL: Set[str] = {"servfail.example"}
NEGATIVE_TTL = 60  # the SOA minimum: how long NXDOMAIN / NODATA may be cached


def _name(text: str) -> str:
    return text.lower().rstrip(".")


def _rdata(rtype: str, value: Value) -> object:
    if rtype == "MX":
        assert isinstance(value, tuple)
        return MX(value[1] if value[1] != "." else ".", value[0])
    assert isinstance(value, str)
    return {"A": A, "AAAA": AAAA, "CNAME": CNAME, "TXT": TXT}[rtype](value)


class DnsServer:
    """Serve ``zone`` over UDP on ``127.0.0.1`` (a free port) until :meth:`stop`.

    ``chase_cnames``: when true (as an authoritative server for the whole zone), the
    answer to a query for a CNAME name also carries the target's records; when false, only
    the CNAME, so the client must ask again.  ``ttl`` is every record's TTL (0: do not
    cache); ``ttls`` overrides it per name.
    """

    def __init__(
        self,
        zone: Optional[Zone] = None,
        *,
        chase_cnames: bool = True,
        ttl: int = 300,
        ttls: Optional[Dict[str, int]] = None,
    ) -> None:
        self.zone: Zone = {_name(k): list(v) for k, v in (zone or ZONE).items()}
        self.chase_cnames = chase_cnames
        self.ttl = ttl
        self.ttls = {_name(k): v for k, v in (ttls or {}).items()}
        self.silent = False
        self.queries: List[Tuple[str, str]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = outer.answer(data)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        self._server = socketserver.UDPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def nameserver(self) -> str:
        """This server as a ``post_office.dns_nameservers`` entry: ``"127.0.0.1:port"``."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> DnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def names_asked(self) -> List[str]:
        with self._lock:
            return [name for name, _ in self.queries]

    # ------------------------------------------------------------------ answering

    def answer(self, data: bytes) -> Optional[bytes]:
        try:
            request = DNSRecord.parse(data)
        except Exception:  # not DNS: drop it, as a server would
            return None
        qname = _name(str(request.q.qname))
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append((qname, qtype))
        if self.silent:
            return None
        reply = request.reply()
        if qname in SERVFAIL:
            reply.header.rcode = RCODE.SERVFAIL
            return bytes(reply.pack())
        name: Optional[str] = qname
        seen = 0
        while name is not None and seen < 8:
            seen += 1
            records = self.zone.get(name)
            if records is None:
                if name == qname:
                    reply.header.rcode = RCODE.NXDOMAIN
                    self._add_soa(reply)
                return bytes(reply.pack())
            cname = [value for rtype, value in records if rtype == "CNAME"]
            if cname and qtype != "CNAME":
                target = _name(str(cname[0]))
                reply.add_answer(self._rr(name, "CNAME", target))
                name = target if self.chase_cnames else None
                continue
            matching = [(rtype, value) for rtype, value in records if rtype == qtype]
            for rtype, value in matching:
                reply.add_answer(self._rr(name, rtype, value))
            if not matching:
                self._add_soa(reply)
            name = None
        return bytes(reply.pack())

    def _rr(self, name: str, rtype: str, value: Value) -> RR:
        ttl = self.ttls.get(name, self.ttl)
        return RR(name, getattr(QTYPE, rtype), rdata=_rdata(rtype, value), ttl=ttl)

    def _add_soa(self, reply: DNSRecord) -> None:
        soa = SOA(
            DNSLabel("ns.example"),
            DNSLabel("hostmaster.example"),
            (1, 3600, 600, 86400, NEGATIVE_TTL),
        )
        reply.add_auth(RR("example", QTYPE.SOA, rdata=soa, ttl=NEGATIVE_TTL))
