"""``post-office sink-list``: one line per message the sink stored, oldest first."""

from __future__ import annotations

import argparse

from ...sink.mailbox import stored_messages, summary
from .._output import say

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    messages = stored_messages(args.maildir, args.mbox)
    if not messages:
        say("no messages stored yet")
    for stored in messages:
        say(summary(stored))
    return 0
