"""The one object that owns an SMTP socket (README "Architecture").

:class:`Connection` holds a connected, non-blocking socket (made by
:mod:`post_office.client.dial`), upgrades it to TLS, writes the lines the protocol
modules make, and feeds :class:`~post_office.protocol.replies.ReplyParser` what it reads,
waiting with :func:`wait_for` only when the socket would block.  It knows nothing of
SMTP beyond "a reply"; every socket or TLS failure becomes an exception of
:mod:`post_office.errors` naming what we had said, and the socket is closed on every
path that leaves it unusable.  ``KeyboardInterrupt`` and
``SystemExit`` are never converted: they close the socket and propagate as they are.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import select
import socket
import sys
from time import monotonic

from .. import errors
from ..errors import OptionError
from ..protocol.commands import UnsafeCommand, encode_command
from ..protocol.replies import Reply, ReplyFormatError, ReplyParser
from .transcript import Transcript

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    import ssl
    from typing import Any, Callable, Dict, Iterable, Optional, Sequence

__all__ = ["RECV_SIZE", "Connection", "io_error", "said", "wait_for"]

#: Bytes asked of the socket per read of replies (io.BufferedReader's default buffer).
RECV_SIZE = 8192

#: How long to look for a reply after a write of the body failed.
_LATE_REPLY_WAIT = 1.0
#: A first body chunk up to this size goes out with the end of the data, in one write
#: (a write of its own for the end cost small messages a tenth of their time in a
#: session).  The session's chunks are far larger, so a chunk this small is the only one.
_JOIN_LIMIT = 16 * 1024


def said(command: str) -> str:
    """The "(we had said ...)" part of an error message."""
    return f" (we had said {command!r})" if command else ""


def io_error(exc: BaseException, command: str, doing: str) -> errors.SMTPError:
    """The :mod:`post_office.errors` exception for a socket or TLS failure."""
    if isinstance(exc, errors.SMTPError):
        return exc
    if isinstance(exc, socket.timeout):
        return errors.SMTPTimeoutError(
            f"the server did not answer in time while {doing}" + said(command), command=command
        )
    ssl = sys.modules.get("ssl")  # not loaded: no TLS, so no TLS failure
    if ssl is not None and isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return errors.ServerDisconnectedError(
            f"the server closed the connection while {doing}: {exc}" + said(command),
            command=command,
        )
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return errors.TLSError(f"TLS failed while {doing}: {exc}" + said(command), command=command)
    return errors.ServerDisconnectedError(
        f"the connection broke while {doing}: {exc}" + said(command), command=command
    )


def command_bytes(line: str, shown: str) -> bytes:
    """One command line on the wire; CR, LF or NUL in it could smuggle another command."""
    try:
        return encode_command(line)
    except UnsafeCommand:
        raise OptionError(
            f"refusing to send an SMTP command containing CR, LF or NUL: {shown!r}"
        ) from None


def is_tls(sock: object) -> bool:
    """Whether ``sock`` speaks TLS; without loading :mod:`ssl`, which a plain send does
    not need (no TLS socket exists before it is loaded)."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(sock, ssl.SSLSocket)


_poll = getattr(select, "poll", None)


def wait_for(sock: socket.socket, write: bool, deadline: float) -> None:
    """Until ``sock`` can be written (``write``) or read (bytes, its end, an error), or
    :class:`socket.timeout` at ``deadline`` (a :func:`time.monotonic` time).  The one
    place a connection waits: its socket is non-blocking, so every send and read that
    needs no wait is one system call (README "Reliability")."""
    left = deadline - monotonic()
    if left > 0:
        if _poll is not None:  # no FD_SETSIZE limit, unlike select()
            poller = _poll()
            poller.register(sock, select.POLLOUT if write else select.POLLIN)
            # Rounded up: poll(0) would spin through the last millisecond.
            if poller.poll(int(left * 1000) + 1):
                return
        else:
            watched = [sock]
            ready = select.select([] if write else watched, watched if write else [], [], left)
            if ready[0] or ready[1]:
                return
    raise socket.timeout("timed out")


def _would_block(exc: OSError) -> Optional[bool]:
    """For an error of a non-blocking socket: None when it is a real failure, else
    whether the operation waits for room to write (TLS may need to write to read)."""
    if isinstance(exc, BlockingIOError):
        return False
    ssl = sys.modules.get("ssl")  # not loaded: no TLS socket exists
    if ssl is None:
        return None
    if isinstance(exc, ssl.SSLWantReadError):
        return False
    if isinstance(exc, ssl.SSLWantWriteError):
        return True
    return None


