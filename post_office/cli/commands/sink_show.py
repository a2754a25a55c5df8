"""``post-office sink-show N``: one stored message, its headers, text parts and attachments."""

from __future__ import annotations

import argparse
from email.message import EmailMessage
from typing import List

from ...errors import ArgumentError
from ...sink.mailbox import envelope_text, parse, stored_messages
from .._output import say

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    messages = stored_messages(args.maildir, args.mbox)
    count = len(messages)
    index = args.number - 1 if args.number > 0 else count + args.number
    if args.number == 0 or not 0 <= index < count:
        raise ArgumentError(
            f"no message {args.number}: {count} stored"
            + (f" (1..{count}, or -1 for the newest)" if count else "")
        )
    stored = messages[index]
    message = parse(stored)
    say(f"message {stored.number} of {count}: {stored.where}")
    say(f"envelope: {envelope_text(stored)}")
    say("headers:")
    for name in dict.fromkeys(message.keys()):
        for value in message.get_all(name, []):
            say(f"  {name}: {' '.join(str(value).split())}")
    for line in _parts(message):
        say(line)
    return 0


def _parts(message: EmailMessage) -> List[str]:
    lines: List[str] = []
    for number, part in enumerate((p for p in message.walk() if not p.is_multipart()), 1):
        content_type = part.get_content_type()
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        attached = filename or part.get_content_disposition() == "attachment"
        if attached or part.get_content_maintype() != "text":
            name = f"'{filename}'" if filename else "(no name)"
            lines.append(f"attachment {number}: {name} ({content_type}, {size:,} bytes)")
            continue
        lines.append(f"text part {number} ({content_type}):")
        try:
            text = str(part.get_content())
        except Exception:  # an unknown charset: show what can be shown
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        lines += ["  | " + line.expandtabs() for line in text.splitlines()]
    return lines
