"""A small Lisp reader and printer: just what mail-server specs in config files need.

Allegro users keep server specs as Lisp forms, e.g. ``("mail.corp" :port 587 :starttls t)``.
``read_lisp`` turns such text into Python values, ``to_lisp`` writes them back:

===============================  =====================================
Lisp                             Python
===============================  =====================================
``"text"`` (``\\`` escapes)       ``str``
``42``, ``-7``                   ``int``
``:port``                        ``Keyword("port")``
``t``                            ``True``
``nil``, ``()``                  ``None``
``(a b c)``                      ``list``
``(a . b)``                      2-``tuple`` (a cons, e.g. ``("mail.corp" . 2525)``)
===============================  =====================================

A leading quote (``'(...)``) and ``;`` comments are accepted, as a Lisp reader would.
"""

from __future__ import annotations

import re

from ..errors import LispSyntaxError

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Any, List, Tuple

__all__ = ["Keyword", "read_lisp", "to_lisp"]


class Keyword:
    """A Lisp keyword such as ``:port``.

    Names are case-insensitive and hyphen and underscore are the same character, as a
    porter would expect (``Keyword("CA_FILE") == Keyword("ca-file")``); the canonical
    name is lower case with hyphens.
    """

    __slots__ = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"Keyword name must be a str, not {type(name).__name__}")
        name = name[1:] if name.startswith(":") else name
        object.__setattr__(self, "name", name.lower().replace("_", "-"))

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Keyword is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keyword) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Keyword", self.name))

    def __repr__(self) -> str:
        return f"Keyword({self.name!r})"

    def __str__(self) -> str:
        return ":" + self.name

    @property
    def python_name(self) -> str:
        """The name as a Python identifier: ``ca-file`` -> ``ca_file``."""
        return self.name.replace("-", "_")


