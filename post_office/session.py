"""An SMTP session over one :class:`~post_office.connection.Connection` (RFC 5321).

:class:`Session` is the I/O driver's public face: it opens the connection, checks the
greeting, says EHLO (HELO as a fall-back), upgrades with STARTTLS, authenticates, and
runs mail transactions, each step as the :mod:`post_office.protocol` modules say.  What
the command line and ``test_email_address`` need is public here: the greeting, the
extensions before and after TLS, the TLS version and cipher, the peer certificate, and
:meth:`Session.vrfy`.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import ssl
from typing import Any, Callable, Dict, Optional, Sequence, Union

from .connection import Connection, command_bytes
from .debug import Transcript, log_warning
from .errors import (
    CertificateError,
    ConnectError,
    HeloError,
    ProtocolError,
    ServerDisconnectedError,
    SMTPError,
    SMTPTimeoutError,
    StartTLSError,
    TLSError,
)
from .login import authenticate
from .mailing import send_message
from .options import ConnectOptions, OAuth2Token, check_connect_options
from .protocol.extensions import NO_EXTENSIONS, Extensions, parse_ehlo
from .protocol.replies import Reply
from .spec import MailServer, parse_mail_server
from .targets import literal_targets
from .tls import make_ssl_context

__all__ = ["Session", "default_local_hostname"]


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
) -> CertificateError:
    """The error for a certificate that did not verify, with the spec that would.

    The hint depends on why (README "TLS"): a certificate for another name (``names``,
    when the caller could read them, are those it holds) -> connect by one of them or
    say :server-name; an expired one (``expires``: its date, when known) -> the server
    must renew it; any other (an unknown CA) -> :ca-file.  ``form`` renders the
    suggested spec in the caller's own form (the command line keeps Lisp text as
    Lisp); by default the spec's Python form.
    """

    def suggest(keyword: str, value: str) -> str:
        return form(keyword, value) if form is not None else _spec_with(server, keyword, value)

    where = f"{server.host} port {server.port}"
    why = exc.verify_message or str(exc)
    code = exc.verify_code
    off = "or turn verification off explicitly with :verify nil"
    checked = server.tls.server_name or server.host
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
    return CertificateError(f"the certificate of {where} did not verify ({why}): {hint}")


def _handshake_error(exc: TLSError, server: MailServer) -> TLSError:
    """An implicit-TLS handshake answered in plain text says so (README "TLS")."""
    cause = exc.__cause__
    reason = getattr(cause, "reason", None)
    if not isinstance(cause, ssl.SSLError) or reason not in _NOT_TLS:
        return exc
    return TLSError(
        f"{server.host} port {server.port} answered the TLS handshake in plain text ({reason}): "
        "the server speaks plain SMTP here: use :starttls t instead of :ssl t",
        command=exc.command,
    )


def _greeting_error(exc: SMTPError, server: MailServer, timeout: float) -> SMTPError:
    """No greeting from a silent port: it may expect TLS at once (README "TLS")."""
    if server.ssl or not isinstance(exc, SMTPTimeoutError):
        return exc
    likely = " (as port 465 does)" if server.port != 465 else ""
    return SMTPTimeoutError(
        f"no greeting from {server.host} port {server.port} in {timeout:g} s: this port "
        f"may expect TLS at once{likely}: add :ssl t",
        command=exc.command,
    )


class Session:
    """One SMTP connection: :meth:`open`, then :meth:`send_message` any number of times.

    ``server`` is a parsed :class:`~post_office.spec.MailServer`; ``context`` the
    :class:`ssl.SSLContext` built from its TLS keywords (needed for ``:ssl`` or
    ``:starttls``).  Used as a context manager it always closes the socket.
    """

    def __init__(
        self,
        server: MailServer,
        *,
        context: Optional[ssl.SSLContext] = None,
        options: Optional[ConnectOptions] = None,
        transcript: Optional[Transcript] = None,
    ) -> None:
        self.server = server
        self.context = context
        self.options = options if options is not None else ConnectOptions()
        self.transcript = transcript if transcript is not None else Transcript()
        self.connection: Optional[Connection] = None
        self.local_hostname = ""
        self.greeting: Optional[Reply] = None
        self.extensions_before_tls: Optional[Extensions] = None
        self.extensions: Extensions = NO_EXTENSIONS
        self.used_helo = False
        self.auth_mechanism: Optional[str] = None
        self._tls: Dict[str, Any] = {}

    @classmethod
    def prepare(
        cls,
        server: object,
        *,
        timeout: object = 60,
        local_hostname: object = None,
        source_address: object = None,
    ) -> Session:
        """Check a mail-server spec and the options, build the TLS context: no I/O yet."""
        parsed = parse_mail_server(server)
        options = check_connect_options(timeout, local_hostname, source_address)
        return cls.for_server(parsed, options)

    @classmethod
    def for_server(cls, server: MailServer, options: ConnectOptions) -> Session:
        context = make_ssl_context(server.tls) if server.ssl or server.starttls else None
        return cls(server, context=context, options=options)

    # ------------------------------------------------------------------ facts
    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.open

    @property
    def encrypted(self) -> bool:
        return bool(self._tls)

    @property
    def tls_version(self) -> Optional[str]:
        return self._tls.get("version")

    @property
    def tls_cipher(self) -> Optional[str]:
        return self._tls.get("cipher")

    def peer_certificate(self) -> Optional[bytes]:
        """The server's certificate (DER), also when it was not verified."""
        return self._tls.get("der")

    def peer_certificate_dict(self) -> Optional[Dict[str, Any]]:
        """The server's certificate as :meth:`ssl.SSLSocket.getpeercert` decodes it
        (only when it was verified)."""
        return self._tls.get("decoded")

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket without saying QUIT."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def quit(self) -> None:
        """Say QUIT and close.  A failure here is logged, not raised: the mail is sent."""
        try:
            if self.connected:
                self._expect("QUIT", (221,), SMTPError, "QUIT failed")
        except SMTPError as exc:
            log_warning("QUIT was not acknowledged (the message was already accepted): %s", exc)
        finally:
            self.close()

    def open(self) -> None:
        """Connect, check the greeting, EHLO/HELO, and STARTTLS as the server spec says."""
        server = self.server
        if (server.ssl or server.starttls) and self.context is None:
            raise ValueError("a TLS context is needed for :ssl or :starttls")
        connection = Connection(timeout=self.options.timeout, transcript=self.transcript)
        self.connection = connection
        where = f"{server.host} port {server.port}"
        try:
            targets = literal_targets(server.host)
            if targets is None:  # a name: the resolver (and dnspython) only now
                from .resolve import resolve_mail_server

                targets = resolve_mail_server(
                    server.host, timeout=self.options.timeout, note=self.transcript.note
                )
            try:
                connection.connect_any(
                    targets,
                    server.port,
                    source_address=self.options.source_address,
                    tls=self.context if server.ssl else None,
                    # checked when the spec was parsed: no whitespace or control characters
                    server_name=server.tls.server_name,
                )
            except ssl.SSLCertVerificationError as exc:
                raise certificate_error(exc, server) from exc
            except TLSError as exc:
                raise _handshake_error(exc, server) from exc.__cause__
            self._tls = connection.tls_facts()
            try:
                greeting = connection.read_reply("waiting for the greeting")
            except SMTPTimeoutError as exc:
                raise _greeting_error(exc, server, self.options.timeout) from exc
            self.greeting = greeting
            if not 200 <= greeting.code < 300:
                raise ConnectError(
                    f"initial connect failed: {where} did not greet us with 2xx",
                    code=greeting.code,
                    reply=greeting.text,
                    command="(connect)",
                )
            self.local_hostname = (
                self.options.local_hostname
                or default_local_hostname()
                or connection.local_literal()
            )
            self._hello()
            if server.starttls and not server.ssl:  # implicit TLS is TLS already
                self._starttls()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ commands
    def connected_connection(self) -> Connection:
        """The open connection, or :class:`~post_office.errors.ServerDisconnectedError`."""
        if self.connection is None or not self.connection.open:
            raise ServerDisconnectedError("the session is not connected")
        return self.connection

    def check_quiet(self, about_to: str) -> None:
        """Refuse to go on when the server sent bytes nobody asked for yet.

        RFC 5321 4.3.1 allows a reply only to a command (PIPELINING aside): a server
        that answers ahead of time could make us take a forged reply for the answer
        to what we are about to send.
        """
        connection = self.connected_connection()
        if connection.early_bytes():
            connection.close()
            raise ProtocolError(
                f"the server sent a reply before we said {about_to!r}; refusing to go on",
                command=about_to,
                reply=connection.parser.partial,
            )

    def command(self, line: str, *, shown: Optional[str] = None) -> Reply:
        """Send one command and return the server's reply, whatever its code (after
        :meth:`check_quiet`: nothing may have arrived before the command)."""
        shown = line if shown is None else shown
        data = command_bytes(line, shown)
        self.check_quiet(shown)
        connection = self.connected_connection()
        connection.write(data, [shown])
        return connection.read_reply()

    def _expect(self, line: str, ok: Sequence[int], error: Any, what: str) -> Reply:
        reply = self.command(line)
        if reply.code not in ok and reply.code // 100 not in ok:
            raise error(what, code=reply.code, reply=reply.text, command=line)
        return reply

    def _hello(self, when: str = "") -> None:
        """EHLO, and HELO when EHLO is refused (``when``: " after STARTTLS" in messages)."""
        line = f"EHLO {self.local_hostname}"
        reply = self.command(line)
        if reply.code == 421:  # the server is closing: no HELO fall-back, report the 421
            raise HeloError(
                "SMTP transaction failed: EHLO was refused and the server is closing the "
                "connection",
                code=reply.code,
                reply=reply.text,
                command=line,
            )
        if reply.code == 250:
            self.extensions = parse_ehlo(reply)
            self.used_helo = False
            return
        self.extensions = NO_EXTENSIONS
        self.used_helo = True
        self._expect(
            f"HELO {self.local_hostname}",
            (2,),
            HeloError,
            f"SMTP transaction failed: HELO{when} was refused",
        )

    def _starttls(self) -> None:
        server = self.server
        if not self.extensions.starttls:
            if server.starttls == "required":
                raise StartTLSError(
                    f"the server {server.host} does not offer STARTTLS, and the mail-server "
                    "spec says :starttls :required",
                    command=f"EHLO {self.local_hostname}",
                )
            self.transcript.note("the server does not offer STARTTLS; going on in plain text")
            return
        self._expect("STARTTLS", (220,), StartTLSError, "STARTTLS was refused")
        assert self.context is not None
        connection = self.connected_connection()
        try:
            connection.wrap(
                self.context,
                server.tls.server_name or server.host,
                "negotiating TLS after STARTTLS",
                "STARTTLS",
            )
        except ssl.SSLCertVerificationError as exc:
            raise certificate_error(exc, server) from exc
        self._tls = connection.tls_facts()
        self.transcript.note(f"TLS established ({self.tls_version})")
        self.extensions_before_tls = self.extensions
        self._hello(" after STARTTLS")

    # ------------------------------------------------------------------ AUTH
    def authenticate(self, login: str, password: Union[str, OAuth2Token]) -> None:
        """AUTH as send-smtp-auth's ``login`` and ``password`` (RFC 4954): see
        :func:`post_office.login.authenticate` for the rules."""
        self.auth_mechanism = authenticate(self, login, password)

    # ------------------------------------------------------------------ VRFY
    def vrfy(self, argument: str) -> Reply:
        """``VRFY argument`` (RFC 5321 3.5.1) and the server's reply, whatever its code."""
        return self.command(f"VRFY {argument}")

    # ------------------------------------------------------------------ mail
    def send_message(
        self, sender: str, recipients: Sequence[str], messages: Sequence[object]
    ) -> Reply:
        """One mail transaction (see :func:`post_office.mailing.send_message`); the
        server's final reply, once it accepted the message."""
        return send_message(self, sender, recipients, messages)

    def idle_alive(self) -> bool:
        """Whether the connection is open and the server has not hung up on it."""
        return self.connection is not None and self.connection.idle_alive()

    def reset(self) -> None:
        """RSET after a refused transaction; if that fails too, drop the connection."""
        if not self.connected:
            return
        try:
            reply = self.command("RSET")
        except SMTPError:
            reply = None
        if reply is None or not 200 <= reply.code < 300:
            self.close()
