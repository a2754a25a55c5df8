"""Exit statuses of ``post-office``, as mail tools have them (``sysexits.h``; README "The
command line"): scripts and cron jobs that call sendmail, msmtp or swaks branch on them.

=====  ==================  ==========================================================
0      ``EXIT_OK``         sent (``check``: the spec works with the server)
1      ``EXIT_FAILURE``    another failure (the ``:program`` transport failed)
2      ``EXIT_USAGE``      a usage or argument error: nothing was connected
69     ``EX_UNAVAILABLE``  refused for good: a 5xx reply, or the server lacks what the
                           spec or options need (STARTTLS for ``:starttls :required``,
                           AUTH for ``--login``)
75     ``EX_TEMPFAIL``     worth retrying: a 4xx reply, a refused, timed-out or dropped
                           connection, a failed TLS handshake
76     ``EX_PROTOCOL``     the server broke the SMTP protocol
78     ``EX_CONFIG``       the spec does not fit the server, so retrying cannot help:
                           its certificate does not verify with this spec, or ``:ssl t``
                           met a port that speaks plain SMTP (its handshake is answered
                           in plain text)
130    ``EXIT_INTERRUPTED``  Ctrl-C
=====  ==================  ==========================================================
"""

from __future__ import annotations

import ssl
from typing import Optional

from ..errors import (
    ArgumentError,
    CertificateError,
    NotSupportedError,
    ProtocolError,
    SinkUnavailableError,
    SMTPError,
    SocketError,
    TLSError,
)

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EX_CONFIG",
    "EX_PROTOCOL",
    "EX_TEMPFAIL",
    "EX_UNAVAILABLE",
    "Failure",
    "status_of",
    "status_of_code",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_PROTOCOL = 76
EX_CONFIG = 78
EXIT_INTERRUPTED = 130


class Failure(Exception):
    """A failure the command line itself found (e.g. ``--login`` and no AUTH offered):
    ``post-office: error: MESSAGE`` and exit ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def status_of_code(code: Optional[int]) -> Optional[int]:
    """The status for an SMTP reply code: 4xx retry later, 5xx refused for good."""
    if code is not None and 400 <= code < 500:
        return EX_TEMPFAIL
    if code is not None and 500 <= code < 600:
        return EX_UNAVAILABLE
    return None


#: OpenSSL's reasons for a TLS handshake answered by something that is not TLS (a plain
#: SMTP greeting): the spec's TLS mode does not fit the port, which no retry changes.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG"}
)


def _not_tls(exc: SMTPError) -> bool:
    cause = exc.__cause__
    return (
        isinstance(exc, TLSError)
        and isinstance(cause, ssl.SSLError)
        and getattr(cause, "reason", None) in _NOT_TLS
    )


def status_of(exc: BaseException) -> int:
    """The exit status for an exception that ended a command."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, Failure):
        return exc.status
    if isinstance(exc, (ArgumentError, SinkUnavailableError)):
        return EXIT_USAGE
    if isinstance(exc, SMTPError):
        by_code = status_of_code(exc.code)
        if by_code is not None:
            return by_code
        if isinstance(exc, CertificateError) or _not_tls(exc):
            return EX_CONFIG
        if isinstance(exc, SocketError):
            return EX_TEMPFAIL
        if isinstance(exc, ProtocolError):
            return EX_PROTOCOL
        if isinstance(exc, NotSupportedError):
            return EX_UNAVAILABLE
        return EX_TEMPFAIL
    return EXIT_FAILURE
