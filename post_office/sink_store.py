"""What the embedded sink received and where it keeps it (README, "The embedded sink").

:class:`ReceivedMessage` is one message as it came off the wire; :class:`Store` keeps
messages in a Maildir, an mbox file, or nowhere; :func:`trace_headers` are the lines a
local delivery agent adds in front of a stored message (RFC 5321 section 4.4).
"""

from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

from .errors import OptionError
from .sink_certs import PathLike

if TYPE_CHECKING:
    import mailbox

__all__ = ["ReceivedMessage", "Store", "trace_headers"]


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the sink received it.

    ``content`` is the message exactly as it came off the wire after un-stuffing (CRLF
    line endings); ``stored_as`` is the Maildir key or mbox key, when stored.
    """

    mail_from: str
    rcpt_tos: Tuple[str, ...]
    content: bytes
    peer: str
    tls_version: Optional[str]
    login: Optional[str]
    received_at: datetime.datetime
    stored_as: Optional[str] = None

    @property
    def subject(self) -> str:
        """The decoded Subject header, or ``""``."""
        import email.parser
        import email.policy

        try:
            headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(
                self.content
            )
            return str(headers.get("subject", "") or "")
        except Exception:  # a malformed header must not break the sink's report
            return ""

    def summary(self) -> str:
        """One line: time, from, recipients, size, subject, TLS and login."""
        extras = [self.tls_version or "plain text"]
        if self.login is not None:
            extras.append(f"auth {self.login}")
        subject = self.subject.replace("\r", " ").replace("\n", " ")
        return (
            f"{self.received_at.astimezone().strftime('%H:%M:%S')} "
            f"from <{self.mail_from}> to {', '.join(f'<{r}>' for r in self.rcpt_tos)}: "
            f"{len(self.content):,} bytes, subject {subject!r} ({', '.join(extras)})"
        )


def trace_headers(message: ReceivedMessage, ehlo_name: str, hostname: str) -> bytes:
    """Return-Path, Delivered-To and Received, as a local delivery agent adds them."""
    protocol = "ESMTP" + ("S" if message.tls_version else "") + ("A" if message.login else "")
    tls = f" ({message.tls_version})" if message.tls_version else ""
    lines = [f"Return-Path: <{message.mail_from}>"]
    lines += [f"Delivered-To: {recipient}" for recipient in message.rcpt_tos]
    lines.append(
        f"Received: from {ehlo_name or 'unknown'} ({message.peer})\n"
        f"\tby {hostname} (post_office sink) with {protocol}{tls};\n"
        f"\t{format_datetime(message.received_at)}"
    )
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")


class Store:
    """Where the sink keeps messages: a Maildir, an mbox file, or nowhere."""

    def __init__(self, maildir: Optional[PathLike], mbox: Optional[PathLike]) -> None:
        import mailbox

        if maildir is not None and mbox is not None:
            raise OptionError("give maildir or mbox, not both")
        self.maildir: Optional[mailbox.Maildir] = (
            mailbox.Maildir(os.fspath(maildir), create=True) if maildir else None
        )
        self.mbox: Optional[mailbox.mbox] = (
            mailbox.mbox(os.fspath(mbox), create=True) if mbox else None
        )
        where = maildir if maildir is not None else mbox
        self.path = Path(where) if where is not None else None

    def add(self, data: bytes, sender: str) -> Optional[str]:
        # Stored with this system's newlines, as a local delivery agent would.
        data = data.replace(b"\r\n", b"\n")
        if self.maildir is not None:
            return self.maildir.add(data)
        if self.mbox is not None:
            from_line = f"From {sender or 'MAILER-DAEMON'} {time.asctime(time.gmtime())}\n"
            self.mbox.lock()
            try:
                key = self.mbox.add(from_line.encode("utf-8", "replace") + data)
                self.mbox.flush()
            finally:
                self.mbox.unlock()
            return str(key)
        return None

    def close(self) -> None:
        if self.mbox is not None:
            self.mbox.close()

    def file_of(self, key: str) -> Optional[Path]:
        """The Maildir file of a stored message."""
        if self.maildir is None or self.path is None:
            return None
        for candidate in (self.path / "new" / key, *sorted((self.path / "cur").glob(key + ":*"))):
            if candidate.exists():
                return candidate
        return None
