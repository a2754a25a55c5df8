"""What a failure tells the user to type instead, in the user's own form (README "The
command line"): a suggested spec is the spec as the user wrote it (Lisp text stays
Lisp text) with one keyword more, and never shows the certificate password."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import re
import ssl
from typing import Callable, Optional

from ..client.session import Session
from ..client.tls_hints import certificate_error
from ..errors import CertificateError, SMTPError
from ..protocol.replies import Reply
from ..protocol.transaction import LOG_IN, sender_refusal_hint
from ..spec.lisp import to_lisp
from ..spec.mailserver import MailServer
from ..spec.redaction import redact_text
from .certificate import CertInfo, cert_info

__all__ = [
    "cli_wording",
    "explain_certificate",
    "mail_refusal_hint",
    "peek_certificate",
    "redact",
    "user_form",
]


def redact(text: str) -> str:
    """Spec text with the value of any ``:certificate-password`` hidden (the package's one
    rule: :func:`~post_office.spec.redaction.redact_text`)."""
    return redact_text(text)


def user_form(text: str, server: MailServer) -> Callable[[str, str], str]:
    """Renders ``text`` (the SERVER argument as typed) with one keyword more: Lisp text
    gets it before its last parenthesis; ``host:port`` becomes the Lisp list it means."""
    stripped = text.strip()

    def form(keyword: str, value: str) -> str:
        if stripped.startswith(("(", "'(")) and stripped.endswith(")"):
            given = re.compile(
                re.escape(keyword).replace("\\-", "[-_]") + r'(\s+)("(?:[^"\\]|\\.)*"|[^\s()]+)',
                re.I,
            )
            if given.search(stripped):  # the keyword is there: change its value
                changed = given.sub(lambda m: f"{keyword}{m.group(1)}{to_lisp(value)}", stripped, 1)
                return redact(changed)
            return redact(f"{stripped[:-1]} {keyword} {to_lisp(value)})")
        if server.tls.context is not None:
            return server.to_python()
        return redact(f"{server.to_lisp()[:-1]} {keyword} {to_lisp(value)})")

    return form


def peek_certificate(
    server: MailServer,
    timeout: float,
    local_hostname: Optional[str],
    *,
    credentials: bool = False,
) -> Optional[CertInfo]:
    """The server's certificate, read over a second connection that does not verify it
    (only to show it: nothing is sent over it).  None when that fails too.
    ``credentials``: the first connection was for credentials, so this one too goes to
    the name as written, not through MX (README "DNS")."""
    unverified = dataclasses.replace(server, tls=dataclasses.replace(server.tls, verify="none"))
    try:
        from ..client.transcript import Transcript
        from ..spec.options import check_connect_options

        options = check_connect_options(timeout, local_hostname, None)
        session = Session.for_server(unverified, options, Transcript(use_global=False))
        session.open(credentials=credentials)
    except (SMTPError, OSError, ValueError):
        return None
    with session:
        info = cert_info(session.peer_certificate(), session.peer_certificate_dict())
        session.quit()
    return info


def _date(moment: Optional[datetime.datetime]) -> Optional[str]:
    return None if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def explain_certificate(
    exc: CertificateError,
    server: MailServer,
    args: argparse.Namespace,
    info: Optional[CertInfo] = None,
) -> CertificateError:
    """``exc`` again, its hint in the user's form with the names and dates the
    certificate holds (read with :func:`peek_certificate` unless given)."""
    cause = exc.__cause__
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return exc
    if info is None:
        credentials = args.login is not None
        info = peek_certificate(server, args.timeout, args.local_hostname, credentials=credentials)
    code = cause.verify_code
    when = None if info is None else _date(info.expires if code != 9 else info.not_before)
    better = certificate_error(
        cause,
        server,
        form=user_form(args.server_text, server),
        names=() if info is None else info.names,
        expires=when,
        checked=exc.checked_name,
        reached=exc.reached,
    )
    better.__cause__ = cause
    return better


def mail_refusal_hint(reply: Reply, session: Session, login: Optional[str]) -> str:
    """What to change when MAIL FROM is refused (530 and the like): the library's hint
    (:func:`~post_office.protocol.transaction.sender_refusal_hint`) in the command line's
    words, so that ``check`` and ``send`` give the same fix."""
    hint = sender_refusal_hint(reply, session.extensions, CLI_LOG_IN)
    if login is not None and CLI_LOG_IN in hint:  # logged in already: only STARTTLS helps
        hint = ""
    return hint or "send with this spec would be refused the same way"


#: ``--login USER`` where the library says how to log in from Python.
CLI_LOG_IN = "add --login USER"


def cli_wording(exc: SMTPError) -> SMTPError:
    """``exc`` with the library's "log in (...)" hint in the command line's words."""
    if LOG_IN in exc.message:
        exc.message = exc.message.replace(LOG_IN, CLI_LOG_IN)
        exc.args = (exc.message, *exc.args[1:])
    return exc
