"""What a mail program does with a letter on its standard input (README "Differences from
Allegro", the ``:program`` transport).

``sendmail`` (Sendmail, Postfix, Exim's and most others' compatible command) ends its input
at a line holding only ``.`` unless it is given ``-i`` (or ``-oi``): the rest of the letter
is silently dropped and the part before the dot is delivered.  Allegro fed programs SMTP's
DATA encoding (dot-stuffed, ending with ``.``), which ``sendmail -t`` reads correctly and
``sendmail -t -i`` delivers with doubled dots; this package feeds the letter as it is,
which is right for ``-i``.  So that no letter is ever cut short, a command that names such
a program without ``-i`` is refused a letter holding a lone ``.`` line, before that line
reaches the program (:class:`LoneDotGuard`).

Pure: no I/O.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import List, Optional, Sequence, Union

__all__ = ["LoneDotGuard", "LoneDotLine", "ends_input_at_a_dot"]

# Sendmail's options that take an argument: in a cluster such as "-tf me" or "-tfme" the
# rest of the cluster (or the next word) is that argument, never more options.
_OPTIONS_WITH_ARGUMENT = frozenset("BCFLNORVXfhopqr")
# Words that run the next word as the program: `exec sendmail -t`, `env X=1 sendmail -t`.
_RUNNERS = frozenset({"exec", "env", "command", "nice", "nohup"})


def _program_words(command: Union[str, Sequence[str]]) -> List[str]:
    if not isinstance(command, str):
        return [str(word) for word in command]
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes: the shell will say so; a rough split here
        return command.split()


def _is_dot_ending_program(word: str) -> bool:
    name = os.path.basename(word)
    return name == "sendmail" or name.startswith(("sendmail.", "exim"))


def _has_ignore_dots(options: Sequence[str]) -> bool:
    """Whether sendmail's options (after the program name) hold ``-i`` or ``-oi``, also
    inside a cluster (``-ti``, ``-it``), read as getopt reads them."""
    skip_next = False
    for word in options:
        if skip_next:
            skip_next = False
            continue
        if word == "--" or not word.startswith("-") or word.startswith("--") or word == "-":
            if word == "--":
                return False
            continue
        letters = word[1:]
        for index, letter in enumerate(letters):
            if letter == "i":
                return True
            if letter in _OPTIONS_WITH_ARGUMENT:
                argument = letters[index + 1 :]
                if letter == "o" and argument.startswith("i"):
                    return True  # -oi (Exim also takes -oitrue)
                skip_next = not argument  # "-f me": the argument is the next word
                break
    return False


def ends_input_at_a_dot(command: Union[str, Sequence[str]]) -> Optional[str]:
    """The program's name when ``command`` runs a sendmail-compatible program without
    ``-i``/``-oi`` (it would end the letter at a lone ``.`` line), else None.

    A shell command line is read as the shell would split it; only its first command is
    looked at (a pipeline or ``;`` list is the user's own business)."""
    words = _program_words(command)
    index = 0
    while index < len(words) and ("=" in words[index] or words[index] in _RUNNERS):
        index += 1  # VAR=value assignments and exec/env in front of the program
    if index >= len(words) or not _is_dot_ending_program(words[index]):
        return None
    options = []
    for word in words[index + 1 :]:
        if word in ("|", ";", "&&", "||", "&"):
            break
        options.append(word)
    if _has_ignore_dots(options):
        return None
    return os.path.basename(words[index])


class LoneDotLine(Exception):
    """The letter holds a line that is only ``.`` (raised by :class:`LoneDotGuard`)."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


# A line holding only "." (with LF or CRLF), found with the line break before it: the
# scanner keeps the last bytes of the previous chunk in front, so that a line split over
# two chunks ("...\n" | ".\n") is seen as well.
_LONE_DOT = re.compile(rb"\n\.\r?\n")
_LONE_DOT_AT_END = re.compile(rb"\n\.\r?\Z")
_CARRY = 3  # the longest match is 4 bytes: 3 carried bytes + 1 new byte cover a split


class LoneDotGuard:
    """Look at each chunk of a letter before it is written: :meth:`check` raises
    :class:`LoneDotLine` on the chunk that holds (or completes) a lone ``.`` line, and
    :meth:`finish` on a last line that is only ``.`` without a line break.

    Any split of the letter into chunks gives the same answer (a property test checks
    it).  Cost: one regular-expression search per chunk.
    """

    def __init__(self) -> None:
        self._tail = b"\n"  # the letter starts at the beginning of a line
        self._lines = 1  # the line the tail's last byte is on

    def check(self, chunk: bytes) -> None:
        window = self._tail + chunk
        found = _LONE_DOT.search(window)
        lines_after = self._lines + chunk.count(b"\n")
        if found is not None:  # the dot's line: count back from the end of the window
            raise LoneDotLine(lines_after - window.count(b"\n", found.start() + 1))
        self._lines = lines_after
        self._tail = window[-_CARRY:]

    def finish(self) -> None:
        if _LONE_DOT_AT_END.search(self._tail):
            raise LoneDotLine(self._lines)
