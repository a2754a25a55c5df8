"""Where to connect: the addresses to try for a mail server, in order (RFC 5321 5.1).

Pure.  :func:`literal_targets` answers without DNS for what needs none (an IP address,
``localhost``), so that sending to those never loads the resolver;
:mod:`post_office.client.resolve` makes the rest from MX and address records.
"""

from __future__ import annotations

import functools
import ipaddress

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import List, Optional

if TYPE_CHECKING:  # typing's class for type checkers; ours at run time (no ForwardRefs)
    from typing import NamedTuple
else:
    from .._record import NamedTuple

__all__ = ["Target", "ip_literal", "literal_targets"]


class Target(NamedTuple):
    """One address to try: ``name`` is what the TLS certificate is checked against (the
    exchanger's name, or the name itself); ``preference`` the MX preference (None: no MX)."""

    name: str
    address: str
    preference: Optional[int] = None

    def __repr__(self) -> str:
        return f"Target({self.name!r}, {self.address!r}, preference={self.preference!r})"


@functools.lru_cache(maxsize=64)
def ip_literal(host: str) -> Optional[str]:
    """``host`` as an IP address text (``[...]`` and RFC 5321's ``IPv6:`` allowed), or None.
    Kept per host: a program sending many messages names the same server each time."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
        if text[:5].lower() == "ipv6:":  # RFC 5321 address literal
            text = text[5:]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def literal_targets(host: str) -> Optional[List[Target]]:
    """The targets of an IP address or ``localhost``, which need no DNS; None otherwise."""
    literal = ip_literal(host)
    if literal is not None:
        return [Target(literal, literal)]
    if host.strip().rstrip(".").lower() == "localhost":
        return [Target("localhost", "127.0.0.1"), Target("localhost", "::1")]
    return None
