"""Opening an SMTP session (RFC 5321 3.1, 4.1.1.1; STARTTLS, RFC 3207).

Resolve the mail-server name (README "DNS"), connect to the first address that answers,
check the greeting, say EHLO (HELO as a fall-back) and upgrade with STARTTLS as the spec
says.  Failures say what is likely wrong and what to type instead: a certificate that
does not verify suggests the user's spec with ``:ca-file`` (or ``:server-name``), a TLS
handshake answered in plain text suggests ``:starttls t``, a port that never greets
suggests ``:ssl t``.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence

from ..errors import (
    CertificateError,
    ConnectError,
    HeloError,
    SMTPError,
    SMTPTimeoutError,
    StartTLSError,
    TLSError,
)
from ..protocol.extensions import NO_EXTENSIONS, parse_ehlo
from ..spec.mailserver import MailServer
from .connection import connect
from .targets import literal_targets

if TYPE_CHECKING:
    from .session import Session

__all__ = [
    "CONNECT_TIMEOUTS",
    "certificate_error",
    "default_local_hostname",
    "hello",
    "open_session",
    "starttls",
]

#: Resolving a name and connecting to its addresses end within this many ``timeout``s,
#: however many addresses DNS lists (README "Reliability"); each address gets at most one.
CONNECT_TIMEOUTS = 2


@functools.lru_cache(maxsize=1)
def default_local_hostname() -> Optional[str]:
    """This host's FQDN, looked up once per process (smtplib looks it up per connection)."""
    name = socket.getfqdn()
    return name if "." in name and name.isascii() else None


#: OpenSSL's verify codes (``X509_V_ERR_*``) that the hints below tell apart.
_NAME_MISMATCH = (62, 64)  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
_EXPIRED = 10  # CERT_HAS_EXPIRED
_NOT_YET_VALID = 9  # CERT_NOT_YET_VALID
#: OpenSSL's reasons for a TLS handshake answered by something that is not TLS.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG"}
)
#: Renders the user's spec with one more keyword: ``(keyword, value) -> spec text``.
SpecForm = Callable[[str, str], str]


def _spec_with(server: MailServer, keyword: str, value: str) -> str:
    """``server`` with one more TLS keyword, in its Python form (secrets redacted)."""
    field = keyword.lstrip(":").replace("-", "_")
    changes: Dict[str, Any] = {field: value}
    changed = dataclasses.replace(server, tls=dataclasses.replace(server.tls, **changes))
    return changed.to_python()


def certificate_error(
    exc: ssl.SSLCertVerificationError,
    server: MailServer,
    *,
    form: Optional[SpecForm] = None,
    names: Sequence[str] = (),
    expires: Optional[str] = None,
    checked: Optional[str] = None,
    reached: Optional[str] = None,
) -> CertificateError:
    """The error for a certificate that did not verify, with the spec that would.

    The hint depends on why (README "TLS"): a certificate for another name (``names``,
    when the caller could read them, are those it holds) -> connect by one of them or
    say :server-name; an expired one (``expires``: its date, when known) -> the server
    must renew it; any other (an unknown CA) -> :ca-file.  ``form`` renders the
    suggested spec in the caller's own form (the command line keeps Lisp text as
    Lisp); by default the spec's Python form.  ``checked`` is the name the certificate
    was checked against (the mail exchanger reached, README "DNS"), by default the spec's;
    ``reached`` the host connected to as :attr:`Session.reached` names it.  Both are kept
    on the error (``checked_name``, ``reached``) for the command line's hints.
    """

    def suggest(keyword: str, value: str) -> str:
        return form(keyword, value) if form is not None else _spec_with(server, keyword, value)

    reached = reached or server.host
    where = f"{reached} port {server.port}"
    why = exc.verify_message or str(exc)
    code = exc.verify_code
    off = "or turn verification off explicitly with :verify nil"
    checked = checked or server.tls.server_name or server.host
    if code in _NAME_MISMATCH:
        holds = f" (it holds {', '.join(names)})" if names else ""
        dns = [name[4:] for name in names if name.startswith("DNS:")]
        example = dns[0] if dns else "mail.example.org"
        hint = (
            f"the certificate is not for {checked}{holds}: connect to a name it holds, or "
            f"say which name to check with :server-name, e.g. {suggest(':server-name', example)}"
        )
    elif code == _EXPIRED:
        when = f" on {expires}" if expires else ""
        hint = f"the certificate expired{when}: the server must renew it ({off})"
    elif code == _NOT_YET_VALID:
        when = f" (from {expires})" if expires else ""
        hint = f"the certificate is not valid yet{when}: check this machine's clock ({off})"
    elif server.tls.ca_file:
        hint = (
            f"the CA in :ca-file {server.tls.ca_file} did not sign it: point :ca-file at the "
            f"CA that did, {off}"
        )
    else:
        hint = (
            "point :ca-file at the CA that signed it, e.g. "
            f"{suggest(':ca-file', '/path/to/ca.pem')}, {off}"
        )
    error = CertificateError(f"the certificate of {where} did not verify ({why}): {hint}")
    error.checked_name, error.reached = checked, reached
    return error


