"""SMTP AUTH without I/O (RFC 4954): which mechanism, and what each one sends.

Credentials are UTF-8 (RFC 4616 for PLAIN; the other mechanisms carry the same bytes).
An :class:`AuthExchange` says which line to send first and, given each server reply,
the next line, until the server's 235; every line carries the text to show in the
transcript, so a credential is never shown.  XOAUTH2 (an OAuth2 bearer token instead of
a password) is the de facto extension Google and Microsoft servers use.
"""

from __future__ import annotations

import base64
import hmac
from typing import Optional, Sequence, Tuple

from .failures import Failure
from .replies import Reply

__all__ = [
    "PASSWORD_MECHANISMS",
    "REDACTED",
    "TOKEN_MECHANISMS",
    "AuthExchange",
    "AuthLine",
    "choose_mechanism",
]

#: Our preference for a password: CRAM-MD5 keeps it off the wire even without TLS.
PASSWORD_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")
#: For an OAuth2 token.
TOKEN_MECHANISMS = ("XOAUTH2",)

REDACTED = "<redacted>"

#: One line to send: (what goes on the wire, what the transcript shows).
AuthLine = Tuple[str, str]


def choose_mechanism(offered: Sequence[str], *, token: bool) -> Optional[str]:
    """The mechanism to use among those ``offered`` (upper case), or None if none is shared."""
    for mechanism in TOKEN_MECHANISMS if token else PASSWORD_MECHANISMS:
        if mechanism in offered:
            return mechanism
    return None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class AuthExchange:
    """One AUTH conversation: :meth:`first`, then :meth:`answer` each reply until None."""

    def __init__(self, mechanism: str, login: str, secret: str) -> None:
        if mechanism not in PASSWORD_MECHANISMS + TOKEN_MECHANISMS:
            raise ValueError(f"unknown AUTH mechanism {mechanism!r}")
        self.mechanism = mechanism
        self._login = login
        self._secret = secret
        self._step = 0
        self.command = f"AUTH {mechanism}"  # what we last sent, as shown

    def __repr__(self) -> str:
        return f"AuthExchange({self.mechanism!r}, step {self._step})"

    def first(self) -> AuthLine:
        """The AUTH command (with an initial response where the mechanism has one)."""
        if self.mechanism == "PLAIN":
            return self._sent(f"AUTH PLAIN {self._plain()}", f"AUTH PLAIN {REDACTED}")
        if self.mechanism == "XOAUTH2":
            return self._sent(f"AUTH XOAUTH2 {self._xoauth2()}", f"AUTH XOAUTH2 {REDACTED}")
        return self._sent(f"AUTH {self.mechanism}", f"AUTH {self.mechanism}")

    def answer(self, reply: Reply) -> Optional[AuthLine]:
        """The next line for the server's ``reply``; None once authenticated (235).

        Raises a :class:`~post_office.protocol.failures.Failure` of kind ``"auth"`` for a
        refusal and ``"protocol"`` for a challenge that cannot be read (the client raises
        them as ``AuthenticationError`` and ``ProtocolError``).
        """
        self._step += 1
        if reply.code == 235:
            return None
        if reply.code != 334:
            raise Failure(
                "auth",
                f"SMTP authentication failed: AUTH {self.mechanism} was refused "
                "(check the login and password)",
                code=reply.code,
                reply=reply.text,
                command=self.command,
            )
        mechanism = self.mechanism
        if mechanism == "PLAIN" and self._step == 1:  # the response on its own line
            return self._sent(self._plain(), REDACTED)
        if mechanism == "LOGIN" and self._step <= 2:
            return self._sent(_b64(self._login if self._step == 1 else self._secret), REDACTED)
        if mechanism == "CRAM-MD5" and self._step == 1:
            return self._sent(_b64(f"{self._login} {self._digest(reply)}"), REDACTED)
        if mechanism == "XOAUTH2" and self._step == 1:
            return self._sent("", "")  # the error details came as a challenge: end them
        raise Failure(
            "auth",
            f"SMTP authentication failed: the server kept asking during AUTH {mechanism}",
            code=reply.code,
            reply=reply.text,
            command=self.command,
        )

    def _sent(self, line: str, shown: str) -> AuthLine:
        self.command = shown
        return line, shown

    def _plain(self) -> str:
        return _b64(f"\0{self._login}\0{self._secret}")

    def _xoauth2(self) -> str:
        return _b64(f"user={self._login}\x01auth=Bearer {self._secret}\x01\x01")

    def _digest(self, reply: Reply) -> str:
        try:
            nonce = base64.b64decode(reply.text.encode("ascii"), validate=True)
        except ValueError as exc:
            raise Failure(
                "protocol",
                "the CRAM-MD5 challenge is not base64",
                reply=reply.text,
                command=self.command,
            ) from exc
        return hmac.new(self._secret.encode("utf-8"), nonce, "md5").hexdigest()
