"""``post-office send SERVER FROM TO...``: a letter through ``send_letter``, or with ``--raw``
a whole message through ``send_smtp`` / ``send_smtp_auth``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any, Dict, List, Optional

from ..addresses import check_address, check_recipients
from ..errors import ArgumentError
from ..options import check_credentials
from ..spec import parse_mail_server, parse_transport
from ._output import say
from .passwords import password as ask_password
from .progress import PROGRESS_THRESHOLD, Progress, size_of

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Check everything, ask for the password, send; one line says how many recipients."""
    if args.raw:
        for option in ("subject", "reply_to", "header", "attach"):
            if getattr(args, option):
                raise ArgumentError(
                    f"--{option.replace('_', '-')} cannot be used with --raw: a raw message "
                    "carries its own headers and parts"
                )
    # Everything that can be wrong is reported before the password is asked for.
    args.server = parse_mail_server(args.server) if args.raw else parse_transport(args.server)
    check_address(args.from_, "FROM", allow_empty=True)
    for name in ("to", "cc", "bcc"):
        if getattr(args, name):
            check_recipients(getattr(args, name), f"--{name}" if name != "to" else "TO")
    for path in args.attach or ():
        if not os.path.isfile(path):
            raise ArgumentError(f"--attach {path!r}: no such file")
    password = ask_password(args)
    if args.login is not None:
        check_credentials(args.login, password)
    progress = sys.stdout.isatty()
    opened: List[IO[bytes]] = []
    try:
        if args.file is not None:
            try:
                source: IO[bytes] = open(args.file, "rb")  # noqa: SIM115
            except OSError as exc:
                raise ArgumentError(f"--file {args.file!r}: {exc.strerror}") from None
            opened.append(source)
            where = repr(args.file)
        else:
            source = sys.stdin.buffer
            where = "standard input"
            if sys.stdin.isatty():
                say("reading the message from standard input; end it with Ctrl-D", sys.stderr)
        options: Dict[str, Any] = {"timeout": args.timeout}
        if args.local_hostname is not None:
            options["local_hostname"] = args.local_hostname
        if args.raw:
            body = Progress(source, size_of(source), sys.stdout) if progress else source
            _send_raw(args, password, body, options)
        else:
            _send_letter(args, password, _read_text(source, where), progress, opened, options)
    finally:
        for stream in opened:
            stream.close()
    recipients = len(args.to) + len(args.cc or ()) + len(args.bcc or ())
    say(f"sent: accepted for {recipients} recipient(s)")
    return 0


def _read_text(stream: IO[bytes], where: str) -> str:
    data = stream.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArgumentError(
            f"the message body from {where} is not UTF-8 text (byte {exc.start}): send a "
            "file with --attach, or a whole message with --raw"
        ) from None


def _send_raw(
    args: argparse.Namespace, password: Optional[str], body: Any, options: Dict[str, Any]
) -> None:
    from ..api import send_smtp, send_smtp_auth

    recipients = [*args.to, *(args.cc or ()), *(args.bcc or ())]
    if args.login is not None:
        assert password is not None
        send_smtp_auth(args.server, args.from_, recipients, args.login, password, body, **options)
    else:
        send_smtp(args.server, args.from_, recipients, body, **options)


def _send_letter(
    args: argparse.Namespace,
    password: Optional[str],
    text: str,
    progress: bool,
    opened: List[IO[bytes]],
    options: Dict[str, Any],
) -> None:
    from ..letter import send_letter

    attachments: List[Any] = []
    for path in args.attach or ():
        if progress and os.path.getsize(path) >= PROGRESS_THRESHOLD:
            stream = open(path, "rb")  # noqa: SIM115
            opened.append(stream)
            attachments.append(Progress(stream, os.path.getsize(path), sys.stdout))
        else:
            attachments.append(path)
    send_letter(
        args.server,
        args.from_,
        list(args.to),
        text,
        cc=args.cc or None,
        bcc=args.bcc or None,
        subject=args.subject,
        reply_to=args.reply_to,
        headers=args.header or None,
        login=args.login,
        password=password,
        attachments=attachments or None,
        **options,
    )
