"""``post-office check SERVER``: connect as the spec says and show what the server offers
(greeting, EHLO extensions before and after TLS, TLS version and cipher, certificate, AUTH)
and whether the spec works with it: it goes as far as send would up to MAIL FROM, then
RSET.  No mail is sent.

Only the public API of :class:`post_office.client.session.Session` is used: what it read
(greeting, extensions), what TLS it negotiated, and the peer certificate.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import List, Optional, Tuple

from ...client.session import Session
from ...client.transcript import Transcript
from ...errors import CertificateError
from ...message.addresses import check_address
from ...protocol.auth import choose_mechanism
from ...protocol.extensions import Extensions
from ...protocol.replies import Reply
from ...spec.mailserver import MailServer, parse_mail_server
from ...spec.options import check_auth_transport, check_connect_options, check_credentials
from ...spec.tls import Verify
from .._output import say
from ..certificate import cert_info, show_cert
from ..hints import explain_certificate, mail_refusal_hint, peek_certificate
from ..passwords import password as ask_password
from ..render import dns_line, spec_text
from ..silence import silence_notice
from ..status import EX_PROTOCOL, Failure, status_of_code
from ..transfer import no_auth_failure
from .parse import server_argument

__all__ = ["run"]


def _reply_lines(reply: Optional[Reply]) -> str:
    """A reply as the server sent it (``220-first / 220 last``), on one line."""
    if reply is None:
        return ""
    last = len(reply.lines) - 1
    return " / ".join(
        f"{reply.code}{'-' if number < last else ' '}{line}".rstrip()
        for number, line in enumerate(reply.lines)
    )


def _extensions(extensions: Extensions) -> str:
    if extensions.lines:
        return ", ".join(extensions.lines)
    return "(none: the server answered EHLO with no extensions)"


def _open_session(
    server: MailServer, args: argparse.Namespace, verify: Optional[Verify] = None
) -> Session:
    if verify is not None:
        server = dataclasses.replace(server, tls=dataclasses.replace(server.tls, verify=verify))
    options = check_connect_options(args.timeout, args.local_hostname, None)
    # A second look (verify) is not part of the transcript --debug shows.
    transcript = Transcript(use_global=False) if verify is not None else args.transcript
    session = Session.for_server(server, options, transcript)
    if args.login is None and verify is None:  # as send would: MTA-STS (README "MTA-STS")
        from ...client.delivery import apply_mta_sts

        policy = apply_mta_sts(session)
        say(f"mta-sts:     {policy.describe() if policy is not None else 'no policy applies'}")
    # With --login the check goes where send --login would: the name as written (README "DNS").
    session.open(credentials=args.login is not None)
    return session


def _would_verify(server: MailServer, args: argparse.Namespace) -> Tuple[bool, str]:
    """Whether the server's certificate verifies when verification is on (our default)."""
    try:
        session = _open_session(server, args, "required")
    except CertificateError as exc:
        return False, str(exc)
    with session:
        session.quit()
    return True, ""


def _show_tls(session: Session, server: MailServer, verdict: List[str]) -> None:
    """The STARTTLS / TLS line; adds to ``verdict`` what makes the spec weaker than it looks."""
    described = f"{session.tls_version}, {session.tls_cipher or 'unknown cipher'}"
    if server.starttls and not server.ssl:
        if session.encrypted:
            say(f"STARTTLS:    upgraded ({described})")
        else:
            say("STARTTLS:    not offered by the server; went on in plain text (as Allegro)")
            verdict.append("the server does not offer STARTTLS: the mail goes in plain text")
    elif server.ssl:
        say(f"TLS:         {described}")
    elif session.extensions.starttls:
        say("STARTTLS:    offered, but this spec does not use it: add :starttls t")
        verdict.append("the server offers STARTTLS, which this spec does not use (add :starttls t)")
    else:
        say("TLS:         not used (the server does not offer STARTTLS)")


def _show_verification(
    session: Session, server: MailServer, args: argparse.Namespace, verdict: List[str]
) -> None:
    if server.tls.verify == "none":
        ok, why = _would_verify(server, args)
        say("verified:    no, this spec says :verify nil (Allegro's behaviour)")
        verdict.append("the certificate is not checked (:verify nil)")
        if ok:
            say("             with verification on (the default) it would verify")
        else:
            say(f"             with verification on (the default) it would NOT: {why}")
        return
    against = (
        f":ca-file {server.tls.ca_file}"
        if server.tls.ca_file
        else f":ca-directory {server.tls.ca_directory}"
        if server.tls.ca_directory
        else "the system's CAs"
        if server.tls.context is None
        else "the given :context"
    )
    say(f"verified:    yes: the chain ({against}) and the name {session.tls_name}")


