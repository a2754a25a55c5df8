"""Loopback SMTP servers for the tests: aiosmtpd on 127.0.0.1, recording what it received.

Used by ``conftest.py`` (the fixtures) and runnable as a script (``python servers.py
--jsonl FILE``) for :class:`SubprocessServer`, a server in another process whose memory
does not count in the test process's ``tracemalloc``.  Nothing here imports pytest or
post_office: these are tests of post_office against an independent server.

What a recorded message's ``content`` looks like (aiosmtpd 1.4, checked in
``test_fixtures.py``): the DATA bytes exactly as they came off the wire, minus the final
``.<CRLF>``, with one leading dot removed from every line that starts with one.  aiosmtpd
splits the data on CRLF only, so:

- line endings are left as sent: CRLF stays CRLF, and a bare LF or bare CR is kept as is
  inside the line it appears in (no normalisation in either direction);
- the CRLF that precedes the terminator belongs to the content: ``b"hi\\r\\n.\\r\\n"`` on
  the wire is ``b"hi\\r\\n"`` here;
- a dot after a bare LF is *not* un-stuffed (it does not start a line for aiosmtpd);
- a line longer than ``line_length_limit`` bytes including its CRLF (1001 by default, RFC
  5321 4.5.3.1.6) makes the server answer ``500 Line too long`` at the end of DATA and
  record nothing.  Pass ``line_length_limit=`` to the factory for longer lines.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.base_events
import dataclasses
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Set

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
#: The name the servers greet with (given explicitly: aiosmtpd would otherwise call
#: ``socket.getfqdn()`` on every connection).
SERVER_NAME = "localhost"
#: The only account of the AUTH servers; the password is non-ASCII on purpose (smtplib
#: cannot send it, post_office must: credentials are UTF-8).
USER = "user"
PASSWORD = "pässwörd-ü"
#: Large enough for the 60 MB message tests even after CRLF expansion and dot-stuffing.
DATA_SIZE_LIMIT = 128 * 1024 * 1024
#: Idle seconds before the server drops a connection (aiosmtpd's default is 300).
SERVER_TIMEOUT = 30.0
#: Seconds to wait for a server to start or stop before failing the test.
READY_TIMEOUT = 30.0

KINDS = ("plain", "starttls", "tls", "auth")


# --------------------------------------------------------------------------- recording


@dataclasses.dataclass
class ReceivedMessage:
    """One message as the server received it (see the module docstring for ``content``)."""

    mail_from: str
    """The reverse path without brackets; ``""`` for the null reverse path ``<>``."""
    rcpt_tos: List[str]
    content: bytes
    mail_options: List[str]
    """``MAIL FROM`` parameters, upper-cased by aiosmtpd: ``["BODY=8BITMIME", "SMTPUTF8"]``."""
    rcpt_options: List[str]
    tls: bool
    """The session was encrypted, by STARTTLS or implicit TLS."""
    tls_version: Optional[str]
    auth_login: Optional[str]
    """The login the session authenticated as, else None."""
    ehlo_name: Optional[str]
    """The EHLO (or HELO) argument of the session."""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


@dataclasses.dataclass
class AuthAttempt:
    mechanism: str
    login: str
    success: bool


class RecordingHandler:
    """An aiosmtpd handler that records every accepted message in :attr:`messages`.

    Configure it (before the client connects) through its attributes:

    - ``refuse_senders`` / ``refuse_recipients``: sets of addresses answered with
      ``sender_reply`` / ``recipient_reply`` (550 by default) at MAIL / RCPT;
    - ``data_reply``: the reply to the end of DATA (``"554 5.6.0 rejected"``); a non-2xx
      one puts the message in :attr:`rejected` instead of :attr:`messages`;
    - ``hide_extensions``: EHLO keywords to leave out of the EHLO reply (``{"SMTPUTF8"}``,
      ``{"8BITMIME"}``, ``{"SIZE"}``...); the server still accepts them if used;
    - ``pipelining``: also advertise PIPELINING (aiosmtpd reads pipelined commands one
      after another, as RFC 2920 lets a server);
    - ``refuse_ehlo``: answer EHLO with 502 so that the client falls back to HELO;
    - ``vrfy_replies``: address -> reply for VRFY (default ``252``);
    - ``quit_reply``: the reply to QUIT;
    - ``credentials``: login -> password for AUTH PLAIN / LOGIN.

    What else it saw: ``ehlo_names``, ``vrfy_requests``, ``login_attempts`` (mechanism and
    login, never the password), ``quits`` (a count), ``errors`` (exceptions the server or
    its event loop hit, e.g. a failed TLS handshake: kept here instead of being logged).
    """

    def __init__(self) -> None:
        self.messages: List[ReceivedMessage] = []
        self.rejected: List[ReceivedMessage] = []
        self.ehlo_names: List[str] = []
        self.vrfy_requests: List[str] = []
        self.login_attempts: List[AuthAttempt] = []
        self.errors: List[BaseException] = []
        self._changed = threading.Condition()
        self._configure_defaults()

    def _configure_defaults(self) -> None:
        self.quits = 0
        self.refuse_senders: Set[str] = set()
        self.refuse_recipients: Set[str] = set()
        self.sender_reply = "550 5.1.0 Sender refused"
        self.recipient_reply = "550 5.1.1 Recipient refused"
        self.data_reply: Optional[str] = None
        self.hide_extensions: Set[str] = set()
        self.pipelining = False
        self.refuse_ehlo = False
        self.vrfy_replies: Dict[str, str] = {}
        self.quit_reply = "221 2.0.0 Bye"
        self.credentials: Dict[str, str] = {USER: PASSWORD}

    def reset(self) -> None:
        """Forget what was received and go back to the default configuration.

        The record lists are cleared in place, so references to them stay valid.
        """
        for record in (
            self.messages,
            self.rejected,
            self.ehlo_names,
            self.vrfy_requests,
            self.login_attempts,
            self.errors,
        ):
            record.clear()
        self._configure_defaults()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = READY_TIMEOUT) -> bool:
        """Wait until ``predicate()`` holds (checked whenever something is recorded).

        For what the server records after the client stopped waiting for it, such as a
        failed TLS handshake; everything a reply depends on is recorded before that reply.
        """
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def _note(self, records: List[Any], item: Any) -> None:
        with self._changed:
            records.append(item)
            self._changed.notify_all()

    # aiosmtpd hooks ------------------------------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: List[str],
    ) -> List[str]:
        self._note(self.ehlo_names, hostname)
        if self.refuse_ehlo:
            session.extended_smtp = False
            return ["502 5.5.2 Error: command not recognized"]
        session.host_name = hostname
        hidden = {keyword.upper() for keyword in self.hide_extensions}
        lines = [
            line
            for index, line in enumerate(responses)
            if index in (0, len(responses) - 1) or line[4:].split()[0].upper() not in hidden
        ]
        if self.pipelining:
            lines.insert(1, "250-PIPELINING")
        return lines

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        self._note(self.ehlo_names, hostname)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: List[str],
    ) -> str:
        if _reverse_path(address) in self.refuse_senders:
            return self.sender_reply
        # Kept as aiosmtpd parses it: "<>" for the null reverse path (an empty mail_from
        # would make aiosmtpd answer RCPT with "503 need MAIL").
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: List[str],
    ) -> str:
        if address in self.refuse_recipients:
            return self.recipient_reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = self.record(server, session, envelope)
        if self.data_reply is not None and not self.data_reply.startswith("2"):
            self._note(self.rejected, message)
            return self.data_reply
        self._note(self.messages, message)
        return self.data_reply or "250 2.0.0 OK"

    async def handle_VRFY(
        self, server: SMTP, session: Session, envelope: Envelope, address: str
    ) -> str:
        self._note(self.vrfy_requests, address)
        return self.vrfy_replies.get(address, "252 2.1.5 Cannot VRFY user, but will accept message")

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.quits += 1
        return self.quit_reply

    async def handle_exception(self, error: Exception) -> str:
        self._note(self.errors, error)
        return f"500 5.0.0 Error: ({type(error).__name__}) {error}"

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """aiosmtpd ``authenticator``: ``credentials`` decides, UTF-8 both ways."""
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode("utf-8", "replace")
        expected = self.credentials.get(login)
        success = expected is not None and auth_data.password == expected.encode("utf-8")
        self._note(self.login_attempts, AuthAttempt(mechanism, login, success))
        if success:
            return AuthResult(success=True, auth_data=login)
        # handled=False makes aiosmtpd send the 535 itself; with the default handled=True
        # it sends nothing and the client waits for its timeout.
        return AuthResult(success=False, handled=False)

    # ---------------------------------------------------------------------------------

    @staticmethod
    def record(server: SMTP, session: Session, envelope: Envelope) -> ReceivedMessage:
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        content = envelope.original_content
        assert isinstance(content, bytes)
        return ReceivedMessage(
            mail_from=_reverse_path(envelope.mail_from or ""),
            rcpt_tos=list(envelope.rcpt_tos),
            content=content,
            mail_options=list(envelope.mail_options),
            rcpt_options=list(envelope.rcpt_options),
            tls=ssl_object is not None,
            tls_version=ssl_object.version() if ssl_object is not None else None,
            auth_login=session.auth_data if session.authenticated else None,
            ehlo_name=session.host_name,
        )


def _reverse_path(address: str) -> str:
    """aiosmtpd parses ``MAIL FROM:<>`` as the address ``"<>"``: the null path is ``""``."""
    return "" if address == "<>" else address


# --------------------------------------------------------------------------- server


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP with a settable line length limit and connection tracking."""

    def __init__(
        self,
        handler: Any,
        *,
        line_length_limit: Optional[int] = None,
        implicit_tls: bool = False,
        connections: Optional[weakref.WeakSet[RecordingSMTP]] = None,
        **kwargs: Any,
    ) -> None:
        if line_length_limit is not None:
            # Read by SMTP.__init__ as the StreamReader's limit, so set before it.
            self.line_length_limit = line_length_limit
        super().__init__(handler, **kwargs)
        if implicit_tls:
            # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; over implicit TLS
            # it would neither advertise nor accept AUTH.
            self._auth_require_tls = False
        self._connections = connections
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._connections is not None:
            self._connections.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Optional[Exception]) -> None:
        try:
            super().connection_lost(error)
        finally:
            self.closed.set()

    def abort(self) -> None:
        """Drop the connection at once (used when the server stops under a client)."""
        for transport in (self.transport, self._original_transport):
            if transport is not None and not transport.is_closing():
                transport.abort()  # type: ignore[attr-defined]
        if self.transport is None and self._original_transport is None:
            self.closed.set()


