"""Command lines and envelope paths as bytes on the wire (RFC 5321 4.1.1, 4.1.2).

Pure: no I/O.
"""

from __future__ import annotations

__all__ = ["UnsafeCommand", "encode_command", "needs_smtputf8", "smtp_path"]

_FORBIDDEN_IN_COMMAND = frozenset("\r\n\x00")


class UnsafeCommand(ValueError):
    """A command line holding CR, LF or NUL, which could smuggle another command."""


def encode_command(line: str) -> bytes:
    """One command line on the wire, CRLF-terminated; :class:`UnsafeCommand` when the
    line holds CR, LF or NUL (the client reports it as an ``OptionError``)."""
    if not _FORBIDDEN_IN_COMMAND.isdisjoint(line):
        raise UnsafeCommand(line)
    return line.encode("utf-8") + b"\r\n"


def needs_smtputf8(address: str) -> bool:
    """True when ``address`` is not ASCII, so the server must offer SMTPUTF8 (RFC 6531)."""
    return not address.isascii()


def smtp_path(address: str) -> str:
    """The SMTP path of a checked address: ``<user@host>``, or ``<>`` for ``""``."""
    return f"<{address}>"
