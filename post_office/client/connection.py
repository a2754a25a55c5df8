"""The one object that owns an SMTP socket (README "Architecture").

:class:`Connection` connects (plain or implicit TLS), upgrades to TLS, writes the lines
the protocol modules make, and feeds :class:`~post_office.protocol.replies.ReplyParser`
what it reads.  It knows nothing of SMTP beyond "a reply"; every socket or TLS failure
becomes an exception of :mod:`post_office.errors` naming what we had said, and the
socket is closed on every path that leaves it unusable.  ``KeyboardInterrupt`` and
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
from .targets import Target
from .transcript import Transcript

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    import ssl
    from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["RECV_SIZE", "Connection", "connect", "io_error", "said"]

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


def _connect_failure(
    targets: Sequence[Target], port: int, failures: Sequence[str], timed_out: bool, untried: int
) -> errors.ConnectionFailedError:
    if len(failures) == 1 and not untried:
        target = targets[0]
        name = target.name if target.name == target.address else f"{target.name} ({target.address})"
        why = "timed out" if timed_out else failures[0].rsplit(": ", 1)[-1]
        text = f"initial connect failed: could not connect to {name} port {port}: {why}"
    elif failures or not untried:
        text = "initial connect failed: could not connect to any address: " + "; ".join(failures)
        if untried:
            text += f"; {untried} more not tried: the time for connecting ran out"
    else:
        text = (
            f"initial connect failed: the time for connecting ran out before {targets[0].name} "
            f"port {port} was tried"
        )
    return (
        errors.ConnectTimeoutError
        if timed_out and (failures or untried)
        else errors.ConnectionFailedError
    )(text)


def connect(
    targets: Sequence[Target],
    port: int,
    *,
    timeout: float,
    transcript: Transcript,
    source_address: Optional[Tuple[str, int]] = None,
    deadline: Optional[float] = None,
) -> Tuple[Connection, Target]:
    """A :class:`Connection` to the first of ``targets`` that takes a TCP connection
    (RFC 5321 5.1: the next address when one refuses or does not answer), and that
    target; :class:`~post_office.errors.ConnectionFailedError` (a timeout:
    :class:`~post_office.errors.ConnectTimeoutError`) naming every address tried.

    Each address gets ``timeout`` seconds, and none is tried after ``deadline`` (a
    :func:`time.monotonic` time): however many addresses DNS listed, the wait is bounded
    (README "Reliability")."""
    failures: List[str] = []
    timed_out = True
    for number, target in enumerate(targets):
        wait = timeout if deadline is None else min(timeout, deadline - monotonic())
        if wait <= 0:
            untried = len(targets) - number
            transcript.note(f"the time for connecting ran out; {untried} address(es) not tried")
            raise _connect_failure(targets, port, failures, timed_out, untried)
        where = f"{target.name} ({target.address}) port {port}"
        try:
            sock = _open_socket(target.address, port, wait, source_address)
        except socket.timeout:
            failures.append(f"{where}: timed out")
        except OSError as exc:
            failures.append(f"{where}: {exc}")
            timed_out = False
        else:
            if wait != timeout:  # cut to what was left of the deadline: each reply's is whole
                sock.settimeout(timeout)
            if len(targets) > 1:
                transcript.note(f"connected to {where}")
            connection = Connection(timeout=timeout, transcript=transcript)
            connection.sock = sock
            return connection, target
        transcript.note(f"could not connect to {failures[-1]}")
    raise _connect_failure(targets, port, failures, timed_out, 0)


def _open_socket(
    address: str, port: int, timeout: float, source_address: Optional[Tuple[str, int]]
) -> socket.socket:
    """A TCP connection to an IP address (what resolving gave): socket.create_connection
    without its getaddrinfo, which for an address already numeric only costs time."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if source_address is not None:
            sock.bind(source_address)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


