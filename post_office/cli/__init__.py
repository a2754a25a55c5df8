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
interrupted.  A failure is one ``post-office: error:`` line, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Callable, Optional, Sequence, TextIO, Union, cast

import post_office

from ..errors import PostOfficeError
from ._output import PROG, EscapingStream, error, one_line, say
from .parser import build_parser
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (see :mod:`.status`)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C outside a command (while parsing, importing)
        say(f"{PROG}: interrupted", sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    previous_debug = post_office.smtp_debug
    if getattr(args, "debug", False):
        # Reply lines are the server's text: escaped, as everything the CLI prints.
        post_office.smtp_debug = cast(TextIO, EscapingStream(sys.stderr))
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            module = importlib.import_module(f"{__name__}.{args.command}")
            run: Callable[..., int] = module.run
            return run(args)
    except KeyboardInterrupt:
        say(f"{PROG}: interrupted", sys.stderr)
        return EXIT_INTERRUPTED
    except (PostOfficeError, Failure) as exc:
        error(exc)
        return status_of(exc)
    except OSError as exc:  # a file named on the command line could not be read
        error(exc)
        return EXIT_USAGE
    finally:
        post_office.smtp_debug = previous_debug
