"""How the command line shows a parsed mail-server spec: never with its secret.

A spec is rendered only through :meth:`MailServer.to_lisp` / :meth:`MailServer.to_python`
called with their defaults, which redact ``:certificate-password`` (README "Porting
notes"), so that no line ``post-office`` prints carries the password.
"""

from __future__ import annotations

from ..client.resolve import current_settings
from ..spec.mailserver import MailServer

__all__ = ["dns_line", "lisp_text", "python_text", "spec_text"]


def lisp_text(server: MailServer) -> str:
    """The spec as Lisp text, redacted."""
    return server.to_lisp()


def python_text(server: MailServer) -> str:
    """The spec in its Python form, redacted."""
    return server.to_python()


def spec_text(server: MailServer) -> str:
    """Lisp text when the spec can be written so (no ``:context``), else Python."""
    return lisp_text(server) if server.tls.context is None else python_text(server)


def dns_line() -> str:
    """``post_office.dns_mode`` / ``dns_nameservers`` as they are now (README "DNS")."""
    return current_settings().describe()
