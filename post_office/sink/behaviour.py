"""How the embedded sink misbehaves on purpose, like the servers tested code will meet
(README, "Testing code that sends mail").

:func:`make_behaviour` checks the options of :class:`~post_office.sink.server.Sink` that refuse
addresses or messages, hide EHLO extensions, forbid bare newlines, or make the sink go
silent or hang up at one stage; :class:`Behaviour` holds them.  Pure Python: the
aiosmtpd side is :mod:`post_office.sink.protocol`; what the sink prints is escaped by
:func:`post_office._checks.printable`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, FrozenSet, Iterable, Mapping, Optional, Sequence, Tuple, Union

from .._checks import printable
from ..errors import OptionError

if TYPE_CHECKING:
    from typing_extensions import TypedDict, Unpack
else:
    from typing import TypedDict

__all__ = [
    "EXTENSIONS",
    "STAGES",
    "Behaviour",
    "Misbehaviour",
    "Refusals",
    "make_behaviour",
]

#: The stages ``hang_at`` and ``disconnect_at`` name: the greeting, each command, and
#: ``END-OF-DATA`` (the message's final dot, before the reply to it).
STAGES = ("CONNECT", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "END-OF-DATA", "QUIT")

#: The EHLO keywords the sink can offer, and so hide.
EXTENSIONS = ("SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "STARTTLS", "AUTH", "HELP")

#: ``{address or fnmatch pattern: reply}`` as users give it, or one reply for everything.
Refusals = Union[None, str, Mapping[str, str]]

_REPLY = re.compile(r"[45][0-9][0-9]( [\x20-\x7e]*)?")


@dataclass(frozen=True)
class Behaviour:
    """The sink's checked misbehaviour options (see :func:`make_behaviour`)."""

    refuse_rcpt: Tuple[Tuple[str, str], ...] = ()
    refuse_mail_from: Tuple[Tuple[str, str], ...] = ()
    refuse_data: Tuple[Tuple[str, str], ...] = ()
    strict_newlines: bool = False
    hidden: FrozenSet[str] = frozenset()
    hang_at: Optional[str] = None
    disconnect_at: Optional[str] = None

    @staticmethod
    def refusal(rules: Tuple[Tuple[str, str], ...], address: str) -> Optional[str]:
        """The reply of the first rule whose pattern matches ``address`` (case-insensitive;
        ``""`` or ``"<>"`` is the null sender), or None."""
        folded = address.lower()
        for pattern, reply in rules:
            if fnmatch.fnmatchcase(folded, pattern):
                return reply
        return None

    def data_refusal(self, recipients: Sequence[str]) -> Optional[str]:
        """The reply refusing a message to these recipients at the end of data, or None."""
        for recipient in recipients:
            reply = self.refusal(self.refuse_data, recipient)
            if reply is not None:
                return reply
        return None


def _rules(name: str, value: Refusals) -> Tuple[Tuple[str, str], ...]:
    if value is None:
        return ()
    items: Iterable[Tuple[object, object]]
    if isinstance(value, str):
        items = [("*", value)]
    elif isinstance(value, Mapping):
        items = value.items()
    else:
        raise OptionError(f"{name} must be a reply or a mapping of address patterns to replies")
    rules = []
    for pattern, reply in items:
        if not isinstance(pattern, str) or not isinstance(reply, str):
            raise OptionError(f"{name}: patterns and replies must be strings")
        if not _REPLY.fullmatch(reply):
            raise OptionError(
                f"{name}: {printable(reply)!r} is not a 4xx or 5xx reply on one line of "
                "printable ASCII, e.g. '550 5.1.1 no such user'"
            )
        folded = pattern.lower().strip()
        rules.append(("" if folded == "<>" else folded, reply))
    return tuple(rules)


def _stage(name: str, value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    stage = str(value).upper().replace("_", "-")
    stage = {"HELO": "EHLO", "CONNECTION": "CONNECT", "GREETING": "CONNECT"}.get(stage, stage)
    if stage not in STAGES:
        raise OptionError(f"{name}={value!r}: not a stage; one of {', '.join(STAGES)}")
    return stage


class Misbehaviour(TypedDict, total=False):
    """The sink's misbehaviour keywords, as ``Sink``, ``smtp_sink_factory`` and
    ``post-office serve`` take them: the one list of them (README "The embedded sink")."""

    refuse: Refusals
    refuse_mail_from: Refusals
    refuse_data: Refusals
    strict_newlines: bool
    hide_extensions: Sequence[str]
    hang_at: Optional[str]
    disconnect_at: Optional[str]


def make_behaviour(**options: Unpack[Misbehaviour]) -> Behaviour:
    """Check the options and return the :class:`Behaviour`; raises
    :class:`~post_office.errors.OptionError` naming the option.

    ``refuse`` (RCPT), ``refuse_mail_from`` (MAIL) and ``refuse_data`` (the end of data,
    matched against each recipient) map an address or an :mod:`fnmatch` pattern to the
    reply, e.g. ``{"*@gone.example": "550 5.1.1 no such user"}``; one reply string
    refuses every address.
    """
    unknown_keywords = sorted(set(options) - set(Misbehaviour.__annotations__))
    if unknown_keywords:  # as Python says it for a keyword the signature lacks
        raise TypeError(f"unexpected keyword argument {unknown_keywords[0]!r}")
    hide_extensions = options.get("hide_extensions", ())
    if isinstance(hide_extensions, str):
        hide_extensions = [hide_extensions]
    hidden = frozenset(str(name).upper() for name in hide_extensions)
    unknown = sorted(hidden - set(EXTENSIONS))
    if unknown:
        raise OptionError(
            f"hide_extensions: the sink does not offer {', '.join(unknown)}; "
            f"it offers {', '.join(EXTENSIONS)}"
        )
    hang = _stage("hang_at", options.get("hang_at"))
    disconnect = _stage("disconnect_at", options.get("disconnect_at"))
    if hang is not None and hang == disconnect:
        raise OptionError(f"hang_at and disconnect_at both name {hang}: choose one")
    return Behaviour(
        refuse_rcpt=_rules("refuse", options.get("refuse")),
        refuse_mail_from=_rules("refuse_mail_from", options.get("refuse_mail_from")),
        refuse_data=_rules("refuse_data", options.get("refuse_data")),
        strict_newlines=bool(options.get("strict_newlines", False)),
        hidden=hidden,
        hang_at=hang,
        disconnect_at=disconnect,
    )
