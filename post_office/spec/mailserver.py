"""The mail-server argument, in every form Allegro accepts, -> :class:`MailServer` (README "The
mail-server argument").

Pure: nothing here opens a socket, so a bad spec is reported before any connection.
"""

from __future__ import annotations

import collections.abc
import ipaddress
import re

from .._checks import REDACTED, show
from ..errors import ServerSpecError
from .lisp import Keyword, read_lisp, to_lisp
from .tls import TLS_KEYWORDS, Secret, TlsSettings, tls_settings

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:  # the standard decorator for type checkers; ours at run time (no inspect)
    from dataclasses import dataclass, field
else:
    from .._record import dataclass, field

__all__ = ["MailServer", "ServerArgument", "parse_mail_server"]

if TYPE_CHECKING:
    StartTLS = Union[bool, Literal["required"]]
    #: ``:mta-sts``'s values, as ``post_office.mta_sts`` takes them (README "MTA-STS").
    MtaSts = Literal["auto", "off", "require"]

_SERVER_KEYWORDS = ("port", "ssl", "starttls", "allow-plaintext-auth", "mta-sts")
_KNOWN = _SERVER_KEYWORDS + TLS_KEYWORDS
# Compiled on first use (re's cache), not on import: a (host, port) spec needs neither.
_HOST_PORT = r"([^:\[\]]+):([0-9]+)\Z"
_BRACKETED = r"\[([0-9A-Fa-f:.%a-zA-Z0-9]+)\](?::([0-9]+))?\Z"
_BAD_HOST_CHARS = set(" \t\r\n\x00\x0b\x0c@<>()[],;\"'\\/")


@dataclass(frozen=True, repr=False)
class MailServer:
    """Where and how to reach the SMTP server (Allegro's ``mail-server`` argument).

    ``starttls`` is ``False``, ``True`` (upgrade when offered, as Allegro) or
    ``"required"`` (fail when the server does not offer STARTTLS).
    ``allow_plaintext_auth`` (``:allow-plaintext-auth t``, ours) lets credentials go to
    a server other than this machine without TLS (README "Reliability").
    ``mta_sts`` (``:mta-sts :auto``, ``:off`` or ``:require``, ours) overrides
    ``post_office.mta_sts`` for this server (README "MTA-STS"); None: the special decides.
    """

    host: str
    port: int = 25
    ssl: bool = False
    starttls: StartTLS = False
    tls: TlsSettings = field(default_factory=TlsSettings)
    allow_plaintext_auth: bool = False
    mta_sts: Optional[MtaSts] = None

    def __repr__(self) -> str:
        return f"MailServer({self.to_python()})"

    def to_lisp(self, *, reveal_secrets: bool = False) -> str:
        """Canonical Lisp text, e.g. ``("mail.corp" :port 587 :starttls t)``.

        A ``:certificate-password`` is written ``"<redacted>"`` unless ``reveal_secrets``
        (README "Porting notes"): ``read_lisp(to_lisp(s))`` gives ``s`` back for every
        spec that holds no secret.
        """
        return to_lisp(self, reveal_secrets=reveal_secrets)

    def to_python(self, *, reveal_secrets: bool = False) -> str:
        """Canonical Python form, e.g. ``("mail.corp", ":port", 587, ":starttls", True)``
        (the password ``'<redacted>'`` unless ``reveal_secrets``)."""
        parts = [repr(self.host)]
        for key, value in self._items(lisp=False)[1:]:
            parts.append(repr(str(key)))
            if isinstance(value, Secret):
                parts.append(repr(value.reveal() if reveal_secrets else REDACTED))
            else:
                parts.append(repr(str(value)) if isinstance(value, Keyword) else repr(value))
        return "(" + ", ".join(parts) + ")"

    def __lisp_form__(self, reveal_secrets: bool) -> List[Any]:
        """The mail-server list :func:`~post_office.to_lisp` writes."""
        return self._items(lisp=True)

    def _items(self, *, lisp: bool) -> List[Any]:
        if self.tls.context is not None and lisp:
            raise ServerSpecError("a mail server with a :context cannot be written as Lisp text")
        items: List[Any] = [self.host, Keyword("port"), self.port]
        if self.ssl:
            items += [Keyword("ssl"), True]
        if self.starttls:
            items += [
                Keyword("starttls"),
                Keyword("required") if self.starttls == "required" else True,
            ]
        if self.allow_plaintext_auth:
            items += [Keyword("allow-plaintext-auth"), True]
        if self.mta_sts is not None:
            items += [Keyword("mta-sts"), Keyword(self.mta_sts)]
        for key, value in self.tls.keywords():
            items += [key, value]
        if lisp:
            return items
        return [items[0]] + [(items[i], items[i + 1]) for i in range(1, len(items), 2)]