class LoopbackController(Controller):
    """aiosmtpd's threaded Controller on a free port of 127.0.0.1.

    Binds port 0 and reads the port the system chose (no race with another process), and
    checks readiness with a real SMTP exchange (greeting, QUIT), over TLS with certificate
    verification when ``ssl_context`` makes it an implicit-TLS server.  Stopping drops
    the connections still open, so no transport is left for the garbage collector to
    warn about.
    """

    def __init__(
        self,
        handler: Any,
        *,
        ssl_context: Optional[ssl.SSLContext] = None,
        probe_context: Optional[ssl.SSLContext] = None,
        line_length_limit: Optional[int] = None,
        **smtp_kwargs: Any,
    ) -> None:
        smtp_kwargs.setdefault("server_hostname", SERVER_NAME)
        smtp_kwargs.setdefault("data_size_limit", DATA_SIZE_LIMIT)
        smtp_kwargs.setdefault("timeout", SERVER_TIMEOUT)
        super().__init__(
            handler,
            hostname=HOST,
            port=0,
            ssl_context=ssl_context,
            ready_timeout=READY_TIMEOUT,
            **smtp_kwargs,
        )
        if ssl_context is not None and probe_context is None:
            raise ValueError("an implicit-TLS server needs a probe_context to check readiness")
        self.probe_context = probe_context
        self.line_length_limit = line_length_limit
        self.connections: weakref.WeakSet[RecordingSMTP] = weakref.WeakSet()
        self.connection_count = 0
        self.loop.set_exception_handler(self._loop_error)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: Dict[str, Any]) -> None:
        """Errors outside the SMTP session: kept, not printed.

        asyncio reports these (a failed implicit-TLS handshake) only in debug mode.
        """
        error = context.get("exception") or RuntimeError(context.get("message", context))
        if isinstance(self.handler, RecordingHandler):
            self.handler._note(self.handler.errors, error)
        else:
            loop.default_exception_handler(context)

    def factory(self) -> RecordingSMTP:
        self.connection_count += 1
        return RecordingSMTP(
            self.handler,
            line_length_limit=self.line_length_limit,
            implicit_tls=self.ssl_context is not None,
            connections=self.connections,
            **self.SMTP_kwargs,
        )

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.base_events.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        with socket.create_connection((self.hostname, self.port), READY_TIMEOUT) as raw:
            if self.ssl_context is None:
                _probe(raw)
            else:
                assert self.probe_context is not None
                with self.probe_context.wrap_socket(raw, server_hostname=HOST) as tls:
                    _probe(tls)

    def stop(self, no_assert: bool = False) -> None:
        """Drop open connections, stop the loop and the thread; again is a no-op."""
        if self._thread is None:
            return
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._drop_connections(), self.loop).result(
                READY_TIMEOUT
            )
        super().stop(no_assert)

    async def _drop_connections(self) -> None:
        open_ = list(self.connections)
        for connection in open_:
            connection.abort()
        if open_:
            await asyncio.wait(
                [asyncio.ensure_future(c.closed.wait()) for c in open_], timeout=READY_TIMEOUT
            )


