"""An SMTP session over one :class:`~post_office.client.connection.Connection` (RFC 5321).

:class:`Session` is the I/O driver's public face: it opens the connection, checks the
greeting, says EHLO (HELO as a fall-back), upgrades with STARTTLS, authenticates, and
runs mail transactions, each step as the :mod:`post_office.protocol` modules say.  What
the command line and ``test_email_address`` need is public here: the greeting, the
extensions before and after TLS, the TLS version and cipher, the peer certificate, and
:meth:`Session.vrfy`.
"""

from __future__ import annotations

import ssl
from typing import Any, Dict, Optional, Sequence, Union

from ..errors import (
    ProtocolError,
    ServerDisconnectedError,
    SMTPError,
    with_stage,
)
from ..protocol.extensions import NO_EXTENSIONS, Extensions
from ..protocol.replies import Reply
from ..protocol.stage import Stage
from ..spec.mailserver import MailServer, parse_mail_server
from ..spec.options import ConnectOptions, OAuth2Token, check_connect_options
from ..spec.tls import make_ssl_context
from .connection import Connection, command_bytes
from .login import authenticate
from .mailing import send_message
from .opening import default_local_hostname, open_session
from .targets import Target
from .transcript import Transcript, log_warning

__all__ = ["Session", "default_local_hostname"]


class Session:
    """One SMTP connection: :meth:`open`, then :meth:`send_message` any number of times.

    ``server`` is a parsed :class:`~post_office.spec.mailserver.MailServer`; ``context`` the
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
        #: the TLS version, cipher and peer certificate once encrypted (see the properties)
        self.tls_facts: Dict[str, Any] = {}
        #: the address reached (its name is what the certificate is checked against)
        self.target: Optional[Target] = None
        #: credentials will be sent on this connection: it goes to the name as written,
        #: never to a mail exchanger from an MX answer (README "DNS"); set by :meth:`open`
        self.sends_credentials = False

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
        return bool(self.tls_facts)

    @property
    def tls_version(self) -> Optional[str]:
        return self.tls_facts.get("version")

    @property
    def tls_cipher(self) -> Optional[str]:
        return self.tls_facts.get("cipher")

    @property
    def tls_name(self) -> str:
        """The name the certificate must hold: ``:server-name``, else the host reached
        (the mail exchanger's name after an MX answer, README "DNS").  Both were checked
        when the spec was parsed or the name resolved: no whitespace or control
        characters."""
        target = self.target
        return self.server.tls.server_name or (target.name if target else self.server.host)

    @property
    def reached(self) -> str:
        """The host connected to, as messages name it: the spec's host, or after an MX
        answer the mail exchanger and whose it is (README "DNS")."""
        target = self.target
        if target is None or target.preference is None:
            return self.server.host
        return f"{target.name} (mail exchanger of {self.server.host})"

    def peer_certificate(self) -> Optional[bytes]:
        """The server's certificate (DER), also when it was not verified."""
        return self.tls_facts.get("der")

    def peer_certificate_dict(self) -> Optional[Dict[str, Any]]:
        """The server's certificate as :meth:`ssl.SSLSocket.getpeercert` decodes it
        (only when it was verified)."""
        return self.tls_facts.get("decoded")

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
                self.expect("QUIT", (221,), SMTPError, "QUIT failed")
        except SMTPError as exc:
            log_warning("QUIT was not acknowledged (the message was already accepted): %s", exc)
        finally:
            self.close()

    def open(self, *, credentials: bool = False) -> None:
        """Connect, check the greeting, EHLO/HELO, and STARTTLS as the server spec says
        (:func:`post_office.client.opening.open_session`).  ``credentials``: AUTH will follow, so
        connect to the name as written, never through an MX answer (README "DNS")."""
        self.sends_credentials = credentials
        try:
            open_session(self)
        except SMTPError as exc:  # nothing of a message was sent: safe to resend
            with_stage(exc, Stage.BEFORE_MAIL)
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

    def expect(self, line: str, ok: Sequence[int], error: Any, what: str) -> Reply:
        reply = self.command(line)
        if reply.code not in ok and reply.code // 100 not in ok:
            raise error(what, code=reply.code, reply=reply.text, command=line)
        return reply

    # ------------------------------------------------------------------ AUTH
    def authenticate(self, login: str, password: Union[str, OAuth2Token]) -> None:
        """AUTH as send-smtp-auth's ``login`` and ``password`` (RFC 4954): see
        :func:`post_office.client.login.authenticate` for the rules."""
        try:
            self.auth_mechanism = authenticate(self, login, password)
        except SMTPError as exc:
            with_stage(exc, Stage.BEFORE_MAIL)
            raise

    # ------------------------------------------------------------------ VRFY
    def vrfy(self, argument: str) -> Reply:
        """``VRFY argument`` (RFC 5321 3.5.1) and the server's reply, whatever its code."""
        try:
            return self.command(f"VRFY {argument}")
        except SMTPError as exc:
            with_stage(exc, Stage.BEFORE_MAIL)
            raise

    # ------------------------------------------------------------------ mail
    def send_message(
        self, sender: str, recipients: Sequence[str], messages: Sequence[object]
    ) -> Reply:
        """One mail transaction (see :func:`post_office.client.mailing.send_message`); the
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
