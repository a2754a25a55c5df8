"""The SMTP errors of :mod:`post_office.errors`: every one derives from the matching
:mod:`smtplib` exception, so code written against smtplib still catches them.

Apart from the package's ``__init__`` because :mod:`smtplib` loads the email package and
:mod:`hmac`: this module, and smtplib with it, is imported the first time one of these
classes is asked for (a failure, an ``except`` clause that runs, an import by name), so a
send that succeeds loads neither.  Each class names itself ``post_office.errors.<name>``,
where it is documented and where pickle finds it.
"""

from __future__ import annotations

import smtplib
import ssl

from ..protocol.stage import Stage
from . import SMTP_ERRORS, PostOfficeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = sorted(SMTP_ERRORS)  # the names errors.py hands out on first use


class SMTPError(PostOfficeError, smtplib.SMTPException):
    """A failure talking to the mail server.

    ``code`` is the server's reply code (None when there was no reply), ``reply`` the
    server's text, ``command`` what we had sent (credentials redacted), ``stage`` how far
    the transaction had gone (a :class:`~post_office.Stage`: ``Stage.BEFORE_MAIL`` for
    every failure before ``MAIL FROM`` was accepted, so README's retry rule holds).
    """

    def __init__(
        self,
        message: str,
        *,
        code: Optional[int] = None,
        reply: str = "",
        command: Optional[str] = None,
        stage: Optional[Stage] = None,
    ) -> None:
        replied = reply if code is None else f"{code} {reply}"  # no "None" for a non-reply
        if command is not None and (code is not None or reply):
            message = f"{message}. We said: {command!r}, and the server replied: {replied}"
        elif code is not None or reply:
            message = f"{message}. The server replied: {replied}"
        smtplib.SMTPException.__init__(self, message)
        self.message = message
        self.code = code
        self.reply = reply
        self.command = command
        self.stage = stage
        # smtplib.SMTPResponseException's attribute names, for code written against smtplib
        # (set through vars() because typeshed types them differently in each subclass).
        vars(self).update(
            smtp_code=code if code is not None else -1,
            smtp_error=reply.encode("utf-8", "replace"),
        )

    def __str__(self) -> str:
        return self.message


class SocketError(SMTPError):
    """A failure below SMTP, what Allegro signals as ``excl:socket-error``: a refused or
    reset connection, a hang-up, a timeout, a failed TLS handshake.  No refusal by the
    server (a reply code) is one: ``except SocketError`` retries only the network."""


class ConnectError(SMTPError, smtplib.SMTPConnectError):
    """The connection could not be made, or the greeting was not 2xx."""


class ConnectionFailedError(ConnectError, SocketError):
    """No TCP connection could be made to any address of the mail server."""


class HeloError(SMTPError, smtplib.SMTPHeloError):
    """Both EHLO and HELO were refused."""


class ProtocolError(SMTPError, smtplib.SMTPResponseException):
    """The server sent something that is not an SMTP reply, or an over-long reply."""


class NotSupportedError(SMTPError, smtplib.SMTPNotSupportedError):
    """The server lacks an extension the call needs (STARTTLS required, SMTPUTF8, AUTH)."""


class StartTLSError(NotSupportedError):
    """``:starttls :required`` was asked for and the server does not offer STARTTLS."""


class SMTPUTF8Error(NotSupportedError):
    """A non-ASCII address was given and the server does not offer SMTPUTF8."""


class TLSError(SocketError, ssl.SSLError):
    """The TLS handshake failed (implicit TLS or after STARTTLS)."""


class CertificateError(TLSError, ssl.SSLCertVerificationError):
    """The server's certificate or host name did not verify; ``checked_name`` is the name
    it was checked against, ``reached`` the host connected to (None when not known)."""

    checked_name: Optional[str] = None
    reached: Optional[str] = None


class AuthenticationError(SMTPError, smtplib.SMTPAuthenticationError):
    """The server refused the login and password, or no common AUTH mechanism exists."""


class SenderRefusedError(SMTPError, smtplib.SMTPSenderRefused):
    """The server refused ``MAIL FROM``; ``sender`` is the address."""

    def __init__(self, message: str, *, sender: str, **reply: Any) -> None:
        super().__init__(message, **reply)  # code, reply, command, stage: as SMTPError's
        self.sender = sender


class RecipientRefusedError(SMTPError, smtplib.SMTPRecipientsRefused):
    """The server refused a ``RCPT TO``; ``recipient`` is the address, ``recipients`` as smtplib."""

    def __init__(self, message: str, *, recipient: str, **reply: Any) -> None:
        super().__init__(message, **reply)  # code, reply, command, stage: as SMTPError's
        self.recipient = recipient
        code = self.code if self.code is not None else -1
        self.recipients = {recipient: (code, self.reply.encode())}


class DataError(SMTPError, smtplib.SMTPDataError):
    """The server refused ``DATA`` or did not accept the message after the body."""


class ServerDisconnectedError(SocketError, smtplib.SMTPServerDisconnected):
    """The server closed the connection unexpectedly."""


class SMTPTimeoutError(ServerDisconnectedError, TimeoutError):
    """The server did not answer within the configured ``timeout``."""


class ConnectTimeoutError(ConnectionFailedError, SMTPTimeoutError):
    """Connecting to the server took longer than ``timeout`` (a ConnectError and a timeout)."""


#: The error each kind of protocol failure becomes (errors.from_failure).
KINDS = {
    "sender": SenderRefusedError,
    "recipient": RecipientRefusedError,
    "data": DataError,
    "smtputf8": SMTPUTF8Error,
    "auth": AuthenticationError,
    "protocol": ProtocolError,
    "helo": HeloError,
    "starttls": StartTLSError,
    "connect": ConnectError,
}

for _name in __all__:
    globals()[_name].__module__ = PostOfficeError.__module__