def is_tls(sock: object) -> bool:
    """Whether ``sock`` speaks TLS; without loading :mod:`ssl`, which a plain send does
    not need (no TLS socket exists before it is loaded)."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(sock, ssl.SSLSocket)


def _readable(sock: socket.socket) -> bool:
    """Whether the socket has something to read (bytes, end of file, an error), without
    waiting.  Also True when the socket cannot be polled: the read that follows says."""
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _no_delay(sock: socket.socket) -> bool:
    """TCP_NODELAY on; True.  Without it the last small segment of a body sent in several
    writes waits for the server's delayed ACK (40 ms on Linux) while the server waits
    for it to reply.  Our writes are whole commands or big chunks."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return True


def _receive_now(sock: socket.socket, timeout: float) -> Optional[bytes]:
    """What the server sent, if anything, without waiting: None when nothing came, b""
    when it closed (or reset) the connection.  The socket keeps ``timeout`` after."""
    pending = is_tls(sock) and sock.pending()  # type: ignore[attr-defined]
    if not pending and not _readable(sock):
        return None
    try:
        sock.settimeout(0.0)
        return sock.recv(RECV_SIZE)
    except OSError as exc:
        ssl = sys.modules.get("ssl")
        if isinstance(exc, BlockingIOError) or (
            ssl is not None and isinstance(exc, ssl.SSLWantReadError)
        ):
            return None  # nothing yet, or a TLS record that carried no data (a ticket)
        return b""  # reset: the read that follows says so
    finally:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout)


@functools.lru_cache(maxsize=16)
def _literal_of(host: str) -> str:
    """An address literal for EHLO (RFC 5321 4.1.3), parsed once per local address."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


class Connection:
    """A socket to one SMTP server, with a reply parser and a transcript."""

    def __init__(self, *, timeout: float, transcript: Transcript) -> None:
        self.timeout = timeout
        self.transcript = transcript
        self.sock: Optional[socket.socket] = None
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
        """The TLS handshake on the open socket (implicit TLS, or after STARTTLS)."""
        import ssl  # loaded already: the context is ssl's

        sock = self._socket()
        self.parser.clear()  # anything sent in plain text before the upgrade is dropped
        try:
            self.sock = context.wrap_socket(sock, server_hostname=server_name)
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

    # ------------------------------------------------------------------ writing
    def write(self, data: bytes, shown: Sequence[str]) -> None:
        """Send command lines (``data``), shown in the transcript as ``shown``."""
        sock = self._socket()
        self.last_command = shown[0] if shown else ""
        if self.transcript.enabled:
            for line in shown:
                self.transcript.command(line)
        self._sendall(sock, data, "sending")

    def _sendall(self, sock: socket.socket, data: Any, doing: str) -> None:
        try:
            sock.sendall(data)
        except Exception as exc:
            self.close()
            raise io_error(exc, self.last_command, doing) from exc
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
            sock.sendall(data)
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
        data = _receive_now(self._socket(), self.timeout)
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
        deadline = 0.0
        shortened = False  # the socket's timeout was cut to what is left of the wait
        try:
            reply = parser.next_reply() if parser.buffered else None
            while reply is None:
                if deadline:
                    left = deadline - monotonic()
                    if left <= 0:
                        raise socket.timeout("timed out")
                    sock.settimeout(left)
                    shortened = True
                else:
                    deadline = monotonic() + self.timeout
                chunk = sock.recv(RECV_SIZE)
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
        finally:
            if shortened and self.sock is not None:
                with contextlib.suppress(OSError):
                    self.sock.settimeout(self.timeout)
        if parser.keep_raw_lines:
            self._show_received()
        return reply

    def _late_reply(self, sock: socket.socket) -> Optional[Reply]:
        """A reply the server sent before the write failed, if one is waiting: what a
        server says before it hangs up is already in our receive buffer."""
        parser = self.parser
        try:
            sock.settimeout(min(self.timeout, _LATE_REPLY_WAIT))
            reply = parser.next_reply()
            while reply is None:
                chunk = sock.recv(RECV_SIZE)
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
