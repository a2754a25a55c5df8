"""The ``post-office`` command line (``python -m post_office``), on :mod:`argparse`.

Subcommands (README, "Command line"), one module each: ``demo`` (mail flows through the
embedded sink, nothing else needed), ``serve`` (the embedded sink as a development
catch-all server), ``send`` (a letter, or a raw message, to any mail-server spec),
``check`` (what a server offers and whether a spec would work with it) and ``parse``
(how a spec is understood).  :mod:`.parser` builds the parser; a subcommand's module is
imported only when it runs.

Exit status: :data:`EXIT_OK` 0 success, :data:`EXIT_FAILURE` 1 SMTP or network failure
(one line with the code and reply), :data:`EXIT_USAGE` 2 usage or argument error (the
message, never a traceback), :data:`EXIT_INTERRUPTED` 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Callable, Optional, Sequence, TextIO, Union

import post_office

from ..errors import ArgumentError, PostOfficeError, SinkUnavailableError
from ._output import PROG, error, one_line, say
from .parser import build_parser

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

#: The command did what was asked.
EXIT_OK = 0
#: An SMTP or network failure: the server refused, the connection failed.
EXIT_FAILURE = 1
#: A usage or argument error (also: the sink extra is missing, a file cannot be read).
EXIT_USAGE = 2
#: Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


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
    """Run the command line; returns the exit status (0 ok, 1 mail failure, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    previous_debug = post_office.smtp_debug
    if getattr(args, "debug", False):
        post_office.smtp_debug = sys.stderr
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            module = importlib.import_module(f"{__name__}.{args.command}")
            run: Callable[..., int] = module.run
            return run(args)
    except (ArgumentError, SinkUnavailableError) as exc:
        error(exc)
        return EXIT_USAGE
    except PostOfficeError as exc:
        error(exc)
        return EXIT_FAILURE
    except OSError as exc:
        error(exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    finally:
        post_office.smtp_debug = previous_debug