def _show_auth(session: Session, first: Optional[Extensions]) -> None:
    """The AUTH line: what is offered now, only before TLS, only after, or not at all."""
    offered = session.extensions.auth
    if offered:
        mechanism = choose_mechanism(offered, token=False)
        choice = f"post_office would use {mechanism}" if mechanism else "no mechanism in common"
        after = " (offered only after STARTTLS)" if first is not None and not first.auth else ""
        say(f"AUTH:        {' '.join(offered)} ({choice}){after}")
        return
    if not session.encrypted and session.extensions.starttls:
        hint = " (many servers offer AUTH only after STARTTLS: add :starttls t)"
    elif session.encrypted and first is not None and first.auth:
        hint = " after TLS (it was offered before)"
    else:
        hint = ""
    say(f"AUTH:        not offered{hint}")


def _probe_mail(session: Session, args: argparse.Namespace) -> None:
    """What send does next: MAIL FROM, then RSET.  A refusal ends the check with the
    status send would get, and what to change."""
    line = f"MAIL FROM:<{args.from_ or ''}>"
    reply = session.command(line)
    say(f"MAIL FROM:   {_reply_lines(reply)}")
    if 200 <= reply.code < 300:
        _probe_recipients(session, args)
        session.reset()
        return
    hint = mail_refusal_hint(reply, session, args.login)
    raise Failure(
        f"{line} was refused: {_reply_lines(reply)}: {hint}",
        status_of_code(reply.code) or EX_PROTOCOL,
    )


def _open_or_explain(server: MailServer, args: argparse.Namespace) -> Session:
    try:
        return _open_session(server, args)
    except CertificateError as exc:
        info = peek_certificate(
            server, args.timeout, args.local_hostname, credentials=args.login is not None
        )
        show_cert(info)  # the certificate is shown even when it does not verify
        say("verified:    NO")
        raise explain_certificate(exc, server, args, info) from exc.__cause__


def _probe_recipients(session: Session, args: argparse.Namespace) -> None:
    """``--rcpt ADDRESS`` (swaks' ``--quit-after RCPT``): would the server take mail for
    each address?  RCPT TO, then (by the caller) RSET: no message is sent.  A refusal
    ends the check with send's status: 69 refused (5xx), 75 temporary (4xx)."""
    refused: List[str] = []
    worst = 0
    for address in args.rcpt or ():
        reply = session.command(f"RCPT TO:<{address}>")
        say(f"RCPT TO:     <{address}>: {_reply_lines(reply)}")
        if not 200 <= reply.code < 300:
            refused.append(f"<{address}> ({reply.code})")
            worst = max(worst, reply.code)
    if refused:
        session.reset()
        what = "temporarily refused" if worst < 500 else "refused"
        raise Failure(
            f"the server {what} {', '.join(refused)}: no message was sent",
            status_of_code(worst) or EX_PROTOCOL,
        )


def run(args: argparse.Namespace) -> int:
    """Connect, report, optionally log in, MAIL FROM and RSET, QUIT; a non-zero status
    when send with this spec and these options would fail."""
    args.server_text = args.server
    server = parse_mail_server(server_argument(args.server))
    if args.from_:
        check_address(args.from_, "--from")
    for address in args.rcpt or ():
        check_address(address, "--rcpt")
    if args.login is not None:
        # A spec that would send the password in clear is refused before connecting,
        # and before the password is asked for.
        check_auth_transport(server, (args.login, ""))
    password = ask_password(args)
    if args.login is not None:
        assert password is not None
        check_credentials(args.login, password)
    say(f"checking:    {spec_text(server)}")
    say(f"dns:         {dns_line()}")
    with silence_notice(server, args.timeout):
        session = _open_or_explain(server, args)
    with session:
        mode = "implicit TLS" if server.ssl else "plain text"
        target = session.target
        address = f", address {target.address}" if target and target.address != target.name else ""
        say(f"connected:   {session.reached} port {server.port}{address} ({mode})")
        say(f"greeting:    {_reply_lines(session.greeting)}")
        before = session.extensions_before_tls
        # The first EHLO answered: before STARTTLS when there was one, else the only one.
        first = before if before is not None else None if session.used_helo else session.extensions
        if first is not None:
            say(f"EHLO:        {_extensions(first)}")
        else:
            say("EHLO:        refused; HELO was used (no ESMTP extensions)")
        verdict: List[str] = []
        _show_tls(session, server, verdict)
        if session.encrypted:
            show_cert(cert_info(session.peer_certificate(), session.peer_certificate_dict()))
            _show_verification(session, server, args, verdict)
        if before is not None and not session.used_helo:
            say(f"EHLO (TLS):  {_extensions(session.extensions)}")
        _show_auth(session, first)
        if args.login is not None:
            assert password is not None
            tls_ok = session.encrypted or not server.starttls
            if choose_mechanism(session.extensions.auth, token=False) is None and tls_ok:
                raise no_auth_failure(session, args.login)
            session.authenticate(args.login, password)
            say(f"login:       accepted for {args.login} ({session.auth_mechanism})")
        _probe_mail(session, args)
        session.quit()
    if verdict:
        say("result:      works, with a caveat: " + "; ".join(verdict))
    else:
        say("result:      OK: this spec works with this server")
    return 0
