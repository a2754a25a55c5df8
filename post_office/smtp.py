"""The one place that talks to :mod:`smtplib`: a :class:`Session` (SPEC sections 3, 4, 9, 10).

A session connects (plain or implicit TLS), checks the greeting, says EHLO (HELO as a
fall-back), upgrades with STARTTLS, authenticates, and then sends any number of messages:
``MAIL FROM``, ``RCPT TO`` for each recipient, and ``DATA`` streamed from
:func:`post_office.wire.encode_data` straight onto the socket.  Every failure
becomes an exception of :mod:`post_office.errors` carrying the command we sent and the
server's reply, and the socket is closed on every path that leaves the session unusable.

smtplib gives us the socket handling and the EHLO feature parsing; we replace its reply
reader (bounded in memory, timeouts told apart from disconnects), its command writer
(transcript with redaction, CR/LF/NUL refused) and its AUTH and ``sendmail`` (UTF-8
credentials; a streamed body instead of a whole-message buffer).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hmac
import ipaddress
import re
import select
import smtplib
import socket
import ssl
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .addresses import needs_smtputf8, smtp_path
from .debug import REDACTED, Transcript, logger
from .errors import (
    AuthenticationError,
    CertificateError,
    ConnectError,
    DataError,
    HeloError,
    OptionError,
    ProtocolError,
    RecipientRefusedError,
    SenderRefusedError,
    ServerDisconnectedError,
    SMTPError,
    SMTPTimeoutError,
    SMTPUTF8Error,
    StartTLSError,
    TLSError,
)
from .spec import MailServer, parse_mail_server
from .tls import make_ssl_context
from .wire import encode_data, known_7bit

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["OAuth2Token", "Reply", "Session", "check_credentials", "default_local_hostname"]

#: Longest reply line we accept (RFC 5321 allows 512; smtplib allows 8192).
MAX_LINE = 8192
#: Most lines one multi-line reply may have before we call it hostile.
MAX_REPLY_LINES = 256

Reply = Tuple[int, str]

#: Bytes of raw message per encoder chunk and ``sendall`` on the DATA path: 256 KiB was
#: the fastest of 32 KiB..512 KiB end to end (bench/README.md); each chunk's passes still
#: run in the CPU cache, and the syscalls are few.  Memory stays a small constant.
BODY_CHUNK_SIZE = 1 << 18
#: Bytes asked of the socket per read of replies (io.BufferedReader's default buffer).
RECV_SIZE = 8192


class _Step:
    """One command of a mail transaction, and how its refusal is reported."""

    __slots__ = ("error", "expect", "extra", "line", "what")

    def __init__(
        self,
        line: str,
        error: Callable[..., SMTPError],
        what: str,
        extra: Dict[str, str],
        expect: int = 2,
    ) -> None:
        self.line = line
        self.error = error
        self.what = what
        self.extra = extra
        self.expect = expect  # a reply code, or 2 for any 2xx


class OAuth2Token:
    """An OAuth2 access token given as the password: authenticate with XOAUTH2 (extension)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return f"OAuth2Token({REDACTED})"


@functools.lru_cache(maxsize=1)
def default_local_hostname() -> Optional[str]:
    """This host's FQDN, looked up once per process (smtplib looks it up per connection)."""
    name = socket.getfqdn()
    return name if "." in name and name.isascii() else None


def _address_literal(sock: socket.socket) -> str:
    return _literal_of(sock.getsockname()[0])


@functools.lru_cache(maxsize=16)
def _literal_of(host: str) -> str:
    """A pure function of the local address, which is the same on every connection of a
    host without an FQDN: parsed once, not per message."""
    address = ipaddress.ip_address(host)
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


