"""The ``post-office`` command line (``python -m post_office``), on :mod:`argparse`.

Subcommands (README, "Command line"), one module each: ``demo`` (mail flows through the
embedded sink, nothing else needed), ``serve`` (the embedded sink as a development
catch-all server), ``send`` (a letter, or a raw message, to any mail-server spec),
``check`` (what a server offers and whether a spec would work with it) and ``parse``
(how a spec is understood).  :mod:`.parser` builds the parser; a subcommand's module is
imported only when it runs.

Exit status (README "The command line", :mod:`.status`): 0 sent, 2 usage or argument
error, 69 refused for good (5xx), 75 worth retrying (4xx, a refused, timed-out or dropped
connection), 76 protocol violation, 78 certificate does not verify, 1 anything else, 130
interrupted.  A failure is one ``post-office: error:`` line, never a traceback; with
``--json`` also one JSON object on standard output (:func:`.transfer.failure_json`),
whatever the failure, a usage error included.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Callable, List, Optional, Sequence, TextIO, Union, cast

from ..errors import PostOfficeError
from ._output import PROG, EscapingStream, error, one_line, say, say_json
from .parser import UsageExit, build_parser
from .status import (
    EX_CONFIG,
    EX_PROTOCOL,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Failure,
    status_of,
)

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EX_CONFIG",
    "EX_PROTOCOL",
    "EX_TEMPFAIL",
    "EX_UNAVAILABLE",
    "build_parser",
    "main",
]


def _show_warning(
    message: Union[Warning, str],
    category: type,
    filename: str,
    lineno: int,
    file: Optional[TextIO] = None,
    line: Optional[str] = None,
) -> None:
    say(f"{PROG}: warning: {one_line(message)}", sys.stderr)


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` was typed (before a ``--``), as argparse would read it: known
    even when the arguments do not parse, so that a usage error is reported in JSON too."""
    options = argv[: list(argv).index("--")] if "--" in argv else argv
    return "--json" in options


def _failed(argv: Sequence[str], args: object, message: str, status: int,
            exc: Optional[BaseException] = None) -> int:  # fmt: skip
    """``--json``'s failure object, when asked for; returns ``status``."""
    if getattr(args, "json", False) or (args is None and _wants_json(argv)):
        from .transfer import failure_json

        say_json(failure_json(message, status, exc, getattr(args, "outcome", None)))
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (see :mod:`.status`)."""
    arguments = list(argv) if argv is not None else sys.argv[1:]
    try:
        return _main(arguments)
    except KeyboardInterrupt:  # Ctrl-C outside a command (while parsing, importing)
        say(f"{PROG}: interrupted", sys.stderr)
        return _failed(arguments, None, "interrupted", EXIT_INTERRUPTED)


def _main(argv: List[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageExit as exc:  # a usage error (already printed)
        return _failed(argv, None, exc.message, EXIT_USAGE, exc)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    # --debug: the transcript is handed to what connects (never through the process-wide
    # post_office.smtp_debug); reply lines are the server's text: escaped, as everything
    # the CLI prints.  Without --debug, no transcript at all, whatever smtp_debug says.
    from ..client.transcript import Transcript

    debug = cast(TextIO, EscapingStream(sys.stderr)) if getattr(args, "debug", False) else None
    args.transcript = Transcript(debug, use_global=False, arrows=True)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            if args.command in ("send", "check"):  # SERVER may be @name (README "Named servers")
                from .config import apply_named_server

                apply_named_server(args)
            module = importlib.import_module(f"{__name__}.commands.{args.command}")
            run: Callable[..., int] = module.run
            return run(args)
    except KeyboardInterrupt:
        say(f"{PROG}: interrupted", sys.stderr)
        return _failed(argv, args, "interrupted", EXIT_INTERRUPTED)
    except (PostOfficeError, Failure) as exc:
        error(exc)
        return _failed(argv, args, one_line(exc), status_of(exc), exc)
    except OSError as exc:  # a file named on the command line could not be read
        error(exc)
        return _failed(argv, args, one_line(exc), EXIT_USAGE, exc)
