"""Allegro's ``net.mail`` address functions: ``parse_email_address`` and
``extract_email_addresses`` (README "net.mail").

Pure: no I/O.  The grammar is RFC 2822 section 3.4 as Allegro reads it: a lenient
dot-atom (empty labels between dots are dropped), quoted strings kept with their quotes,
comments nested at most three deep, obsolete phrases (``Mr. T``) and empty list members.
``valid_email_domain_p``, which asks DNS, is in :mod:`post_office.client.resolve`.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

from ..errors import AddressSyntaxError, AddressTypeError, OptionError

__all__ = [
    "NOT_AN_ADDRESS",
    "AddressSyntaxError",
    "Group",
    "Mailbox",
    "ParsedAddress",
    "extract_email_addresses",
    "parse_email_address",
]


class Mailbox(NamedTuple):
    """``(":mailbox", display_name, user, domain)``, as Allegro's list entry."""

    kind: str
    display_name: Optional[str]
    user: str
    domain: Optional[str]


class Group(NamedTuple):
    """``(":group", display_name, mailboxes)``, as Allegro's list entry."""

    kind: str
    display_name: str
    mailboxes: List[Mailbox]


Entry = Union[Mailbox, Group]

_WS = " \t\n\r\f\v"
# Not white space, control or special.  Allegro's *specials* is "()<>\\[\\]:;@\\,.\"": in
# its character class "\\," is an escaped comma, so a backslash is an ordinary address
# character there (rfc2822.cl, *specials*), and so it is here.
_ATEXT = r"[^ \x00-\x1f()<>\[\]:;@,.\"]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_ADDRESS = re.compile(rf"[{_WS}]*({_DOT_ATOM})(?:@({_DOT_ATOM}))?[{_WS}]*")
_MAX_LOCAL_PART = 64  # RFC 5321 section 4.5.3.1.1, as Allegro's own test requires


class ParsedAddress(NamedTuple):
    """``parse_email_address``'s two values, ``(user, domain)``.

    Allegro returns two values, or one ``nil`` for a bad address.  Both mechanical ports
    must work: ``user, domain = parse_email_address(s)`` (a bad address binds ``None,
    None``, as ``multiple-value-bind`` binds nil) and ``if parse_email_address(s):`` (a bad
    address is false).  So a bad address gives ``ParsedAddress(None, None)``, which is false;
    a good one is true (README "Porting notes").
    """

    user: Optional[str]
    domain: Optional[str]

    def __bool__(self) -> bool:
        return self.user is not None


#: A bad address: binds ``None, None`` and is false.
NOT_AN_ADDRESS = ParsedAddress(None, None)


def parse_email_address(
    text: str, *, require_domain: bool = True, require_dotted_domain: bool = True
) -> ParsedAddress:
    """``"user@domain"`` -> ``ParsedAddress(user, domain)``; a bad address gives
    ``ParsedAddress(None, None)``, which is false (see :class:`ParsedAddress`).

    Allegro's ``net.mail:parse-email-address``: a dot-atom, optionally ``@`` and a
    dot-atom, with white space around; no quoted strings, domain literals or display
    names.  A backslash is an ordinary character, as in Allegro's grammar.  ``domain`` is
    ``None`` when absent and ``require_domain`` is false; ``require_dotted_domain`` asks
    for a dot in the domain.  The user part is at most 64 characters.
    """
    if not isinstance(text, str):
        raise AddressTypeError(f"the address must be a string, not a {type(text).__name__}")
    match = _ADDRESS.fullmatch(text)
    if match is None:
        return NOT_AN_ADDRESS
    user, domain = match.group(1), match.group(2)
    if len(user) > _MAX_LOCAL_PART:
        return NOT_AN_ADDRESS
    if domain is None and require_domain:
        return NOT_AN_ADDRESS
    if domain is not None and require_dotted_domain and "." not in domain:
        return NOT_AN_ADDRESS
    return ParsedAddress(user, domain)


# --------------------------------------------------------------------------- lexer

_FOLD = re.compile(r"\r?\n[ \t\n\r\f\v]")
_QUOTED = re.compile(r'"(?:[^\\"]|\\.)*"')
_SPACE = re.compile(rf"[{_WS}]+")
_ATOM = re.compile(rf"{_ATEXT}+")
_CCHAR = r"(?:[^()\\]|\\.)"


