"""How the embedded sink misbehaves on purpose, like the servers tested code will meet
(README, "Testing code that sends mail").

:func:`make_behaviour` checks the options of :class:`~post_office.sink.server.Sink` that refuse
addresses or messages, hide EHLO extensions, forbid bare newlines, or make the sink go
silent or hang up at one stage; :class:`Behaviour` holds them.  Pure Python: the
aiosmtpd side is :mod:`post_office.sink.protocol`.  :func:`printable` escapes what the
sink prints.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import FrozenSet, Iterable, Mapping, Optional, Sequence, Tuple, Union

from ..errors import OptionError

__all__ = [
    "CONTROL_CHARACTERS",
    "EXTENSIONS",
    "STAGES",
    "Behaviour",
    "Refusals",
    "make_behaviour",
    "printable",
]

#: The stages ``hang_at`` and ``disconnect_at`` name: the greeting, each command, and
#: ``END-OF-DATA`` (the message's final dot, before the reply to it).
STAGES = ("CONNECT", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "END-OF-DATA", "QUIT")

#: The EHLO keywords the sink can offer, and so hide.
EXTENSIONS = ("SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "STARTTLS", "AUTH", "HELP")

#: ``{address or fnmatch pattern: reply}`` as users give it, or one reply for everything.
Refusals = Union[None, str, Mapping[str, str]]

_REPLY = re.compile(r"[45][0-9][0-9]( [\x20-\x7e]*)?")

#: What :func:`printable` escapes, as the inside of a regular-expression class: C0 and
#: C1 controls, DEL, bidirectional marks, overrides and isolates (U+061C, U+200E,
#: U+200F, U+202A-U+202E, U+2066-U+2069), line and paragraph separators, and lone
#: surrogates (undecodable bytes aiosmtpd keeps as surrogate escapes).
CONTROL_CHARACTERS = (
    "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
)
# A control character, or a backslash that would otherwise read as the start of an
# escape (before another backslash, ``xHH``, ``uHHHH`` or a control character): only
# those backslashes are doubled, so that ``C:\Users`` stays as it is and the escaped
# text still reads back one way only.
_ESCAPED = re.compile(
    rf"\\(?=\\|x[0-9a-fA-F]{{2}}|u[0-9a-fA-F]{{4}}|[{CONTROL_CHARACTERS}])"
    rf"|[{CONTROL_CHARACTERS}]"
)


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\\x1b``, ``\\u202e``), so that
    nothing a client or a server sent can move a terminal's cursor or reorder what is
    shown: C0 and C1 controls, DEL, the bidirectional controls of Unicode (UAX #9:
    U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and line separators.

    Unambiguous: a backslash that would read as an escape is doubled (``\\\\x1b`` is the
    text, ``\\x1b`` the ESC character).  The command line and the sink print through
    this one function (README "The command line").
    """

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        if code == 0x5C:  # a backslash (only those before an escape match)
            return "\\\\"
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _ESCAPED.sub(escape, text)


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


def make_behaviour(
    *,
    refuse: Refusals = None,
    refuse_mail_from: Refusals = None,
    refuse_data: Refusals = None,
    strict_newlines: bool = False,
    hide_extensions: Sequence[str] = (),
    hang_at: Optional[str] = None,
    disconnect_at: Optional[str] = None,
) -> Behaviour:
    """Check the options and return the :class:`Behaviour`; raises
    :class:`~post_office.errors.OptionError` naming the option.

    ``refuse`` (RCPT), ``refuse_mail_from`` (MAIL) and ``refuse_data`` (the end of data,
    matched against each recipient) map an address or an :mod:`fnmatch` pattern to the
    reply, e.g. ``{"*@gone.example": "550 5.1.1 no such user"}``; one reply string
    refuses every address.
    """
    if isinstance(hide_extensions, str):
        hide_extensions = [hide_extensions]
    hidden = frozenset(str(name).upper() for name in hide_extensions)
    unknown = sorted(hidden - set(EXTENSIONS))
    if unknown:
        raise OptionError(
            f"hide_extensions: the sink does not offer {', '.join(unknown)}; "
            f"it offers {', '.join(EXTENSIONS)}"
        )
    hang, disconnect = _stage("hang_at", hang_at), _stage("disconnect_at", disconnect_at)
    if hang is not None and hang == disconnect:
        raise OptionError(f"hang_at and disconnect_at both name {hang}: choose one")
    return Behaviour(
        refuse_rcpt=_rules("refuse", refuse),
        refuse_mail_from=_rules("refuse_mail_from", refuse_mail_from),
        refuse_data=_rules("refuse_data", refuse_data),
        strict_newlines=bool(strict_newlines),
        hidden=hidden,
        hang_at=hang,
        disconnect_at=disconnect,
    )
