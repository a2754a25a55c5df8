"""The embedded SMTP sink: a development catch-all server on aiosmtpd (the ``sink`` extra).

:class:`Sink` accepts every message on a loopback port, stores it in a Maildir (or an
mbox file, or only in memory) and reports it; it can offer STARTTLS with a given or a
throwaway certificate and require AUTH with one login.  ``post-office serve`` and
``post-office demo`` run on it, and tests of code that sends mail can use it directly::

    with Sink(maildir="mail") as sink:
        send_smtp(sink.server_spec(), "me@example.org", "you@example.org", text)
    print(sink.messages[0].subject)

aiosmtpd is imported only when a sink starts, so the core package needs nothing beyond
the standard library; without it :func:`require_aiosmtpd` raises
:class:`~post_office.errors.SinkUnavailableError` naming the install command.

The throwaway certificate (:func:`make_throwaway_certificate`, re-exported here) lives in
:mod:`post_office.sink_certs`.
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import socket
import ssl
import threading
import warnings
import weakref
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Optional,
    TextIO,
    Tuple,
    Union,
)

from ._checks import is_loopback_host
from .errors import OptionError, SinkUnavailableError
from .sink_certs import (
    INSTALL_HINT,
    PathLike,
    ThrowawayCertificate,
    make_throwaway_certificate,
    server_ssl_context,
)
from .sink_store import ReceivedMessage, Store, trace_headers
from .spec import MailServer
from .tls import tls_settings

if TYPE_CHECKING:  # imported where used: importing post_office must stay cheap
    import asyncio
    from concurrent.futures import Future

__all__ = [
    "INSTALL_HINT",
    "ReceivedMessage",
    "Sink",
    "ThrowawayCertificate",
    "is_loopback_host",
    "make_throwaway_certificate",
    "require_aiosmtpd",
    "server_ssl_context",
]

#: Seconds to wait for the sink's thread to start or stop.
_THREAD_TIMEOUT = 30.0


def require_aiosmtpd() -> Any:
    """Import and return ``aiosmtpd.smtp``, or raise :class:`SinkUnavailableError` saying how to
    install it."""
    try:
        import aiosmtpd.smtp as smtp_module
    except ImportError as exc:
        raise SinkUnavailableError(
            f"the embedded SMTP sink needs aiosmtpd: {INSTALL_HINT}"
        ) from exc
    return smtp_module


def _no_op() -> None:
    pass


class _Handler:
    """The aiosmtpd handler.  No member may start with ``auth_`` or ``handle_`` unless it is
    meant as an aiosmtpd AUTH mechanism or hook: aiosmtpd looks such names up by prefix."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._received(server, session, envelope)


# --------------------------------------------------------------------------- the sink


class _LoopThread:
    """The sink's asyncio event loop, serving in a daemon thread of its own.

    ``make_protocol(loop)`` makes the aiosmtpd protocol of each new connection;
    ``log_line`` reports the loop's errors.  :meth:`stop` drops the open connections.
    """

    def __init__(
        self,
        make_protocol: Callable[[asyncio.AbstractEventLoop], Any],
        log_line: Callable[[str], None],
    ) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self.thread: Optional[threading.Thread] = None
        self._make_protocol = make_protocol
        self._log_line = log_line

    def start(self, host: str, port: int) -> int:
        """Listen on ``host``/``port`` in the thread; returns the port once it is bound."""
        from concurrent.futures import Future

        started: Future[int] = Future()
        self.thread = threading.Thread(
            target=self._serve, args=(host, port, started), name="post_office-sink", daemon=True
        )
        self.thread.start()
        try:
            return started.result(_THREAD_TIMEOUT)
        except BaseException:
            self.thread.join(_THREAD_TIMEOUT)
            raise

    def stop(self) -> None:
        """Stop the loop; the thread closes the server and drops every connection."""
        if self.thread is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(_THREAD_TIMEOUT)

    def _protocol(self) -> Any:
        protocol = self._make_protocol(self.loop)
        self.connections.add(protocol)
        return protocol

    def _serve(self, host: str, port: int, started: Future[int]) -> None:
        import asyncio

        loop = self.loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._loop_error)
        try:
            server = loop.run_until_complete(loop.create_server(self._protocol, host, port))
        except BaseException as exc:
            loop.close()
            started.set_exception(exc)
            return
        started.set_result(server.sockets[0].getsockname()[1])
        try:
            loop.run_forever()
        finally:
            server.close()
            for connection in list(self.connections):
                # After STARTTLS this is the TLS transport, whose abort() drops the socket.
                transport = connection.transport
                if transport is not None and not transport.is_closing():
                    transport.abort()
            loop.run_until_complete(asyncio.sleep(0))
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: Dict[str, Any]) -> None:
        error = context.get("exception")
        self._log_line(str(error or context.get("message", "event loop error")))