def _handshake_error(exc: TLSError, server: MailServer, reached: str) -> TLSError:
    """An implicit-TLS handshake answered in plain text says so (README "TLS")."""
    cause = exc.__cause__
    reason = getattr(cause, "reason", None)
    if not isinstance(cause, ssl.SSLError) or reason not in _NOT_TLS:
        return exc
    return TLSError(
        f"{reached} port {server.port} answered the TLS handshake in plain text ({reason}): "
        "the server speaks plain SMTP here: use :starttls t instead of :ssl t",
        command=exc.command,
    )


def _greeting_error(exc: SMTPError, server: MailServer, reached: str, timeout: float) -> SMTPError:
    """No greeting from a silent port: it may expect TLS at once (README "TLS")."""
    if server.ssl or not isinstance(exc, SMTPTimeoutError):
        return exc
    likely = " (as port 465 does)" if server.port != 465 else ""
    return SMTPTimeoutError(
        f"no greeting from {reached} port {server.port} in {timeout:g} s: this port "
        f"may expect TLS at once{likely}: add :ssl t",
        command=exc.command,
    )


def _certificate_error(exc: ssl.SSLCertVerificationError, session: Session) -> CertificateError:
    return certificate_error(exc, session.server, checked=session.tls_name, reached=session.reached)


def open_session(session: Session) -> None:
    """Connect, check the greeting, EHLO/HELO, and STARTTLS as the server spec says.

    A session that will carry credentials (``session.sends_credentials``) connects to the
    name as written, never to a mail exchanger from an MX answer (README "DNS")."""
    server = session.server
    if (server.ssl or server.starttls) and session.context is None:
        raise ValueError("a TLS context is needed for :ssl or :starttls")
    timeout = session.options.timeout
    deadline = time.monotonic() + CONNECT_TIMEOUTS * timeout
    try:
        targets = literal_targets(server.host)
        if targets is None:  # a name: the resolver (and dnspython) only now
            from .resolve import resolve_mail_server

            targets = resolve_mail_server(
                server.host,
                follow_mx=not session.sends_credentials,
                timeout=timeout,
                note=session.transcript.note,
            )
        connection, session.target = connect(
            targets,
            server.port,
            timeout=timeout,
            transcript=session.transcript,
            source_address=session.options.source_address,
            deadline=deadline,
        )
        session.connection = connection
        where = f"{session.reached} port {server.port}"
        try:
            if server.ssl:
                assert session.context is not None
                connection.wrap(session.context, session.tls_name, "negotiating TLS")
        except ssl.SSLCertVerificationError as exc:
            raise _certificate_error(exc, session) from exc
        except TLSError as exc:
            raise _handshake_error(exc, server, session.reached) from exc.__cause__
        session.tls_facts = connection.tls_facts()
        try:
            greeting = connection.read_reply("waiting for the greeting")
        except SMTPTimeoutError as exc:
            raise _greeting_error(exc, server, session.reached, timeout) from exc
        session.greeting = greeting
        if not 200 <= greeting.code < 300:
            raise ConnectError(
                f"initial connect failed: {where} did not greet us with 2xx",
                code=greeting.code,
                reply=greeting.text,
                command="(connect)",
            )
        session.local_hostname = (
            session.options.local_hostname or default_local_hostname() or connection.local_literal()
        )
        hello(session)
        if server.starttls and not server.ssl:  # implicit TLS is TLS already
            starttls(session)
    except BaseException:
        session.close()
        raise


def hello(session: Session, when: str = "") -> None:
    """EHLO, and HELO when EHLO is refused (``when``: " after STARTTLS" in messages)."""
    line = f"EHLO {session.local_hostname}"
    reply = session.command(line)
    if reply.code == 421:  # the server is closing: no HELO fall-back, report the 421
        raise HeloError(
            "SMTP transaction failed: EHLO was refused and the server is closing the connection",
            code=reply.code,
            reply=reply.text,
            command=line,
        )
    if reply.code == 250:
        session.extensions = parse_ehlo(reply)
        session.used_helo = False
        return
    session.extensions = NO_EXTENSIONS
    session.used_helo = True
    session.expect(
        f"HELO {session.local_hostname}",
        (2,),
        HeloError,
        f"SMTP transaction failed: HELO{when} was refused",
    )


def starttls(session: Session) -> None:
    server = session.server
    if not session.extensions.starttls:
        if server.starttls == "required":
            raise StartTLSError(
                f"the server {session.reached} does not offer STARTTLS, and the mail-server "
                "spec says :starttls :required",
                command=f"EHLO {session.local_hostname}",
            )
        session.transcript.note("the server does not offer STARTTLS; going on in plain text")
        return
    session.expect("STARTTLS", (220,), StartTLSError, "STARTTLS was refused")
    assert session.context is not None
    connection = session.connected_connection()
    try:
        connection.wrap(
            session.context, session.tls_name, "negotiating TLS after STARTTLS", "STARTTLS"
        )
    except ssl.SSLCertVerificationError as exc:
        raise _certificate_error(exc, session) from exc
    session.tls_facts = connection.tls_facts()
    session.transcript.note(f"TLS established ({session.tls_version})")
    session.extensions_before_tls = session.extensions
    hello(session, " after STARTTLS")
