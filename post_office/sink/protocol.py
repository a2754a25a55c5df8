"""The sink's SMTP protocol: aiosmtpd's server with the failure modes of real servers.

Imported only when a :class:`~post_office.sink.server.Sink` starts (it imports aiosmtpd).
:class:`SinkProtocol` adds to aiosmtpd what :mod:`post_office.sink.behaviour` describes:
PIPELINING offered (RFC 2920) and hidden extensions refused, CRAM-MD5 (RFC 2195) beside
PLAIN and LOGIN, refusals per address, bare newlines refused, silence or a hang-up at one
stage, and a DATA reader whose memory is bounded by the size limit whatever the line
structure (aiosmtpd keeps every fragment of an endless line).  Every 4xx/5xx reply is
reported to the sink, one line each.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, AnyStr, Callable, List, Optional, Tuple

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, auth_mechanism

from .._checks import printable
from .behaviour import Behaviour

if TYPE_CHECKING:
    from .server import Sink

__all__ = ["Handler", "SinkProtocol"]

# The stage a command is, for hang_at / disconnect_at.
_STAGE_OF = {"HELO": "EHLO", "EHLO": "EHLO", "STARTTLS": "STARTTLS", "AUTH": "AUTH",
             "MAIL": "MAIL", "RCPT": "RCPT", "DATA": "DATA", "QUIT": "QUIT"}  # fmt: skip
_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


class Handler:
    """The aiosmtpd handler.  No member may start with ``auth_`` or ``handle_`` unless it is
    meant as an aiosmtpd AUTH mechanism or hook: aiosmtpd looks such names up by prefix."""

    def __init__(self, sink: Sink, behaviour: Behaviour) -> None:
        self.sink = sink
        self.behaviour = behaviour

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: List[str]
    ) -> str:
        sender = "" if address == "<>" else address
        hidden = self.behaviour.hidden
        for option in options:
            keyword = option.partition("=")[0]
            if (keyword == "BODY" and "8BITMIME" in hidden) or keyword in hidden:
                return f"555 5.5.4 {keyword} parameter not supported: {keyword} not offered"
        refusal = self.behaviour.refusal(self.behaviour.refuse_mail_from, sender)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: List[str]
    ) -> str:
        refusal = self.behaviour.refusal(self.behaviour.refuse_rcpt, address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._received(server, session, envelope)


class SinkProtocol(SMTP):
    """aiosmtpd's SMTP with the sink's behaviour; see the module docstring."""

    def __init__(
        self,
        handler: Handler,
        *,
        credentials: Optional[Tuple[str, str]],
        implicit_tls: bool,
        report: Callable[[str], None],
        **options: Any,
    ) -> None:
        behaviour = handler.behaviour
        super().__init__(
            handler,
            enable_SMTPUTF8="SMTPUTF8" not in behaviour.hidden,
            authenticator=self._check_login if credentials else None,
            auth_required=credentials is not None,
            # Set below: aiosmtpd warns (process-wide) when it is False here.
            auth_require_tls=True,
            **options,
        )
        self._auth_require_tls = not implicit_tls and self.tls_context is not None
        self.behaviour = behaviour
        self.credentials = credentials
        self.implicit_tls = implicit_tls
        self._report = report
        self._current: Optional[str] = None
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = functools.partial(self._command, name, method)

    # ------------------------------------------------------------------ every command
    async def _command(self, name: str, method: Callable[..., Any], arg: Optional[str]) -> None:
        shown = f"{name} {arg}" if arg and name in ("MAIL", "RCPT", "EHLO", "HELO") else name
        if name == "AUTH" and arg:
            shown = f"AUTH {arg.split()[0]}"  # never the initial response: it is the secret
        self._current = printable(shown)
        behaviour = self.behaviour
        if (
            "PIPELINING" in behaviour.hidden
            and self._pending_input()
            and name not in ("QUIT", "STARTTLS")
        ):
            # RFC 2920: without PIPELINING a client waits for each reply (Postfix's check).
            await self.push("554 5.5.0 Error: SMTP protocol synchronization")
            self._close()
            return
        stage = _STAGE_OF.get(name)
        if stage is not None and await self._misbehave(stage):
            return
        if name in behaviour.hidden or (name == "AUTH" and self.credentials is None):
            if name == "AUTH":
                await self.push("503 5.5.1 Error: authentication not enabled")
            else:
                await self.push(f"502 5.5.1 Error: {name} not offered")
            return
        await method(arg)

    def _pending_input(self) -> bool:
        """Whether the client sent more before our reply (StreamReader's buffer)."""
        return bool(getattr(self._reader, "_buffer", None))

    async def _misbehave(self, stage: str) -> bool:
        """Hang or hang up when ``stage`` is the one named; True when it did."""
        if stage == self.behaviour.hang_at:
            self._report(f"{self._peer()} {stage}: going silent (hang_at)")
            await self.loop.create_future()  # until the client or the sink hangs up
            return True
        if stage == self.behaviour.disconnect_at:
            self._report(f"{self._peer()} {stage}: hanging up (disconnect_at)")
            self._close()
            return True
        return False

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _peer(self) -> str:
        peer = self.session.peer if self.session is not None else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    async def _handle_client(self) -> None:
        if not await self._misbehave("CONNECT"):
            await super()._handle_client()

    async def push(self, status: AnyStr) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        if text[:1] in ("4", "5"):
            what = f"refused {self._current}" if self._current else "refused a command"
            self._report(f"{self._peer()} {what}: {printable(text)}")
        if text[:1] in ("2", "4", "5") and text[3:4] != "-":
            self._current = None
        await super().push(status)

    # ------------------------------------------------------------------ EHLO and AUTH
    async def smtp_EHLO(self, hostname: Optional[str]) -> None:
        if not hostname:
            await self.push("501 Syntax: EHLO hostname")
            return
        self._set_rset_state()  # type: ignore[no-untyped-call]
        assert self.session is not None
        self.session.extended_smtp = True
        self.session.host_name = hostname
        self.command_size_limits["MAIL"] = self.command_size_limit + 36
        offered: List[str] = []
        if self.data_size_limit:
            offered.append(f"SIZE {self.data_size_limit}")
        offered += ["8BITMIME", "SMTPUTF8", "PIPELINING"]
        if self.tls_context and not self._tls_protocol:
            offered.append("STARTTLS")
        if self.credentials is not None and (not self._auth_require_tls or self._tls_protocol):
            offered.append("AUTH " + " ".join(sorted(self._auth_methods)))
        offered.append("HELP")
        lines = [self.hostname] + [
            line for line in offered if line.split()[0] not in self.behaviour.hidden
        ]
        for index, line in enumerate(lines):
            await self.push(("250 " if index == len(lines) - 1 else "250-") + line)

    def _check_login(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """PLAIN and LOGIN: the login and password, compared in constant time (UTF-8)."""
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
            return AuthResult(success=True, auth_data=login)
        # handled=False: aiosmtpd sends the 535 itself (with True it would send nothing).
        return AuthResult(success=False, handled=False)

    def _authenticate(self, mechanism: str, auth_data: Any) -> Any:
        login = getattr(auth_data, "login", None)
        if isinstance(login, bytes) and self._current is not None:
            self._current += f" (login {printable(login.decode('utf-8', 'replace'))!r})"
        return super()._authenticate(mechanism, auth_data)

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, _: Any, args: List[str]) -> Any:
        """RFC 2195: the client answers a challenge with ``login HMAC-MD5(password)``."""
        if len(args) > 1:
            await self.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        assert self.credentials is not None
        challenge = f"<{secrets.randbits(48)}.{int(time.time())}@{self.hostname}>".encode()
        response = await self.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False, handled=True)
        login, _space, digest = bytes(response).rpartition(b" ")
        if self._current is not None:
            self._current += f" (login {printable(login.decode('utf-8', 'replace'))!r})"
        user, password = self.credentials
        expected = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
        if secrets.compare_digest(login, user.encode("utf-8")) and secrets.compare_digest(
            digest.lower(), expected.encode("ascii")
        ):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    # ------------------------------------------------------------------ DATA
    async def smtp_DATA(self, arg: Optional[str]) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content, problem = await self._read_body()
        if problem is None and await self._misbehave("END-OF-DATA"):
            return
        if problem is None:
            problem = self.behaviour.data_refusal(self.envelope.rcpt_tos)
        if problem is not None:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(problem)
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def _read_body(self) -> Tuple[bytes, Optional[str]]:
        """Read up to the lone dot; the un-stuffed content, or the reply refusing it.

        Memory holds at most the size limit: once a problem is found the rest is read and
        dropped, and a line is never kept whole before its length is known.
        """
        limit = self.data_size_limit
        chunks: List[bytes] = []
        problem: Optional[str] = None
        size = line_length = 0
        at_line_start = True
        tail = b""  # the last byte of the line so far (bare CR / LF across fragments)
        while True:
            try:
                piece = await self._reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as overrun:
                piece = await self._reader.read(overrun.consumed)
            if not piece:  # the client went away; the connection is being closed
                raise ConnectionResetError("the client closed the connection during DATA")
            if at_line_start and piece == b".\r\n":
                return b"".join(chunks), problem
            complete = piece.endswith(b"\r\n")
            size += len(piece)
            line_length += len(piece)
            if problem is None:
                problem = self._body_problem(piece, tail, complete, size, line_length, limit)
                if problem is not None:
                    chunks = []
                else:
                    chunks.append(piece[1:] if at_line_start and piece[:1] == b"." else piece)
            at_line_start = complete
            tail = b"" if complete else piece[-1:]
            if complete:
                line_length = 0

    def _body_problem(
        self,
        piece: bytes,
        tail: bytes,
        complete: bool,
        size: int,
        line_length: int,
        limit: Optional[int],
    ) -> Optional[str]:
        if limit and size > limit:
            return "552 5.3.4 Error: message file too big"
        if line_length > self.line_length_limit:
            return "500 5.5.2 Error: line too long (RFC 5321 4.5.3.1.6)"
        if self.behaviour.strict_newlines:
            text = tail + (piece[:-2] if complete else piece)
            if _BARE_LF.search(text):
                return "550 5.5.2 Error: bare <LF> received"
            if _BARE_CR.search(text[:-1] if text.endswith(b"\r") and not complete else text):
                return "550 5.5.2 Error: bare <CR> received"
        return None
