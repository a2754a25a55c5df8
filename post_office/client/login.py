"""SMTP AUTH over a session (RFC 4954), with the rule that credentials go only over TLS.

The exchange itself is :mod:`post_office.protocol.auth`; this module decides whether to
authenticate at all (README "Reliability"):

- with credentials, ``:starttls t`` means ``:starttls :required``: a server (or a man in
  the middle) that does not offer STARTTLS gets no password, and the error says so;
- over a connection without TLS, credentials go only to this machine (a loopback
  address or ``localhost``), or where the spec says ``:allow-plaintext-auth t``;
- credentials never go to a mail exchanger found by an MX lookup (README "DNS"): the
  session must have been opened for credentials, to the name as written;
- a server that offers no AUTH, or no mechanism we share, gets the message without
  AUTH and a ``UserWarning``, as Allegro sends without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple, Union

from .._checks import is_loopback_host
from ..errors import OptionError, StartTLSError, from_failure
from ..protocol.auth import AuthExchange, choose_mechanism
from ..protocol.failures import Failure
from ..spec.mailserver import MailServer
from ..spec.options import Credentials, OAuth2Token
from ..warn import warn

if TYPE_CHECKING:
    from .session import Session

__all__ = ["authenticate", "check_auth_transport"]


def _plaintext_refusal(server: MailServer) -> str:
    return (
        f"credentials go only over TLS, and the mail-server spec for {server.host} uses "
        "neither :ssl t nor :starttls: add :starttls t (or :ssl t for port 465), or "
        ":allow-plaintext-auth t to send the password in clear as Allegro does"
    )


def check_auth_transport(server: MailServer, credentials: Optional[Credentials]) -> None:
    """Refuse, before connecting, credentials that the spec would send in clear."""
    if credentials is None or server.ssl or server.starttls or server.allow_plaintext_auth:
        return
    if not is_loopback_host(server.host):
        raise OptionError(_plaintext_refusal(server))


def authenticate(session: Session, login: str, password: Union[str, OAuth2Token]) -> Optional[str]:
    """Authenticate ``session`` with the best common mechanism (CRAM-MD5, PLAIN, LOGIN;
    XOAUTH2 for an :class:`~post_office.OAuth2Token`); the mechanism used, or None when
    the server offers none we share (then nothing was sent)."""
    server = session.server
    target = session.target
    if target is not None and target.preference is not None:
        # A name from an MX answer is DNS's word, not the user's (RFC 7817 section 3): a
        # certificate that verifies for it proves nothing about where the password goes.
        raise OptionError(
            f"refusing to send credentials to {target.name}, a mail exchanger DNS gave for "
            f"{server.host}: credentials go only to the name as written (open the "
            "session with credentials=True)"
        )
    if not session.encrypted:
        if server.starttls:
            raise StartTLSError(
                f"the server {server.host} did not offer STARTTLS, so the password was not "
                "sent: with a login, :starttls t means :starttls :required (a server that "
                "hides STARTTLS may be a man in the middle)",
                command=f"EHLO {session.local_hostname}",
            )
        if not server.allow_plaintext_auth and not is_loopback_host(server.host):
            raise OptionError(_plaintext_refusal(server))
    offered = session.extensions.auth
    if not offered:
        hint = (
            " (it offers STARTTLS: many servers offer AUTH only after it, so add :starttls t)"
            if session.extensions.starttls and not session.encrypted
            else ""
        )
        warn(
            f"the server {server.host} does not offer AUTH{hint}: sending without "
            "authenticating, as Allegro does"
        )
        return None
    token = isinstance(password, OAuth2Token)
    mechanism = choose_mechanism(offered, token=token)
    if mechanism is None:
        ours = "XOAUTH2" if token else "CRAM-MD5, PLAIN or LOGIN"
        warn(
            f"the server {server.host} offers AUTH {' '.join(offered)}, none of which "
            f"post_office speaks ({ours}): sending without authenticating, as Allegro does"
        )
        return None
    secret = password.token if isinstance(password, OAuth2Token) else password
    exchange = AuthExchange(mechanism, login, secret)
    step: Optional[Tuple[str, str]] = exchange.first()
    while step is not None:
        line, shown = step
        reply = session.command(line, shown=shown)
        try:
            step = exchange.answer(reply)
        except Failure as failure:
            raise from_failure(failure) from failure.__cause__
    return mechanism