def _no_delay(sock: socket.socket) -> bool:
    """TCP_NODELAY on; True.  Without it the last small segment of a body sent in several
    writes waits for the server's delayed ACK (40 ms on Linux) while the server waits
    for it to reply.  Our writes are whole commands or big chunks."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return True


def _receive_now(sock: socket.socket) -> Optional[bytes]:
    """What the server sent, if anything, without waiting: None when nothing came, b""
    when it closed (or reset) the connection."""
    try:
        return sock.recv(RECV_SIZE)
    except OSError as exc:
        if _would_block(exc) is not None:
            return None  # nothing yet, or a TLS record that carried no data (a ticket)
        return b""  # reset: the read that follows says so


@functools.lru_cache(maxsize=16)
def _literal_of(host: str) -> str:
    """An address literal for EHLO (RFC 5321 4.1.3), parsed once per local address."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


class Connection:
    """A socket to one SMTP server (connected, non-blocking), with a reply parser and a
    transcript."""

    def __init__(self, sock: socket.socket, *, timeout: float, transcript: Transcript) -> None:
        self.timeout = timeout
        self.transcript = transcript
        self.sock: Optional[socket.socket] = sock
        self.parser = ReplyParser(keep_raw_lines=transcript.enabled)
        self.last_command = "(connect)"
        #: a reply the server sent before it stopped taking the body (e.g. 552 and a
        #: hang-up), read by :meth:`send_body` when sending failed
        self.late_reply: Optional[Reply] = None
        #: bytes of the message :meth:`send_body` wrote
        self.body_bytes = 0
        self._nodelay = False

    # ------------------------------------------------------------------ state
    @property
    def open(self) -> bool:
        return self.sock is not None

    @property
    def encrypted(self) -> bool:
        return is_tls(self.sock)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self.parser.clear()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _socket(self) -> socket.socket:
        if self.sock is None:
            raise errors.ServerDisconnectedError(
                "the connection is already closed", command=self.last_command
            )
        return self.sock

    # ------------------------------------------------------------------ TLS
    def wrap(
        self,
        context: ssl.SSLContext,
        server_name: str,
        doing: str,
        command: str = "(TLS handshake)",
    ) -> None:
        """The TLS handshake on the open socket (implicit TLS, or after STARTTLS), each of
        its steps within ``timeout`` (Python's own waits); non-blocking again after."""
        import ssl  # loaded already: the context is ssl's

        sock = self._socket()
        self.parser.clear()  # anything sent in plain text before the upgrade is dropped
        try:
            sock.settimeout(self.timeout)
            self.sock = context.wrap_socket(sock, server_hostname=server_name)
            self.sock.settimeout(0.0)
        except ssl.SSLCertVerificationError:
            self.close()
            raise  # the session words it, with the spec that would verify
        except OSError as exc:
            self.close()
            raise io_error(exc, command, doing) from exc
        except BaseException:
            self.close()
            raise

    def local_literal(self) -> str:
        """The socket's local address as an EHLO address literal."""
        return _literal_of(self._socket().getsockname()[0])

    # ------------------------------------------------------------------ the socket
    def _send_all(self, sock: socket.socket, data: bytes) -> None:
        """All of ``data``, within ``timeout`` from the first wait for room (as
        :meth:`socket.socket.sendall` with a timeout); raises what failed."""
        sent = 0
        deadline = 0.0
        rest: Any = data
        while True:
            try:  # a command, or a chunk the buffer takes: mostly all of it at once
                sent += sock.send(rest)
                write = True
            except OSError as exc:
                blocked = _would_block(exc)
                if blocked is None:
                    raise
                write = blocked
            if sent >= len(data):
                return
            if not deadline:
                deadline = monotonic() + self.timeout
            wait_for(sock, write, deadline)
            rest = memoryview(data)[sent:]

    def _receive(self, sock: socket.socket, deadline: float) -> bytes:
        """The next bytes the socket has (b"" at its end), waiting until ``deadline``."""
        tls = self.encrypted
        while True:
            if not tls:  # a reply is hardly ever there yet: one poll, then one recv
                wait_for(sock, False, deadline)
            try:
                return sock.recv(RECV_SIZE)  # TLS: what it decrypted already comes first
            except OSError as exc:
                write = _would_block(exc)
                if write is None:
                    raise
                if tls:
                    wait_for(sock, write, deadline)

    # ------------------------------------------------------------------ writing
    def write(self, data: bytes, shown: Sequence[str]) -> None:
        """Send command lines (``data``), shown in the transcript as ``shown``."""
        sock = self._socket()
        self.last_command = shown[0] if shown else ""
        if self.transcript.enabled:
            for line in shown:
                self.transcript.command(line)
        try:
            self._send_all(sock, data)
        except Exception as exc:
            self.close()
            raise io_error(exc, self.last_command, "sending") from exc
        except BaseException:
            self.close()
            raise

    def send_body(self, chunks: Iterable[bytes], end: Callable[[], bytes]) -> Optional[Reply]:
        """Stream the message content, then ``end()`` (the end-of-data line); None once
        all is written, or the reply the server sent first.

        Before every write, so once more right before the end of the data, a look that
        never blocks (:meth:`look`): a reply there by then is not the answer to our end
        of data (RFC 5321 4.1.1.4, 4.3.2).  The body stops, the rest of that reply is
        read (within ``timeout``) and returned, and, as on any failure, the connection
        is dropped: a server discards an unterminated message (RFC 5321 4.1.1.4).
        A small message goes out with its end in one write, looked before: no byte of
        it was written earlier that the server could have answered.
        """
        sock = self._socket()
        self.last_command = "(message body)"
        self.body_bytes = 0
        self.late_reply = None
        held = b""  # a small first chunk, to go out with the end of the data
        try:
            for chunk in chunks:
                if not (self.body_bytes or held) and len(chunk) <= _JOIN_LIMIT:
                    held = chunk
                    continue
                if not self._look_then_send(sock, held + chunk):
                    return self._early_reply()
                held = b""
            if not self._look_then_send(sock, held + end()):
                return self._early_reply()
        except BaseException:
            # Whatever stopped us (the socket, or a message source that failed while
            # being read, whose error is raised as it is), the line is dropped.
            self.close()
            raise
        return None

    def _look_then_send(self, sock: socket.socket, data: bytes) -> bool:
        """Write ``data`` unless the server has started a reply (then False)."""
        if self.look():
            return False
        if self.body_bytes and not self._nodelay:
            # A second write of one body: its last small segment must not wait for the
            # ACK of the first (Nagle).  A body in one write never needs this.
            self._nodelay = _no_delay(sock)
        try:
            self._send_all(sock, data)
        except OSError as exc:
            self.late_reply = self._late_reply(sock)
            raise io_error(exc, "(message body)", "sending the message") from exc
        self.body_bytes += len(data)
        return True

    def _early_reply(self) -> Reply:
        reply = self.read_reply("reading what the server said during the message")
        self.close()
        return reply

    def look(self) -> bool:
        """One look at the socket that never blocks: whatever the server sent is fed to
        the parser.  True when bytes wait that no reply has used (:meth:`early_bytes`),
        or the server closed or reset the connection."""
        if self.parser.buffered:
            return True
        data = _receive_now(self._socket())
        if data is None:
            return False
        self.parser.feed(data)
        return True

    # ------------------------------------------------------------------ reading
    def read_reply(
        self, doing: str = "waiting for the reply", *, to: Optional[str] = None
    ) -> Reply:
        """The next complete reply (``to``: the command it answers, as errors name it);
        the whole wait is bounded by ``timeout``."""
        if to is not None:
            self.last_command = to
        sock = self._socket()
        parser = self.parser
        try:
            reply = parser.next_reply()
            if reply is None:
                deadline = monotonic() + self.timeout
                while reply is None:
                    chunk = self._receive(sock, deadline)
                    if not chunk:
                        reply = parser.end_of_input()
                        if reply is None:
                            raise self._hung_up()
                        break
                    parser.feed(chunk)
                    reply = parser.next_reply()
        except ReplyFormatError as exc:
            self._show_received()
            self.close()
            raise errors.ProtocolError(
                exc.what + said(self.last_command), command=self.last_command, reply=exc.text
            ) from None
        except Exception as exc:
            self._show_received()
            self.close()
            raise io_error(exc, self.last_command, doing) from exc
        except BaseException:
            self.close()
            raise
        if parser.keep_raw_lines:
            self._show_received()
        return reply

    def _late_reply(self, sock: socket.socket) -> Optional[Reply]:
        """A reply the server sent before the write failed, if one is waiting: what a
        server says before it hangs up is already in our receive buffer."""
        parser = self.parser
        deadline = monotonic() + min(self.timeout, _LATE_REPLY_WAIT)
        try:
            reply = parser.next_reply()
            while reply is None:
                chunk = self._receive(sock, deadline)
                if not chunk:
                    return parser.end_of_input()
                parser.feed(chunk)
                reply = parser.next_reply()
        except (OSError, ReplyFormatError):
            return None
        finally:
            self._show_received()
        return reply

    def _hung_up(self) -> errors.ServerDisconnectedError:
        return errors.ServerDisconnectedError(
            "the server closed the connection" + said(self.last_command),
            command=self.last_command,
            reply=self.parser.partial,
        )

    def _show_received(self) -> None:
        lines = self.parser.take_raw_lines()
        if self.transcript.enabled:
            for line in lines:
                self.transcript.reply(line)

    def early_bytes(self) -> bool:
        """Whether the server sent bytes that no reply we waited for has used."""
        return self.parser.buffered

    # ------------------------------------------------------------------ TLS facts
    def tls_facts(self) -> Dict[str, Any]:
        """The TLS version, cipher and peer certificate (DER and decoded), when encrypted."""
        sock = self.sock
        if sock is None or not is_tls(sock):
            return {}
        import ssl  # loaded already: the socket speaks TLS

        assert isinstance(sock, ssl.SSLSocket)
        cipher = sock.cipher()
        return {
            "version": sock.version(),
            "cipher": cipher[0] if cipher else None,
            "der": sock.getpeercert(binary_form=True),
            "decoded": sock.getpeercert() or None,
        }
