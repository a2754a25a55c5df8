"""EHLO replies as a typed set of extensions (RFC 5321 section 4.1.1.1).

The first line of a 250 reply to EHLO is the server's greeting; every further line is an
extension keyword with optional parameters.  Keywords are case-insensitive; AUTH may also
be advertised in the obsolete ``AUTH=`` form some servers still send.
"""

from __future__ import annotations

import functools
import re

from .replies import Reply

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Dict, FrozenSet, Optional, Tuple

__all__ = ["NO_EXTENSIONS", "Extensions", "parse_ehlo"]

_SIZE = re.compile(r"[0-9]{1,20}")  # ASCII digits only, and no int-to-str limit to hit
_KEYWORD = re.compile(r"([A-Za-z0-9][A-Za-z0-9\-]*)(?:[ =](.*))?\Z")


class Extensions:
    """What a server offers after EHLO: ``"PIPELINING" in extensions`` and friends."""

    __slots__ = ("eightbitmime", "lines", "names", "params", "pipelining", "smtputf8")

    def __init__(self, lines: Tuple[str, ...] = ()) -> None:
        #: the extension lines as the server sent them (after the greeting line)
        self.lines = lines
        params: Dict[str, str] = {}
        for line in lines:
            match = _KEYWORD.match(line.strip())
            if match is None:
                continue
            name = match.group(1).upper()
            value = (match.group(2) or "").strip()
            if name == "AUTH" and name in params:
                value = f"{params[name]} {value}".strip()  # "AUTH=LOGIN" and "AUTH PLAIN"
            params[name] = value
        #: the parameters of each keyword (upper case), as one string
        self.params = params
        #: the upper-case keywords offered
        self.names: FrozenSet[str] = frozenset(params)
        # What every message asks, known once (attributes, not properties: read per
        # message in bulk).
        #: PIPELINING offered (RFC 2920)
        self.pipelining = "PIPELINING" in self.names
        #: SMTPUTF8 offered (RFC 6531)
        self.smtputf8 = "SMTPUTF8" in self.names
        #: 8BITMIME offered (RFC 6152)
        self.eightbitmime = "8BITMIME" in self.names

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self.names

    def __bool__(self) -> bool:
        return bool(self.names)

    def __repr__(self) -> str:
        return f"Extensions({sorted(self.names)!r})"

    @property
    def auth(self) -> Tuple[str, ...]:
        """The AUTH mechanisms offered, upper case, in the server's order."""
        seen: Dict[str, None] = {}
        for mechanism in self.params.get("AUTH", "").upper().split():
            seen.setdefault(mechanism, None)
        return tuple(seen)

    @property
    def size(self) -> Optional[int]:
        """The SIZE limit in bytes (RFC 1870); None when not offered or unlimited (0)."""
        value = self.params.get("SIZE", "")
        if _SIZE.fullmatch(value) is None:
            return None
        return int(value) or None

    @property
    def starttls(self) -> bool:
        return "STARTTLS" in self.names


NO_EXTENSIONS = Extensions()


def parse_ehlo(reply: Reply) -> Extensions:
    """The extensions of a 250 reply to EHLO (none for any other reply, RFC 5321 4.1.1.1)."""
    if reply.code != 250:
        return NO_EXTENSIONS
    # The exact strs (str.__str__ runs no code of a subclass) as the cache's key.
    return _extensions(tuple(map(str.__str__, reply.lines[1:])))


@functools.lru_cache(maxsize=32)
def _extensions(lines: Tuple[str, ...]) -> Extensions:
    """Parsed once per distinct EHLO reply: a server says the same to every connection,
    and an :class:`Extensions` is never changed once made."""
    return Extensions(lines)
