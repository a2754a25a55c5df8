"""The exception hierarchy of post_office (README: Porting notes).

Every exception the package raises on purpose derives from :class:`PostOfficeError`.
Argument errors also derive from ``ValueError`` or ``TypeError``; SMTP errors also derive
from the matching :mod:`smtplib` exception, so code written against smtplib still catches
them.  SMTP errors carry ``code`` (the reply code, or None), ``reply`` (the reply text),
``command`` (what we sent, credentials redacted) and ``stage`` (how far the transaction
had gone, or None).

Every class pickles to an equal exception (same class, ``args``, message and fields), so
worker pools and :mod:`multiprocessing` can hand them between processes:
:meth:`PostOfficeError.__reduce__` rebuilds the object without calling ``__init__`` (whose
signature differs from class to class, and from the smtplib or subprocess base's), the way
pickle rebuilds any plain object, then restores its attributes.
"""

from __future__ import annotations

import smtplib
import ssl

from .protocol.failures import Failure
from .protocol.stage import Stage

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple, Type


class PostOfficeError(Exception):
    """Root of every error post_office raises on purpose."""

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(vars(self))))


def _rebuild(
    cls: Type[BaseException], args: Tuple[Any, ...], state: Dict[str, Any]
) -> BaseException:
    """Unpickle an exception of ``cls``: ``__new__`` and the attributes, no ``__init__``."""
    exc = cls.__new__(cls, *args)
    # OSError.__new__ (smtplib's exceptions are OSErrors) leaves ``args`` empty for a
    # subclass with its own __init__, so it is set here for every class alike.
    exc.args = args
    vars(exc).update(state)
    return exc


# --------------------------------------------------------------------------- arguments


class ArgumentError(PostOfficeError):
    """A caller's argument is malformed; raised before any connection is opened."""


class ServerSpecError(ArgumentError, ValueError):
    """The mail-server argument (or one of its TLS keywords) cannot be understood."""


class LispSyntaxError(ServerSpecError):
    """Literal Lisp text is malformed; ``position`` is the character offset of the fault."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


class AddressError(ArgumentError, ValueError):
    """An envelope address (from, to, cc, bcc) is not a bare ``user@host`` or ``user``."""


class AddressTypeError(AddressError, TypeError):
    """An address argument is not a string (or, for to/cc/bcc, a list of strings)."""


class AddressSyntaxError(PostOfficeError, ValueError):
    """``extract_email_addresses`` met text it cannot read (with ``errorp``)."""


class MessageArgumentError(ArgumentError, TypeError):
    """A message argument is of a type that cannot be sent."""


class HeaderError(ArgumentError, ValueError):
    """A header name, value or raw header line is malformed or carries CR/LF (injection)."""


class OptionError(ArgumentError, ValueError):
    """A Python-only option (timeout, local_hostname, source_address, login) is malformed."""


class MimeError(ArgumentError, ValueError):
    """``make_mime_part`` was given an invalid combination of keywords."""


class SinkUnavailableError(PostOfficeError, RuntimeError):
    """The embedded sink cannot run here: aiosmtpd (or a certificate tool) is not installed."""


class SessionStateError(PostOfficeError, RuntimeError):
    """A session was misused: sending after it was closed, or outside its ``with`` block."""


if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ loads it on first use
    from ._program_error import ProgramError as ProgramError
else:  # hidden from type checkers: a misspelt name fails mypy

    def __getattr__(name: str) -> object:
        """``ProgramError`` derives from ``subprocess.CalledProcessError``: it is defined in
        :mod:`post_office._program_error`, loaded when first asked for, so that sending
        mail does not load :mod:`subprocess` (and :mod:`signal`, :mod:`threading`)."""
        if name == "ProgramError":
            from ._program_error import ProgramError

            globals()[name] = ProgramError
            return ProgramError
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- SMTP


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


__all__ = [
    "AddressError",
    "AddressSyntaxError",
    "AddressTypeError",
    "ArgumentError",
    "AuthenticationError",
    "CertificateError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionFailedError",
    "DataError",
    "HeaderError",
    "HeloError",
    "LispSyntaxError",
    "MessageArgumentError",
    "MimeError",
    "NotSupportedError",
    "OptionError",
    "PostOfficeError",
    "ProgramError",
    "ProtocolError",
    "RecipientRefusedError",
    "SMTPError",
    "SMTPTimeoutError",
    "SMTPUTF8Error",
    "SenderRefusedError",
    "ServerDisconnectedError",
    "ServerSpecError",
    "SessionStateError",
    "SinkUnavailableError",
    "SocketError",
    "StartTLSError",
    "TLSError",
]


# --------------------------------------------------------------------------- from the protocol

_KINDS = {
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


def from_failure(failure: Failure) -> PostOfficeError:
    """The post_office error for a failure the pure protocol found (README "Architecture":
    the protocol package cannot import this module, which loads smtplib)."""
    if failure.kind == "option":  # our own rule, not the server: no code, no stage
        option_error = OptionError(failure.message)
        option_error.__cause__ = failure.__cause__
        return option_error
    error: SMTPError = _KINDS[failure.kind](
        failure.message,
        code=failure.code,
        reply=failure.reply or "",
        command=failure.command,
        stage=failure.stage,
        **failure.details,
    )
    error.__cause__ = failure.__cause__
    return error


def with_stage(error: SMTPError, stage: Stage) -> SMTPError:
    """``error`` with its ``stage`` set (unless an earlier step set it already)."""
    if error.stage is None:
        error.stage = stage
    return error
