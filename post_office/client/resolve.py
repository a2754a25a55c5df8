"""Which addresses to connect to for a mail-server name: MX first, as Allegro (README "DNS").

Allegro's ``send-smtp`` asks DNS for the name's MX records when ``socket:*dns-mode*``
includes ``:acldns`` (its default is ``(:acldns :clib)``) and connects to the mail
exchanger; post_office mirrors that with ``post_office.dns_mode`` and
``post_office.dns_nameservers`` (Allegro's ``socket:*dns-nameserver*``).  The order of the
exchangers follows RFC 5321 section 5.1; when no exchanger has an address, or the MX
question fails, the name's own addresses are used, as Allegro does; a null MX (RFC 7505)
means the domain accepts no mail.

Two rules are ours (README "DNS"): a connection that will carry credentials never follows
an MX answer (``follow_mx=False``: the certificate must be checked against a name the user
configured, never one that came from DNS, RFC 7817 section 3), and at most
``post_office.mx_address_limit`` addresses are returned, however many DNS lists.

The DNS questions themselves (dnspython, imported on first use, and the TTL cache) are in
:mod:`post_office.client.dnsquery`.
"""

from __future__ import annotations

import enum
import ipaddress
import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union

from .. import specials
from .._checks import check_timeout
from ..errors import AddressTypeError, ConnectError, OptionError
from ..specials import DEFAULT_DNS_MODE, DEFAULT_MX_ADDRESS_LIMIT
from .dnsquery import (
    BadName,
    Dns,
    DnsFailure,
    DnsTimeout,
    Nameservers,
    clear_cache,
    server_text,
)
from .targets import Target, literal_targets

__all__ = [
    "DEFAULT_DNS_MODE",
    "DEFAULT_MX_ADDRESS_LIMIT",
    "FROM_PACKAGE",
    "DnsSettings",
    "Target",
    "check_dns_mode",
    "check_dns_nameservers",
    "check_mx_address_limit",
    "clear_cache",
    "current_settings",
    "resolve_mail_server",
    "valid_email_domain_p",
]

_MODES = (":acldns", ":clib")
_CANT = "Can't determine ip address for mail server"  # Allegro's phrase
Note = Callable[[str], None]


# --------------------------------------------------------------------------- settings