def _comment_pattern(depth: int) -> str:
    pattern = rf"(?:\({_CCHAR}*\))"
    for _ in range(depth - 1):
        pattern = rf"(?:\((?:{_CCHAR}|{pattern})*\))"
    return pattern


_COMMENT = re.compile(_comment_pattern(3))
_COMMENT_BODY = re.compile(r"\((.*)\)")

Token = Tuple[str, str, int]  # (kind, text, end): kind atom, quoted, wsp, comment, special


class _Syntax(Exception):
    pass


class _Phrase(NamedTuple):
    tokens: List[str]  # the whole run of phrase tokens this one is a suffix of
    first: int
    end: int

    def text(self) -> str:
        tokens = self.tokens[self.first :]
        if tokens and tokens[-1][0] in _WS:  # trailing white space is not part of the name
            tokens = tokens[:-1]
        return "".join(tokens)


class _Parser:
    """RFC 2822 address lists, position by position (each method returns the new position)."""

    def __init__(self, text: str, require_domain: bool) -> None:
        self.text = text
        self.end = len(text)
        self.require_domain = require_domain
        self._phrases: Dict[int, Tuple[List[str], int, int]] = {}

    def lex(self, pos: int, skip_ws: bool) -> Optional[Token]:
        text, end = self.text, self.end
        while pos < end:
            char = text[pos]
            if char == '"':
                match = _QUOTED.match(text, pos, end)
                if match is None:
                    raise _Syntax("Unterminated quoted string")
                return "quoted", match.group(), match.end()
            if char in " \t\r\n":
                match = _SPACE.match(text, pos, end)
                assert match is not None
                if not skip_ws:
                    return "wsp", match.group(), match.end()
                pos = match.end()
                continue
            if char == "(":
                match = _COMMENT.match(text, pos, end)
                if match is None:
                    raise _Syntax("Unterminated comment or nesting too deep")
                if not skip_ws:
                    return "comment", match.group(), match.end()
                pos = match.end()
                continue
            match = _ATOM.match(text, pos, end)
            if match is None:
                return "special", char, pos + 1
            return "atom", match.group(), match.end()
        return None

    def special(self, pos: int, char: str) -> Optional[int]:
        token = self.lex(pos, True)
        if token is not None and token[0] == "special" and token[1] == char:
            return token[2]
        return None

    def address_list(self, pos: int) -> Tuple[List[Entry], int]:
        entries: List[Entry] = []
        while True:
            after = self.special(pos, ",")
            while after is not None:  # empty members (obsolete syntax) are skipped
                pos = after
                after = self.special(pos, ",")
            got = self.mailbox(pos) or self.group(pos)
            if got is None:
                return entries, pos
            entries.append(got[0])
            pos = got[1]

    def mailbox(self, pos: int) -> Optional[Tuple[Mailbox, int]]:
        phrase = self.phrase(pos)
        angle = self.angle_addr(phrase.end if phrase else pos)
        if angle is not None:
            name = phrase.text() if phrase else None
            return Mailbox(":mailbox", name, angle[0], angle[1]), angle[2]
        spec = self.addr_spec(pos)
        if spec is None:
            return None
        user, domain, pos = spec
        comment = self.next_comment(pos)  # a trailing comment names the mailbox
        if comment is not None:
            return Mailbox(":mailbox", comment[0], user, domain), comment[1]
        return Mailbox(":mailbox", None, user, domain), pos

    def next_comment(self, pos: int) -> Optional[Tuple[str, int]]:
        while True:
            token = self.lex(pos, False)
            if token is None:
                return None
            if token[0] == "comment":
                body = _COMMENT_BODY.fullmatch(token[1])
                return (body.group(1) if body else token[1]), token[2]
            if token[0] != "wsp":
                return None
            pos = token[2]

    def group(self, pos: int) -> Optional[Tuple[Group, int]]:
        phrase = self.phrase(pos)
        if phrase is None:
            return None
        after = self.special(phrase.end, ":")
        if after is None:
            return None
        mailboxes: List[Mailbox] = []
        pos = after
        while True:
            got = self.mailbox(pos)
            if got is None:
                break
            mailboxes.append(got[0])
            pos = got[1]
            after = self.special(pos, ",")
            if after is None:
                break
            pos = after
        after = self.special(pos, ";")
        if after is None:
            return None
        return Group(":group", phrase.text(), mailboxes), after

    def phrase(self, pos: int) -> Optional[_Phrase]:
        """A display name: words, quoted strings, and (after the first) dots and spaces."""
        token = self.lex(pos, True)
        if token is None or token[0] not in ("atom", "quoted"):
            return None
        start = token[2] - len(token[1])
        known = self._phrases.get(start)
        if known is not None:  # a suffix of a run already read: no quadratic rescans
            return _Phrase(*known)
        tokens: List[str] = []
        starts: List[int] = []
        while token is not None and (
            token[0] in ("atom", "quoted")
            or (tokens and (token[0] == "wsp" or token[:2] == ("special", ".")))
        ):
            starts.append(token[2] - len(token[1]))
            tokens.append(token[1])
            pos = token[2]
            token = self.lex(pos, False)
        for index, begin in enumerate(starts):
            if tokens[index][0] not in _WS and tokens[index] != ".":
                self._phrases[begin] = (tokens, index, pos)
        return _Phrase(tokens, 0, pos)

    def angle_addr(self, pos: int) -> Optional[Tuple[str, Optional[str], int]]:
        after = self.special(pos, "<")
        if after is None:
            return None
        spec = self.addr_spec(after)
        if spec is None:
            return None
        after = self.special(spec[2], ">")
        if after is None:
            return None
        return spec[0], spec[1], after

    def addr_spec(self, pos: int) -> Optional[Tuple[str, Optional[str], int]]:
        token = self.lex(pos, True)
        if token is None:
            return None
        if token[0] == "quoted":
            local: Optional[Tuple[str, int]] = (token[1], token[2])
        elif token[0] == "atom":
            local = self.dot_atom(pos)
        else:
            return None
        assert local is not None
        after = self.special(local[1], "@")
        if after is None:
            return None if self.require_domain else (local[0], None, local[1])
        domain = self.dot_atom(after)
        if domain is None:
            return None
        return local[0], domain[0], domain[1]

    def dot_atom(self, pos: int) -> Optional[Tuple[str, int]]:
        atoms: List[str] = []
        token = self.lex(pos, True)
        while token is not None:
            if token[0] == "atom":
                atoms.append(token[1])
            elif token[:2] != ("special", "."):
                break
            pos = token[2]
            token = self.lex(pos, False)
        return (".".join(atoms), pos) if atoms else None


