"""An SMTP session over one :class:`~post_office.connection.Connection` (RFC 5321).

:class:`Session` is the I/O driver's public face: it opens the connection, checks the
greeting, says EHLO (HELO as a fall-back), upgrades with STARTTLS, authenticates, and
runs mail transactions, each step as the :mod:`post_office.protocol` modules say.  What
the command line and ``test_email_address`` need is public here: the greeting, the
extensions before and after TLS, the TLS version and cipher, the peer certificate, and
:meth:`Session.vrfy`.
"""

from __future__ import annotations

import functools
import socket
import ssl
from typing import Any, Dict, Optional, Sequence, Union

from .connection import Connection, command_bytes
from .debug import Transcript, logger
from .errors import (
    CertificateError,
    ConnectError,
    HeloError,
    ProtocolError,
    ServerDisconnectedError,
    SMTPError,
    StartTLSError,
)
from .login import authenticate
from .mailing import send_message
from .options import ConnectOptions, OAuth2Token, check_connect_options
from .protocol.extensions import NO_EXTENSIONS, Extensions, parse_ehlo
from .protocol.replies import Reply
from .resolve import resolve_mail_server
from .spec import MailServer, parse_mail_server
from .tls import make_ssl_context

__all__ = ["Session", "default_local_hostname"]


@functools.lru_cache(maxsize=1)
def default_local_hostname() -> Optional[str]:
    """This host's FQDN, looked up once per process (smtplib looks it up per connection)."""
    name = socket.getfqdn()
    return name if "." in name and name.isascii() else None


def certificate_error(exc: ssl.SSLCertVerificationError, server: MailServer) -> CertificateError:
    return CertificateError(
        f"the certificate of {server.host} port {server.port} did not verify "
        f"({exc.verify_message or exc}): point :ca-file at the CA that signed it, e.g. "
        f'("{server.host}" :port {server.port} :ca-file "/path/to/ca.pem"), '
        "or turn verification off explicitly with :verify nil"
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
            logger.warning("QUIT was not acknowledged (the message was already accepted): %s", exc)
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
            self._tls = connection.tls_facts()
            greeting = connection.read_reply("waiting for the greeting")
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
