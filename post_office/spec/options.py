"""The options of a connection and the credentials, checked before any socket exists.

``timeout``, ``local_hostname`` and ``source_address`` are Python-only options of every
sending call (README "API: Allegro -> Python"); ``login`` and ``password`` mirror
send-smtp-auth's.  Each check raises :class:`~post_office.errors.OptionError` naming the
argument as the caller wrote it.
"""

from __future__ import annotations

from .._checks import REDACTED, check_timeout, is_loopback_host
from ..errors import OptionError
from ..protocol.conversation import plaintext_refusal

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Optional, Tuple, Union

if TYPE_CHECKING:  # the standard decorator for type checkers; ours at run time (no inspect)
    from dataclasses import dataclass
else:
    from .._record import dataclass

if TYPE_CHECKING:
    from .mailserver import MailServer

__all__ = [
    "ConnectOptions",
    "Credentials",
    "OAuth2Token",
    "check_auth_transport",
    "check_connect_options",
    "check_credentials",
    "check_timeout",
    "optional_credentials",
]


class OAuth2Token:
    """An OAuth2 access token given as the password: authenticate with XOAUTH2 (extension)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return f"OAuth2Token({REDACTED})"


if TYPE_CHECKING:
    #: send-smtp-auth's ``login`` and ``password``, checked.
    Credentials = Tuple[str, Union[str, OAuth2Token]]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name == "Credentials":
            from typing import Tuple, Union

            globals()[name] = Tuple[str, Union[str, OAuth2Token]]
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ConnectOptions:
    """The Python-only options of a connection."""

    timeout: float = 60.0
    local_hostname: Optional[str] = None
    source_address: Optional[Tuple[str, int]] = None


def _check_local_hostname(name: object) -> Optional[str]:
    if name is None:
        return None
    if (
        not isinstance(name, str)
        or not name
        or any(ch.isspace() or not ch.isprintable() for ch in name)
    ):
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        raise OptionError(
            f"local_hostname {shown} is not a host name or address literal for EHLO "
            "(no whitespace or control characters)"
        )
    return name


def _check_source_address(address: object) -> Optional[Tuple[str, int]]:
    if address is None:
        return None
    if (
        isinstance(address, tuple)
        and len(address) == 2
        and isinstance(address[0], str)
        and isinstance(address[1], int)
        and not isinstance(address[1], bool)
        and 0 <= address[1] <= 65535
    ):
        return (address[0], address[1])
    shown = repr(address) if isinstance(address, (tuple, str)) else type(address).__name__
    raise OptionError(f"source_address {shown} is not a (host, port) tuple (port 0 for any)")


def check_connect_options(
    timeout: object = 60, local_hostname: object = None, source_address: object = None
) -> ConnectOptions:
    """Check the three connection options together."""
    return ConnectOptions(
        check_timeout(timeout),
        _check_local_hostname(local_hostname),
        _check_source_address(source_address),
    )


def _check_utf8(text: str, argument: str) -> None:
    """AUTH sends credentials as UTF-8 (RFC 4616 for PLAIN, RFC 4954): a lone surrogate,
    which is what an environment variable or argv that is not valid UTF-8 reads as in
    Python, cannot be sent.  Refused here, before connecting, without the value: the
    ``UnicodeEncodeError`` it would raise later carries the whole secret in its args."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise OptionError(
            f"{argument} contains a lone surrogate (U+D800..U+DFFF), which UTF-8 and so AUTH "
            "cannot carry (text read from bytes that are not valid UTF-8, such as an "
            "environment variable, reads so); the value is not shown"
        ) from None


def check_credentials(login: object, password: object) -> Credentials:
    """Check send-smtp-auth's ``login`` and ``password`` (the password is never shown)."""
    if not isinstance(login, str) or not login:
        shown = repr(login) if isinstance(login, str) else type(login).__name__
        raise OptionError(f"login {shown} is not a non-empty string")
    _check_utf8(login, "login")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0x80 <= ord(ch) <= 0x9F for ch in login):
        raise OptionError(f"login {login!r} contains a control character")
    if isinstance(password, OAuth2Token):
        token = password.token
        if not isinstance(token, str) or not token:
            raise OptionError(
                f"password's OAuth2Token must hold a non-empty str, not {type(token).__name__}"
            )
        _check_utf8(token, "password's OAuth2Token")
        if any(ord(ch) < 32 for ch in token):
            # XOAUTH2 separates its fields with ^A: a control character would end the token.
            raise OptionError("password's OAuth2Token contains a control character")
        return login, password
    if not isinstance(password, str):
        raise OptionError(
            f"password must be a string or an OAuth2Token, not {type(password).__name__}"
        )
    _check_utf8(password, "password")
    if "\x00" in password:
        raise OptionError("password contains a NUL character, which AUTH cannot carry")
    return login, password


def optional_credentials(login: object, password: object) -> Optional[Credentials]:
    """send-letter's (and smtp_session's) ``login`` and ``password``: both or neither.

    ``None`` for both means no AUTH, as Allegro reads nil for both; so does ``""`` for
    both (README "Differences from Allegro").
    """
    if login is None and password is None:
        return None
    if login == "" and password == "":
        # Allegro tests (and login password): "" is true there, but AUTH with empty
        # credentials cannot succeed, and a server that offers no AUTH takes the mail
        # (smtp.cl, connect-to-mail-server), so "" and "" mean no AUTH, as nil does.
        return None
    if login is None or password is None:
        given, missing = ("login", "password") if login is not None else ("password", "login")
        raise OptionError(
            f"login and password go together: {missing} is missing (got a {given} but no "
            f"{missing}: AUTH needs both, or neither to send without AUTH)"
        )
    return check_credentials(login, password)


def check_auth_transport(server: MailServer, credentials: Optional[Credentials]) -> None:
    """Refuse, before connecting, credentials that the spec would send in clear: without
    ``:ssl t`` or ``:starttls``, only to this machine or with ``:allow-plaintext-auth t``
    (README "Reliability")."""
    if credentials is None or server.ssl or server.starttls or server.allow_plaintext_auth:
        return
    if not is_loopback_host(server.host):
        raise OptionError(plaintext_refusal(server.host))