class _Connection(smtplib.SMTP):
    """smtplib.SMTP with our socket set-up, reply reader and command writer."""

    ehlo_msg = "EHLO"

    def __init__(
        self,
        *,
        context: Optional[ssl.SSLContext],
        server_name: str,
        timeout: float,
        source_address: Optional[Tuple[str, int]],
        transcript: Transcript,
    ) -> None:
        self.tls_context = context
        self.server_name = server_name
        self.transcript = transcript
        self.last_command = "(connect)"
        self.pending = b""  # received from the server, not yet read as reply lines
        super().__init__(local_hostname="localhost", timeout=timeout, source_address=source_address)

    # -- socket set-up: implicit TLS uses our context and :server-name
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout, self.source_address)
        if self.tls_context is None:
            return sock
        try:
            return self.tls_context.wrap_socket(sock, server_hostname=self.server_name)
        except BaseException as exc:
            sock.close()
            # A hang-up, not a TLS fault (Python 3.9 reports it as SSLZeroReturnError).
            if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError)):
                raise _io_error(exc, "(TLS handshake)", "negotiating TLS") from exc
            raise

    # -- writing
    def putcmd(self, cmd: str, args: str = "", *, shown: Optional[str] = None) -> None:
        line = f"{cmd} {args}" if args else cmd
        data = _command_bytes(line, shown)
        self.last_command = shown if shown is not None else line
        self.transcript.command(self.last_command)
        self.send(data)

    def send(self, s: Union[ReadableBuffer, str]) -> None:
        if self.sock is None:
            raise ServerDisconnectedError(
                "the connection is already closed", command=self.last_command
            )
        data = s.encode("utf-8") if isinstance(s, str) else s
        try:
            self.sock.sendall(data)
        except BaseException as exc:
            self.close()
            raise _io_error(exc, self.last_command, "sending") from exc

    # -- reading: bounded, and a timeout is not a disconnect
    def _readline(self, sock: socket.socket) -> bytes:
        """The next reply line with its LF, at most ``MAX_LINE + 1`` bytes (the caller
        refuses a longer one); at end of file what is left, then ``b""``.

        Our own buffer rather than ``sock.makefile()``: a reply is usually one
        ``recv``, and the file object's Python layers cost more than the reading.  It
        holds at most ``MAX_LINE + RECV_SIZE`` bytes: we only receive while it has no
        complete line and is not yet too long for one.
        """
        pending = self.pending
        end = pending.find(b"\n", 0, MAX_LINE + 1)
        while end < 0 and len(pending) <= MAX_LINE:
            chunk = sock.recv(RECV_SIZE)
            if not chunk:
                self.pending = b""
                return pending
            start = len(pending)
            pending += chunk
            end = pending.find(b"\n", start, MAX_LINE + 1)
        if end < 0:
            end = MAX_LINE
        self.pending = pending[end + 1 :]
        return pending[: end + 1]

    def getreply(self) -> Tuple[int, bytes]:
        sock = self.sock
        if sock is None:
            raise ServerDisconnectedError(
                "the connection is already closed", command=self.last_command
            )
        transcript = self.transcript
        lines: List[bytes] = []
        code = -1
        while True:
            try:
                line = self._readline(sock)
            except BaseException as exc:
                self.close()
                raise _io_error(exc, self.last_command, "waiting for the reply") from exc
            if not line:
                self.close()
                raise ServerDisconnectedError(
                    "the server closed the connection" + _while(self.last_command),
                    command=self.last_command,
                    reply=b"\n".join(lines).decode("utf-8", "replace"),
                )
            if len(line) > MAX_LINE:
                self.close()
                raise ProtocolError(
                    f"the server sent a reply line longer than {MAX_LINE} bytes"
                    + _while(self.last_command),
                    command=self.last_command,
                )
            text = line.rstrip(b"\r\n")
            if transcript.enabled:
                transcript.reply(text.decode("utf-8", "replace"))
            # RFC 5321 4.2: three digits (a code from 200 to 599), then "-", a space or
            # the end of the line.
            digits = text[:3]
            separator = text[3:4]
            if (
                len(digits) != 3
                or not digits.isdigit()
                or not b"200" <= digits <= b"599"
                or separator not in _SEPARATORS
            ):
                self.close()
                raise ProtocolError(
                    "the server sent something that is not an SMTP reply",
                    command=self.last_command,
                    reply=text.decode("utf-8", "replace")[:200],
                )
            this_code = int(digits)
            if lines and this_code != code:
                self.close()
                raise ProtocolError(
                    "the server changed the reply code within one multi-line reply",
                    command=self.last_command,
                    reply=text.decode("utf-8", "replace")[:200],
                )
            code = this_code
            lines.append(text[4:].strip(b" \t"))
            if separator != b"-":
                return code, lines[0] if len(lines) == 1 else b"\n".join(lines)
            if len(lines) >= MAX_REPLY_LINES:
                self.close()
                raise ProtocolError(
                    f"the server sent a reply of more than {MAX_REPLY_LINES} lines"
                    + _while(self.last_command),
                    command=self.last_command,
                )