def _lisp_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def extract_email_addresses(
    text: str,
    *,
    start: int = 0,
    end: Optional[int] = None,
    require_domain: bool = True,
    errorp: bool = True,
    compact: bool = False,
) -> Union[List[Entry], List[str], None]:
    """Allegro's ``net.mail:extract-email-addresses``: the addresses of a header value.

    Returns a list of ``Mailbox(":mailbox", display_name, user, domain)`` and
    ``Group(":group", display_name, [mailboxes])`` (tuples equal to Allegro's lists), or
    with ``compact`` the flat list of ``"user@domain"`` strings.  Folded text is unfolded
    first.  ``start``/``end`` bound what is read, also when the text holds a folded line
    (Allegro then unfolds and reads the whole string: README "Differences from Allegro").
    A trailing comment serves as the display name; quoted strings keep their quotes.
    Reading stops at the first thing that is not an address, as Allegro's does.
    When nothing can be read, or on a syntax error, raises :class:`AddressSyntaxError` with
    Allegro's message (``errorp``) or returns ``None``.
    """
    if not isinstance(text, str):
        raise AddressTypeError(f"the header text must be a string, not a {type(text).__name__}")
    stop = len(text) if end is None else end
    for value, what in ((start, "start"), (stop, "end")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionError(f"{what} must be an integer, not a {type(value).__name__}")
    if not 0 <= start <= stop <= len(text):
        raise OptionError(
            f"start {start} and end {stop} must satisfy 0 <= start <= end <= {len(text)}"
        )
    segment = _FOLD.sub(" ", text[start:stop])
    try:
        entries, _ = _Parser(segment, require_domain).address_list(0)
    except _Syntax as exc:
        if errorp:
            raise AddressSyntaxError(str(exc)) from None
        return None
    if not entries:
        if errorp:
            raise AddressSyntaxError(f"Failed to parse: {_lisp_string(segment)}")
        return None
    if compact:
        return _compact(entries)
    return entries


def _compact(entries: List[Entry]) -> List[str]:
    flat: List[str] = []
    for entry in entries:
        boxes = entry.mailboxes if isinstance(entry, Group) else [entry]
        flat.extend(b.user if b.domain is None else f"{b.user}@{b.domain}" for b in boxes)
    return flat
