"""Failures the protocol finds, as plain values (README "Architecture").

The public exceptions (:mod:`post_office.errors`) subclass :mod:`smtplib`'s, and smtplib
loads the socket layer, so the pure protocol package never raises them: it raises a
:class:`Failure` naming the ``kind`` of error, and the client turns it into that error
(:func:`post_office.errors.from_failure`) with the same message and attributes.
"""

from __future__ import annotations

from .stage import Stage

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Dict, Literal, Optional

__all__ = ["Failure", "FailureKind"]

if TYPE_CHECKING:
    #: Which post_office error a failure becomes: SenderRefusedError, RecipientRefusedError,
    #: DataError, SMTPUTF8Error, AuthenticationError, ProtocolError, HeloError, StartTLSError,
    #: ConnectError, OptionError (a rule of ours refused to go on, no reply involved).
    FailureKind = Literal[
        "sender",
        "recipient",
        "data",
        "smtputf8",
        "auth",
        "protocol",
        "helo",
        "starttls",
        "connect",
        "option",
    ]
else:  # at run time each alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type aliases above, made on first use: sending mail does not load typing."""
        if name in ("FailureKind",):
            from typing import Literal

            globals()["FailureKind"] = Literal[
                "sender",
                "recipient",
                "data",
                "smtputf8",
                "auth",
                "protocol",
                "helo",
                "starttls",
                "connect",
                "option",
            ]
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Failure(Exception):
    """A refusal or a protocol violation found without I/O."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        code: Optional[int] = None,
        reply: Optional[str] = None,
        command: Optional[str] = None,
        stage: Optional[Stage] = None,
        details: Optional[Dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message
        self.code = code
        self.reply = reply
        self.command = command
        self.stage = stage
        self.details = details or {}
