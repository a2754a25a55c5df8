"""``post-office parse SERVER``: how a mail-server spec is understood (nothing connected)."""

from __future__ import annotations

import argparse

from ..spec import parse_mail_server

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Print the spec's fields and its canonical Lisp and Python forms."""
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