def _show(value: object) -> str:
    """A value for an error message, never calling a user-defined ``__repr__``."""
    if isinstance(value, str):
        return str.__repr__(value)
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        inner = ", ".join(str.__repr__(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return f"a {type(value).__name__}"


def check_dns_mode(value: object, *, what: str = "post_office.dns_mode") -> Tuple[str, ...]:
    """``":acldns"``, ``":clib"`` or a sequence of them -> a tuple of lower-case keywords."""
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (tuple, list)) and items and all(isinstance(v, str) for v in items):
        modes = tuple(dict.fromkeys(str(v).lower() for v in items))
        if all(m in _MODES for m in modes):
            return modes
    raise OptionError(
        f"{what} is {_show(value)}; expected ':acldns' (MX first, by DNS), ':clib' (the "
        "name's own address, no MX lookup) or a tuple of them, such as the default "
        "(':acldns', ':clib')"
    )


def _nameserver(text: str) -> Optional[Tuple[str, int]]:
    host, port = text.strip(), "53"
    if host.startswith("[") and "]" in host:  # "[2001:db8::1]:5353"
        host, _, rest = host[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif host.count(":") == 1:  # "192.0.2.1:5353"
        host, _, port = host.partition(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return address, int(port)


def check_dns_nameservers(
    value: object, *, what: str = "post_office.dns_nameservers"
) -> Optional[Nameservers]:
    """``None``, or a (list of) ``"address"`` / ``"address:port"`` -> ``((address, port), ...)``."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (tuple, list)) and items and all(isinstance(v, str) for v in items):
        parsed = [_nameserver(str(v)) for v in items]
        servers = tuple(p for p in parsed if p is not None)
        if len(servers) == len(parsed):
            return servers
    raise OptionError(
        f"{what} is {_show(value)}; expected None (the system's resolver configuration) or "
        "a list of IP addresses of DNS servers, each optionally with a port: "
        "['192.0.2.53', '127.0.0.1:5353', '[2001:db8::53]:53']"
    )


def check_mx_address_limit(value: object, *, what: str = "post_office.mx_address_limit") -> int:
    """A positive integer: how many addresses of a mail-server name may be tried."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return int(value)
    shown = str(int.__repr__(value)) if isinstance(value, int) else _show(value)
    raise OptionError(
        f"{what} is {shown}; expected a positive integer: how many addresses of one "
        f"mail-server name to try at most (default {DEFAULT_MX_ADDRESS_LIMIT})"
    )


@dataclass(frozen=True)
class DnsSettings:
    """``post_office.dns_mode``, ``dns_nameservers`` and ``mx_address_limit``, checked."""

    mode: Tuple[str, ...] = DEFAULT_DNS_MODE
    nameservers: Optional[Nameservers] = None
    address_limit: int = DEFAULT_MX_ADDRESS_LIMIT

    @property
    def mx_first(self) -> bool:
        return ":acldns" in self.mode

    def describe(self) -> str:
        """One line for ``post-office parse`` / ``check``."""
        mode = " ".join(self.mode)
        how = "MX first" if self.mx_first else "the name's own address, no MX lookup"
        if self.nameservers is None:
            servers = "the system's resolver"
        else:
            servers = ", ".join(server_text(s) for s in self.nameservers)
        limit = ""
        if self.address_limit != DEFAULT_MX_ADDRESS_LIMIT:
            limit = f"; at most {self.address_limit} addresses"
        return f"dns_mode ({mode}): {how}; nameservers: {servers}{limit}"


class _Settings(enum.Enum):
    FROM_PACKAGE = "the post_office.dns_* setting"


FROM_PACKAGE = _Settings.FROM_PACKAGE  # the default: read the package's setting at the call


def current_settings() -> DnsSettings:
    """The settings in force now: ``post_office.dns_mode``, ``dns_nameservers`` and
    ``mx_address_limit``, checked.

    Read at each call (as Allegro reads its special variables); absent attributes take the
    defaults.  Raises :class:`~post_office.errors.OptionError` for a malformed value.
    """
    return DnsSettings(
        check_dns_mode(specials.value("dns_mode")),
        check_dns_nameservers(specials.value("dns_nameservers")),
        check_mx_address_limit(specials.value("mx_address_limit")),
    )


# --------------------------------------------------------------------------- mail servers


def resolve_mail_server(
    host: str,
    *,
    mode: Union[str, Sequence[str], _Settings] = FROM_PACKAGE,
    nameservers: Union[str, Sequence[str], _Settings, None] = FROM_PACKAGE,
    address_limit: Union[int, _Settings] = FROM_PACKAGE,
    follow_mx: bool = True,
    timeout: float,
    note: Optional[Note] = None,
) -> List[Target]:
    """The addresses to try, in order, for the mail-server name ``host`` (README "DNS").

    IP addresses and ``localhost`` make no DNS query.  With ``":acldns"`` in ``mode`` and
    ``follow_mx``, the MX exchangers in preference order (equal preferences shuffled, RFC
    5321 section 5.1), each exchanger's addresses in turn; a name without MX records
    (NODATA) stands for itself, and so does a name whose exchangers have no address or
    whose MX question failed (as Allegro).  Otherwise the name's own addresses:
    ``follow_mx=False`` is for a connection that will carry credentials, which must go
    to the name the user wrote (RFC 7817 section 3).  ``nameservers`` (``"address[:port]"``
    strings) receive every question; without them MX questions follow the system's DNS
    configuration and, when ``":clib"`` is in ``mode``, addresses come from the system's
    resolver.  At most ``address_limit`` targets are returned, and no more exchangers are
    looked up once there are that many.  ``mode``, ``nameservers`` and ``address_limit``
    default to ``post_office.dns_mode``, ``dns_nameservers`` and ``mx_address_limit``,
    read at the call.  All of it finishes within ``timeout`` seconds.  ``note`` receives
    one line per step of the resolution (for the transcript).

    Raises :class:`~post_office.errors.ConnectError` when no address can be had (Allegro's
    message "Can't determine ip address for mail server ..."), the domain has a null MX
    (RFC 7505), or DNS did not answer in time.
    """
    if isinstance(mode, _Settings):
        modes = check_dns_mode(specials.value("dns_mode"))
    else:
        modes = check_dns_mode(mode, what="mode")
    if isinstance(nameservers, _Settings):
        servers = check_dns_nameservers(specials.value("dns_nameservers"))
    else:
        servers = check_dns_nameservers(nameservers, what="nameservers")
    if isinstance(address_limit, _Settings):
        limit = check_mx_address_limit(specials.value("mx_address_limit"))
    else:
        limit = check_mx_address_limit(address_limit, what="address_limit")
    seconds = check_timeout(timeout)
    say: Note = note if note is not None else (lambda _line: None)
    literal = literal_targets(host)
    if literal is not None:
        return literal[:limit]
    name = host.strip().rstrip(".")
    lookup = Dns(servers, seconds)
    system = servers is None and ":clib" in modes
    try:
        if ":acldns" in modes and follow_mx:
            targets = _by_mx(lookup, name, system=system, say=say, limit=limit)
        else:
            if ":acldns" in modes:
                say(f"{name}: no MX lookup, credentials go to the name as written")
            targets = _own_addresses(lookup, name, system=system, say=say, why="")
    except DnsTimeout:
        where = "" if servers is None else " (asking " + ", ".join(map(server_text, servers)) + ")"
        raise ConnectError(
            f"{_CANT} {name}: DNS gave no answer within {seconds:g} seconds{where}"
        ) from None
    except DnsFailure as exc:
        raise ConnectError(f"{_CANT} {name}: DNS lookup failed: {exc}") from None
    except BadName as exc:
        raise ConnectError(f"{_CANT} {name}: not a domain name ({exc})") from None
    if len(targets) > limit:
        say(
            f"{name}: {len(targets) - limit} more address(es) not tried "
            f"(post_office.mx_address_limit is {limit})"
        )
    return targets[:limit]


def _own_addresses(lookup: Dns, name: str, *, system: bool, say: Note, why: str) -> List[Target]:
    status, addresses = lookup.addresses(name, system=system)
    if not addresses:
        reason = "the name does not exist" if status == "nxdomain" else "it has no address"
        raise ConnectError(f"{_CANT} {name}: {why}{reason}")
    say(f"{name}{' (no MX)' if why else ''} -> {', '.join(addresses)}")
    return [Target(name, address) for address in addresses]


def _by_mx(lookup: Dns, name: str, *, system: bool, say: Note, limit: int) -> List[Target]:
    try:
        answer = lookup.query(name, "MX")
    except DnsFailure as exc:
        # Allegro (smtp.cl, determine-mail-server) takes the name's own address when
        # the MX query gives nothing; a failed MX question is no reason not to deliver.
        say(f"{name} MX: DNS lookup failed ({exc}); using the name's own address")
        return _own_addresses(lookup, name, system=system, say=say, why="")
    if answer.canonical.lower() != name.lower():
        say(f"{name} is an alias (CNAME) of {answer.canonical}")
    if answer.status == "nxdomain" and system:  # the hosts file may still know it
        return _own_addresses(lookup, name, system=True, say=say, why="no such domain in DNS; ")
    if answer.status == "nxdomain":
        raise ConnectError(f"{_CANT} {name}: the name does not exist (DNS: NXDOMAIN)")
    exchangers = [(pref, host) for pref, host in answer.mx if host not in ("", ".")]
    if answer.mx and not exchangers:
        raise ConnectError(
            f"the domain {name} accepts no mail: its MX record is the null MX '0 .' (RFC 7505)"
        )
    if not exchangers:
        return _own_addresses(lookup, name, system=system, say=say, why="no MX record; ")
    if specials.value("mta_sts") != "off":
        from .mta_sts import filter_exchangers  # RFC 8461 section 4.1 (README "MTA-STS")

        exchangers = filter_exchangers(name, exchangers, say)
    targets = _exchanger_targets(lookup, name, exchangers, system=system, say=say, limit=limit)
    if targets:
        return targets
    # As Allegro (smtp.cl, determine-mail-server): no exchanger has an address, so the
    # name's own address is tried.
    hosts = ", ".join(host for _, host in exchangers)
    _, addresses = lookup.addresses(name, system=system)
    if not addresses:
        raise ConnectError(
            f"{_CANT} {name}: its mail exchangers ({hosts}) have no address, "
            "and neither has the name itself"
        )
    say(f"{name}: no mail exchanger has an address; the name's own: {', '.join(addresses)}")
    return [Target(name, address) for address in addresses]


def _exchanger_targets(
    lookup: Dns,
    name: str,
    exchangers: Sequence[Tuple[int, str]],
    *,
    system: bool,
    say: Note,
    limit: int,
) -> List[Target]:
    """The exchangers' addresses in preference order, until there are ``limit`` of them:
    an answer listing thousands of exchangers costs a few questions, not thousands."""
    targets: List[Target] = []
    timed_out = False
    ordered = _mx_order(exchangers)
    for number, (pref, host) in enumerate(ordered):
        if len(targets) >= limit:
            say(f"{name} MX: {len(ordered) - number} more exchanger(s) not looked up")
            break
        try:
            status, addresses = lookup.addresses(host, system=system)
        except (DnsTimeout, DnsFailure) as exc:
            timed_out = timed_out or isinstance(exc, DnsTimeout)
            say(f"{name} MX: {host} ({pref}) -> no answer from DNS")
            continue  # a later exchanger's address may be in the cache
        shown = ", ".join(addresses) if addresses else f"no address ({status})"
        say(f"{name} MX: {host} ({pref}) -> {shown}")
        targets.extend(Target(host, address, pref) for address in addresses)
    if not targets and timed_out:
        raise DnsTimeout()  # the call's DNS time is spent: no fallback can be asked
    return targets


_shuffle = random.Random().shuffle


def _mx_order(exchangers: Sequence[Tuple[int, str]]) -> List[Tuple[int, str]]:
    """Lowest preference first; equal preferences in random order (RFC 5321 section 5.1)."""
    groups: Dict[int, List[Tuple[int, str]]] = {}
    for item in exchangers:
        groups.setdefault(item[0], []).append(item)
    ordered: List[Tuple[int, str]] = []
    for pref in sorted(groups):
        group = list(dict.fromkeys(groups[pref]))
        _shuffle(group)
        ordered.extend(group)
    return ordered


# --------------------------------------------------------------------------- net.mail


def valid_email_domain_p(
    domain: str,
    *,
    timeout: float = 30.0,
    nameservers: Union[str, Sequence[str], _Settings, None] = FROM_PACKAGE,
) -> Optional[Union[Literal[True], Literal[":unknown"]]]:
    """Allegro's ``net.mail:valid-email-domain-p``: can mail for ``domain`` be delivered?

    ``True``: the domain has an MX record (not a null MX, RFC 7505), or failing that an
    address (A, then AAAA).  ``None``: neither, the domain does not exist, or it has a null
    MX.  ``":unknown"``: DNS gave no answer (timeout, server failure).  One alias (CNAME)
    is followed, as Allegro does; a second counts as no record.  Asks
    ``post_office.dns_nameservers`` (or ``nameservers``), whatever ``dns_mode`` says.
    """
    if not isinstance(domain, str):
        raise AddressTypeError(f"the domain must be a string, not {_show(domain)}")
    if isinstance(nameservers, _Settings):
        servers = current_settings().nameservers
    else:
        servers = check_dns_nameservers(nameservers, what="nameservers")
    lookup = Dns(servers, check_timeout(timeout))
    for rdtype in ("MX", "A", "AAAA"):
        try:
            answer = lookup.query(domain, rdtype, max_cnames=1)
        except (DnsTimeout, DnsFailure):
            return ":unknown"
        except BadName:
            return None
        if answer.status == "nxdomain":
            return None
        if answer.status == "ok":
            if rdtype == "MX" and all(host in ("", ".") for _, host in answer.mx):
                return None  # a null MX: the domain says it accepts no mail
            return True
    return None