_SEPARATORS = (b"", b" ", b"-")


_FORBIDDEN_IN_COMMAND = re.compile("[\r\n\x00]")


def _command_bytes(line: str, shown: Optional[str]) -> bytes:
    """One command line on the wire; CR, LF or NUL in it could smuggle another command."""
    if _FORBIDDEN_IN_COMMAND.search(line):
        raise OptionError(
            "refusing to send an SMTP command containing CR, LF or NUL: "
            + repr(shown if shown is not None else line)
        )
    return line.encode("utf-8") + b"\r\n"


def _expected(code: int, expect: Sequence[int]) -> bool:
    """Whether a reply code is one of ``expect``; a one-digit entry is a class (2: 2xx)."""
    return code in expect or code // 100 in expect


def _while(command: str) -> str:
    return f" (we had said {command!r})" if command else ""


def _check_not_closing(code: int, raw: bytes, command: str) -> None:
    """A 421 to EHLO means the server is closing: no HELO fall-back, report the 421."""
    if code == 421:
        raise HeloError(
            "EHLO was refused and the server is closing the connection",
            code=code,
            reply=raw.decode("utf-8", "replace"),
            command=command,
        )


def _io_error(exc: BaseException, command: str, doing: str) -> SMTPError:
    if isinstance(exc, SMTPError):
        return exc
    if isinstance(exc, socket.timeout):
        return SMTPTimeoutError(
            f"the server did not answer in time while {doing}" + _while(command), command=command
        )
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return ServerDisconnectedError(
            f"the server closed the connection while {doing}: {exc}" + _while(command),
            command=command,
        )
    if isinstance(exc, ssl.SSLError):
        return TLSError(f"TLS failed while {doing}: {exc}" + _while(command), command=command)
    return ServerDisconnectedError(
        f"the connection broke while {doing}: {exc}" + _while(command), command=command
    )


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise OptionError(
            f"timeout {timeout!r} is not a positive number of seconds (a dead server must "
            "never hang the caller, so there is no 'wait forever')"
        )
    return float(timeout)


def _check_local_hostname(name: object) -> Optional[str]:
    if name is None:
        return None
    if (
        not isinstance(name, str)
        or not name
        or any(ch.isspace() or not ch.isprintable() for ch in name)
    ):
        raise OptionError(
            f"local_hostname {name!r} is not a host name or address literal for EHLO "
            "(no whitespace or control characters)"
        )
    return name


def _check_source_address(address: object) -> Optional[Tuple[str, int]]:
    if address is None:
        return None
    if (
        isinstance(address, tuple)
        and len(address) == 2
        and isinstance(address[0], str)
        and isinstance(address[1], int)
        and not isinstance(address[1], bool)
        and 0 <= address[1] <= 65535
    ):
        return (address[0], address[1])
    raise OptionError(f"source_address {address!r} is not a (host, port) tuple (port 0 for any)")


def check_credentials(login: object, password: object) -> Tuple[str, Union[str, OAuth2Token]]:
    """Check send-smtp-auth's ``login`` and ``password`` (the password is never shown)."""
    if not isinstance(login, str) or not login:
        raise OptionError(f"login {login!r} is not a non-empty string")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0x80 <= ord(ch) <= 0x9F for ch in login):
        raise OptionError(f"login {login!r} contains a control character")
    if isinstance(password, OAuth2Token):
        return login, password
    if not isinstance(password, str):
        raise OptionError(
            f"password must be a string or an OAuth2Token, not {type(password).__name__}"
        )
    if "\x00" in password:
        raise OptionError("password contains a NUL character, which AUTH cannot carry")
    return login, password


