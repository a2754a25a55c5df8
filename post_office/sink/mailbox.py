"""What a sink stored, read back for ``sink-list`` and ``sink-show`` (standard library only).

The sink writes each message with ``Return-Path:``, one ``Delivered-To:`` per envelope
recipient and a ``Received:`` line in front (README, "The command line"; RFC 5321
section 4.4).  The envelope shown here is read from those first lines only, by their
position: the sender's own header lines come after the sink's ``Received:``, so a
``Delivered-To:`` the sender wrote is shown as a header, never taken as the envelope.
Everything is printed escaped (:func:`post_office.cli._output.say`): a message's headers
are the sender's text.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import mailbox
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import List, Optional, Tuple

from ..errors import ArgumentError

__all__ = [
    "Stored",
    "envelope",
    "envelope_text",
    "header_text",
    "parse",
    "stored_messages",
    "summary",
]

_MAILDIR_KEY = re.compile(r"(\d+)\.M(\d+)")


@dataclass(frozen=True)
class Stored:
    """One stored message: its number (1 is the oldest), where it is, and its bytes."""

    number: int
    where: str
    data: bytes


def _maildir_order(path: Path) -> Tuple[int, int, float, str]:
    match = _MAILDIR_KEY.match(path.name)
    if match:
        return int(match.group(1)), int(match.group(2)), 0.0, path.name
    return 1 << 62, 0, path.stat().st_mtime, path.name


def stored_messages(maildir: Optional[str], mbox: Optional[str]) -> List[Stored]:
    """The messages of the Maildir (default ``./maildir``) or the mbox, oldest first."""
    if mbox is not None:
        if not os.path.isfile(mbox):
            raise ArgumentError(f"--mbox {mbox}: no such file")
        box = mailbox.mbox(mbox, create=False)
        try:
            where = os.path.abspath(mbox)
            return [
                Stored(number, f"{where} (message {number})", box.get_bytes(key))
                for number, key in enumerate(box.keys(), 1)
            ]
        finally:
            box.close()
    directory = Path(maildir if maildir is not None else "maildir")
    if not (directory / "new").is_dir() and not (directory / "cur").is_dir():
        shown = "./maildir (serve's default)" if maildir is None else maildir
        raise ArgumentError(
            f"no Maildir at {shown}: give the one serve stores in with --maildir DIR "
            "(or --mbox FILE)"
        )
    files = [
        path
        for folder in ("new", "cur")
        if (directory / folder).is_dir()
        for path in (directory / folder).iterdir()
        if path.is_file() and not path.name.startswith(".")
    ]
    files.sort(key=_maildir_order)
    return [
        Stored(number, str(path.absolute()), path.read_bytes())
        for number, path in enumerate(files, 1)
    ]


def parse(stored: Stored) -> EmailMessage:
    """The stored message, parsed (default policy)."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(stored.data)
    assert isinstance(message, EmailMessage)
    return message


def _field(line: bytes) -> Tuple[bytes, str]:
    """A header line's lower-case name and its value (``b""`` as name when it is none)."""
    name, colon, value = line.rstrip(b"\r").partition(b":")
    if not colon or not name or name != name.strip():
        return b"", ""
    return name.lower(), value.decode("utf-8", "replace").strip()


def envelope(stored: Stored) -> Tuple[Optional[str], List[str]]:
    """The envelope the sink recorded: the ``Return-Path:`` it writes as the first line
    and the ``Delivered-To:`` lines right after it, up to its ``Received:`` line.

    ``(None, [])`` when the message does not start that way (not stored by the sink).
    Only this position is read: whatever the sender wrote starts after the sink's lines.
    """
    lines = iter(stored.data.split(b"\n"))
    name, sender = _field(next(lines))
    if name != b"return-path":
        return None, []
    if sender.startswith("<") and sender.endswith(">"):
        sender = sender[1:-1]
    recipients: List[str] = []
    for line in lines:
        name, value = _field(line)
        if name == b"delivered-to":
            recipients.append(value)
            continue
        if name == b"received" and recipients:
            return sender, recipients
        break
    return None, []


def envelope_text(stored: Stored) -> str:
    """``from <a@x> to <b@y>, <c@z>``, or what is unknown."""
    sender, recipients = envelope(stored)
    if sender is None:
        return "from (unknown) to (unknown)"
    return f"from <{sender}> to {', '.join(f'<{r}>' for r in recipients)}"


def _when(message: EmailMessage) -> str:
    for header in (str(message.get("Received", "") or ""), ""):
        stamp = header.rpartition(";")[2].strip() if ";" in header else ""
        stamp = stamp or str(message.get("Date", "") or "")
        try:
            return (
                email.utils.parsedate_to_datetime(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
            )
        except (TypeError, ValueError, IndexError):
            continue
    return "(no date)"


def header_text(message: EmailMessage, name: str) -> str:
    """A header's decoded value on one line, or ``""`` (a malformed one never raises)."""
    try:
        value = message.get(name, "")
    except Exception:
        return ""
    return " ".join(str(value or "").split())


#: The lines of the sink's own ``Received:`` header (one line and two continuations).
_RECEIVED_LINES = 3


def received_size(stored: Stored) -> int:
    """The message's size as the sink received it, the figure the sink's own line gives:
    without the trace lines it put in front, with the wire's CRLF line ends (it stores
    ``\n``).  A message not stored by the sink counts as it is stored."""
    sender, recipients = envelope(stored)
    if sender is None:
        return len(stored.data)
    lines = stored.data.split(b"\n")
    body = b"\n".join(lines[1 + len(recipients) + _RECEIVED_LINES :])
    return len(body) + body.count(b"\n")


def summary(stored: Stored) -> str:
    """One line: number, time, envelope, size (as received, as the sink's line says it),
    subject and where it is."""
    message = parse(stored)
    subject = header_text(message, "Subject")
    return (
        f"{stored.number:>3}  {_when(message)}  {envelope_text(stored)}  "
        f"{received_size(stored):,} bytes  subject '{subject}'  {stored.where}"
    )
