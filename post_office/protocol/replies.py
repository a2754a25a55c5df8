"""Server replies from bytes (RFC 5321 section 4.2), bounded.

:class:`ReplyParser` is fed whatever the socket gave and hands out complete replies.  It
holds at most one line's worth of bytes beyond what it was fed in one piece, refuses
lines longer than :data:`MAX_LINE` and replies of more than :data:`MAX_REPLY_LINES`
lines, and raises :class:`ReplyFormatError` for anything that is not a
reply: three digits from 200 to 599, then a space, a hyphen or the end of the line, and
the same code on every line of a multi-line reply.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

if TYPE_CHECKING:  # typing's class for type checkers; ours at run time (no ForwardRefs)
    from typing import NamedTuple
else:
    from .._record import NamedTuple

__all__ = ["MAX_LINE", "MAX_REPLY_LINES", "Reply", "ReplyFormatError", "ReplyParser"]

#: Longest reply line we accept (RFC 5321 4.5.3.1.5 allows 512; smtplib allows 8192).
MAX_LINE = 8192
#: Most lines one multi-line reply may have before we call it hostile.
MAX_REPLY_LINES = 256

_SEPARATORS = (b"", b" ", b"-")
#: Every reply code, as its three digits: one lookup checks and converts them.
_CODES = {str(code).encode("ascii"): code for code in range(200, 600)}


class ReplyFormatError(ValueError):
    """What the server sent is not a reply, or breaks a bound: ``what`` says which, and
    ``text`` is the offending line (cut to 200 characters), when there is one.  The I/O
    driver reports it as a :class:`~post_office.errors.ProtocolError`."""

    def __init__(self, what: str, text: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.text = text


class Reply(NamedTuple):
    """One complete reply: its ``code`` and the text of each line (code and separator
    removed, surrounding blanks stripped)."""

    code: int
    lines: Tuple[str, ...]

    @property
    def text(self) -> str:
        """The lines joined by newlines, as error messages and ``reply`` fields show them."""
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return f"Reply({self.code}, {self.lines!r})"


#: ``Reply(code, lines)`` without the Python-level ``__new__`` of a named tuple.
_new_reply = tuple.__new__


class ReplyParser:
    """Bytes in, :class:`Reply` objects out; keeps what is not yet a whole line.

    With ``keep_raw_lines``, ``raw_lines`` collects each line as received (without its
    line end), for a transcript, until the caller takes them with :meth:`take_raw_lines`.
    """

    def __init__(
        self,
        *,
        max_line: int = MAX_LINE,
        max_lines: int = MAX_REPLY_LINES,
        keep_raw_lines: bool = False,
    ) -> None:
        self.max_line = max_line
        self.max_lines = max_lines
        self.keep_raw_lines = keep_raw_lines
        self._pending = b""
        self._code = -1
        self._lines: List[str] = []
        self.raw_lines: List[str] = []

    @property
    def buffered(self) -> bool:
        """Whether bytes were fed that no reply has used yet (the start of a reply)."""
        return bool(self._pending) or bool(self._lines)

    @property
    def partial(self) -> str:
        """What has arrived of an unfinished reply, for an error message."""
        text = "\n".join(self._lines)
        rest = self._pending[:200].decode("utf-8", "replace")
        return f"{text}\n{rest}" if text and rest else text or rest

    def feed(self, data: bytes) -> None:
        """Add bytes received from the server."""
        self._pending = self._pending + data if self._pending else bytes(data)

    def clear(self) -> None:
        """Forget everything buffered (bytes sent in clear before a TLS upgrade)."""
        self._pending = b""
        self._code = -1
        self._lines = []

    def take_raw_lines(self) -> List[str]:
        lines, self.raw_lines = self.raw_lines, []
        return lines

    def sole_code(self, data: bytes) -> int:
        """The code of ``data`` when it is exactly one reply of one line with nothing
        held before it (what a server says to most commands), else 0.  Keeps nothing:
        :meth:`feed` and :meth:`next_reply` then make that very reply and hold nothing,
        so a caller may act on the code first and parse after (README "Bulk sending")."""
        if self._pending or self._lines or len(data) >= self.max_line or data[3:4] != b" ":
            return 0
        if data.find(b"\n") != len(data) - 1:
            return 0
        return _CODES.get(data[:3], 0)

    def one_line_replies(self, data: bytes) -> Optional[List[Reply]]:
        """The replies of ``data`` when it is whole replies of one line each and nothing
        else, with nothing held before it (what a server says to a pipelined group),
        else None.  Keeps nothing: a caller that takes these does not feed ``data``, and
        one that gets None feeds it, after which :meth:`next_reply` makes the same
        replies (README "Bulk sending": a read taken in one pass)."""
        if self._pending or self._lines or self.keep_raw_lines or data[-1:] != b"\n":
            return None
        replies: List[Reply] = []
        for line in data[:-1].split(b"\n"):
            code = _CODES.get(line[:3])
            if code is None or line[3:4] != b" " or len(line) >= self.max_line:
                return None  # not a reply of one line, or too long: next_reply says which
            stop = -1 if line[-1] == 13 else len(line)  # CR LF
            text = line[4:stop].strip(b" \t").decode("utf-8", "replace")
            replies.append(_new_reply(Reply, (code, (text,))))
        return replies

    def next_reply(self) -> Optional[Reply]:
        """The next complete reply, or None until more bytes are fed."""
        pending = self._pending
        if not pending:
            return None
        if pending[3:4] == b" " and not self._lines and not self.keep_raw_lines:
            # A whole reply of one line first, most of them: made at once.
            end = pending.find(b"\n", 4, self.max_line)
            code = _CODES.get(pending[:3]) if end > 0 else None
            if code is not None:
                self._pending = pending[end + 1 :]
                stop = end - 1 if pending[end - 1] == 13 else end  # CR LF
                line = pending[4:stop].strip(b" \t").decode("utf-8", "replace")
                return _new_reply(Reply, (code, (line,)))
        start = 0  # lines are cut by index: one copy of what is left, at the end
        try:
            while True:
                # A line and its LF: max_line bytes.
                end = pending.find(b"\n", start, start + self.max_line)
                if end < 0:
                    if len(pending) - start >= self.max_line:
                        raise ReplyFormatError(
                            f"the server sent a reply line longer than {self.max_line} bytes"
                        )
                    return None
                stop = end - 1 if end > start and pending[end - 1] == 13 else end  # CR LF
                text = pending[start:stop]
                start = end + 1
                reply = self._line(text)
                if reply is not None:
                    return reply
        finally:
            if start:
                self._pending = pending[start:]

    def end_of_input(self) -> Optional[Reply]:
        """The server closed the connection: a last line without its line end still
        counts (as smtplib reads it); None when no reply can be made of what is left."""
        if not self._pending:
            return None
        rest, self._pending = self._pending, b""
        return self._line(rest[:-1] if rest.endswith(b"\r") else rest)

    def _line(self, text: bytes) -> Optional[Reply]:
        if self.keep_raw_lines:
            self.raw_lines.append(text.decode("utf-8", "replace"))
        code = _CODES.get(text[:3])
        separator = text[3:4]
        if code is None or separator not in _SEPARATORS:
            raise ReplyFormatError(
                "the server sent something that is not an SMTP reply", _cut(text)
            )
        lines = self._lines
        line = text[4:].strip(b" \t").decode("utf-8", "replace")
        if not lines:
            if separator != b"-":  # a reply of one line: most of them
                return Reply(code, (line,))
        elif code != self._code:
            raise ReplyFormatError(
                "the server changed the reply code within one multi-line reply", _cut(text)
            )
        self._code = code
        lines.append(line)
        if separator == b"-":
            if len(self._lines) >= self.max_lines:
                raise ReplyFormatError(
                    f"the server sent a reply of more than {self.max_lines} lines"
                )
            return None
        reply = Reply(code, tuple(self._lines))
        self._lines = []
        self._code = -1
        return reply


def _cut(text: bytes) -> str:
    return text[:800].decode("utf-8", "replace")[:200]
