"""Envelope addresses: checked to be bare before anything is sent (README "Porting notes").

Allegro documents two forms for the ``from`` and ``to`` arguments of ``send-smtp``:
``"user@host"`` and ``"user"``.  Anything else (``"Joe <joe@x>"``, ``"joe@x (Joe)"``, a
stray space or newline) would either be refused by the server with an obscure reply or,
worse, be written into the ``MAIL FROM``/``RCPT TO`` command line as is: a CR or LF there
is SMTP command injection.  So every envelope address is checked here, and a refusal
names the argument, shows the value and suggests the bare address when one can be seen.

The check is deliberately about *form*, not deliverability: dots, hyphens and non-ASCII
letters are the server's business (non-ASCII needs the server's SMTPUTF8, which
``smtp.py`` asks for using :func:`needs_smtputf8`).  Quoted local parts are refused
rather than parsed; a domain literal such as ``user@[192.0.2.1]`` is accepted.

Pure: no socket, no smtplib.
"""

from __future__ import annotations

import functools
import re

from .._checks import show as _show
from ..errors import AddressError, AddressTypeError
from ..protocol.commands import needs_smtputf8, smtp_path

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Union

__all__ = ["Recipients", "check_address", "check_recipients", "needs_smtputf8", "smtp_path"]

if TYPE_CHECKING:
    #: Allegro's ``to`` (and send-letter's ``:cc``/``:bcc``): one bare address or a list.
    Recipients = Union[str, Sequence[str]]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name == "Recipients":
            from typing import Sequence, Union

            globals()[name] = Union[str, Sequence[str]]
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_EXAMPLE = "user@host"

# Characters that are never part of a bare address, with why, checked in this order so that
# a display-name form is reported as such rather than as "contains whitespace".
_FORMS = (
    ("<>", "it contains angle brackets (a display-name form)"),
    ("()", "it contains a parenthesised comment"),
    (",", "it contains a comma (one address per string; pass a list for several)"),
    (";", "it contains a semicolon (one address per string; pass a list for several)"),
    ('"', "it contains a double quote (quoted local parts are not supported)"),
    ("\\", "it contains a backslash"),
)
_COLON = "it contains a colon (source routes and group syntax are not supported)"
_FORM_CHARACTERS = re.compile("[" + re.escape("".join(chars for chars, _ in _FORMS)) + "]")

# Zero-width joiner and non-joiner are legitimate inside words of some scripts (IDNA
# allows them in context); every other format character is invisible and refused.
_ALLOWED_FORMAT = frozenset("\u200c\u200d")

_DOMAIN_LITERAL = re.compile(r"(?<=@)\[[^\[\]]+\]\Z")
_BRACKETED = re.compile(r"<([^<>]*)>")
_COMMENT = re.compile(r"\([^()]*\)")


def _character_fault(address: str) -> Optional[str]:
    """Why a character of ``address`` cannot be in a bare address, or None."""
    # Every message checks its sender and recipients, so the common case (none of these
    # characters, plain printable ASCII) is decided by one regex and two string methods;
    # the reasons are still looked up in _FORMS's order when something is found.
    if _FORM_CHARACTERS.search(address) is not None:
        for characters, reason in _FORMS:
            if any(c in address for c in characters):
                return reason
    # A colon is only at home inside an IPv6 domain literal: user@[IPv6:2001:db8::1].
    if ":" in address:
        literal = _DOMAIN_LITERAL.search(address)
        if ":" in (address[: literal.start()] if literal else address):
            return _COLON
    # Printable ASCII other than the space has no control, whitespace, surrogate or
    # format character: the loop below would find nothing.
    if address.isascii() and address.isprintable() and " " not in address:
        return None
    return _scan_characters(address)


