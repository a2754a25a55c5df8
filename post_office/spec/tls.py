"""Allegro's ssl-client keywords -> :class:`TlsSettings` -> :class:`ssl.SSLContext` (README "The
mail-server argument").

Pure: nothing here opens a socket.  :func:`tls_settings` checks and normalises the
keywords a mail-server list carries (``:ca-file``, ``:verify``, ``:method`` ...);
:func:`make_ssl_context` builds the one context used for both implicit TLS and STARTTLS.
Certificates and host names are verified by default (**Differs** from Allegro and
smtplib, which verify nothing): ``:verify nil`` is the explicit opt-out.
"""

from __future__ import annotations

import os

from .._checks import REDACTED, show
from ..errors import ServerSpecError
from ..warn import warn
from .lisp import Keyword

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    import ssl
    from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple

if TYPE_CHECKING:  # the standard decorator for type checkers; ours at run time (no inspect)
    from dataclasses import dataclass, field
else:
    from .._record import dataclass, field

__all__ = ["TLS_KEYWORDS", "Secret", "TlsSettings", "make_ssl_context", "tls_settings"]

#: Canonical (hyphenated) names of the TLS keywords a mail-server list may carry.
TLS_KEYWORDS: Tuple[str, ...] = (
    "method",
    "certificate",
    "key",
    "certificate-password",
    "ca-file",
    "ca-directory",
    "crl-file",
    "crl-check",
    "verify",
    "max-depth",
    "ciphers",
    "ciphersuites",
    "server-name",
    "context",
)

# :method values -> minimum TLS version (None: the library's secure default).
_RANGES = ("sslv23", "sslv3+", "tlsv1+", "tlsv1.1+")
_MINIMUMS = {
    "tlsv1.2": "TLSv1_2",
    "tlsv1.2+": "TLSv1_2",
    "tlsv1.3": "TLSv1_3",
    "tlsv1.3+": "TLSv1_3",
}
_REFUSED = ("sslv2", "sslv3", "tlsv1", "tlsv1.1")
_METHODS = _RANGES + tuple(_MINIMUMS)


class Secret:
    """A secret (``:certificate-password``) that no rendering shows by default.

    ``repr``, ``str``, :func:`~post_office.to_lisp` and ``MailServer.to_python()`` write
    ``<redacted>``, and so does :func:`dataclasses.asdict`, which copies the wrapper rather
    than the text.  :meth:`reveal` gives the text back, for the one place that needs it
    (loading the key) and for ``to_lisp(..., reveal_secrets=True)`` (README "Porting
    notes").  Two secrets are equal when their texts are.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        """The secret text."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # only to compare secrets: not loaded to send mail

        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        return (Secret, (self._value,))

    def __lisp_form__(self, reveal_secrets: bool) -> str:
        """What :func:`~post_office.to_lisp` writes: ``"<redacted>"`` unless revealed."""
        return self._value if reveal_secrets else REDACTED


if TYPE_CHECKING:
    #: Allegro's ``:verify``: ``:required`` (the default), ``:optional`` or ``nil`` (none).
    Verify = Literal["required", "optional", "none"]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name == "Verify":
            from typing import Literal

            globals()[name] = Literal["required", "optional", "none"]
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, repr=False)
class TlsSettings:
    """The TLS keywords of one mail-server spec, checked and normalised.

    Field names are the keywords in snake_case; ``verify`` is ``"required"`` (default),
    ``"optional"`` or ``"none"``; ``method`` is the keyword name (``"tlsv1.2"``) or None;
    ``certificate_password`` is a :class:`Secret` (a str given here is wrapped in one).
    """

    method: Optional[str] = None
    certificate: Optional[str] = None
    key: Optional[str] = None
    certificate_password: Optional[Secret] = None
    ca_file: Optional[str] = None
    ca_directory: Optional[str] = None
    crl_file: Optional[str] = None
    crl_check: Optional[str] = None
    verify: Verify = "required"
    max_depth: Optional[int] = None
    ciphers: Optional[str] = None
    ciphersuites: Optional[str] = None
    server_name: Optional[str] = None
    context: Optional[ssl.SSLContext] = field(default=None, compare=True)

    def __post_init__(self) -> None:
        password: object = self.certificate_password
        if isinstance(password, str):
            object.__setattr__(self, "certificate_password", Secret(password))

    def __repr__(self) -> str:
        shown = ", ".join(f"{kw.python_name}={value!r}" for kw, value in self._shown())
        return f"TlsSettings({shown})"

    def __lisp_form__(self, reveal_secrets: bool) -> List[Any]:
        """The settings as a Lisp property list, ``(:ca-file "/ca.pem" :verify nil)``, for
        :func:`~post_office.to_lisp` (the password ``"<redacted>"`` unless revealed)."""
        if self.context is not None:
            raise ServerSpecError("TLS settings with a :context cannot be written as Lisp text")
        out: List[Any] = []
        for key, value in self.keywords():
            out += [key, value]
        return out

    def _shown(self) -> List[Tuple[Keyword, Any]]:
        return [
            (kw, REDACTED if isinstance(value, Secret) else value) for kw, value in self.keywords()
        ]

    def keywords(self) -> List[Tuple[Keyword, Any]]:
        """The non-default settings as ``(Keyword, value)`` pairs, in canonical order."""
        out: List[Tuple[Keyword, Any]] = []
        for name in TLS_KEYWORDS:
            field = name.replace("-", "_")
            value = getattr(self, field)
            default = "required" if field == "verify" else None
            if value == default:
                continue
            if field == "verify":
                value = None if value == "none" else Keyword(value)
            elif field in ("method", "crl_check"):
                value = Keyword(value)
            out.append((Keyword(name), value))
        return out


