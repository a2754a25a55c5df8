"""How far one mail transaction got: :class:`Stage`, carried as ``stage`` by every SMTP
failure (README "Reliability": the retry rule).  A leaf: it imports nothing of ours."""

from __future__ import annotations

import enum

__all__ = ["Stage"]


class Stage(enum.Enum):
    """How far one transaction got; carried as ``stage`` on the errors it raises.

    Only a failure at :attr:`BEFORE_MAIL` is certain to have delivered nothing and to
    have left nothing on the server (safe to resend); from :attr:`BODY_STARTED` on the
    server may have delivered the message even if its final reply was lost."""

    BEFORE_MAIL = "before MAIL FROM was accepted"
    MAIL_ACCEPTED = "MAIL FROM accepted"
    RECIPIENTS_ACCEPTED = "every RCPT TO accepted"
    DATA_ACCEPTED = "DATA accepted (354), no byte of the message sent"
    BODY_STARTED = "part of the message sent"
    BODY_SENT = "the whole message and its terminator sent"
    ACCEPTED = "the server accepted the message"

    @property
    def may_have_delivered(self) -> bool:
        """Whether the server can have the message: never resend from such a stage."""
        return self in (Stage.BODY_STARTED, Stage.BODY_SENT, Stage.ACCEPTED)