def _probe(sock: socket.socket) -> None:
    """Read the greeting, say QUIT, read the reply: the server is up and answering."""
    for command in (b"", b"QUIT\r\n"):
        sock.sendall(command)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(1024)
            if not chunk:
                break
            reply += chunk
        if not reply[:1] == b"2":
            raise RuntimeError(f"loopback SMTP server answered {reply!r} to {command!r}")


@dataclasses.dataclass
class LoopbackServer:
    """A started in-process server, as the ``smtp_*`` fixtures give it."""

    kind: str
    """"plain", "starttls" (offered, not required), "tls" (implicit) or "auth"."""
    host: str
    port: int
    ca_file: str
    """PEM file of the CA that signed the server's certificate (for ``ca_file``)."""
    handler: RecordingHandler
    controller: LoopbackController
    user: Optional[str] = None
    password: Optional[str] = None

    @property
    def messages(self) -> List[ReceivedMessage]:
        return self.handler.messages

    @property
    def implicit_tls(self) -> bool:
        return self.kind == "tls"

    @property
    def starttls(self) -> bool:
        """STARTTLS is offered (required too for "auth")."""
        return self.kind in ("starttls", "auth")

    @property
    def connections(self) -> int:
        """Client connections accepted so far (the readiness probe not counted)."""
        return self.controller.connection_count

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA (and checks the host name)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def stop(self) -> None:
        self.controller.stop()


