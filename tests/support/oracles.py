"""Test oracles for the DATA encoder (``post_office.message.sources``): plain, right, slow.

The package never uses these; they say what a receiver must see, so the streaming encoder
can be checked against them (RFC 5321 4.1.1.4 for the terminator, 4.5.2 for the dots).
"""

from __future__ import annotations

from post_office.protocol.data import TERMINATOR

__all__ = ["normalise_newlines", "unstuff"]


def normalise_newlines(data: bytes) -> bytes:
    """CRLF, bare CR and bare LF all -> CRLF: the content a receiver must see."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def unstuff(wire: bytes) -> bytes:
    """The content a receiver recovers from DATA: the inverse of ``encode_data``.

    ``wire`` is everything sent after the ``354`` reply, terminator included.  The
    terminator is stripped and, as RFC 5321 4.5.2 tells a receiver, the first ``.`` of
    every line that starts with one is removed.  Strict, so a test also catches a
    terminator that came too early: ValueError when ``wire`` does not end with the
    terminator or contains one before its end.
    """
    if wire == TERMINATOR:
        return b""
    end = len(wire) - len(b"\r\n" + TERMINATOR)
    if end < 0 or not wire.endswith(b"\r\n" + TERMINATOR):
        raise ValueError("DATA does not end with CRLF . CRLF")
    if wire.startswith(TERMINATOR) or wire.find(b"\r\n" + TERMINATOR) != end:
        raise ValueError("DATA contains the terminator CRLF . CRLF before its end")
    body = wire[: end + 2]
    if body.startswith(b"."):
        body = body[1:]
    return body.replace(b"\r\n.", b"\r\n")
