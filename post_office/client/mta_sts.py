"""MTA-STS (RFC 8461) for delivery through an MX answer (README "MTA-STS").

Imported only when a delivery without credentials is about to follow an MX answer and
``post_office.mta_sts`` is not ``"off"``: ``import post_office`` never loads it.  A domain's
policy is found by its ``_mta-sts.<domain>`` TXT record (section 3.1), fetched from
``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (section 3.3: certificate verified, no
redirects, at most 64 KB, bounded in time), parsed (section 3.2) and cached in memory for
its ``max_age`` (section 5.1).  Under ``mode: enforce`` only exchangers matching the
policy's ``mx`` patterns are used (section 4.1) and STARTTLS with a certificate verified
for the exchanger's name is required (section 4.2); ``mode: testing`` delivers and warns.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

from .. import specials
from ..errors import ConnectError, OptionError
from ..warn import warn
from .dnsquery import BadName, Dns, DnsFailure, DnsTimeout

if TYPE_CHECKING:
    from ..spec.tls import TlsSettings
    from .session import Session

__all__ = [
    "MODES",
    "Policy",
    "PolicyError",
    "apply_policy",
    "check_mode",
    "clear_cache",
    "filter_exchangers",
    "mx_matches",
    "parse_policy",
    "parse_txt",
]

MODES = ("auto", "off", "require")
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 section 3.3: "policy bodies ... no larger than 64 KB"
MAX_AGE_LIMIT = 31557600  # RFC 8461 section 3.2: at most one year
_ID = re.compile(r"[A-Za-z0-9]{1,32}\Z")
Note = Callable[[str], None]


class PolicyError(ValueError):
    """A policy text or TXT record that does not follow RFC 8461 (treated as no policy)."""


@dataclass(frozen=True)
class Policy:
    """One domain's MTA-STS policy, as fetched (RFC 8461 section 3.2)."""

    domain: str
    id: str
    mode: str  # "enforce", "testing" or "none"
    mx: Tuple[str, ...]
    max_age: int
    expires: float = 0.0  # on the monotonic clock

    def describe(self) -> str:
        """One line for the transcript and ``check``."""
        patterns = ", ".join(self.mx) or "no mx"
        return (
            f"MTA-STS policy of {self.domain} (id {self.id}): mode {self.mode}; "
            f"mx {patterns}; max_age {self.max_age}"
        )

    def allows(self, host: str) -> bool:
        return any(mx_matches(pattern, host) for pattern in self.mx)


def check_mode(value: object, *, what: str = "post_office.mta_sts") -> str:
    """``"auto"``, ``"off"`` or ``"require"`` (README "MTA-STS")."""
    if isinstance(value, str) and value.lower() in MODES:
        return value.lower()
    shown = str.__repr__(value) if isinstance(value, str) else f"a {type(value).__name__}"
    raise OptionError(
        f"{what} is {shown}; expected 'auto' (apply a domain's MTA-STS policy where one is "
        "published), 'off' or 'require' (deliver only under a policy)"
    )


