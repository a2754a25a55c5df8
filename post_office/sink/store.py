"""What the embedded sink received and where it keeps it (README, "The embedded sink").

:class:`ReceivedMessage` is one message as it came off the wire; :class:`Store` keeps
messages in a Maildir, an mbox file, or nowhere; :func:`trace_headers` are the lines a
local delivery agent adds in front of a stored message (RFC 5321 section 4.4).
"""

from __future__ import annotations

import datetime
import functools
import os
import time
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Tuple

from .._checks import printable
from ..errors import OptionError
from .certs import PathLike

if TYPE_CHECKING:
    import mailbox
    from email.message import EmailMessage

__all__ = ["ReceivedMessage", "Store", "received_message", "trace_headers"]


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the sink received it.

    ``mail_from`` is ``""`` for the null sender; ``rcpt_tos`` are in envelope order (Bcc
    recipients included); ``mail_options`` and ``rcpt_options`` are the ESMTP parameters
    (``BODY=8BITMIME``, ``SMTPUTF8``, ``SIZE=...``) as aiosmtpd's envelope has them;
    ``content`` (also :attr:`data`) is the message exactly as it came off the wire after
    dot-unstuffing, CRLF line endings; ``tls_version`` is None without TLS; ``login`` is
    the AUTH identity or None; ``stored_as`` is the Maildir or mbox key and ``stored_in``
    the Maildir file or the mbox, when stored.
    """

    mail_from: str
    rcpt_tos: Tuple[str, ...]
    content: bytes
    peer: str
    tls_version: Optional[str]
    login: Optional[str]
    received_at: datetime.datetime
    stored_as: Optional[str] = None
    mail_options: Tuple[str, ...] = ()
    rcpt_options: Tuple[str, ...] = ()
    stored_in: Optional[Path] = None

    @property
    def data(self) -> bytes:
        """The message as it came off the wire after dot-unstuffing (CRLF line endings)."""
        return self.content

    @functools.cached_property
    def message(self) -> EmailMessage:
        """The message parsed as an :class:`email.message.EmailMessage` (default policy),
        line ends as ``\\n`` (:attr:`data` keeps the CRLF of the wire)."""
        import email.parser
        import email.policy
        from email.message import EmailMessage

        parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            self.content.replace(b"\r\n", b"\n")
        )
        assert isinstance(parsed, EmailMessage)
        return parsed

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
        """One line: time, from, recipients, size, subject, TLS, login and where it was
        stored; control characters escaped, so a hostile address cannot drive a terminal."""
        extras = [self.tls_version or "plain text"]
        if self.login is not None:
            extras.append(f"auth {self.login}")
        subject = self.subject.replace("\r", " ").replace("\n", " ")
        recipients = ", ".join(f"<{r}>" for r in self.rcpt_tos)
        stored = f", stored in {self.stored_in}" if self.stored_in is not None else ""
        return printable(
            f"{self.received_at.astimezone().strftime('%H:%M:%S')} "
            f"from <{self.mail_from}> to {recipients}: "
            f"{len(self.content):,} bytes, subject '{subject}' ({', '.join(extras)}){stored}"
        )


def received_message(server: Any, session: Any, envelope: Any) -> ReceivedMessage:
    """The :class:`ReceivedMessage` of an aiosmtpd server, session and envelope."""
    transport = server.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    peer = session.peer
    mail_from = envelope.mail_from or ""
    return ReceivedMessage(
        mail_from="" if mail_from == "<>" else mail_from,
        rcpt_tos=tuple(envelope.rcpt_tos),
        content=envelope.original_content or b"",
        peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
        tls_version=ssl_object.version() if ssl_object is not None else None,
        login=session.auth_data if session.authenticated else None,
        received_at=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0),
        mail_options=tuple(envelope.mail_options),
        rcpt_options=tuple(envelope.rcpt_options),
    )


def trace_headers(message: ReceivedMessage, ehlo_name: str, hostname: str) -> bytes:
    """Return-Path, Delivered-To and Received, as a local delivery agent adds them.

    They are the first lines of the stored message, and ``sink-list`` reads the envelope
    from there only (README "The command line"); what the client chose (the addresses,
    its EHLO name) is escaped, so that no line break in it can add or end a line.
    """
    protocol = "ESMTP" + ("S" if message.tls_version else "") + ("A" if message.login else "")
    tls = f" ({message.tls_version})" if message.tls_version else ""
    lines = [f"Return-Path: <{printable(message.mail_from)}>"]
    lines += [f"Delivered-To: {printable(recipient)}" for recipient in message.rcpt_tos]
    lines.append(
        f"Received: from {printable(ehlo_name) or 'unknown'} ({message.peer})\n"
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
        self.maildir: Optional[mailbox.Maildir] = None
        if maildir is not None:
            self.maildir = mailbox.Maildir(os.fspath(maildir), create=True)
            for folder in ("tmp", "new", "cur"):  # an existing empty directory lacks them
                Path(maildir, folder).mkdir(exist_ok=True)
        self.mbox: Optional[mailbox.mbox] = (
            mailbox.mbox(os.fspath(mbox), create=True) if mbox else None
        )
        where = maildir if maildir is not None else mbox
        self.path = Path(where) if where is not None else None

    def add(self, data: bytes, sender: str) -> Optional[Tuple[str, Path]]:
        """Store a message; its key and file (the Maildir file, or the mbox), or None."""
        # Stored with this system's newlines, as a local delivery agent would.
        data = data.replace(b"\r\n", b"\n")
        if self.maildir is not None:
            assert self.path is not None
            key = self.maildir.add(data)
            return key, (self.path / "new" / key).absolute()
        if self.mbox is not None:
            from_line = f"From {sender or 'MAILER-DAEMON'} {time.asctime(time.gmtime())}\n"
            self.mbox.lock()
            try:
                key = self.mbox.add(from_line.encode("utf-8", "replace") + data)
                self.mbox.flush()
            finally:
                self.mbox.unlock()
            assert self.path is not None
            return str(key), self.path.absolute()
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
