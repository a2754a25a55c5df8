"""``post-office check SERVER``: connect as the spec says and show what the server offers
(greeting, EHLO extensions before and after TLS, TLS version and cipher, certificate, AUTH)
and whether the spec works with it.  No mail is sent."""

from __future__ import annotations

import argparse
import dataclasses
import ssl
import sys
from typing import List, Optional, Sequence, TextIO, Tuple

from ..debug import Transcript
from ..errors import AuthenticationError, CertificateError
from ..smtp import Session, check_credentials
from ..spec import MailServer, parse_mail_server
from ._output import say
from .certificate import cert_info, show_cert
from .passwords import password as ask_password

__all__ = ["run"]


class _Recorder(Transcript):
    """A transcript that keeps every event for ``check`` (and shows it with --debug)."""

    def __init__(self, echo: Optional[TextIO]) -> None:
        super().__init__(echo, use_global=False)
        self.enabled = True
        self.events: List[Tuple[str, str]] = []

    def command(self, shown: str) -> None:
        self.events.append(("command", shown))
        super().command(shown)

    def reply(self, line: str) -> None:
        self.events.append(("reply", line))
        super().reply(line)

    def note(self, text: str) -> None:
        self.events.append(("note", text))
        super().note(text)

    def greeting(self) -> List[str]:
        lines: List[str] = []
        for kind, text in self.events:
            if kind != "reply":
                break
            lines.append(text)
        return lines

    def ehlo_replies(self) -> List[List[str]]:
        """The extension lines of each accepted (2xx) EHLO reply, in order."""
        replies: List[List[str]] = []
        current: Optional[List[str]] = None
        for kind, text in self.events:
            if kind == "command":
                current = [] if text.upper().startswith("EHLO ") else None
                if current is not None:
                    replies.append(current)
            elif kind == "reply" and current is not None:
                current.append(text)
            else:
                current = None
        return [[line[4:] for line in reply[1:]] for reply in replies if reply[0][:1] == "2"]


def _extensions(lines: Sequence[str]) -> str:
    return ", ".join(lines) if lines else "(none: the server answered EHLO with no extensions)"


def _open_session(
    server: MailServer, args: argparse.Namespace, recorder: _Recorder, verify: Optional[str]
) -> Session:
    if verify is not None:
        server = dataclasses.replace(server, tls=dataclasses.replace(server.tls, verify=verify))
    session = Session.prepare(server, timeout=args.timeout, local_hostname=args.local_hostname)
    session.transcript = recorder
    session.open()
    return session


def _would_verify(server: MailServer, args: argparse.Namespace) -> Tuple[bool, str]:
    """Whether the server's certificate verifies when verification is on (our default)."""
    try:
        session = _open_session(server, args, _Recorder(None), "required")
    except CertificateError as exc:
        return False, str(exc)
    with session:
        session.quit()
    return True, ""


def run(args: argparse.Namespace) -> int:
    """Connect, report, optionally log in, QUIT; exit 1 when the spec would not work."""
    server = parse_mail_server(args.server)
    password = ask_password(args)
    if args.login is not None:
        check_credentials(args.login, password)
    spec = server.to_lisp() if server.tls.context is None else server.to_python()
    say(f"checking:    {spec}")
    recorder = _Recorder(sys.stderr if args.debug else None)
    session = _open_session(server, args, recorder, None)
    with session:
        conn = session.conn
        assert conn is not None and conn.sock is not None
        mode = "implicit TLS" if server.ssl else "plain text"
        say(f"connected:   {server.host} port {server.port} ({mode})")
        say(f"greeting:    {' / '.join(recorder.greeting())}")
        ehlos = recorder.ehlo_replies()
        if ehlos:
            say(f"EHLO:        {_extensions(ehlos[0])}")
        else:
            say("EHLO:        refused; HELO was used (no ESMTP extensions)")
        sock = conn.sock
        tls_used = isinstance(sock, ssl.SSLSocket)
        version, cipher = (
            (sock.version(), _cipher(sock)) if isinstance(sock, ssl.SSLSocket) else ("", "")
        )
        verdict: List[str] = []
        if server.starttls and not server.ssl:
            if tls_used:
                say(f"STARTTLS:    upgraded ({version}, {cipher})")
            else:
                say("STARTTLS:    not offered by the server; went on in plain text (as Allegro)")
                verdict.append("the server does not offer STARTTLS: the mail goes in plain text")
        elif server.ssl:
            say(f"TLS:         {version}, {cipher}")
        elif "starttls" in session.features:
            say("STARTTLS:    offered, but this spec does not use it: add :starttls t")
            verdict.append("TLS is offered but not used (add :starttls t)")
        else:
            say("TLS:         not used (the server does not offer STARTTLS)")
        if isinstance(sock, ssl.SSLSocket):
            show_cert(cert_info(sock.getpeercert(binary_form=True), sock.getpeercert()))
            if server.tls.verify == "none":
                ok, why = _would_verify(server, args)
                say("verified:    no, this spec says :verify nil (Allegro's behaviour)")
                verdict.append("the certificate is not checked (:verify nil)")
                if ok:
                    say("             with verification on (the default) it would verify")
                else:
                    say(f"             with verification on (the default) it would NOT: {why}")
            else:
                against = (
                    f":ca-file {server.tls.ca_file}"
                    if server.tls.ca_file
                    else f":ca-directory {server.tls.ca_directory}"
                    if server.tls.ca_directory
                    else "the system's CAs"
                    if server.tls.context is None
                    else "the given :context"
                )
                name = server.tls.server_name or server.host
                say(f"verified:    yes: the chain ({against}) and the name {name}")
        if tls_used and len(ehlos) > 1:
            say(f"EHLO (TLS):  {_extensions(ehlos[-1])}")
        offered = session.features.get("auth", "").upper().split()
        if offered:
            usable = [m for m in ("CRAM-MD5", "PLAIN", "LOGIN") if m in offered]
            choice = f"post_office would use {usable[0]}" if usable else "no mechanism in common"
            say(f"AUTH:        {' '.join(offered)} ({choice})")
        else:
            if not tls_used and "starttls" in session.features:
                hint = " (many servers offer AUTH only after STARTTLS: add :starttls t)"
            elif tls_used and ehlos and any(x.upper().startswith("AUTH") for x in ehlos[0]):
                hint = " after TLS (it was offered before)"
            else:
                hint = ""
            say(f"AUTH:        not offered{hint}")
        if args.login is not None:
            assert password is not None
            if not offered:
                raise AuthenticationError(
                    f"--login {args.login}: the server offers no AUTH"
                    + (" here; add :starttls t" if "starttls" in session.features else "")
                )
            session.authenticate(args.login, password)
            say(f"login:       accepted for {args.login}")
        session.quit()
    if verdict:
        say("result:      works, but " + "; ".join(verdict))
    else:
        say("result:      OK: this spec works with this server")
    return 0


def _cipher(sock: ssl.SSLSocket) -> str:
    cipher = sock.cipher()
    return cipher[0] if cipher else "unknown cipher"
