"""What a TLS or greeting failure tells the user to type instead (README "TLS").

A certificate that does not verify suggests the user's spec with ``:ca-file`` (or
``:server-name``), a TLS handshake answered in plain text suggests ``:starttls t``, a port
that never greets suggests ``:ssl t``.
"""

from __future__ import annotations

import ssl
from typing import Any, Callable, Dict, Optional, Sequence

from ..errors import CertificateError, SMTPError, SMTPTimeoutError, TLSError
from ..spec.mailserver import MailServer

__all__ = ["certificate_error", "greeting_error", "handshake_error"]

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
    import dataclasses  # only to explain a failure: not loaded to send

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


def handshake_error(exc: TLSError, server: MailServer, reached: str) -> TLSError:
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


def greeting_error(exc: SMTPError, server: MailServer, reached: str, timeout: float) -> SMTPError:
    """No greeting from a silent port: it may expect TLS at once (README "TLS")."""
    if server.ssl or not isinstance(exc, SMTPTimeoutError):
        return exc
    likely = " (as port 465 does)" if server.port != 465 else ""
    return SMTPTimeoutError(
        f"no greeting from {reached} port {server.port} in {timeout:g} s: this port "
        f"may expect TLS at once{likely}: add :ssl t",
        command=exc.command,
    )
