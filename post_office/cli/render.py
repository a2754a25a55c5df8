"""How the command line shows a parsed mail-server spec: never with its secret.

A spec is rendered only through :meth:`MailServer.to_lisp` / :meth:`MailServer.to_python`
called with their defaults, which redact ``:certificate-password``; :func:`spec_text`
also makes sure of it, so that no line ``post-office`` prints carries the password
(README "Reliability": secrets are never rendered by default).
"""

from __future__ import annotations

from ..lisp import to_lisp
from ..resolve import current_settings
from ..spec import MailServer

__all__ = ["dns_line", "lisp_text", "python_text", "spec_text"]

_HIDDEN = "<redacted>"


def _hide(server: MailServer, text: str) -> str:
    secret = server.tls.certificate_password
    if not secret:
        return text
    for form in (to_lisp(secret), repr(secret)):
        text = text.replace(form, to_lisp(_HIDDEN) if form.startswith('"') else repr(_HIDDEN))
    return text


def lisp_text(server: MailServer) -> str:
    """The spec as Lisp text, redacted."""
    return _hide(server, server.to_lisp())


def python_text(server: MailServer) -> str:
    """The spec in its Python form, redacted."""
    return _hide(server, server.to_python())


def spec_text(server: MailServer) -> str:
    """Lisp text when the spec can be written so (no ``:context``), else Python."""
    return lisp_text(server) if server.tls.context is None else python_text(server)


def dns_line() -> str:
    """``post_office.dns_mode`` / ``dns_nameservers`` as they are now (README "DNS")."""
    return current_settings().describe()
