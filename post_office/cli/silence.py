"""A notice on standard error when a server stays silent after the connection (README "The
command line"): plain SMTP to a port that expects TLS at once (465-style) hears nothing
until the greeting timeout, a minute by default, and only then gets its hint ``add :ssl
t``.  After :data:`NOTICE_AFTER` seconds of silence the user is told what is being waited
for and the likely fix; the library's own timeout is left as it is.

The watcher listens on the ``post_office.smtp`` logger, where every transcript line goes
when it takes DEBUG records: the clock starts with the send, the server's first line
stops it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from typing import Iterator, Optional

from ..client.transcript import LOGGER_NAME
from ..spec.mailserver import MailServer
from ._output import say

__all__ = ["NOTICE_AFTER", "silence_notice"]

#: Seconds of silence after connecting before the notice (``POST_OFFICE_SILENCE_NOTICE``
#: overrides it, e.g. for tests).
NOTICE_AFTER = 5.0


def _notice_after() -> float:
    try:
        return float(os.environ.get("POST_OFFICE_SILENCE_NOTICE", NOTICE_AFTER))
    except ValueError:
        return NOTICE_AFTER


class _Watcher(logging.Handler):
    def __init__(self, server: MailServer, timeout: float) -> None:
        super().__init__(logging.DEBUG)
        self.server, self.timeout = server, timeout
        self.timer: Optional[threading.Timer] = None

    def start(self) -> None:
        self.timer = threading.Timer(_notice_after(), self._notice)
        self.timer.daemon = True
        self.timer.start()

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if not line.startswith(("-- ", "to smtp command:")):
            self.cancel()  # the server spoke: whatever comes later is not this silence

    def _notice(self) -> None:
        seconds = _notice_after()
        likely = " (as port 465 does)" if self.server.port != 465 else ""
        say(
            f"post-office: {self.server.host} port {self.server.port} has said nothing for "
            f"{seconds:g} s; waiting up to "
            f"{self.timeout:g} s for its greeting. If this port expects TLS at once{likely}, "
            "add :ssl t",
            sys.stderr,
        )

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


@contextlib.contextmanager
def silence_notice(server: object, timeout: float) -> Iterator[None]:
    """Watch the conversations inside the block (plain SMTP specs only: with ``:ssl t``
    the silence is a TLS handshake's, and the hint would be wrong)."""
    if not isinstance(server, MailServer) or server.ssl:
        yield
        return
    smtp = logging.getLogger(LOGGER_NAME)
    watcher = _Watcher(server, timeout)
    level, propagate = smtp.level, smtp.propagate
    smtp.addHandler(watcher)
    smtp.setLevel(logging.DEBUG)
    smtp.propagate = False  # the transcript goes to --debug, not to the root logger
    watcher.start()
    try:
        yield
    finally:
        watcher.cancel()
        smtp.removeHandler(watcher)
        smtp.setLevel(level)
        smtp.propagate = propagate