if TYPE_CHECKING:
    #: Every form of Allegro's mail-server argument that :func:`parse_mail_server` reads:
    #: a host name or address (``"mail.corp"``, ``"mail.corp:587"``, ``"[::1]:25"``), an
    #: :mod:`ipaddress` address or an IPv4 address as an integer, ``(host, port)``,
    #: ``(host, ":port", 587, ":starttls", True, ...)``, a mapping with a ``"host"`` key,
    #: a :class:`MailServer`, or Lisp text.
    ServerArgument = Union[
        str,
        int,
        ipaddress.IPv4Address,
        ipaddress.IPv6Address,
        MailServer,
        Sequence[Any],
        Mapping[str, Any],
    ]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name in ("StartTLS", "MtaSts"):
            from typing import Literal, Union

            globals().update(
                StartTLS=Union[bool, Literal["required"]],
                MtaSts=Literal["auto", "off", "require"],
            )
            return globals()[name]
        if name == "ServerArgument":
            from typing import Any, Mapping, Sequence, Union

            server = Union[
                str,
                int,
                ipaddress.IPv4Address,
                ipaddress.IPv6Address,
                MailServer,
                Sequence[Any],
                Mapping[str, Any],
            ]
            globals()["ServerArgument"] = server
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _show(spec: object) -> str:
    """How an error message shows the caller's argument: its secret hidden
    (:func:`~post_office.spec.redaction.redact_spec`), cut when long, and never by running the
    caller's own ``__repr__`` (:func:`~post_office._checks.show`)."""
    from .redaction import redact_spec  # only for an error message

    return show(redact_spec(spec), 200)


def _read(spec: str) -> Any:
    """Read Lisp text (unstripped, so that positions count from its start); a syntax
    error quotes no text that holds a secret (:func:`~post_office.spec.lisp.read_lisp`)."""
    return read_lisp(spec)


def _value(value: object) -> str:
    """A keyword's value as the user wrote it: ``:required`` for a Keyword, else repr."""
    return f":{value.name}" if isinstance(value, Keyword) else show(value)


def _nearest(key: str) -> str:
    """`` (did you mean :starttls?)`` for a misspelt keyword, else nothing."""
    import difflib

    close = difflib.get_close_matches(key, _KNOWN, n=1, cutoff=0.7)
    return f" (did you mean :{close[0]}?)" if close else ""


def _spec_error(spec: object, expected: str) -> ServerSpecError:
    return ServerSpecError(
        f"mail-server argument {_show(spec)} is not understood: expected {expected}"
    )


_FORMS = (
    'a host name ("mail.corp"), "host:port", an IPv4 integer, an ipaddress object, '
    'a (host, port) pair, a list ("host", ":port", 587, ":starttls", True, ...), '
    "a mapping, a MailServer, or Lisp text such as '(\"mail.corp\" :port 587)'"
)


def _host(value: object, spec: object) -> str:
    if isinstance(value, bool):
        raise _spec_error(spec, "a host name or address, not a bool")
    if isinstance(value, int):
        if value < 0 or value > 0xFFFFFFFF:
            raise _spec_error(spec, "an IPv4 address as an integer in 0..4294967295")
        return str(ipaddress.IPv4Address(value))
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if not isinstance(value, str):
        raise _spec_error(spec, "the host as a string, integer or ipaddress object")
    if not value:
        raise _spec_error(spec, "a non-empty host name")
    bracketed = re.match(_BRACKETED, value)
    if bracketed and not bracketed.group(2):
        value = bracketed.group(1)
    # Checked before the IPv6 test so that "mail.corp:25\n" names the LF, not IPv6.
    bad = sorted({ch for ch in value if ch in _BAD_HOST_CHARS or not ch.isprintable()})
    if bad:
        raise _spec_error(
            spec,
            "a host name without whitespace, control characters or punctuation such as "
            f"'@<>()[],;'; found {', '.join(repr(ch) for ch in bad)}",
        )
    if ":" in value:
        try:
            return str(ipaddress.IPv6Address(value))
        except ValueError:
            raise _spec_error(spec, "a host name or an IPv6 address") from None
    return value


