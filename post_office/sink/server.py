"""The embedded SMTP sink: a development catch-all server on aiosmtpd (the ``sink`` extra).

:class:`Sink` accepts every message on a loopback port, stores it in a Maildir (or an
mbox file, or only in memory) and reports it; it can offer STARTTLS (or implicit TLS)
with a given or a throwaway certificate, require AUTH with one login, and misbehave on
purpose like real servers (README, "Testing code that sends mail").  ``post-office
serve``, ``post-office demo`` and the pytest fixtures ``smtp_sink`` and
``smtp_sink_factory`` run on it, and tests can use it directly::

    with Sink(maildir="mail") as sink:
        send_smtp(sink.server_spec(), "me@example.org", "you@example.org", text)
    print(sink.messages[0].subject)

aiosmtpd is imported only when a sink starts, so the core package needs nothing beyond
the standard library; without it :func:`require_aiosmtpd` raises
:class:`~post_office.errors.SinkUnavailableError` naming the install command.

The throwaway certificate (:func:`make_throwaway_certificate`, re-exported here) lives in
:mod:`post_office.sink.certs`; the protocol in :mod:`post_office.sink.protocol`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import ssl
import tempfile
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, TextIO, Tuple

from .._checks import is_loopback_host, printable
from ..errors import OptionError, SinkUnavailableError
from ..spec.mailserver import MailServer, StartTLS
from ..spec.tls import tls_settings
from .behaviour import Misbehaviour, make_behaviour
from .certs import (
    INSTALL_HINT,
    PathLike,
    ThrowawayCertificate,
    make_throwaway_certificate,
    server_ssl_context,
)
from .loop import LoopThread, route_logging
from .store import ReceivedMessage, Store, received_message, trace_headers

if TYPE_CHECKING:  # imported where used: importing post_office must stay cheap
    import asyncio

    from typing_extensions import Unpack

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


def _check_arguments(
    host: str,
    port: int,
    *,
    public: bool,
    tls_context: Optional[ssl.SSLContext],
    certificate: Optional[ThrowawayCertificate],
    tls: bool,
    ssl: bool,
    require_starttls: bool,
    credentials: Optional[Tuple[str, str]],
    allow_plaintext_auth: bool,
) -> bool:
    """Check :class:`Sink`'s arguments (warn for an open public sink); whether TLS is on."""
    if not public and not is_loopback_host(host):
        raise OptionError(
            f"host {host!r} is not a loopback address: a catch-all sink on the network "
            "would take anyone's mail; pass public=True (--public) to do it anyway"
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise OptionError(f"port {port!r} is not an integer in 0..65535")
    if tls_context is not None and certificate is not None:
        raise OptionError("give tls_context or certificate, not both")
    if require_starttls and ssl:
        raise OptionError("require_starttls is for STARTTLS; ssl=True is TLS from the start")
    if require_starttls and not (tls or tls_context or certificate):
        raise OptionError(
            "require_starttls needs a certificate to offer: tls=True, certificate= or tls_context="
        )
    wants_tls = bool(tls or ssl or tls_context or certificate)
    if credentials is not None:
        login, password = credentials
        if not isinstance(login, str) or not isinstance(password, str) or not login:
            raise OptionError("credentials must be (login, password), both strings")
    on_the_network = not is_loopback_host(host)
    if on_the_network and credentials is None:
        warnings.warn(
            f"the sink listens on {host} without credentials (--auth): anyone who "
            "reaches it can send it mail",
            UserWarning,
            stacklevel=3,  # the caller of Sink()
        )
    if on_the_network and credentials and not wants_tls and not allow_plaintext_auth:
        raise OptionError(
            f"a sink on {host} requiring AUTH without TLS would take passwords in clear "
            "text: give it a certificate (--tls-cert, --self-signed or --ssl), or pass "
            "allow_plaintext_auth=True (--allow-plaintext-auth) if you really mean it"
        )
    return wants_tls


class Sink:
    """A catch-all SMTP server on aiosmtpd, in a thread of its own.

    :param host: the address to listen on; a non-loopback one needs ``public=True``.
    :param port: the port; 0 picks a free one (read :attr:`port` after :meth:`start`).
    :param maildir: store every message in this Maildir (created when missing).
    :param mbox: store every message in this mbox file instead.
    :param tls_context: offer STARTTLS with this server context.
    :param certificate: offer STARTTLS with this :class:`ThrowawayCertificate`
        (:meth:`server_spec` then names it as ``:ca-file``).
    :param tls: offer STARTTLS; without a context or certificate, one is made at start.
    :param ssl: implicit TLS (as port 465) instead of STARTTLS.
    :param require_starttls: refuse everything but EHLO, NOOP, QUIT before STARTTLS.
    :param credentials: ``(login, password)``: require AUTH (PLAIN, LOGIN, CRAM-MD5) with
        these; refused logins get 535.
    :param misbehaviour: ``refuse``, ``refuse_mail_from``, ``refuse_data``,
        ``strict_newlines``, ``hide_extensions``, ``hang_at``, ``disconnect_at``: see
        :class:`post_office.sink.behaviour.Misbehaviour` and README "The embedded sink".
    :param on_message: called with each :class:`ReceivedMessage` (in the sink's thread).
    :param keep: keep every message in :attr:`messages` (a long-running sink may not want to).
    :param log: where refusals and aiosmtpd's warnings go, one line each (None: nowhere).
    :param log_level: the least :mod:`logging` level of aiosmtpd's records shown there.
    :param data_size_limit: the largest message accepted, in bytes (SIZE, 552 beyond).
    :param public: allow a non-loopback ``host`` (warns without ``credentials``).
    :param allow_plaintext_auth: with ``public``, accept AUTH without TLS.

    Storing happens before the server says 250, so a client that got its reply finds the
    message stored.  Use as a context manager, or call :meth:`start` and :meth:`stop`.
    Python only: Allegro has no counterpart.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        maildir: Optional[PathLike] = None,
        mbox: Optional[PathLike] = None,
        tls_context: Optional[ssl.SSLContext] = None,
        certificate: Optional[ThrowawayCertificate] = None,
        tls: bool = False,
        ssl: bool = False,
        require_starttls: bool = False,
        credentials: Optional[Tuple[str, str]] = None,
        on_message: Optional[Callable[[ReceivedMessage], None]] = None,
        keep: bool = True,
        log: Optional[TextIO] = None,
        log_level: int = logging.WARNING,
        data_size_limit: int = 32 * 1024 * 1024,
        public: bool = False,
        allow_plaintext_auth: bool = False,
        hostname: Optional[str] = None,
        **misbehaviour: Unpack[Misbehaviour],
    ) -> None:
        self.wants_tls = _check_arguments(
            host,
            port,
            public=public,
            tls_context=tls_context,
            certificate=certificate,
            tls=tls,
            ssl=ssl,
            require_starttls=require_starttls,
            credentials=credentials,
            allow_plaintext_auth=allow_plaintext_auth,
        )
        self.behaviour = make_behaviour(**misbehaviour)
        self.host = host
        self.port = port
        self.tls_context = tls_context
        self.certificate = certificate
        self.implicit_tls = bool(ssl)
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
        self._running: Optional[LoopThread] = None
        self._restore_logging: Callable[[], None] = _no_op
        self._lock = threading.Lock()
        self._aiosmtpd: Any = None
        self._certificate_directory: Optional[tempfile.TemporaryDirectory[str]] = None

    # ------------------------------------------------------------------ what it is
    @property
    def storage(self) -> str:
        """Where messages go, e.g. ``"Maildir /tmp/x"``."""
        if self._maildir is not None:
            return f"Maildir {os.path.abspath(os.fspath(self._maildir))}"
        if self._mbox is not None:
            return f"mbox {os.path.abspath(os.fspath(self._mbox))}"
        return "memory only"

    @property
    def ca_file(self) -> Optional[Path]:
        """The file a client trusts the sink's certificate with, when it is a throwaway one."""
        return self.certificate.ca_file if self.certificate is not None else None

    def clear(self) -> None:
        """Forget the messages received so far (:attr:`messages` becomes empty)."""
        with self._lock:
            self.messages.clear()

    def message_file(self, message: ReceivedMessage) -> Optional[Path]:
        """The Maildir file a message was stored in (None for mbox or memory)."""
        if self._store is None or message.stored_as is None:
            return None
        return self._store.file_of(message.stored_as)

    def server_spec(self, ca_file: Optional[PathLike] = None) -> MailServer:
        """The mail-server spec that reaches this sink: ``:ssl t`` for implicit TLS,
        ``:starttls :required`` when STARTTLS is offered, and ``:ca-file`` of ``ca_file``
        or of the sink's throwaway certificate, so that verification stays on."""
        if ca_file is None:
            ca_file = self.ca_file
        tls = tls_settings({"ca-file": os.fspath(ca_file)} if ca_file is not None else {})
        starttls: StartTLS = "required" if self.wants_tls else False
        if self.implicit_tls:
            return MailServer(self.host.strip("[]"), self.port, True, False, tls)
        return MailServer(self.host.strip("[]"), self.port, False, starttls, tls)

    def describe(self) -> str:
        """One line: address, TLS, AUTH and storage."""
        tls = (
            "implicit TLS"
            if self.implicit_tls
            else "STARTTLS required"
            if self.require_starttls
            else "STARTTLS offered"
            if self.wants_tls
            else "no TLS"
        )
        auth = (
            f"AUTH required (login {printable(self.credentials[0])!r})"
            if self.credentials
            else "no AUTH"
        )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}, {tls}, {auth}, storing in {printable(self.storage)}"

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen; returns once the port is bound (the port is in :attr:`port`).

        Raises :class:`SinkUnavailableError` without aiosmtpd and ``OSError`` when the address
        cannot be bound.  Changes no process-wide state (warnings filters, loggers' levels
        are restored by :meth:`stop`).
        """
        if self._running is not None:
            raise RuntimeError("the sink is already running")
        self._aiosmtpd = require_aiosmtpd()
        from . import protocol  # imports aiosmtpd

        self._protocol_module: Any = protocol
        if self.wants_tls and self.tls_context is None:
            if self.certificate is None:
                self._certificate_directory = tempfile.TemporaryDirectory(prefix="post-office-")
                hosts = ("localhost", "127.0.0.1", "::1", self.host.strip("[]"))
                self.certificate = make_throwaway_certificate(
                    self._certificate_directory.name, hosts
                )
            self.tls_context = self.certificate.server_context()
        try:
            self._store = Store(self._maildir, self._mbox)
        except OSError as exc:
            raise OptionError(f"cannot store messages in {self.storage}: {exc}") from exc
        running = LoopThread(self._protocol, self._log_line)
        restore_logging = route_logging(self.log, self.log_level)
        try:
            self.port = running.start(
                self.host, self.port, self.tls_context if self.implicit_tls else None
            )
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
        if self._certificate_directory is not None:  # made at start: gone with the sink
            self._certificate_directory.cleanup()
            self._certificate_directory = None
            self.certificate = self.tls_context = None

    def _protocol(self, loop: asyncio.AbstractEventLoop) -> Any:
        module = self._protocol_module
        return module.SinkProtocol(
            module.Handler(self, self.behaviour),
            credentials=self.credentials,
            implicit_tls=self.implicit_tls,
            report=self._log_line,
            hostname=self.hostname,
            ident="post_office sink",
            tls_context=None if self.implicit_tls else self.tls_context,
            require_starttls=self.require_starttls,
            data_size_limit=self.data_size_limit,
            loop=loop,
        )

    # ------------------------------------------------------------------ aiosmtpd hook
    def _received(self, server: Any, session: Any, envelope: Any) -> str:
        message = received_message(server, session, envelope)
        content = message.content
        assert self._store is not None
        try:
            trace = trace_headers(message, session.host_name or "", self.hostname)
            stored = self._store.add(trace + content, message.mail_from)
        except Exception as exc:  # a full disk: the client keeps the message
            self._log_line(f"could not store a message: {exc}")
            return "451 4.3.0 the sink could not store the message"
        if stored is not None:
            key, where = stored
            message = dataclasses.replace(message, stored_as=key, stored_in=where)
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
                self.log.write(f"sink: {printable(text)}\n")
                self.log.flush()
            except (OSError, ValueError):
                pass
