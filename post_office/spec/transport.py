"""send_letter's transport argument: a mail server, or ``(":program", command)`` to pipe
the letter to a local program (README "Porting notes").

Pure, as :mod:`post_office.spec.mailserver`, whose forms it accepts besides its own.
"""

from __future__ import annotations

from ..errors import ServerSpecError
from .mailserver import MailServer, _is_program, _read, _show, _spec_error, parse_mail_server

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Sequence, Tuple, Union

    from .mailserver import ServerArgument

if TYPE_CHECKING:  # the standard decorator for type checkers; ours at run time (no inspect)
    from dataclasses import dataclass
else:
    from .._record import dataclass

__all__ = ["MailProgram", "TransportArgument", "parse_transport"]


@dataclass(frozen=True)
class MailProgram:
    """send_letter's ``(":program", command)`` transport: pipe the letter to a program."""

    command: Union[str, Tuple[str, ...]]


if TYPE_CHECKING:
    #: send_letter's server argument: a :data:`ServerArgument`, or ``(":program",
    #: command)`` (a :class:`MailProgram`) to pipe the letter to a local program.
    TransportArgument = Union[ServerArgument, MailProgram]
else:  # at run time the alias is made, with typing, when first asked for

    def __getattr__(name: str) -> object:
        """The type alias above, made on first use: sending mail does not load typing."""
        if name == "TransportArgument":
            from typing import Union

            from .mailserver import ServerArgument

            # ServerArgument too, as type checkers see this module's namespace
            globals().update(
                ServerArgument=ServerArgument, TransportArgument=Union[ServerArgument, MailProgram]
            )
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_transport(spec: object) -> Union[MailServer, MailProgram]:
    """Like :func:`parse_mail_server`, also accepting send_letter's ``:program`` forms.

    As in Allegro: ``(:program . "sendmail -t -i")``, in Python ``(":program", "sendmail
    -t -i")``, is a command line run by the shell; ``(:program "/usr/sbin/sendmail" "-t"
    "-i")``, in Python ``(":program", "/usr/sbin/sendmail", "-t", "-i")``, is an argv run
    without a shell, and so is ``(":program", ["sendmail", "-t"])``.  In Lisp text a
    proper list is always the argv form: ``(:program "sendmail -t -i")`` runs a program
    named ``sendmail -t -i``, as Allegro does (README "Porting notes").
    """
    if isinstance(spec, MailProgram):
        return spec
    if not (isinstance(spec, str) and spec.strip().startswith(("(", "'("))):
        if isinstance(spec, (list, tuple)) and spec and _is_program(spec):
            return _program(spec, argv=len(spec) > 2)
        return parse_mail_server(spec)
    form = _read(spec)
    try:
        if isinstance(form, (list, tuple)) and form and _is_program(form):
            return _program(form, argv=len(form) > 2 or isinstance(form, list))
        return parse_mail_server(form)
    except ServerSpecError as exc:  # quote the Lisp text as written, not its reading
        raise ServerSpecError(str(exc).replace(_show(form), _show(spec), 1)) from None


def _program(spec: Sequence[object], *, argv: bool) -> MailProgram:
    expected = (
        '(":program", "command line") for the shell, or (":program", "program", "arg", ...) '
        'or (":program", ["program", "arg", ...]) for an argv'
    )
    rest = list(spec[1:])
    if len(rest) == 1 and isinstance(rest[0], (list, tuple)):
        rest, argv = list(rest[0]), True
    if not rest or not all(isinstance(arg, str) for arg in rest):
        # Allegro's wording (smtp.cl, send-external-program: "Bad program argument: ~s."),
        # our detail after it.
        shown = _show(rest[0] if len(rest) == 1 else tuple(rest))
        raise ServerSpecError(
            f"Bad program argument: {shown}. The mail-server argument {_show(spec)} is not "
            f"understood: expected {expected}: strings after :program"
        )
    if argv:
        if not rest[0]:
            raise _spec_error(spec, f"{expected}: the program's name is empty")
        return MailProgram(tuple(str(arg) for arg in rest))
    command = rest[0]
    assert isinstance(command, str)
    if not command.strip():
        raise _spec_error(spec, f"{expected}: the command line is empty")
    return MailProgram(command)