def start_loopback_server(
    kind: str,
    *,
    ca_file: str,
    server_context: ssl.SSLContext,
    handler: Optional[RecordingHandler] = None,
    line_length_limit: Optional[int] = None,
    **smtp_kwargs: Any,
) -> LoopbackServer:
    """Start a server of one of :data:`KINDS`; ``smtp_kwargs`` go to aiosmtpd's SMTP."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    handler = handler if handler is not None else RecordingHandler()
    smtp_kwargs.setdefault("authenticator", handler.authenticate)
    tls_kwargs: Dict[str, Any] = {}
    if kind == "tls":
        tls_kwargs["ssl_context"] = server_context
        tls_kwargs["probe_context"] = ssl.create_default_context(cafile=ca_file)
    elif kind in ("starttls", "auth"):
        smtp_kwargs.setdefault("tls_context", server_context)
    if kind == "auth":
        smtp_kwargs.setdefault("require_starttls", True)
        smtp_kwargs.setdefault("auth_required", True)
    controller = LoopbackController(
        handler, line_length_limit=line_length_limit, **tls_kwargs, **smtp_kwargs
    )
    try:
        controller.start()
    except BaseException:
        controller.stop()
        if not controller.loop.is_closed():
            controller.loop.close()
        raise
    controller.connection_count = 0  # forget the readiness probe
    handler.quits = 0
    return LoopbackServer(
        kind=kind,
        host=HOST,
        port=controller.port,
        ca_file=ca_file,
        handler=handler,
        controller=controller,
        user=USER if kind != "plain" else None,
        password=PASSWORD if kind != "plain" else None,
    )


# --------------------------------------------------------------------------- subprocess


class DigestHandler(RecordingHandler):
    """Records each message as one JSON line: mail_from, rcpt_tos, size, sha256."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content
        assert isinstance(content, bytes)
        record = {
            "mail_from": _reverse_path(envelope.mail_from or ""),
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        # Written before the reply, so a client that got its 250 finds the line there.
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
        return "250 2.0.0 OK"


@dataclasses.dataclass
class DigestRecord:
    mail_from: str
    rcpt_tos: List[str]
    mail_options: List[str]
    size: int
    sha256: str


class SubprocessServer:
    """A plain aiosmtpd server in a child process, recording digests in a JSON-lines file.

    The child prints its port once it answers; the parent reads that line (no polling),
    and stops the child by closing its stdin.
    """

    def __init__(
        self,
        directory: Path,
        *,
        data_size_limit: int = DATA_SIZE_LIMIT,
        line_length_limit: Optional[int] = None,
    ) -> None:
        self.host = HOST
        self.jsonl = directory / "messages.jsonl"
        self.jsonl.touch()
        self.stderr_path = directory / "server.stderr"
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--jsonl",
            str(self.jsonl),
            "--data-size-limit",
            str(data_size_limit),
        ]
        if line_length_limit is not None:
            command += ["--line-length-limit", str(line_length_limit)]
        self._stderr: IO[bytes] = open(self.stderr_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="ascii",
        )
        try:
            self.port = self._read_port()
        except BaseException:
            self.stop()
            raise

    def _read_port(self) -> int:
        assert self.process.stdout is not None
        stdout = self.process.stdout
        box: List[str] = []
        reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(READY_TIMEOUT)
        line = box[0] if box else ""
        if not line.startswith("PORT "):
            self.process.kill()
            reader.join()
            raise RuntimeError(
                f"subprocess SMTP server did not start (said {line!r}); stderr: "
                f"{self.stderr_path.read_text(errors='replace')}"
            )
        return int(line.split()[1])

    def records(self) -> List[DigestRecord]:
        """The messages received so far, in order."""
        with open(self.jsonl, encoding="utf-8") as file:
            return [DigestRecord(**json.loads(line)) for line in file if line.strip()]

    @property
    def messages(self) -> List[DigestRecord]:
        return self.records()

    def clear(self) -> None:
        self.jsonl.write_text("")

    def stop(self) -> None:
        process = self.process
        if process.stdin is not None and not process.stdin.closed:
            process.stdin.close()  # the child's cue to stop
        try:
            process.wait(READY_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()
            self._stderr.close()


def main(argv: Optional[List[str]] = None) -> int:
    """The child of :class:`SubprocessServer`: serve until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--data-size-limit", type=int, default=DATA_SIZE_LIMIT)
    parser.add_argument("--line-length-limit", type=int, default=None)
    args = parser.parse_args(argv)
    controller = LoopbackController(
        DigestHandler(args.jsonl),
        data_size_limit=args.data_size_limit,
        line_length_limit=args.line_length_limit,
    )
    controller.start()
    try:
        print(f"PORT {controller.port}", flush=True)
        sys.stdin.read()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
