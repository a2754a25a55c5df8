"""The ``(":program", ...)`` transport's error, :class:`post_office.ProgramError`.

Apart from the package's ``__init__`` because it derives from
``subprocess.CalledProcessError``: :mod:`subprocess` (which loads :mod:`signal` and
:mod:`threading`) is imported only when a program is run or the class is asked for, never
to send mail over SMTP.  It names itself ``post_office.errors.ProgramError``, where it is
documented and where pickle finds it.
"""

from __future__ import annotations

import subprocess
from typing import Optional, Sequence, Union

from . import PostOfficeError

__all__ = ["ProgramError"]


class ProgramError(PostOfficeError, subprocess.CalledProcessError):
    """The ``(":program", ...)`` transport failed: the program exited with a non-zero
    status, was killed for making no progress (``timeout``), exited before it had read
    the whole letter (``read``: the bytes it read; ``letter``: the letter's size, or
    when the program stopped before it was written whole, the bytes written until then,
    with ``letter_complete`` false), or was refused a letter it would cut short (``lone_dot_line``:
    a ``sendmail`` without ``-i`` ends its input at that line, README "Differences from
    Allegro")."""

    def __init__(
        self,
        returncode: int,
        cmd: Union[str, Sequence[str]],
        output: bytes = b"",
        stderr: bytes = b"",
        *,
        timeout: Optional[float] = None,
        read: Optional[int] = None,
        letter: Optional[int] = None,
        letter_complete: bool = True,
        lone_dot_line: Optional[int] = None,
        program: Optional[str] = None,
    ) -> None:
        subprocess.CalledProcessError.__init__(self, returncode, cmd, output, stderr)
        self.timeout = timeout  # set when the program was killed for making no progress
        self.read = read
        self.letter = letter
        self.letter_complete = letter_complete
        self.lone_dot_line = lone_dot_line
        self.program = program

    def __str__(self) -> str:
        out = self.output.decode("utf-8", "replace").strip() if self.output else ""
        err = self.stderr.decode("utf-8", "replace").strip() if self.stderr else ""
        if self.lone_dot_line is not None:
            return (
                f"external program not given the letter: {self.cmd!r} ends its input at a "
                f"line holding only '.' and would deliver the letter cut there (line "
                f"{self.lone_dot_line} of the letter); add -i to its options (as in "
                f"'{self.program or 'sendmail'} -t -i') so that it reads to the end; the "
                "program was stopped before that line and sent nothing"
            )
        if self.timeout is not None:
            what = f" (killed: it neither read nor exited for {self.timeout} seconds)"
        elif self.read is not None:
            whole = (
                f"{self.letter or 0:,}"
                if self.letter_complete
                else f"more than {self.letter or 0:,}"
            )
            what = (
                f" after reading {self.read:,} of {whole} bytes of the letter: it did not "
                "read the whole letter (a mail program must read its standard input to "
                "the end; for sendmail: -t -i)"
            )
        else:
            what = ""
        return (
            f"external program failed to send email: {self.cmd!r} exited with status "
            f"{self.returncode}{what}; stdout: {out!r}; stderr: {err!r}"
        )


ProgramError.__module__ = PostOfficeError.__module__
