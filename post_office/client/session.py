"""An SMTP session over one :class:`~post_office.client.connection.Connection` (RFC 5321).

:class:`Session` owns the connection and the :class:`~post_office.protocol.conversation.
Conversation` whose rules decide every step (greeting, EHLO/HELO, STARTTLS, AUTH); the
functions of :mod:`post_office.client.driver` and :mod:`post_office.client.transfer` carry
those steps out.  What the command line and ``test_email_address`` need is public here:
the greeting, the extensions before and after TLS, the TLS version and cipher, the peer
certificate, and :meth:`Session.vrfy`.
"""

from __future__ import annotations

from .. import errors
from ..errors import from_failure, with_stage
from ..protocol.conversation import Conversation, Facts, StartTLS, TlsFacts
from ..protocol.failures import Failure
from ..protocol.replies import Reply
from ..protocol.stage import Stage
from ..spec.mailserver import MailServer
from ..spec.options import ConnectOptions, OAuth2Token
from ..spec.tls import make_ssl_context
from ..warn import warn
from . import driver
from .connection import Connection
from .driver import default_local_hostname
from .targets import Target
from .transcript import Transcript

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    import ssl
    from typing import Any, Dict, Optional, Sequence, Union

__all__ = ["Session", "default_local_hostname"]

_NO_FACTS = Facts()


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
        #: the rules and what they learnt; None until :meth:`open` has a connection
        self.conversation: Optional[Conversation] = None
        #: the address reached (its name is what the certificate is checked against)
        self.target: Optional[Target] = None
        #: credentials will be sent on this connection: it goes to the name as written,
        #: never to a mail exchanger from an MX answer (README "DNS"); set by :meth:`open`
        self.sends_credentials = False

    @classmethod
    def for_server(
        cls, server: MailServer, options: ConnectOptions, transcript: Optional[Transcript] = None
    ) -> Session:
        """The one way to make a session: the TLS context built from the spec's keywords."""
        context = make_ssl_context(server.tls) if server.ssl or server.starttls else None
        return cls(server, context=context, options=options, transcript=transcript)

    # ------------------------------------------------------------------ facts
    @property
    def facts(self) -> Facts:
        """What the session learnt of its server (one frozen value)."""
        return self.conversation.facts if self.conversation is not None else _NO_FACTS

    # What the conversation learnt, as attributes (read-only; see :attr:`facts`).
    greeting = property(lambda self: self.facts.greeting)
    extensions = property(lambda self: self.facts.extensions)
    extensions_before_tls = property(lambda self: self.facts.extensions_before_tls)
    used_helo = property(lambda self: self.facts.used_helo)
    auth_mechanism = property(lambda self: self.facts.auth_mechanism)
    tls = property(lambda self: self.facts.tls)

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.open

    @property
    def encrypted(self) -> bool:
        return self.tls is not None

    @property
    def tls_version(self) -> Optional[str]:
        return self.tls.version if self.tls is not None else None

    @property
    def tls_cipher(self) -> Optional[str]:
        return self.tls.cipher if self.tls is not None else None

    @property
    def tls_name(self) -> str:
        """The name the certificate must hold: ``:server-name``, else the host reached
        (the mail exchanger's name after an MX answer, README "DNS")."""
        return driver.tls_name(self.server, self.target)

    @property
    def reached(self) -> str:
        """The host connected to, as messages name it: the spec's host, or after an MX
        answer the mail exchanger and whose it is (README "DNS")."""
        return driver.reached_name(self.server, self.target)

    def peer_certificate(self) -> Optional[bytes]:
        """The server's certificate (DER), also when it was not verified."""
        return self.tls.der if self.tls is not None else None

    def peer_certificate_dict(self) -> Optional[Dict[str, Any]]:
        """The server's certificate as :meth:`ssl.SSLSocket.getpeercert` decodes it
        (only when it was verified)."""
        return self.tls.decoded if self.tls is not None else None

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
                driver.end_with_quit(self.connected_connection())
        finally:
            self.close()

    def open(self, *, credentials: bool = False) -> None:
        """Connect, check the greeting, EHLO/HELO, and STARTTLS as the server spec says.
        ``credentials``: AUTH will follow, so connect to the name as written, never
        through an MX answer (README "DNS")."""
        server = self.server
        if (server.ssl or server.starttls) and self.context is None:
            raise ValueError("a TLS context is needed for :ssl or :starttls")
        self.sends_credentials = credentials
        self.conversation = None
        try:
            driver.open_connection(
                server,
                self.options,
                self.context,
                self.transcript,
                credentials=credentials,
                on_target=self._connected,
            )
            connection = self.connected_connection()
            tls = driver.tls_facts(connection)
            greeting = driver.greet(connection, server, self.reached, self.options.timeout)
            self.local_hostname = (
                self.options.local_hostname
                or default_local_hostname()
                or connection.local_literal()
            )
            rules = driver.session_rules(self.server, self.target, self.local_hostname)
            self.conversation = Conversation(rules, tls=tls)
            self._run(lambda conversation: conversation.greeted(greeting))
        except errors.SMTPError as exc:  # nothing of a message was sent: safe to resend
            with_stage(exc, Stage.BEFORE_MAIL)
            self.close()
            raise
        except BaseException:
            self.close()
            raise

    def require_verified_tls(self, server: MailServer, context: ssl.SSLContext) -> None:
        """Open with this stricter spec and context: STARTTLS required, the certificate
        verified for the exchanger's name (an MTA-STS policy in enforce mode)."""
        self.server, self.context = server, context

    def _connected(self, connection: Connection, target: Target) -> None:
        self.connection, self.target = connection, target

    def _run(self, first: Any) -> Optional[str]:
        """Run the conversation from ``first(conversation)`` until it proceeds; its
        warning, if any."""
        conversation = self.conversation
        assert conversation is not None
        connection = self.connected_connection()
        try:
            action = first(conversation)
        except Failure as failure:
            raise from_failure(failure) from failure.__cause__
        proceed = driver.run(connection, conversation, action, self.transcript, self._start_tls)
        return proceed.warning

    def _start_tls(self, action: StartTLS) -> Optional[TlsFacts]:
        assert self.context is not None
        return driver.start_tls(
            self.connected_connection(),
            self.context,
            self.server,
            self.target,
            "negotiating TLS after STARTTLS",
            "STARTTLS",
        )

    # ------------------------------------------------------------------ commands
    def connected_connection(self) -> Connection:
        """The open connection, or :class:`~post_office.errors.ServerDisconnectedError`."""
        if self.connection is None or not self.connection.open:
            raise errors.ServerDisconnectedError("the session is not connected")
        return self.connection

    def check_quiet(self, about_to: str) -> None:
        """Refuse to go on when the server sent bytes nobody asked for yet (RFC 5321
        4.3.1: see :func:`post_office.client.driver.check_quiet`)."""
        driver.check_quiet(self.connected_connection(), about_to)

    def command(self, line: str, *, shown: Optional[str] = None) -> Reply:
        """Send one command and return the server's reply, whatever its code (after
        :meth:`check_quiet`: nothing may have arrived before the command)."""
        return driver.exchange(self.connected_connection(), line, line if shown is None else shown)

    # ------------------------------------------------------------------ AUTH
    def authenticate(self, login: str, password: Union[str, OAuth2Token]) -> None:
        """AUTH as send-smtp-auth's ``login`` and ``password`` (RFC 4954), as the
        conversation's rules say: only over TLS (or to this machine, or with
        ``:allow-plaintext-auth t``), never to a mail exchanger from an MX answer, with the
        best mechanism both sides speak; none shared: a warning, and nothing is sent."""
        token = isinstance(password, OAuth2Token)
        secret = password.token if isinstance(password, OAuth2Token) else password
        try:
            warning = self._run(
                lambda conversation: conversation.authenticate(login, secret, token=token)
            )
        except errors.SMTPError as exc:
            with_stage(exc, Stage.BEFORE_MAIL)
            raise
        if warning is not None:
            warn(warning)

    # ------------------------------------------------------------------ VRFY
    def vrfy(self, argument: str) -> Reply:
        """``VRFY argument`` (RFC 5321 3.5.1) and the server's reply, whatever its code."""
        try:
            return self.command(f"VRFY {argument}")
        except errors.SMTPError as exc:
            with_stage(exc, Stage.BEFORE_MAIL)
            raise

    # ------------------------------------------------------------------ mail
    def send_message(
        self,
        sender: str,
        recipients: Sequence[str],
        messages: Sequence[object],
        *,
        then_quit: bool = False,
    ) -> Reply:
        """One mail transaction (:func:`post_office.client.transfer.send_transaction`):
        the server's final reply, once it accepted the message.  On a refusal the
        transaction is reset (RSET) while the connection is usable; after a 421 (the
        server is closing) it is dropped.  ``then_quit``: the session ends with this
        message (QUIT goes with the end of the data where the server offers PIPELINING,
        RFC 2920 3.1); a refusal then drops the line instead of resetting it."""
        from .transfer import send_transaction

        try:
            return send_transaction(
                self.connected_connection(),
                self.transcript,
                self.extensions,
                self.server.host,
                (sender, recipients),
                messages,
                then_quit=then_quit,
            )
        except errors.SMTPError as exc:
            if exc.code == 421 or then_quit:
                self.close()
            elif exc.code is not None:
                self.reset()  # RSET, or drop the line if that fails too
            raise

    def reset(self) -> None:
        """RSET after a refused transaction; if that fails too, drop the connection."""
        if not self.connected:
            return
        try:
            reply = self.command("RSET")
        except errors.SMTPError:
            reply = None
        if reply is None or not 200 <= reply.code < 300:
            self.close()
