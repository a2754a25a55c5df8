"""Connecting to the addresses resolving gave (RFC 5321 5.1; README "Reliability").

:func:`connect` tries each address in turn within its share of the time and returns a
:class:`~post_office.client.connection.Connection` whose socket is non-blocking: from
then on the connection waits for the socket itself, with one deadline per reply.
"""

from __future__ import annotations

import errno
import os
import socket
from time import monotonic

from .. import errors
from .connection import Connection, wait_for
from .targets import Target
from .transcript import Transcript

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

__all__ = ["connect"]

#: Made non-blocking by socket() itself where the system can (Linux): no ioctl after.
_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
#: What connect() of a non-blocking socket says while the handshake goes on (also after
#: a signal: the connection goes on all the same).
_IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EINTR)


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
            if len(targets) > 1:
                transcript.note(f"connected to {where}")
            return Connection(sock, timeout=timeout, transcript=transcript), target
        transcript.note(f"could not connect to {failures[-1]}")
    raise _connect_failure(targets, port, failures, timed_out, 0)


def _open_socket(
    address: str, port: int, timeout: float, source_address: Optional[Tuple[str, int]]
) -> socket.socket:
    """A non-blocking TCP connection to an IP address (what resolving gave), made within
    ``timeout``: socket.create_connection without its getaddrinfo, which for an address
    already numeric only costs time."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM | _NONBLOCK)
    try:
        if source_address is not None:
            sock.bind(source_address)
        if not _NONBLOCK:
            # Python's own wait: on Windows a refused connection shows only as an
            # exceptional condition, which its connect() watches for.
            sock.settimeout(timeout)
            sock.connect((address, port))
            sock.settimeout(0.0)
            return sock
        code = sock.connect_ex((address, port))
        if code in _IN_PROGRESS:
            wait_for(sock, True, monotonic() + timeout)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))  # its subclass, as connect() raises
    except BaseException:
        sock.close()
        raise
    return sock