class Session:
    """One SMTP connection; call :meth:`open`, then :meth:`send` any number of times.

    ``server`` is a parsed :class:`~post_office.spec.MailServer`; ``context`` the
    :class:`ssl.SSLContext` built from its TLS keywords (needed when ``ssl`` or
    ``starttls`` is set).  Used as a context manager it always closes the socket.
    """

    def __init__(
        self,
        server: MailServer,
        *,
        context: Optional[ssl.SSLContext] = None,
        timeout: float = 60,
        local_hostname: Optional[str] = None,
        source_address: Optional[Tuple[str, int]] = None,
        transcript: Optional[Transcript] = None,
    ) -> None:
        self.server = server
        self.context = context
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.source_address = source_address
        self.transcript = transcript if transcript is not None else Transcript()
        self.conn: Optional[_Connection] = None
        self.encrypted = False
        self.features: Dict[str, str] = {}
        self.mail_accepted = False  # in the last transaction, MAIL FROM got a 2xx
        self.body_started = False  # in the last transaction, message bytes were sent
        self._nodelay: Optional[socket.socket] = None  # the socket TCP_NODELAY is set on

    @classmethod
    def prepare(
        cls,
        server: object,
        *,
        timeout: object = 60,
        local_hostname: object = None,
        source_address: object = None,
    ) -> Session:
        """Check a mail-server spec and the options, build the TLS context: no I/O yet.

        Every malformed argument raises here, before any socket exists.
        """
        parsed = parse_mail_server(server)
        checked_timeout = _check_timeout(timeout)
        name = _check_local_hostname(local_hostname)
        source = _check_source_address(source_address)
        context = make_ssl_context(parsed.tls) if parsed.ssl or parsed.starttls else None
        return cls(
            parsed,
            context=context,
            timeout=checked_timeout,
            local_hostname=name,
            source_address=source,
        )

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.sock is not None

    def close(self) -> None:
        """Close the socket without saying QUIT."""
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def quit(self) -> None:
        """Say QUIT and close.  A failure here is logged, not raised: the mail is sent."""
        try:
            if self.connected:
                self._command("QUIT", expect=(221,), error=SMTPError, what="QUIT failed")
        except SMTPError as exc:
            logger.warning("QUIT was not acknowledged (the message was already accepted): %s", exc)
        finally:
            self.close()

    def open(self) -> None:
        """Connect, check the greeting, EHLO/HELO, and STARTTLS as the server spec says."""
        server = self.server
        use_ssl = server.ssl
        if (use_ssl or server.starttls) and self.context is None:
            raise ValueError("a TLS context is needed for :ssl or :starttls")
        conn = _Connection(
            context=self.context if use_ssl else None,
            # both checked when the spec was parsed: no whitespace or control characters
            server_name=server.tls.server_name or server.host,
            timeout=self.timeout,
            source_address=self.source_address,
            transcript=self.transcript,
        )
        self.conn = conn
        where = f"{server.host} port {server.port}"
        try:
            try:
                code, text = conn.connect(server.host, server.port)
            except SMTPError:
                raise
            except ssl.SSLCertVerificationError as exc:
                raise _certificate_error(exc, server) from exc
            except socket.timeout as exc:
                raise SMTPTimeoutError(f"connecting to {where} timed out") from exc
            except ssl.SSLError as exc:
                raise TLSError(f"the TLS handshake with {where} failed: {exc}") from exc
            except OSError as exc:
                raise ConnectError(f"could not connect to {where}: {exc}") from exc
            self.encrypted = use_ssl
            if not 200 <= code < 300:
                raise ConnectError(
                    f"initial connect to {where} failed",
                    code=code,
                    reply=text.decode("utf-8", "replace"),
                    command="(connect)",
                )
            assert conn.sock is not None
            conn.local_hostname = (
                self.local_hostname or default_local_hostname() or _address_literal(conn.sock)
            )
            self._hello()
            if server.starttls:
                self._starttls()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ commands
    def _conn(self) -> _Connection:
        if self.conn is None or self.conn.sock is None:
            raise ServerDisconnectedError("the session is not connected")
        return self.conn

    def _command(
        self,
        line: str,
        *,
        expect: Sequence[int],
        error: Callable[..., SMTPError],
        what: str,
        shown: Optional[str] = None,
        **extra: Any,
    ) -> Reply:
        """Send one command and read its reply; raise ``error`` unless the code is in
        ``expect`` (a one-digit entry stands for its class: ``2`` is any 2xx)."""
        conn = self._conn()
        conn.putcmd(line, shown=shown)
        code, raw = conn.getreply()
        text = raw.decode("utf-8", "replace")
        if not _expected(code, expect):
            raise error(what, code=code, reply=text, command=conn.last_command, **extra)
        return code, text

    def _hello(self, when: str = "") -> None:
        """EHLO, and HELO when EHLO is refused (``when``: " after STARTTLS" in messages)."""
        conn = self._conn()
        conn.esmtp_features = {}
        code, raw = conn.ehlo()
        _check_not_closing(code, raw, conn.last_command)
        if code == 250:
            self.features = dict(conn.esmtp_features)
            return
        self.features = {}
        conn.esmtp_features = {}
        self._command(
            f"HELO {conn.local_hostname}",
            expect=(2,),
            error=HeloError,
            what=f"HELO{when} was refused",
        )

    def _starttls(self) -> None:
        conn = self._conn()
        if "starttls" not in self.features:
            if self.server.starttls == "required":
                raise StartTLSError(
                    f"the server {self.server.host} does not offer STARTTLS, and the mail-server "
                    "spec says :starttls :required",
                    command=f"EHLO {conn.local_hostname}",
                )
            self.transcript.note("the server does not offer STARTTLS; going on in plain text")
            return
        self._command("STARTTLS", expect=(220,), error=StartTLSError, what="STARTTLS was refused")
        assert self.context is not None and conn.sock is not None
        conn.pending = b""  # anything the server sent early, in plain text, is dropped
        try:
            conn.sock = self.context.wrap_socket(conn.sock, server_hostname=conn.server_name)
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise _certificate_error(exc, self.server) from exc
        except BaseException as exc:
            conn.close()
            raise _io_error(exc, "STARTTLS", "negotiating TLS after STARTTLS") from exc
        self.encrypted = True
        self.transcript.note(f"TLS established ({conn.sock.version()})")
        self._hello(" after STARTTLS")

    # ------------------------------------------------------------------ AUTH
    def authenticate(self, login: str, password: Union[str, OAuth2Token]) -> None:
        """AUTH with the best common mechanism (CRAM-MD5, PLAIN, LOGIN; XOAUTH2 for tokens).

        Mirrors send-smtp-auth's ``login`` and ``password``.  Credentials are UTF-8.
        """
        offered = self.features.get("auth", "").upper().split()
        if not offered:
            hint = (
                " (it offers STARTTLS: many servers offer AUTH only after it, so add :starttls t)"
                if "starttls" in self.features and not self.encrypted
                else ""
            )
            warnings.warn(
                f"the server {self.server.host} does not offer AUTH{hint}: sending without "
                "authenticating, as Allegro does",
                UserWarning,
                stacklevel=3,
            )
            return
        if not self.encrypted and not _is_loopback(self.server.host):
            warnings.warn(
                f"sending credentials to {self.server.host} over an unencrypted connection; "
                "use :ssl t or :starttls :required",
                UserWarning,
                stacklevel=3,
            )
        if isinstance(password, OAuth2Token):
            mechanisms = ["XOAUTH2"]
        else:
            mechanisms = ["CRAM-MD5", "PLAIN", "LOGIN"]
        for mechanism in mechanisms:
            if mechanism in offered:
                self._auth(mechanism, login, password)
                return
        raise AuthenticationError(
            f"no common AUTH mechanism: the server offers {' '.join(offered)}, "
            f"we can use {' '.join(mechanisms)}"
        )

    def _auth(self, mechanism: str, login: str, password: Union[str, OAuth2Token]) -> None:
        def b64(data: str) -> str:
            return base64.b64encode(data.encode("utf-8")).decode("ascii")

        what = f"AUTH {mechanism} was refused (check the login and password)"
        secret = password.token if isinstance(password, OAuth2Token) else password
        if mechanism == "PLAIN":
            code, _ = self._command(
                f"AUTH PLAIN {b64(chr(0) + login + chr(0) + secret)}",
                shown=f"AUTH PLAIN {REDACTED}",
                expect=(235, 334),
                error=AuthenticationError,
                what=what,
            )
            if code == 334:  # a server that wants the response on its own line
                self._command(
                    b64(chr(0) + login + chr(0) + secret),
                    shown=REDACTED,
                    expect=(235,),
                    error=AuthenticationError,
                    what=what,
                )
        elif mechanism == "LOGIN":
            self._command("AUTH LOGIN", expect=(334,), error=AuthenticationError, what=what)
            self._command(
                b64(login), shown=REDACTED, expect=(334,), error=AuthenticationError, what=what
            )
            self._command(
                b64(secret), shown=REDACTED, expect=(235,), error=AuthenticationError, what=what
            )
        elif mechanism == "CRAM-MD5":
            _, challenge = self._command(
                "AUTH CRAM-MD5", expect=(334,), error=AuthenticationError, what=what
            )
            try:
                nonce = base64.b64decode(challenge.encode("ascii"), validate=True)
            except ValueError as exc:
                raise ProtocolError(
                    "the CRAM-MD5 challenge is not base64", reply=challenge, command="AUTH CRAM-MD5"
                ) from exc
            digest = hmac.new(secret.encode("utf-8"), nonce, "md5").hexdigest()
            self._command(
                b64(f"{login} {digest}"),
                shown=REDACTED,
                expect=(235,),
                error=AuthenticationError,
                what=what,
            )
        else:  # XOAUTH2
            payload = b64(f"user={login}\x01auth=Bearer {secret}\x01\x01")
            code, _ = self._command(
                f"AUTH XOAUTH2 {payload}",
                shown=f"AUTH XOAUTH2 {REDACTED}",
                expect=(235, 334),
                error=AuthenticationError,
                what=what,
            )
            if code == 334:  # the error details come as a challenge; an empty line ends it
                self._command("", shown="", expect=(235,), error=AuthenticationError, what=what)

    # ------------------------------------------------------------------ mail
    def send(self, from_: str, to: Sequence[str], messages: Sequence[object]) -> None:
        """One mail transaction: MAIL FROM, RCPT TO each, DATA streamed, final reply.

        Returns only after the server accepted the message (a 2xx after the body).  The
        first refused command raises, naming the sender or recipient.  On a refusal the
        transaction is reset (RSET) when the connection is still usable; after a 421
        (the server is closing) the connection is dropped.  When the server advertises
        PIPELINING (RFC 2920), MAIL FROM, every RCPT TO and DATA go in one write and
        the replies are read in order afterwards: one round trip instead of one per
        command.  :attr:`mail_accepted` and :attr:`body_started` tell a caller that
        retries how far the transaction got (nothing can have been delivered unless
        the body was started).
        """
        options: List[str] = []
        if any(needs_smtputf8(address) for address in (from_, *to)):
            if "smtputf8" not in self.features:
                raise SMTPUTF8Error(
                    f"the server {self.server.host} does not offer SMTPUTF8, so it cannot take "
                    "a non-ASCII address"
                )
            options.append("SMTPUTF8")
        if "8bitmime" in self.features and not known_7bit(messages):
            options.insert(0, "BODY=8BITMIME")
        self.mail_accepted = False
        self.body_started = False
        steps: List[_Step] = [
            _Step(
                " ".join([f"MAIL FROM:{smtp_path(from_)}", *options]),
                SenderRefusedError,
                f"the server refused the sender {from_!r}",
                {"sender": from_},
            )
        ]
        steps.extend(
            _Step(
                f"RCPT TO:{smtp_path(recipient)}",
                RecipientRefusedError,
                f"the server refused the recipient {recipient!r}",
                {"recipient": recipient},
            )
            for recipient in to
        )
        steps.append(_Step("DATA", DataError, "the server refused DATA", {}, expect=354))
        try:
            if "pipelining" in self.features:
                self._pipeline(steps)
            else:
                for step in steps:
                    self._command(
                        step.line,
                        expect=(step.expect,),
                        error=step.error,
                        what=step.what,
                        **step.extra,
                    )
                    self.mail_accepted = True  # MAIL FROM, at least, was accepted
        except SMTPError as exc:
            self._after_refusal(exc)
            raise
        self._send_body(messages)

    def _pipeline(self, steps: Sequence[_Step]) -> None:
        """RFC 2920: write every command at once, then read the replies in order.

        The first refusal is what raises, as without PIPELINING, but only after every
        reply has been read, so that the connection stays in step for RSET and the next
        message.  A server that answers DATA with 354 although a recipient was refused
        (it took the others) is waiting for the body: the only way to deliver nothing,
        as Allegro's first-refusal-raises promises, is to drop the connection (RFC 5321
        4.1.1.4: an unterminated message is discarded).
        """
        conn = self._conn()
        data = b"".join([_command_bytes(step.line, None) for step in steps])
        for step in steps:
            self.transcript.command(step.line)
        conn.last_command = steps[0].line
        conn.send(data)
        failure: Optional[SMTPError] = None
        code = 0
        for step in steps:
            conn.last_command = step.line
            try:
                code, raw = conn.getreply()
            except ServerDisconnectedError:
                if failure is not None:
                    raise failure from None  # e.g. 421 then the server hung up
                raise
            if _expected(code, (step.expect,)):
                if step.error is SenderRefusedError:
                    self.mail_accepted = True
                continue
            if failure is None:
                failure = step.error(
                    step.what,
                    code=code,
                    reply=raw.decode("utf-8", "replace"),
                    command=step.line,
                    **step.extra,
                )
        if failure is not None:
            if code == 354:
                self.transcript.note("DATA was accepted after a refusal: dropping the connection")
                self.close()
            raise failure

    def _after_refusal(self, exc: SMTPError) -> None:
        """Clean up after a refused transaction: RSET, or drop the line after a 421."""
        if exc.code == 421:
            self.close()
        elif exc.code is not None:
            self.reset()

    def _send_body(self, messages: Sequence[object]) -> None:
        conn = self._conn()
        sock = conn.sock
        assert sock is not None
        conn.last_command = "(message body)"
        self.body_started = True
        if self._nodelay is not sock:
            # Without TCP_NODELAY, the end of a body sent in several writes (a small
            # segment behind another one not yet acknowledged) is held by Nagle's
            # algorithm until the server's delayed ACK, 40 ms on Linux, while the server
            # waits for exactly that segment before it can reply.  Our writes are whole
            # commands or big chunks, so Nagle has nothing to merge anyway.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._nodelay = sock
        sendall = sock.sendall
        sent = 0
        try:
            for chunk in encode_data(messages, BODY_CHUNK_SIZE):
                try:
                    sendall(chunk)
                except OSError as exc:
                    raise _io_error(exc, "(message body)", "sending the message") from exc
                sent += len(chunk)
        except BaseException:
            # Half a message is on the wire and cannot be taken back: drop the line, so
            # the server discards it (RFC 5321 4.1.1.4), whatever stopped us: the socket,
            # or a message source that failed while being read (that error is raised as
            # it is, not disguised as a network failure).
            conn.close()
            raise
        self.transcript.note(f"message body sent: {sent} bytes")
        conn.last_command = "(end of message) ."
        code, raw = conn.getreply()
        if not 200 <= code < 300:
            error = DataError(
                "message not sent: the server did not accept it",
                code=code,
                reply=raw.decode("utf-8", "replace"),
                command=conn.last_command,
            )
            self._after_refusal(error)
            raise error

    def idle_alive(self) -> bool:
        """Whether the connection is open and the server has not hung up on it.

        Between transactions a server says nothing unless it is closing (an idle
        timeout: a 421 and/or end of file), so anything readable on the socket means the
        connection is gone.  One non-blocking ``select``: no round trip, unlike NOOP.
        """
        conn = self.conn
        if conn is None or conn.sock is None:
            return False
        sock = conn.sock
        if conn.pending or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return False  # the server said something we have not read: it is closing
        try:
            if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                return not poller.poll(0)
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def reset(self) -> None:
        """RSET after a refused transaction; if that fails too, drop the connection."""
        if not self.connected:
            return
        try:
            self._command("RSET", expect=(2,), error=SMTPError, what="RSET failed")
        except SMTPError:
            self.close()


def _certificate_error(exc: ssl.SSLCertVerificationError, server: MailServer) -> CertificateError:
    return CertificateError(
        f"the certificate of {server.host} port {server.port} did not verify "
        f"({exc.verify_message or exc}): point :ca-file at the CA that signed it, e.g. "
        f'("{server.host}" :port {server.port} :ca-file "/path/to/ca.pem"), '
        "or turn verification off explicitly with :verify nil"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