_DELIMITERS = set("()\"';")
_INTEGER = r"[+-]?[0-9]+\.?\Z"  # compiled on first use (re's cache): only to read Lisp
# Deeper text is not a mail-server spec; refusing it keeps a RecursionError (or Python's
# int-from-text digit limit) from escaping as something other than LispSyntaxError.
_MAX_DEPTH = 100
_MAX_DIGITS = 1000


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def secret(self) -> bool:
        """Whether the text holds a :certificate-password: then no part of it is quoted."""
        from .redaction import mentions_secret  # it imports Keyword from here

        return mentions_secret(self.text)

    def error(self, what: str, pos: int | None = None) -> LispSyntaxError:
        at = self.pos if pos is None else pos
        if self.secret():
            # Near a :certificate-password any snippet may be the password itself.
            return LispSyntaxError(
                f"malformed Lisp text at position {at}: {what} (the text is not shown: it "
                "holds a :certificate-password)",
                at,
            )
        snippet = self.text[max(0, at - 20) : at + 20]
        return LispSyntaxError(
            f"malformed Lisp text at position {at}: {what} (near {snippet!r})", at
        )

    def skip_blank(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch.isspace():
                self.pos += 1
            elif ch == ";":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            else:
                return

    def read(self) -> Any:
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                raise self.error("unexpected end of text, expected a value")
            ch = self.text[self.pos]
            if ch != "'":
                break
            self.pos += 1
        if ch == "(":
            if self.depth >= _MAX_DEPTH:
                raise self.error(f"lists nested more than {_MAX_DEPTH} deep")
            self.pos += 1
            self.depth += 1
            try:
                return self.read_list()
            finally:
                self.depth -= 1
        if ch == ")":
            raise self.error("unexpected ')'")
        if ch == '"':
            return self.read_string()
        return self.read_atom()

    def read_list(self) -> Any:
        start = self.pos - 1
        items: List[Any] = []
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                raise self.error("unclosed '(', expected ')'", start)
            ch = self.text[self.pos]
            if ch == ")":
                self.pos += 1
                return items if items else None
            if ch == "." and self._dot_is_alone():
                dot = self.pos
                self.pos += 1
                if len(items) != 1:
                    raise self.error(
                        'only a two-element dotted pair such as ("host" . 25) is supported',
                        dot,
                    )
                cdr = self.read()
                self.skip_blank()
                if self.pos >= len(self.text) or self.text[self.pos] != ")":
                    raise self.error("expected ')' after the cdr of a dotted pair")
                self.pos += 1
                pair: Tuple[Any, Any] = (items[0], cdr)
                return pair
            items.append(self.read())

    def _dot_is_alone(self) -> bool:
        nxt = self.pos + 1
        return nxt >= len(self.text) or self.text[nxt].isspace() or self.text[nxt] in _DELIMITERS

    def read_string(self) -> str:
        start = self.pos
        self.pos += 1
        out: List[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\":
                if self.pos + 1 >= len(text):
                    break
                out.append(text[self.pos + 1])
                self.pos += 2
            elif ch == '"':
                self.pos += 1
                return "".join(out)
            else:
                out.append(ch)
                self.pos += 1
        raise self.error("unterminated string", start)

    def read_atom(self) -> Any:
        start = self.pos
        text = self.text
        while (
            self.pos < len(text)
            and not text[self.pos].isspace()
            and text[self.pos] not in _DELIMITERS
        ):
            self.pos += 1
        token = text[start : self.pos]
        if token.startswith(":"):
            if len(token) == 1:
                raise self.error("a keyword needs a name after ':'", start)
            return Keyword(token)
        if re.match(_INTEGER, token):
            if len(token) > _MAX_DIGITS:
                raise self.error(f"an integer of more than {_MAX_DIGITS} digits", start)
            return int(token.rstrip("."))
        lowered = token.lower()
        if lowered == "t":
            return True
        if lowered == "nil":
            return None
        symbol = "a symbol" if self.secret() else f"symbol {token!r}"
        raise self.error(
            f"{symbol} cannot be read here (only strings, integers, keywords, t and nil; "
            "a variable must be replaced by its value)",
            start,
        )


def read_lisp(text: str) -> Any:
    """Read one Lisp form from ``text`` (see the module docstring for the mapping).

    Raises :class:`~post_office.errors.LispSyntaxError` (a ``ValueError``) naming the
    position of the fault.
    """
    if not isinstance(text, str):
        raise TypeError(f"read_lisp expects a str, not {type(text).__name__}")
    reader = _Reader(text)
    value = reader.read()
    reader.skip_blank()
    if reader.pos != len(text):
        raise reader.error("unexpected text after the first form")
    return value


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_lisp(value: object, *, reveal_secrets: bool = False) -> str:
    """Write ``value`` as Lisp text that :func:`read_lisp` reads back to an equal value.

    ``True`` -> ``t``; ``None`` and ``False`` -> ``nil``; a 2-tuple -> a dotted pair; any
    other list or tuple -> a list.  A ``MailServer`` is written as its mail-server list
    and ``TlsSettings`` as a keyword list, so ``parse_mail_server(read_lisp(to_lisp(s)))``
    gives ``s`` back.  A ``:certificate-password`` is written ``"<redacted>"`` unless
    ``reveal_secrets`` is true (README "Porting notes": writing a config file back).
    Raises ``TypeError`` for values Lisp text cannot carry (including a keyword whose name
    is empty or holds white space or ``()";'``).
    """
    hook = getattr(type(value), "__lisp_form__", None)
    if hook is not None:
        value = hook(value, reveal_secrets)
    if value is True:
        return "t"
    if value is None or value is False:
        return "nil"
    if isinstance(value, Keyword):
        if not value.name or any(ch.isspace() or ch in _DELIMITERS for ch in value.name):
            raise TypeError(f"{value!r} cannot be written as Lisp text (its name is unreadable)")
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, tuple) and len(value) == 2:
        # Always a dotted pair, even when the cdr is a list: read_lisp gives the cdr back
        # as a list, not spliced in as Lisp would, so only this form round-trips.
        first = to_lisp(value[0], reveal_secrets=reveal_secrets)
        return f"({first} . {to_lisp(value[1], reveal_secrets=reveal_secrets)})"
    if isinstance(value, (list, tuple)):
        if not value:
            return "nil"
        return "(" + " ".join(to_lisp(item, reveal_secrets=reveal_secrets) for item in value) + ")"
    raise TypeError(f"a {type(value).__name__} cannot be written as Lisp text")