def _fail(keyword: str, value: object, expected: str) -> ServerSpecError:
    from .redaction import is_secret_key  # only for an error message

    shown = (
        REDACTED
        if is_secret_key(keyword)
        else f":{value.name}"
        if isinstance(value, Keyword)
        else show(value)
    )
    return ServerSpecError(
        f"mail-server keyword :{keyword} has the value {shown}; expected {expected}"
    )


def _name_of(value: object) -> Optional[str]:
    """A keyword-ish value (``Keyword("x")``, ``":x"``, ``"x"``) as a lower-case name."""
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, str):
        return Keyword(value).name
    return None


def _text(keyword: str, value: object) -> Optional[str]:
    if value is None or value is False:
        return None
    if isinstance(value, os.PathLike):
        try:
            value = os.fsdecode(value)
        except Exception:  # the caller's __fspath__
            raise _fail(keyword, value, "a path whose __fspath__ gives a path") from None
    if isinstance(value, str) and value:
        if any(ch in value for ch in "\r\n\x00"):
            raise _fail(keyword, value, "a string without CR, LF or NUL")
        if keyword == "server-name" and any(ch.isspace() or not ch.isprintable() for ch in value):
            raise _fail(keyword, value, "a host name without whitespace or control characters")
        return value
    raise _fail(keyword, value, "a non-empty string, a path (or nil)")


def tls_settings(keywords: Mapping[str, object]) -> TlsSettings:
    """Check the TLS keywords (canonical hyphenated names -> values) and normalise them.

    Raises :class:`~post_office.errors.ServerSpecError` naming the keyword, the value and
    what was expected.  Mirrors the keywords of Allegro's ``make-ssl-client-stream``.
    """
    fields: Dict[str, Any] = {}
    for name, value in keywords.items():
        if name not in TLS_KEYWORDS:
            raise ServerSpecError(f"unknown TLS keyword :{name}")
        field = name.replace("-", "_")
        if name == "method":
            if value is None or value is False:  # nil: not given, as for the other keywords
                continue
            method = _name_of(value)
            if method in _REFUSED:
                raise _fail(
                    name,
                    value,
                    ":tlsv1.2, :tlsv1.3 or a range (:sslv23, :tlsv1+): "
                    f"{method} is insecure and refused by current OpenSSL",
                )
            if method not in _METHODS:
                raise _fail(name, value, "one of " + ", ".join(":" + m for m in _METHODS))
            fields[field] = method
        elif name == "verify":
            if value is None or value is False:
                fields[field] = "none"
            elif value is True or _name_of(value) in ("required", "t"):
                fields[field] = "required"
            elif _name_of(value) == "optional":
                fields[field] = "optional"
            elif _name_of(value) == "nil":
                fields[field] = "none"
            else:
                raise _fail(name, value, "nil, :optional or :required (t)")
        elif name == "crl-check":
            if value is None or value is False:
                continue
            level = "peer" if value is True else _name_of(value)
            if level not in ("peer", "all"):
                raise _fail(name, value, "nil, :peer, :all or t")
            fields[field] = level
        elif name == "max-depth":
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _fail(name, value, "a non-negative integer")
            fields[field] = value
        elif name == "context":
            if value is None:
                continue
            import ssl  # a context given: ssl is loaded already

            if not isinstance(value, ssl.SSLContext):
                raise _fail(name, value, "an ssl.SSLContext")
            fields[field] = value
        elif name == "certificate-password":
            if isinstance(value, Secret):
                value = value.reveal()
            text = _text(name, value)
            fields[field] = None if text is None else Secret(text)
        else:
            fields[field] = _text(name, value)
    settings = TlsSettings(**fields)
    if settings.context is not None:
        clash = [
            str(kw) for kw, _ in settings.keywords() if kw.name not in ("context", "server-name")
        ]
        if clash:
            raise ServerSpecError(
                "mail-server keyword :context cannot be combined with "
                + ", ".join(clash)
                + ": configure the ssl.SSLContext itself"
            )
    if settings.key is not None and settings.certificate is None:
        raise _fail("key", settings.key, "to come with :certificate")
    if settings.certificate_password is not None and settings.certificate is None:
        raise _fail("certificate-password", None, "to come with :certificate")
    if settings.crl_check is not None and settings.crl_file is None and settings.ca_file is None:
        raise _fail("crl-check", settings.crl_check, "to come with :crl-file (or :ca-file)")
    return settings


