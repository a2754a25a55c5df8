"""The ``post-office`` command line (``python -m post_office``), on :mod:`argparse`."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .errors import ArgumentError
from .server import parse_mail_server

__all__ = ["main"]


def _cmd_parse(args: argparse.Namespace) -> int:
    server = parse_mail_server(args.server)
    tls = server.tls
    print(f"host:     {server.host}")
    print(f"port:     {server.port}")
    print(f"ssl:      {'yes (implicit TLS)' if server.ssl else 'no'}")
    starttls = {False: "no", True: "yes, when offered", "required": "required"}[server.starttls]
    print(f"starttls: {starttls}")
    print(f"verify:   {tls.verify}")
    for keyword, value in tls.keywords():
        if keyword.name != "verify":
            shown = "<redacted>" if keyword.name == "certificate-password" else value
            print(f"{keyword}: {shown}")
    if tls.context is None:
        print(f"lisp:     {server.to_lisp()}")
    print(f"python:   {server.to_python()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="post-office",
        description="Allegro CL's net.post_office mail API for Python: command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser(
        "parse",
        help="show how a mail-server spec is understood",
        description="Show how a mail-server spec (any Allegro form, Lisp text included) is "
        "understood, with its canonical Lisp and Python forms.",
        epilog="example: post-office parse '(\"mail.corp\" :port 587 :starttls t)'",
    )
    p.add_argument("server", help="the mail-server spec, e.g. mail.corp:2525 or a Lisp list")
    p.set_defaults(func=_cmd_parse)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 mail failure, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        status: int = args.func(args)
    except ArgumentError as exc:
        print(f"post-office: error: {exc}", file=sys.stderr)
        return 2
    return status
