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
from typing import Any, Dict, Optional, Sequence, Tuple

from ._checks import is_loopback_host
from .connection import Connection, command_bytes
from .debug import Transcript, logger, warn
from .errors import (
    AuthenticationError,
    CertificateError,
    ConnectError,
    HeloError,
    ProtocolError,
    SMTPError,
    StartTLSError,
)
from .options import ConnectOptions, OAuth2Token, check_connect_options
from .protocol.auth import AuthExchange, choose_mechanism
from .protocol.extensions import NO_EXTENSIONS, Extensions, parse_ehlo
from .protocol.replies import Reply
from .protocol.transaction import END_OF_DATA, Stage, Transaction, with_stage
from .resolve import resolve_mail_server
from .spec import MailServer, parse_mail_server
from .tls import make_ssl_context
from .wire import encode_data, known_7bit

__all__ = ["BODY_CHUNK_SIZE", "Session", "default_local_hostname"]

#: Bytes of raw message per encoder chunk and ``sendall`` on the DATA path: large enough
#: that the syscalls are few, small enough that memory stays a small constant.
BODY_CHUNK_SIZE = 1 << 18


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
                    f"initial connect to {where} failed",
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
            if server.starttls:
                self._starttls()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ commands
    def _connection(self) -> Connection:
        if self.connection is None or not self.connection.open:
            from .errors import ServerDisconnectedError

            raise ServerDisconnectedError("the session is not connected")
        return self.connection

    def command(self, line: str, *, shown: Optional[str] = None) -> Reply:
        """Send one command and return the server's reply, whatever its code.

        Bytes the server sent before this command are a protocol violation (RFC 5321
        4.3.1 allows a reply only to a command; PIPELINING aside): a server that answers
        ahead of time could make us take a forged reply for the answer.
        """
        connection = self._connection()
        shown = line if shown is None else shown
        data = command_bytes(line, shown)
        if connection.early_bytes():
            connection.close()
            raise ProtocolError(
                f"the server sent a reply before we said {shown!r}; refusing to go on",
                command=shown,
                reply=connection.parser.partial,
            )
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
                "EHLO was refused and the server is closing the connection",
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
        self._expect(f"HELO {self.local_hostname}", (2,), HeloError, f"HELO{when} was refused")

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
        connection = self._connection()
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
    def authenticate(self, login: str, password: Any) -> None:
        """AUTH with the best common mechanism (CRAM-MD5, PLAIN, LOGIN; XOAUTH2 for tokens).

        Mirrors send-smtp-auth's ``login`` and ``password`` (RFC 4954).  Credentials are
        UTF-8.  A server that offers no AUTH gets the message without it, with a
        ``UserWarning``, as Allegro sends without it.
        """
        server = self.server
        offered = self.extensions.auth
        if not offered:
            hint = (
                " (it offers STARTTLS: many servers offer AUTH only after it, so add :starttls t)"
                if self.extensions.starttls and not self.encrypted
                else ""
            )
            warn(
                f"the server {server.host} does not offer AUTH{hint}: sending without "
                "authenticating, as Allegro does"
            )
            return
        if not self.encrypted and not is_loopback_host(server.host):
            warn(
                f"sending credentials to {server.host} over an unencrypted connection; "
                "use :ssl t or :starttls :required"
            )
        token = isinstance(password, OAuth2Token)
        mechanism = choose_mechanism(offered, token=token)
        if mechanism is None:
            ours = "XOAUTH2" if token else "CRAM-MD5 PLAIN LOGIN"
            raise AuthenticationError(
                f"SMTP authentication failed: no common AUTH mechanism: the server offers "
                f"{' '.join(offered)}, we can use {ours}"
            )
        exchange = AuthExchange(mechanism, login, password.token if token else password)
        step: Optional[Tuple[str, str]] = exchange.first()
        while step is not None:
            line, shown = step
            step = exchange.answer(self.command(line, shown=shown))
        self.auth_mechanism = mechanism

    # ------------------------------------------------------------------ VRFY
    def vrfy(self, argument: str) -> Reply:
        """``VRFY argument`` (RFC 5321 3.5.1) and the server's reply, whatever its code."""
        return self.command(f"VRFY {argument}")

    # ------------------------------------------------------------------ mail
    def send_message(
        self, sender: str, recipients: Sequence[str], messages: Sequence[object]
    ) -> Reply:
        """One mail transaction: MAIL FROM, RCPT TO each, DATA streamed, final reply.

        Returns the server's final reply, only after it accepted the message (a 2xx
        after the body).  The first refused command raises, naming the sender or
        recipient, with the transaction's :class:`~post_office.protocol.transaction.Stage`
        as ``stage``.  On a refusal the transaction is reset (RSET) when the connection
        is still usable; after a 421 (the server is closing) it is dropped.
        """
        transaction = Transaction(
            sender,
            recipients,
            self.extensions,
            eight_bit=not known_7bit(messages),
            server_name=f"the server {self.server.host}",
        )
        try:
            self._negotiate(transaction)
        except SMTPError as exc:
            with_stage(exc, transaction.stage)
            self._after_refusal(exc)
            raise
        return self._send_body(transaction, messages)

    def _negotiate(self, transaction: Transaction) -> None:
        connection = self._connection()
        for group in transaction.groups():
            if len(group) == 1:
                command = group[0]
                error = transaction.answer(command, self.command(command.line))
                if error is not None:
                    raise error
                continue
            data = b"".join(command_bytes(c.line, c.line) for c in group)
            if connection.early_bytes():
                self.command(group[0].line)  # raises the ProtocolError
            connection.write(data, [c.line for c in group])
            replies = []
            for command in group:
                connection.last_command = command.line
                try:
                    replies.append(connection.read_reply())
                except SMTPError:
                    failure, _ = transaction.answer_group(group, replies)
                    if failure is not None:
                        raise failure from None  # e.g. 421, then the server hung up
                    raise
            failure, drop = transaction.answer_group(group, replies)
            if failure is not None:
                if drop:
                    self.transcript.note(
                        "DATA was accepted after a refusal: dropping the connection"
                    )
                    self.close()
                raise failure

    def _after_refusal(self, exc: SMTPError) -> None:
        """Clean up after a refused transaction: RSET, or drop the line after a 421."""
        if exc.code == 421:
            self.close()
        elif exc.code is not None:
            self.reset()

    def _send_body(self, transaction: Transaction, messages: Sequence[object]) -> Reply:
        connection = self._connection()
        transaction.body_started()
        try:
            sent = connection.send_body(encode_data(messages, BODY_CHUNK_SIZE))
            transaction.body_sent()
            self.transcript.note(f"message body sent: {sent} bytes")
            connection.last_command = END_OF_DATA
            reply = connection.read_reply()
            transaction.finish(reply)
        except SMTPError as exc:
            with_stage(exc, transaction.stage)
            self._after_refusal(exc)
            raise
        return reply

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


__all__ += ["Stage"]
