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

from ..protocol.failures import Failure
from ..protocol.stage import Stage

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Any, Dict, Tuple, Type


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


#: The SMTP errors, defined in :mod:`post_office.errors.smtp` (they derive from smtplib's),
#: which makes its ``__all__`` of these names.
SMTP_ERRORS = frozenset(
    (
        "AuthenticationError",
        "CertificateError",
        "ConnectError",
        "ConnectTimeoutError",
        "ConnectionFailedError",
        "DataError",
        "HeloError",
        "NotSupportedError",
        "ProtocolError",
        "RecipientRefusedError",
        "SMTPError",
        "SMTPTimeoutError",
        "SMTPUTF8Error",
        "SenderRefusedError",
        "ServerDisconnectedError",
        "SocketError",
        "StartTLSError",
        "TLSError",
    )
)

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ loads them on first use
    from .program import ProgramError as ProgramError
    from .smtp import AuthenticationError as AuthenticationError
    from .smtp import CertificateError as CertificateError
    from .smtp import ConnectError as ConnectError
    from .smtp import ConnectionFailedError as ConnectionFailedError
    from .smtp import ConnectTimeoutError as ConnectTimeoutError
    from .smtp import DataError as DataError
    from .smtp import HeloError as HeloError
    from .smtp import NotSupportedError as NotSupportedError
    from .smtp import ProtocolError as ProtocolError
    from .smtp import RecipientRefusedError as RecipientRefusedError
    from .smtp import SenderRefusedError as SenderRefusedError
    from .smtp import ServerDisconnectedError as ServerDisconnectedError
    from .smtp import SMTPError as SMTPError
    from .smtp import SMTPTimeoutError as SMTPTimeoutError
    from .smtp import SMTPUTF8Error as SMTPUTF8Error
    from .smtp import SocketError as SocketError
    from .smtp import StartTLSError as StartTLSError
    from .smtp import TLSError as TLSError
else:  # hidden from type checkers: a misspelt name fails mypy

    def __getattr__(name: str) -> object:
        """The classes defined apart, loaded when first asked for: ``ProgramError``
        derives from ``subprocess.CalledProcessError`` (:mod:`subprocess` loads
        :mod:`signal` and :mod:`threading`), the SMTP errors from :mod:`smtplib`'s (which
        loads the email package and :mod:`hmac`); sending mail that succeeds needs none."""
        if name == "ProgramError":
            from .program import ProgramError

            globals()[name] = ProgramError
            return ProgramError
        if name in SMTP_ERRORS:
            from . import smtp

            globals().update((each, getattr(smtp, each)) for each in SMTP_ERRORS)
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def from_failure(failure: Failure) -> PostOfficeError:
    """The post_office error for a failure the pure protocol found (README "Architecture":
    the protocol package cannot import this module, which loads smtplib)."""
    if failure.kind == "option":  # our own rule, not the server: no code, no stage
        option_error = OptionError(failure.message)
        option_error.__cause__ = failure.__cause__
        return option_error
    from .smtp import KINDS

    error: SMTPError = KINDS[failure.kind](
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
