"""The SMTP transcript: Allegro's ``*smtp-debug*`` as ``post_office.smtp_debug`` (README "API:
Allegro -> Python").

``post_office.smtp_debug`` is read when a conversation starts: ``None`` (quiet), ``True``
(standard output) or a text stream.  Every line also goes to the ``post_office.smtp``
logger at DEBUG level.  Credentials never reach either: AUTH payloads are redacted by the
caller before a line is shown (see :data:`REDACTED`).
"""

from __future__ import annotations

import sys

from .. import specials
from .._checks import REDACTED

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    import logging
    from typing import Any, Optional, TextIO

__all__ = ["LOGGER_NAME", "REDACTED", "Transcript", "log_warning", "logger"]

LOGGER_NAME = "post_office.smtp"
_DEBUG = 10  # logging.DEBUG


def logger() -> logging.Logger:
    """The ``post_office.smtp`` logger (:mod:`logging` is imported only when asked for)."""
    import logging

    return logging.getLogger(LOGGER_NAME)


def _debug_logging() -> bool:
    """Whether the ``post_office.smtp`` logger takes DEBUG records.  Until a program has
    imported :mod:`logging` nothing can have configured it, so we need not import it."""
    if "logging" not in sys.modules:
        return False
    return logger().isEnabledFor(_DEBUG)


def log_warning(message: str, *args: Any) -> None:
    """A WARNING on the ``post_office.smtp`` logger (rare: loading logging is fine here)."""
    logger().warning(message, *args)


def _debug_stream() -> Optional[TextIO]:
    value = specials.value("smtp_debug")
    if value is None or value is False:
        return None
    if value is True:
        return sys.stdout
    if hasattr(value, "write"):
        return value  # type: ignore[return-value]
    return sys.stderr


class Transcript:
    """Where one conversation's command and reply lines go."""

    def __init__(
        self, stream: Optional[TextIO] = None, *, use_global: bool = True, arrows: bool = False
    ) -> None:
        self.stream = stream if stream is not None else (_debug_stream() if use_global else None)
        self._log = _debug_logging()
        self.enabled = self.stream is not None or self._log
        # Allegro's format (``to smtp command: '...'``, replies as sent, ``-- note``), or
        # the command line's direction markers: ``-> `` sent, ``<- `` received, ``~~ ``
        # our own events (TLS, the body's size), as swaks marks them.
        self._sent, self._received, self._event = (
            ("-> ", "<- ", "~~ ") if arrows else ("to smtp command: ", "", "-- ")
        )
        self._quote = not arrows

    def command(self, shown: str) -> None:
        """Record a command we sent; ``shown`` is already redacted."""
        if self.enabled:
            self._emit(self._sent + (repr(shown) if self._quote else shown))

    def reply(self, line: str) -> None:
        """Record one reply line as the server sent it."""
        if self.enabled:
            self._emit(self._received + line)

    def note(self, text: str) -> None:
        """Record something that is neither command nor reply (TLS upgrade, body size)."""
        if self.enabled:
            self._emit(self._event + text)

    def _emit(self, line: str) -> None:
        if self.stream is not None:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except Exception:
                # A debug stream that fails (closed, full, or raising anything) must not
                # break mail, above all not after the server accepted the message: the
                # caller would retry and send it twice.  It is dropped for this session.
                self.stream = None
        if self._log:
            logger().debug("%s", line)