class Sink:
    """A catch-all SMTP server on aiosmtpd, in a thread of its own.

    :param host: the address to listen on; a non-loopback one needs ``public=True``.
    :param port: the port; 0 picks a free one (read :attr:`port` after :meth:`start`).
    :param maildir: store every message in this Maildir (created when missing).
    :param mbox: store every message in this mbox file instead.
    :param tls_context: offer STARTTLS with this server context.
    :param require_starttls: refuse everything but EHLO, NOOP, QUIT before STARTTLS.
    :param credentials: ``(login, password)``: require AUTH (PLAIN or LOGIN) with these.
    :param on_message: called with each :class:`ReceivedMessage` (in the sink's thread).
    :param keep: keep every message in :attr:`messages` (a long-running sink may not want to).
    :param log: where aiosmtpd's warnings and errors go, one line each (None: nowhere).
    :param log_level: the least :mod:`logging` level shown there (DEBUG shows the dialogue,
        AUTH payloads masked by aiosmtpd).
    :param data_size_limit: the largest message accepted, in bytes.

    Storing happens before the server says 250, so a client that got its reply finds the
    message stored.  Use as a context manager, or call :meth:`start` and :meth:`stop`.
    Python only: Allegro has no counterpart (``post-office serve`` and ``demo`` run on it).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        maildir: Optional[PathLike] = None,
        mbox: Optional[PathLike] = None,
        tls_context: Optional[ssl.SSLContext] = None,
        require_starttls: bool = False,
        credentials: Optional[Tuple[str, str]] = None,
        on_message: Optional[Callable[[ReceivedMessage], None]] = None,
        keep: bool = True,
        log: Optional[TextIO] = None,
        log_level: int = logging.WARNING,
        data_size_limit: int = 32 * 1024 * 1024,
        public: bool = False,
        hostname: Optional[str] = None,
    ) -> None:
        if not public and not is_loopback_host(host):
            raise OptionError(
                f"host {host!r} is not a loopback address: a catch-all sink on the network "
                "would take anyone's mail; pass public=True (--public) to do it anyway"
            )
        if require_starttls and tls_context is None:
            raise OptionError("require_starttls needs a tls_context (a certificate to offer)")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise OptionError(f"port {port!r} is not an integer in 0..65535")
        self.host = host
        self.port = port
        self.tls_context = tls_context
        self.require_starttls = require_starttls
        self.credentials = credentials
        self.on_message = on_message
        self.keep = keep
        self.log = log
        self.log_level = log_level
        self.data_size_limit = data_size_limit
        self.hostname = hostname or (
            "localhost" if is_loopback_host(host) else socket.gethostname()
        )
        self.messages: List[ReceivedMessage] = []
        #: How many messages were accepted (also when ``keep`` is false).
        self.received = 0
        self._maildir, self._mbox = maildir, mbox
        self._store: Optional[Store] = None
        self._running: Optional[_LoopThread] = None
        self._restore_logging: Callable[[], None] = _no_op
        self._lock = threading.Lock()
        self._aiosmtpd: Any = None

    # ------------------------------------------------------------------ what it is
    @property
    def storage(self) -> str:
        """Where messages go, e.g. ``"Maildir /tmp/x"``."""
        if self._maildir is not None:
            return f"Maildir {os.path.abspath(os.fspath(self._maildir))}"
        if self._mbox is not None:
            return f"mbox {os.path.abspath(os.fspath(self._mbox))}"
        return "memory only"

    def message_file(self, message: ReceivedMessage) -> Optional[Path]:
        """The Maildir file a message was stored in (None for mbox or memory)."""
        if self._store is None or message.stored_as is None:
            return None
        return self._store.file_of(message.stored_as)

    def server_spec(self, ca_file: Optional[PathLike] = None) -> MailServer:
        """The mail-server spec that reaches this sink (STARTTLS required when offered)."""
        starttls: Union[bool, str] = "required" if self.tls_context is not None else False
        tls = tls_settings({"ca-file": os.fspath(ca_file)} if ca_file is not None else {})
        return MailServer(self.host.strip("[]"), self.port, False, starttls, tls)

    def describe(self) -> str:
        """One line: address, TLS, AUTH and storage."""
        tls = (
            "STARTTLS required"
            if self.require_starttls
            else "STARTTLS offered"
            if self.tls_context is not None
            else "no TLS"
        )
        auth = f"AUTH required (login {self.credentials[0]!r})" if self.credentials else "no AUTH"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}, {tls}, {auth}, storing in {self.storage}"

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen; returns once the port is bound (the port is in :attr:`port`).

        Raises :class:`SinkUnavailableError` without aiosmtpd and ``OSError`` when the address
        cannot be bound.
        """
        if self._running is not None:
            raise RuntimeError("the sink is already running")
        self._aiosmtpd = require_aiosmtpd()
        if self.credentials is not None and self.tls_context is None:
            # Plain-text AUTH on loopback is a development convenience here.
            warnings.filterwarnings(
                "ignore", message="Requiring AUTH while not requiring TLS", module="aiosmtpd"
            )
        try:
            self._store = Store(self._maildir, self._mbox)
        except OSError as exc:
            raise OptionError(f"cannot store messages in {self.storage}: {exc}") from exc
        running = _LoopThread(self._protocol, self._log_line)
        restore_logging = _route_logging(self.log, self.log_level)
        try:
            self.port = running.start(self.host, self.port)
        except BaseException:
            restore_logging()
            self._store.close()
            raise
        self._running = running
        self._restore_logging = restore_logging

    def stop(self) -> None:
        """Stop listening, drop open connections, end the thread.  Again is a no-op."""
        running, self._running = self._running, None
        if running is None:
            return
        running.stop()
        self._restore_logging()
        if self._store is not None:
            self._store.close()

    def _protocol(self, loop: asyncio.AbstractEventLoop) -> Any:
        smtp = self._aiosmtpd
        options: Dict[str, Any] = {}
        if self.credentials is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls_context is not None,
            )
        protocol = smtp.SMTP(
            _Handler(self),
            hostname=self.hostname,
            ident="post_office sink",
            tls_context=self.tls_context,
            require_starttls=self.require_starttls,
            data_size_limit=self.data_size_limit,
            enable_SMTPUTF8=True,
            loop=loop,
            **options,
        )
        return protocol

    # ------------------------------------------------------------------ aiosmtpd hooks
    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        result = self._aiosmtpd.AuthResult
        assert self.credentials is not None
        login, password = self.credentials
        given_login = getattr(auth_data, "login", None)
        given_password = getattr(auth_data, "password", None)
        if (
            isinstance(given_login, bytes)
            and isinstance(given_password, bytes)
            and secrets.compare_digest(given_login, login.encode("utf-8"))
            and secrets.compare_digest(given_password, password.encode("utf-8"))
        ):
            return result(success=True, auth_data=login)
        # handled=False: aiosmtpd sends the 535 itself (with True it would send nothing).
        return result(success=False, handled=False)

    def _received(self, server: Any, session: Any, envelope: Any) -> str:
        transport = server.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        peer = session.peer
        content = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        message = ReceivedMessage(
            mail_from="" if mail_from == "<>" else mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=content,
            peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
            tls_version=ssl_object.version() if ssl_object is not None else None,
            login=session.auth_data if session.authenticated else None,
            received_at=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0),
        )
        assert self._store is not None
        try:
            trace = trace_headers(message, session.host_name or "", self.hostname)
            key = self._store.add(trace + content, message.mail_from)
        except Exception as exc:  # a full disk: the client keeps the message
            self._log_line(f"could not store a message: {exc}")
            return "451 4.3.0 the sink could not store the message"
        if key is not None:
            message = ReceivedMessage(**{**message.__dict__, "stored_as": key})
        with self._lock:
            self.received += 1
            if self.keep:
                self.messages.append(message)
        if self.on_message is not None:
            try:
                self.on_message(message)
            except Exception as exc:
                self._log_line(f"on_message failed: {exc!r}")
        return "250 2.0.0 OK: stored"

    def _log_line(self, text: str) -> None:
        if self.log is not None:
            try:
                self.log.write(f"sink: {text}\n")
                self.log.flush()
            except (OSError, ValueError):
                pass


class _OneLine(logging.Handler):
    """aiosmtpd's warnings and errors as one line each, without tracebacks."""

    def __init__(self, stream: Optional[TextIO], level: int) -> None:
        super().__init__(level)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if self.stream is None or "login_data is deprecated" in text:
            return  # aiosmtpd 1.4 says so itself on every successful AUTH
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            cause = error.__cause__ or error
            text += f": {type(cause).__name__}: {cause}"
        try:
            self.stream.write(f"sink: {text}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


def _route_logging(stream: Optional[TextIO], level: int) -> Callable[[], None]:
    """Send aiosmtpd's logger (``mail.log``) to ``stream``, one line per record, while the
    sink runs; returns the function that undoes it.

    With a handler of its own the logger no longer falls back to :mod:`logging`'s
    "last resort" (tracebacks on stderr); handlers the application configured still get
    the records.
    """
    logger = logging.getLogger("mail.log")
    handler = _OneLine(stream, level)
    previous_level = logger.level
    logger.addHandler(handler)
    if level < logger.getEffectiveLevel():
        logger.setLevel(level)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

    return restore