def _settings() -> Tuple[Optional[ssl.SSLContext], int]:
    context = specials.value("mta_sts_context")
    if context is not None and not isinstance(context, ssl.SSLContext):
        raise OptionError(
            f"post_office.mta_sts_context is a {type(context).__name__}; expected None "
            "(the system's trust store) or an ssl.SSLContext"
        )
    port = specials.value("mta_sts_port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        shown = str(int.__repr__(port)) if isinstance(port, int) else f"a {type(port).__name__}"
        raise OptionError(f"post_office.mta_sts_port is {shown}; expected a port, 1-65535")
    return context, int(port)


# --------------------------------------------------------------------------- parsing


def parse_txt(texts: Sequence[str]) -> Optional[str]:
    """The policy id of the ``_mta-sts`` TXT records, or None (RFC 8461 section 3.1):
    records not starting ``v=STSv1`` are ignored; several that do mean no policy."""
    records = [t for t in texts if t.startswith("v=STSv1;") or t == "v=STSv1"]
    if len(records) != 1:
        return None
    fields: Dict[str, str] = {}
    for item in records[0].split(";")[1:]:
        key, sep, value = item.strip().partition("=")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    found = fields.get("id", "")
    return found if _ID.match(found) else None


def parse_policy(text: str) -> Tuple[str, Tuple[str, ...], int]:
    """``(mode, mx patterns, max_age)`` of a policy body (RFC 8461 section 3.2).

    Lines are ``key: value``, ended by CRLF (a bare LF is accepted, as section 3.2 asks of
    senders); unknown keys are ignored.  Raises :class:`PolicyError` when ``version`` is
    not ``STSv1``, ``mode`` or ``max_age`` is missing or invalid, or an enforcing or
    testing policy lists no ``mx``.
    """
    fields: Dict[str, str] = {}
    mx: List[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PolicyError(f"a line without ':' ({line[:40]!r})")
        key, value = key.strip(), value.strip()
        if key == "mx":
            mx.append(value.lower().rstrip("."))
        else:
            fields.setdefault(key, value)
    if fields.get("version") != "STSv1":
        raise PolicyError("version is not STSv1")
    mode = fields.get("mode", "")
    if mode not in ("enforce", "testing", "none"):
        raise PolicyError(f"mode {mode[:20]!r} is not enforce, testing or none")
    age = fields.get("max_age", "")
    if not age.isdigit() or len(age) > 10 or int(age) > MAX_AGE_LIMIT:
        raise PolicyError(f"max_age {age[:20]!r} is not 0-{MAX_AGE_LIMIT} seconds")
    if mode != "none" and not mx:
        raise PolicyError(f"mode {mode} with no mx")
    return mode, tuple(mx), int(age)


def mx_matches(pattern: str, host: str) -> bool:
    """Whether an ``mx`` pattern covers the exchanger ``host`` (RFC 8461 section 4.1): a
    leading ``*.`` stands for exactly one label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return pattern == host


# --------------------------------------------------------------------------- fetching


def _fetch(domain: str, lookup: Dns, deadline: float) -> str:
    """The policy body from ``https://mta-sts.<domain>/.well-known/mta-sts.txt``."""
    import http.client  # only when a policy is fetched

    context, port = _settings()
    if context is None:
        context = ssl.create_default_context()
    host = f"mta-sts.{domain}"
    _, addresses = lookup.addresses(host, system=lookup.servers is None)
    if not addresses:
        raise PolicyError(f"{host} has no address")
    remaining = max(0.01, deadline - time.monotonic())
    raw = socket.create_connection((addresses[0], port), timeout=remaining)
    try:
        sock = context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
    https = http.client.HTTPSConnection(host, port, context=context, timeout=remaining)
    https.sock = sock  # connected to the address DNS gave, verified for the name
    try:
        https.request("GET", "/.well-known/mta-sts.txt", headers={"Connection": "close"})
        response = https.getresponse()
        if response.status != 200:  # redirects are not followed (section 3.3)
            raise PolicyError(f"{host} answered HTTP {response.status}")
        kind = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "text/plain":
            raise PolicyError(f"{host} sent {kind or 'no content type'}, not text/plain")
        body = b""
        while len(body) <= MAX_POLICY_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PolicyError(f"{host} did not send the policy in time")
            sock.settimeout(left)
            chunk = response.read1(8192)
            if not chunk:
                break
            body += chunk
        if len(body) > MAX_POLICY_BYTES:
            raise PolicyError(f"{host} sent a policy over {MAX_POLICY_BYTES} bytes")
        return body.decode("utf-8")
    finally:
        https.close()


# --------------------------------------------------------------------------- the cache

_cache: Dict[str, Policy] = {}
_clock: Callable[[], float] = time.monotonic


def clear_cache() -> None:
    """Forget every cached policy."""
    _cache.clear()


def cached(domain: str) -> Optional[Policy]:
    """The cached, unexpired policy of ``domain`` (no I/O)."""
    policy = _cache.get(domain.lower().rstrip("."))
    return policy if policy is not None and policy.expires > _clock() else None


def policy_for(domain: str, *, timeout: float, note: Note) -> Optional[Policy]:
    """The policy in force for ``domain`` (RFC 8461 section 5.1), fetched when its TXT id
    differs from the cached one or the cached one expired; a failed fetch keeps an
    unexpired cached policy."""
    key = domain.lower().rstrip(".")
    deadline = time.monotonic() + timeout
    lookup = Dns(specials_nameservers(), timeout)
    current = cached(key)
    try:
        answer = lookup.query(f"_mta-sts.{key}", "TXT")
        found = parse_txt(answer.texts) if answer.status == "ok" else None
    except (DnsTimeout, DnsFailure, BadName) as exc:
        note(f"{key}: MTA-STS TXT lookup failed ({type(exc).__name__})")
        found = None
    if found is None or (current is not None and current.id == found):
        if current is not None:
            note(f"{key}: MTA-STS policy from the cache")
        return current
    try:
        mode, mx, age = parse_policy(_fetch(key, lookup, deadline))
    except (PolicyError, OSError, UnicodeDecodeError, DnsTimeout, DnsFailure) as exc:
        why = str(exc) or type(exc).__name__
        note(f"{key}: MTA-STS policy id {found} could not be fetched ({why})")
        return current
    policy = Policy(key, found, mode, mx, age, _clock() + age)
    _cache[key] = policy
    return policy


def specials_nameservers() -> Optional[Tuple[Tuple[str, int], ...]]:
    from .resolve import check_dns_nameservers

    return check_dns_nameservers(specials.value("dns_nameservers"))


# --------------------------------------------------------------------------- delivery


def apply_policy(session: Session) -> Optional[Policy]:
    """Before opening an MX delivery: find the domain's policy and, under ``enforce``,
    require STARTTLS with the certificate verified for the exchanger's name.

    Raises :class:`~post_office.errors.ConnectError` when ``post_office.mta_sts`` is
    ``"require"`` and the domain publishes no usable policy (nothing is sent)."""
    mode = session.server.mta_sts or check_mode(specials.value("mta_sts"))
    if mode == "off":
        return None
    server = session.server
    policy = policy_for(server.host, timeout=session.options.timeout, note=session.transcript.note)
    if policy is None or policy.mode == "none":
        if mode == "require":
            who = (
                "the spec says :mta-sts :require"
                if server.mta_sts
                else "post_office.mta_sts is 'require'"
            )
            raise ConnectError(
                f"{who} and {server.host} has no MTA-STS policy in force (RFC 8461): nothing "
                "was sent"
            )
        return policy
    session.transcript.note(policy.describe())
    if policy.mode == "enforce":
        tls = dataclasses.replace(server.tls, server_name=None)
        # Implicit TLS (:ssl) is TLS already; otherwise STARTTLS must succeed.
        starttls = server.starttls if server.ssl else "required"
        session.require_verified_tls(
            dataclasses.replace(server, starttls=starttls, tls=tls), _enforcing_context(tls)
        )
    return policy


def _enforcing_context(tls: TlsSettings) -> ssl.SSLContext:
    """The user's TLS settings, but always verifying the certificate and its name."""
    from ..spec.tls import make_ssl_context

    given = tls.context
    if given is not None and given.verify_mode == ssl.CERT_REQUIRED and given.check_hostname:
        return given
    return make_ssl_context(dataclasses.replace(tls, verify="required", context=None))


def filter_exchangers(
    name: str, exchangers: List[Tuple[int, str]], say: Note
) -> List[Tuple[int, str]]:
    """The exchangers the cached policy of ``name`` allows (RFC 8461 section 4.1)."""
    if check_mode(specials.value("mta_sts")) == "off":
        return exchangers
    policy = cached(name)
    if policy is None or policy.mode == "none":
        return exchangers
    allowed = [(pref, host) for pref, host in exchangers if policy.allows(host)]
    refused = [host for _, host in exchangers if not policy.allows(host)]
    if refused and policy.mode == "testing":
        warn(f"{policy.describe()}: would refuse the exchanger(s) {', '.join(refused)}")
        return exchangers
    if refused:
        say(f"{name} MX: not in the MTA-STS policy: {', '.join(refused)}")
    if not allowed:
        raise ConnectError(
            f"{policy.describe()}: no mail exchanger of {name} matches the policy "
            f"({', '.join(refused)} refused); nothing was sent"
        )
    return allowed