def _port_digits(digits: str, spec: object) -> int:
    # int() of thousands of digits raises a plain ValueError (Python's digit limit).
    return _port(int(digits) if len(digits) <= 6 else digits, spec)


def _port(value: object, spec: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ServerSpecError(
            f"mail-server argument {_show(spec)}: port {show(value)} is not an integer in 1..65535"
        )
    return value


def _flag(name: str, value: object, spec: object, *, allow_required: bool = False) -> StartTLS:
    if value is None or value is False:
        return False
    if value is True:
        return True
    word = (
        value.name
        if isinstance(value, Keyword)
        else value.lower().lstrip(":")
        if isinstance(value, str)
        else None
    )
    if word == "t":
        return True
    if word == "nil":
        return False
    if allow_required and word == "required":
        return "required"
    expected = "t/True, nil/None/False" + (" or :required" if allow_required else "")
    raise ServerSpecError(
        f"mail-server argument {_show(spec)}: :{name} {_value(value)} is not {expected}"
    )


def _key(key: object, spec: object) -> str:
    if isinstance(key, Keyword):
        return key.name
    if isinstance(key, str) and key and key.lstrip(":"):
        return Keyword(key).name
    raise ServerSpecError(
        f"mail-server argument {_show(spec)}: {_value(key)} is not a keyword (write :port in "
        "Lisp text; ':port', 'port' or Keyword('port') in Python)"
    )


def _from_options(
    host: object, options: Sequence[Tuple[object, object]], spec: object
) -> MailServer:
    values: Dict[str, object] = {}
    for raw_key, value in options:
        key = _key(raw_key, spec)
        if key not in _KNOWN:
            raise ServerSpecError(
                f"mail-server argument {_show(spec)}: unknown keyword :{key}{_nearest(key)}; "
                "known keywords are " + ", ".join(":" + k for k in _KNOWN)
            )
        if key in values:
            raise ServerSpecError(f"mail-server argument {_show(spec)}: keyword :{key} given twice")
        values[key] = value
    use_ssl = bool(_flag("ssl", values.pop("ssl", None), spec))
    starttls = _flag("starttls", values.pop("starttls", None), spec, allow_required=True)
    plaintext_auth = bool(
        _flag("allow-plaintext-auth", values.pop("allow-plaintext-auth", None), spec)
    )
    mta_sts = _mta_sts(values.pop("mta-sts", None), spec)
    port_value = values.pop("port", None)
    port = (465 if use_ssl else 25) if port_value is None else _port(port_value, spec)
    try:
        tls = tls_settings(values)
    except ServerSpecError as exc:
        raise ServerSpecError(f"mail-server argument {_show(spec)}: {exc}") from None
    return MailServer(_host(host, spec), port, use_ssl, starttls, tls, plaintext_auth, mta_sts)


def _mta_sts(value: object, spec: object) -> Optional[MtaSts]:
    """``:mta-sts :auto``/``:off``/``:require`` (keyword or string), or None when absent."""
    if value is None:
        return None
    name = value.name if isinstance(value, Keyword) else value
    if isinstance(name, str):
        folded = name.lstrip(":").lower()
        if folded == "auto":
            return "auto"
        if folded == "off":
            return "off"
        if folded == "require":
            return "require"
    raise ServerSpecError(
        f"mail-server argument {_show(spec)}: :mta-sts {_value(value)}: expected :auto (apply a "
        "domain's MTA-STS policy where one is published), :off or :require"
    )


def _from_string(spec: str) -> MailServer:
    if spec.strip().startswith(("(", "'(")):
        form = _read(spec)
        if not isinstance(form, (list, tuple)):
            raise _spec_error(spec, _FORMS)
        try:
            return parse_mail_server(form)
        except ServerSpecError as exc:  # quote the Lisp text as written, not its reading
            raise ServerSpecError(str(exc).replace(_show(form), _show(spec), 1)) from None
    # The other forms are not stripped: white space around a host name is as wrong as
    # inside it, and must not be accepted in "host:port" yet refused in "host".
    bracketed = re.match(_BRACKETED, spec)
    if bracketed and bracketed.group(2):
        return MailServer(_host(bracketed.group(1), spec), _port_digits(bracketed.group(2), spec))
    match = re.match(_HOST_PORT, spec)
    if match:
        return MailServer(_host(match.group(1), spec), _port_digits(match.group(2), spec))
    return MailServer(_host(spec, spec))


# send_smtp parses its server argument on every call, and a program that sends many
# messages passes the same one each time.  The common forms, an exact str or a tuple of
# exact str, int, bool and None (a pair, or a keyword list), are keyed with each
# element's type (a float or bool port would compare equal to an int one), and their
# parse is a pure function of them.  Only results without TLS settings are kept, so no
# path, password or context outlives the call that gave it; MailServer is immutable, so
# handing out the same instance again is safe.
_PARSED: Dict[object, MailServer] = {}
_PARSED_MAX = 64
_NO_TLS = TlsSettings()


_KEY_TYPES = (str, int, bool, type(None))


def _cache_key(spec: object) -> object:
    if type(spec) is str:
        return spec
    # The keyword list of a ported call, ("host", ":port", 587, ...): each element with
    # its exact type, since 1 == True == 1.0 would otherwise share an entry.
    if (
        type(spec) is tuple
        and len(spec) <= 16
        and all(type(element) in _KEY_TYPES for element in spec)
    ):
        return tuple((type(element), element) for element in spec)
    return None


def parse_mail_server(spec: object) -> MailServer:
    """Understand Allegro's ``mail-server`` argument in any of its forms (README "The mail-server
    argument").

    Accepts a host name or address string, ``"host:port"``, an IPv4 integer, an
    :mod:`ipaddress` object, a ``(host, port)`` pair, a keyword list
    ``("host", ":port", 587, ":ssl", True, ":starttls", True, ...TLS keywords)`` (keys as
    ``":port"``, ``"port"`` or ``Keyword("port")``; hyphen = underscore), a mapping with a
    ``"host"`` key, a :class:`MailServer`, or literal Lisp text.  Port defaults to 25, or
    465 when ``ssl`` is true.  Raises :class:`ServerSpecError` (a ``ValueError``).
    """
    key = _cache_key(spec)
    if key is None:
        return _parse_mail_server(spec)
    server = _PARSED.get(key)
    if server is None:
        server = _parse_mail_server(spec)
        if server.tls == _NO_TLS:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = server
    return server


def _is_program(spec: Sequence[object]) -> bool:
    """Whether ``spec`` is send_letter's ``(":program", ...)`` form (spec/transport.py)."""
    head = spec[0]
    if isinstance(head, Keyword):
        return head.name == "program"
    return isinstance(head, str) and head.lower() == ":program"


def _parse_mail_server(spec: object) -> MailServer:
    if isinstance(spec, MailServer):
        # A MailServer built by hand has not been checked: take it apart and parse it,
        # which gives back an equal value when it is valid (the round-trip property).
        if not isinstance(spec.ssl, bool) or spec.starttls not in (False, True, "required"):
            raise ServerSpecError(
                f"MailServer(host={show(spec.host)}, ...): ssl must be True or False and "
                "starttls True, False or 'required'"
            )
        checked = _from_options(spec.host, spec._items(lisp=False)[1:], spec)
        return spec if checked == spec else checked
    if isinstance(spec, str):
        return _from_string(spec)
    if isinstance(spec, (int, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return MailServer(_host(spec, spec))
    if isinstance(spec, collections.abc.Mapping):  # what typing.Mapping checks
        items = list(spec.items())
        hosts = [v for k, v in items if isinstance(k, (str, Keyword)) and _key(k, spec) == "host"]
        if len(hosts) != 1:
            raise _spec_error(spec, 'a mapping with one "host" key')
        rest = [(k, v) for k, v in items if _key(k, spec) != "host"]
        return _from_options(hosts[0], rest, spec)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise _spec_error(spec, _FORMS)
        if _is_program(spec):
            raise _spec_error(
                spec, 'an SMTP server: the (":program", ...) form is for send_letter only'
            )
        host, rest = spec[0], list(spec[1:])
        if len(rest) == 1 and not isinstance(rest[0], (Keyword, str)):
            return MailServer(_host(host, spec), _port(rest[0], spec))
        if len(rest) % 2:
            raise ServerSpecError(
                f"mail-server argument {_show(spec)}: expected (host, port) with an integer "
                "port, or keyword/value pairs after the host; there is an odd number of "
                "items after the host"
            )
        return _from_options(host, [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)], spec)
    raise _spec_error(spec, _FORMS)
