"""Small checks every module needs, written once.

- :func:`show`: how an error message names a caller's value, short and safe;
- :func:`is_stream`: whether a value is a readable stream (has a callable ``read``), and
  :func:`stream_problem`: what is visibly wrong with one (closed, write-only);
- :func:`check_timeout`: the ``timeout`` argument, a positive finite-or-not number;
- :func:`is_loopback_host`: whether a host is ``localhost`` or a loopback literal;
- :func:`printable`: the one escaper for anything a peer sent before it is shown.

Pure: no I/O.
"""

from __future__ import annotations

import math
import re
import reprlib
import sys

from .errors import OptionError
from .protocol.hosts import is_loopback_host
from .spec.lisp import Keyword

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = [
    "CONTROL_CHARACTERS",
    "REDACTED",
    "check_timeout",
    "is_loopback_host",
    "is_stream",
    "printable",
    "show",
    "stream_problem",
    "type_name",
]

#: What is shown in place of a secret, everywhere (transcripts, errors, the CLI).  Here
#: rather than in :mod:`post_office.spec.redaction` (which names it too) so that the
#: modules that only show it do not load the redaction rules to send mail.
REDACTED = "<redacted>"

#: Longest text :func:`show` returns by default.
SHOW_LIMIT = 120

# Types whose repr is computed by the interpreter itself, never by code of the caller's:
# an error message built from them cannot raise and cannot run user code.  Containers
# are walked by the Repr below, which applies the same rule to every element.
_PLAIN_TYPES = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        bytearray,
        list,
        tuple,
        dict,
        set,
        frozenset,
        Keyword,  # its repr is Keyword('name'), written here
    }
)


def type_name(value: object) -> str:
    """The name of ``value``'s type, for error messages (runs no code of the caller's)."""
    return type(value).__qualname__


def _is_pathlib_path(value: object) -> bool:
    """A path made by :mod:`pathlib` itself (not a subclass); pathlib is not imported for
    this: if no one imported it, ``value`` cannot be one of its paths."""
    pathlib = sys.modules.get("pathlib")
    return pathlib is not None and type(value) in (
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        pathlib.PosixPath,
        pathlib.WindowsPath,
    )


class _SafeRepr(reprlib.Repr):
    """reprlib's bounded repr (it stops early inside a 1 GB string or list), except that
    a value of any other type than the plain built-in ones is shown as ``<Type object>``:
    its ``__repr__`` is the caller's code, which may raise, hang or leak a secret."""

    def repr1(self, x: Any, level: int) -> str:
        if type(x) not in _PLAIN_TYPES and not _is_pathlib_path(x):
            return f"<{type_name(x)} object>"
        try:
            return super().repr1(x, level)
        except Exception:  # an int too long for str() (sys.set_int_max_str_digits)
            return f"<{type_name(x)} object>"


_REPR = _SafeRepr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = SHOW_LIMIT


def show(value: object, limit: int = SHOW_LIMIT) -> str:
    """The repr of a refused value for an error message: at most ``limit`` characters
    (cut at the end with ``...``), and never the result of the caller's own
    ``__repr__``/``__str__``: other types than the plain built-in ones show as
    ``<Type object>``."""
    text = _REPR.repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def is_stream(value: object) -> bool:
    """A readable stream: an instance (not a class) with a callable ``read``."""
    return not isinstance(value, type) and callable(getattr(value, "read", None))


def stream_problem(stream: object) -> Optional[str]:
    """What is visibly wrong with a caller's stream before reading it: ``"is closed"``,
    ``"is not readable"`` (write-only), or None."""
    if getattr(stream, "closed", False) is True:
        return "is closed"
    readable = getattr(stream, "readable", None)
    if callable(readable):
        try:
            ok = readable()
        except (OSError, ValueError):  # e.g. closed without saying so through .closed
            ok = False
        if ok is False:
            return "is not readable"
    return None


#: The longest timeout we accept: a year.  Longer ones overflow the platform's timers
#: (``float("inf")``, ``2**63``) and mean "forever", which a dead peer must never get.
MAX_TIMEOUT = 365 * 24 * 3600.0


#: The most connections ``smtp_session(connections=N)`` opens: more would be a flood
#: that servers answer with 421 (a server limits the connections per client).
MAX_CONNECTIONS = 64


def check_connections(connections: object) -> int:
    """``connections`` of :func:`~post_office.smtp_session`: an int from 1 to
    :data:`MAX_CONNECTIONS` (not a bool), else :class:`~post_office.OptionError`."""
    if (
        isinstance(connections, int)
        and not isinstance(connections, bool)
        and 1 <= connections <= MAX_CONNECTIONS
    ):
        return connections
    raise OptionError(
        f"connections {show(connections)} is not a whole number of connections from 1 to "
        f"{MAX_CONNECTIONS}"
    )


def check_timeout(
    timeout: object, waits_for: str = "a dead server", argument: str = "timeout"
) -> float:
    """``timeout`` as a float: a positive, finite number of seconds up to
    :data:`MAX_TIMEOUT` (not a bool), else :class:`~post_office.OptionError`.
    ``waits_for`` names what must not hang the caller, for the message (``"a dead
    server"``, ``"a program that never reads"``)."""
    seconds = -1.0
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        try:
            seconds = float(timeout)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    if not 0 < seconds <= MAX_TIMEOUT:  # also refuses NaN
        huge = seconds == math.inf and isinstance(timeout, int)  # no str(): digit limit
        shown = f"{type(timeout).__name__} too large" if huge else show(timeout)
        raise OptionError(
            f"{argument} {shown} is not a positive number of seconds up to {MAX_TIMEOUT:.0f} "
            f"({waits_for} must never hang the caller, so there is no 'wait forever')"
        )
    return seconds


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
# Compiled when first used (re's own cache), not on import: its Unicode ranges take a
# millisecond to compile, and sending mail never prints.
_ESCAPED = (
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

    return re.sub(_ESCAPED, escape, text)
