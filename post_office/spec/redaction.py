"""The one rule for hiding a mail-server spec's secret in anything shown (README
"Reliability": secrets never appear in errors, reprs or output).

The secret is ``:certificate-password``'s value.  A spec is redacted before any message
quotes it, and the rule is deliberately wide: the value after *any* keyword that looks
like the password keyword is hidden, so that a misspelt (``:certificat-password``), padded
(``":certificate-password "``), differently cased or underscored keyword does not put the
password on the screen.  In Lisp text the value is found by the Lisp lexer (strings with
escapes or spaces, comments between keyword and value, unterminated strings, lists), not
by a pattern that a comment or a space can slip past.  Hiding a value that was no secret
costs only a less helpful message.

Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, List, Mapping, Tuple

from .._checks import REDACTED  # defined there, the one text for every secret shown

__all__ = ["REDACTED", "is_secret_key", "mentions_secret", "redact_spec", "redact_text"]

#: The canonical name of the one secret keyword of a mail-server spec.
SECRET_KEYWORD = "certificate-password"
#: Fragments of a keyword name that make its value a secret, whatever else it says.
_SECRET_WORDS = ("pass", "pwd", "secret")
#: How close (difflib's ratio) a name must be to SECRET_KEYWORD to count as a misspelling
#: of it; ``certificate`` itself (0.71) is below it, so certificate paths stay visible.
_CLOSE = 0.8

# Lisp tokens, as lisp.py's reader splits text: white space, a ; comment, a string (maybe
# unterminated: then it runs to the end), a parenthesis, a quote, or an atom.  Compiled on
# first use (re's cache): only redacting text needs it.
_TOKEN = (
    r'(?P<blank>\s+)|(?P<comment>;[^\n]*)|(?P<string>"(?:[^"\\]|\\.|\\\Z)*"?)'
    r"|(?P<open>\()|(?P<close>\))|(?P<quote>')|(?P<atom>[^\s()\";']+)"
)
_TOKEN_FLAGS = re.DOTALL


def _name(key: object) -> str:
    """A key as a bare lower-case name: ``Keyword('x')``, ``":X_y "`` -> ``x-y``."""
    if isinstance(key, str):
        text = key
    else:
        from .lisp import Keyword  # lisp.py imports this module

        if not isinstance(key, Keyword):
            return ""
        text = key.name
    text = text.strip().strip("\"'").strip().lstrip(":").strip()
    return re.sub(r"[\s_]+", "-", text.lower())


def is_secret_key(key: object) -> bool:
    """Whether the value after ``key`` (a Keyword, or a key written as a str) is hidden."""
    name = _name(key)
    if not re.match(r"[\w-]+\Z", name):  # not a keyword's name: a path, a host, empty
        return False
    if any(word in name for word in _SECRET_WORDS):
        return True
    import difflib  # only for a key that is neither known nor secret: not loaded to send

    return difflib.SequenceMatcher(None, name, SECRET_KEYWORD).ratio() >= _CLOSE


def _tokens(text: str) -> Iterator[Tuple[str, str]]:
    for match in re.finditer(_TOKEN, text, _TOKEN_FLAGS):
        kind = match.lastgroup
        assert kind is not None
        yield kind, match.group()


def _key_text(kind: str, token: str) -> object:
    """The key an atom or string token names (a string's content, unescaped enough)."""
    if kind == "string":
        return token.strip('"')
    return token if kind == "atom" else None


def redact_text(text: str) -> str:
    """Lisp text (or any text) with the value after each secret-looking key replaced by
    ``"<redacted>"``.  The value is the next form: a string, an atom, or a whole list
    (to the end of the text when it is not closed)."""
    out: List[str] = []
    tokens = list(_tokens(text))
    index = 0
    while index < len(tokens):
        kind, token = tokens[index]
        out.append(token)
        index += 1
        if kind not in ("atom", "string") or not is_secret_key(_key_text(kind, token)):
            continue
        # Skip what a reader skips between the key and its value.
        while index < len(tokens) and (
            tokens[index][0] in ("blank", "comment", "quote") or tokens[index][1] == "."
        ):
            out.append(tokens[index][1])
            index += 1
        if index >= len(tokens) or tokens[index][0] == "close":
            continue
        if tokens[index][0] == "open":
            depth = 0
            while index < len(tokens):
                depth += {"open": 1, "close": -1}.get(tokens[index][0], 0)
                index += 1
                if depth == 0:
                    break
        else:
            index += 1
        out.append(f'"{REDACTED}"')
    return "".join(out)


def mentions_secret(text: str) -> bool:
    """Whether Lisp text holds a secret-looking key (so that no part of it may be quoted)."""
    return any(
        kind in ("atom", "string") and is_secret_key(_key_text(kind, token))
        for kind, token in _tokens(text)
    )


def redact_spec(spec: object) -> object:
    """``spec`` (a mail-server argument in any form) with every secret value replaced, for
    error messages: Lisp text by :func:`redact_text`; a mapping's value under a secret
    key; a list's or tuple's item after a secret key.  Other values are returned as they
    are (their rendering never runs the caller's code: ``_checks.show``)."""
    if isinstance(spec, str):
        return redact_text(spec)
    if isinstance(spec, Mapping):
        return {k: REDACTED if is_secret_key(k) else v for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        out: List[Any] = list(spec)
        for i in range(2, len(out)):  # out[0] is the host, never a key
            if is_secret_key(spec[i - 1]):
                out[i] = REDACTED
        return tuple(out) if isinstance(spec, tuple) else out
    return spec
