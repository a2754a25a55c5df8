"""``post-office parse SERVER``: how a mail-server spec is understood (nothing connected)."""

from __future__ import annotations

import argparse

from ...spec.mailserver import parse_mail_server
from ...spec.redaction import REDACTED, is_secret_key
from .._output import say
from ..render import dns_line, lisp_text, python_text

__all__ = ["run", "server_argument"]


def server_argument(text: str) -> object:
    """SERVER as the command line means it: digits alone are an IPv4 address as an
    integer, as the API and Lisp text (``(167838211 :port 25)``) read them (README "The
    mail-server argument"); anything else is the text itself."""
    return int(text) if text.isascii() and text.isdigit() else text


def run(args: argparse.Namespace) -> int:
    """Print the spec's fields, its canonical Lisp and Python forms, and the DNS settings."""
    server = parse_mail_server(server_argument(args.server))
    tls = server.tls
    say(f"host:     {server.host}")
    say(f"port:     {server.port}")
    say(f"ssl:      {'yes (implicit TLS)' if server.ssl else 'no'}")
    starttls = {False: "no", True: "yes, when offered", "required": "required"}[server.starttls]
    say(f"starttls: {starttls}")
    say(f"verify:   {tls.verify}")
    for keyword, value in tls.keywords():
        if keyword.name != "verify":
            shown = REDACTED if is_secret_key(keyword) else value
            say(f"{keyword}: {shown}")
    if tls.context is None:
        say(f"lisp:     {lisp_text(server)}")
    say(f"python:   {python_text(server)}")
    say(f"dns:      {dns_line()}")
    return 0