def _no_password() -> str:
    return ""


def make_ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    """Build the client :class:`ssl.SSLContext` the settings describe.

    Verification is on unless ``verify`` is ``"none"``.  Files are loaded here, so a
    missing CA file or certificate raises :class:`ServerSpecError` before any connection.
    """
    import ssl  # only for TLS: a plain send does not load it

    if settings.context is not None:
        return settings.context
    if settings.ca_directory is not None and not os.path.isdir(settings.ca_directory):
        # OpenSSL looks into a capath lazily and would not notice a wrong one until every
        # handshake fails to verify.
        raise _fail("ca-directory", settings.ca_directory, "an existing directory")
    try:
        context = ssl.create_default_context(cafile=settings.ca_file, capath=settings.ca_directory)
    except (OSError, ssl.SSLError) as exc:
        pairs = (("ca-file", settings.ca_file), ("ca-directory", settings.ca_directory))
        given = " and ".join(f":{key} {value!r}" for key, value in pairs if value is not None)
        raise ServerSpecError(f"mail-server keyword {given} could not be loaded: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.method in _MINIMUMS:
        context.minimum_version = getattr(ssl.TLSVersion, _MINIMUMS[settings.method])
    if settings.verify == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif settings.verify == "optional":
        # A server always presents a certificate, so for a client "optional" verifies
        # the chain that is presented (Python documents CERT_OPTIONAL so).
        context.verify_mode = ssl.CERT_OPTIONAL
    if settings.crl_file is not None:
        try:
            context.load_verify_locations(cafile=settings.crl_file)
        except (OSError, ssl.SSLError) as exc:
            raise _fail("crl-file", settings.crl_file, f"a readable PEM CRL file ({exc})") from exc
    if settings.crl_check is not None:
        context.verify_flags |= (
            ssl.VERIFY_CRL_CHECK_CHAIN if settings.crl_check == "all" else ssl.VERIFY_CRL_CHECK_LEAF
        )
    if settings.certificate is not None:
        # Without a password OpenSSL would prompt on the terminal for an encrypted key and
        # block; the callback makes an encrypted key without :certificate-password fail.
        secret = settings.certificate_password
        password = secret.reveal() if isinstance(secret, Secret) else secret
        try:
            context.load_cert_chain(
                settings.certificate,
                settings.key,
                password=password if password is not None else _no_password,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ServerSpecError(
                f"mail-server keywords :certificate {settings.certificate!r} / :key "
                f"{settings.key!r} could not be loaded (wrong file or :certificate-password?)"
            ) from exc
    if settings.ciphers is not None:
        try:
            context.set_ciphers(settings.ciphers)
        except ssl.SSLError as exc:
            raise _fail("ciphers", settings.ciphers, "an OpenSSL cipher list") from exc
    if settings.ciphersuites is not None or settings.max_depth is not None:
        warn(
            "mail-server keywords :ciphersuites and :max-depth are accepted but not applied: "
            "Python's ssl module offers no way to set them",
            RuntimeWarning,
        )
    return context
