"""The package's specials, Allegro's global variables, held and read in one place.

``post_office.smtp_debug`` (Allegro's ``*smtp-debug*``), ``post_office.dns_mode``
(``socket:*dns-mode*``), ``post_office.dns_nameservers`` (``socket:*dns-nameserver*``) and
``post_office.mx_address_limit`` (Python only; Postfix's ``smtp_mx_address_limit``) and
``post_office.mta_sts``, ``mta_sts_context``, ``mta_sts_port`` (Python only: README
"MTA-STS") are
attributes of the package for the user, as in Allegro, and live here: the package routes
reading and assigning them to :func:`value` and :func:`assign` (README "API: Allegro ->
Python"), so no module ever reads the package root.  Values are checked where they are used
(at call time, as Allegro reads its specials), never when assigned.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: `import post_office` does not load typing
if TYPE_CHECKING:
    from typing import Dict, Tuple

__all__ = ["DEFAULT_DNS_MODE", "DEFAULT_MX_ADDRESS_LIMIT", "NAMES", "assign", "reset", "value"]

#: ``(":acldns", ":clib")``: MX records first, then the name's own address (README "DNS").
DEFAULT_DNS_MODE: Tuple[str, ...] = (":acldns", ":clib")
#: As Postfix's ``smtp_mx_address_limit``: addresses tried at most for one mail-server name.
DEFAULT_MX_ADDRESS_LIMIT = 5

_DEFAULTS: Dict[str, object] = {
    "smtp_debug": None,
    "dns_mode": DEFAULT_DNS_MODE,
    "dns_nameservers": None,
    "mx_address_limit": DEFAULT_MX_ADDRESS_LIMIT,
    # MTA-STS (RFC 8461) for delivery through an MX answer: "auto", "off" or "require";
    # the context fetching policies (None: the system's trust store) and its port.
    "mta_sts": "auto",
    "mta_sts_context": None,
    "mta_sts_port": 443,
}
_values = dict(_DEFAULTS)
#: The names of the specials, in README order.
NAMES: Tuple[str, ...] = tuple(_values)


def value(name: str) -> object:
    """The special ``post_office.<name>`` now (unchecked: each reader checks it)."""
    return _values[name]


def assign(name: str, new: object) -> None:
    """``post_office.<name> = new``: kept as given, checked when next used."""
    _values[name] = new


def reset(name: str) -> None:
    """``del post_office.<name>``: back to the default."""
    _values[name] = _DEFAULTS[name]