def _scan_characters(address: str) -> Optional[str]:
    """The first control, whitespace, surrogate or invisible format character, or None."""
    import unicodedata  # an extension module: loaded for non-ASCII addresses only

    for index, c in enumerate(address):
        category = unicodedata.category(c)
        if category == "Cc":
            return f"it contains the control character {c!r} at index {index}"
        if c.isspace() or category in ("Zs", "Zl", "Zp"):
            return f"it contains whitespace {c!r} at index {index}"
        if category == "Cs":
            return f"it contains a lone surrogate {c!r} at index {index} (not valid text)"
        if category == "Cf" and c not in _ALLOWED_FORMAT:
            return f"it contains the invisible format character {c!r} at index {index}"
    return None


@functools.lru_cache(maxsize=256)
def _fault(address: str) -> Optional[str]:
    """Why ``address`` (a non-empty str) is not bare, or None when it is; known at once
    for an address checked lately (a batch from one sender checks it once)."""
    reason = _character_fault(address)
    if reason is not None:
        return reason
    local, at, domain = address.partition("@")
    if "@" in domain:
        return "it contains more than one '@'"
    if "[" in local or "]" in local:
        return "it contains square brackets outside a domain literal"
    if at:
        if not local:
            return "there is nothing before the '@'"
        if not domain:
            return "there is nothing after the '@'"
        if ("[" in domain or "]" in domain) and not _DOMAIN_LITERAL.search(address):
            return "it contains square brackets outside a domain literal"
    return None


def _suggestion(address: str) -> str:
    """The bare address the caller probably meant, else the generic example."""
    candidates = [m.group(1).strip() for m in _BRACKETED.finditer(address)]
    candidates.append(_COMMENT.sub(" ", address).strip())
    for candidate in candidates:
        if candidate and _fault(candidate) is None:
            return candidate
    return _EXAMPLE


def check_address(address: object, argument: str, *, allow_empty: bool = False) -> str:
    """Return ``address`` unchanged if it is a bare envelope address, else raise.

    ``argument`` names the caller's argument in the message (``"from_"``, ``"to[2]"``).
    ``allow_empty`` admits ``""``, the null reverse path ``<>`` (only for ``from_``).

    Raises :class:`~post_office.errors.AddressError` (a ``ValueError``) for a non-str, an
    empty string, display names, angle brackets, comments, whitespace, commas, semicolons,
    quotes, any control character (C0, DEL, C1), more than one ``@`` and an empty local
    part or domain.  README "Porting notes".
    """
    if not isinstance(address, str):
        raise AddressTypeError(
            f"{argument}: expected a str holding a bare address, got "
            f"{type(address).__name__} {_show(address)}; use the bare address, "
            f"e.g. {_EXAMPLE!r}"
        )
    if not address:
        if allow_empty:
            return address
        raise AddressError(
            f"{argument}: {_show(address)} is not a bare address: it is empty; "
            f"use the bare address, e.g. {_EXAMPLE!r}"
        )
    reason = _fault(str.__str__(address))  # the exact str: no subclass's __eq__ in the cache
    if reason is None:
        return address
    raise AddressError(
        f"{argument}: {_show(address)} is not a bare address: {reason}; "
        f"use the bare address, e.g. {_suggestion(address)!r}"
    )


def check_recipients(to: object, argument: str = "to") -> List[str]:
    """Return the recipients of ``to`` (a str, or a list or tuple of str) as a list.

    Each element is checked with :func:`check_address`, named ``to[1]`` and so on; an empty
    list or any other type raises :class:`~post_office.errors.AddressError`.
    """
    if isinstance(to, str):
        return [check_address(to, argument)]
    if isinstance(to, (list, tuple)):
        if not to:
            # Allegro's wording: an empty list is nil, which is not a cons (smtp.cl,
            # send-letter and send-smtp-1: "to should be a string or list, not NIL").
            raise AddressError(
                f"{argument} should be a string or list, not an empty {type(to).__name__} "
                f"(no recipients): give a bare address such as {_EXAMPLE!r} or a list of them"
            )
        return [check_address(item, f"{argument}[{i}]") for i, item in enumerate(to)]
    raise AddressTypeError(
        f"{argument} should be a string or list, not {type(to).__name__} {_show(to)}: "
        f"give a bare address such as {_EXAMPLE!r} or a list of them"
    )
