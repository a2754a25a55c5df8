"""The SMTP transcript: Allegro's ``*smtp-debug*`` as ``post_office.smtp_debug`` (SPEC 9).

``post_office.smtp_debug`` is read when a conversation starts: ``None`` (quiet), ``True``
(standard output) or a text stream.  Every line also goes to the ``post_office.smtp``
logger at DEBUG level.  Credentials never reach either: AUTH payloads are redacted by the
caller before a line is shown (see :data:`REDACTED`).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Optional, TextIO, Type

__all__ = ["REDACTED", "Transcript", "logger", "warn"]

REDACTED = "<redacted>"

logger = logging.getLogger("post_office.smtp")


def _debug_stream() -> Optional[TextIO]:
    package = sys.modules.get("post_office")
    value = getattr(package, "smtp_debug", None)
    if value is None or value is False:
        return None
    if value is True:
        return sys.stdout
    if hasattr(value, "write"):
        return value  # type: ignore[no-any-return]
    return sys.stderr


class Transcript:
    """Where one conversation's command and reply lines go."""

    def __init__(self, stream: Optional[TextIO] = None, *, use_global: bool = True) -> None:
        self.stream = stream if stream is not None else (_debug_stream() if use_global else None)
        self.enabled = self.stream is not None or logger.isEnabledFor(logging.DEBUG)

    def command(self, shown: str) -> None:
        """Record a command we sent; ``shown`` is already redacted."""
        if self.enabled:
            self._emit(f"to smtp command: {shown!r}")

    def reply(self, line: str) -> None:
        """Record one reply line as the server sent it."""
        if self.enabled:
            self._emit(line)

    def note(self, text: str) -> None:
        """Record something that is neither command nor reply (TLS upgrade, body size)."""
        if self.enabled:
            self._emit(f"-- {text}")

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
        logger.debug("%s", line)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: Type[Warning] = UserWarning) -> None:
    """``warnings.warn`` pointing at the caller's line, outside this package, whichever
    entry point (and however many of our frames) led here."""
    frame = sys._getframe(1)
    level = 2  # stacklevel 1 would be this function itself
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, category, stacklevel=level)
