"""``post-office send SERVER FROM TO...``: a letter (send_letter's, built by
:func:`~post_office.message.letter.build_letter`), or with ``--raw`` a whole message as it is
(send_smtp's), then one line that says what the server answered.

Everything that can be wrong with the arguments is reported before the password is asked
for or anything is connected; the body is streamed, never read whole when big.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any, List, Optional, Tuple

from ...client.delivery import Envelope
from ...errors import ArgumentError, CertificateError, SenderRefusedError
from ...message.addresses import check_address
from ...message.dkim import DkimKey, signed
from ...message.letter import LetterOptions, build_letter
from ...spec.mailserver import MailServer, parse_mail_server
from ...spec.options import check_auth_transport, check_connect_options, check_credentials
from ...spec.transport import parse_transport
from ...warn import warn
from .._output import say
from ..body import body_part, check_input_file
from ..hints import cli_wording, explain_certificate
from ..passwords import password as ask_password
from ..progress import Counted, Meter, size_of
from ..silence import silence_notice
from ..transfer import Outcome, send, show_outcome, transport_name
from .parse import server_argument

__all__ = ["run"]

_RAW_ONLY_NOT = ("subject", "reply_to", "header", "attach")


def _check_arguments(args: argparse.Namespace) -> None:
    if args.raw:
        for option in _RAW_ONLY_NOT:
            if getattr(args, option):
                raise ArgumentError(
                    f"--{option.replace('_', '-')} cannot be used with --raw: a raw message "
                    "carries its own headers and parts"
                )
    spec = server_argument(args.server)
    args.server = parse_mail_server(spec) if args.raw else parse_transport(spec)
    if args.login is not None and isinstance(args.server, MailServer):
        # A spec that would send the password in clear is refused before it is asked for.
        check_auth_transport(args.server, (args.login, ""))
    check_address(args.from_, "FROM", allow_empty=True)
    for option, values in (("TO", args.to), ("--cc", args.cc), ("--bcc", args.bcc)):
        for value in values or ():
            check_address(value, option)
    for path in args.attach or ():
        check_input_file(path, "--attach")
    if args.file is not None:
        check_input_file(args.file, "--file")
    args.dkim = _dkim_key(args)


def _dkim_key(args: argparse.Namespace) -> Optional[DkimKey]:
    """The key of ``--dkim-key/--dkim-selector/--dkim-domain``: all three, or none."""
    given = [args.dkim_key, args.dkim_selector, args.dkim_domain]
    if not any(given):
        return None
    if not all(given):
        raise ArgumentError("--dkim-key, --dkim-selector and --dkim-domain go together")
    check_input_file(args.dkim_key, "--dkim-key")
    return DkimKey(args.dkim_domain, args.dkim_selector, args.dkim_key)


def _open_input(args: argparse.Namespace, opened: List[IO[bytes]]) -> Tuple[IO[bytes], str]:
    if args.file is not None:
        try:
            stream: IO[bytes] = open(args.file, "rb")  # noqa: SIM115
        except OSError as exc:
            raise ArgumentError(f"--file {args.file!r}: {exc.strerror}") from None
        opened.append(stream)
        return stream, repr(args.file)
    if sys.stdin.isatty():
        say("reading the message from standard input; end it with Ctrl-D", sys.stderr)
    return sys.stdin.buffer, "standard input"


def _empty(args: argparse.Namespace, where: str) -> None:
    if not args.allow_empty:
        warn(f"sending an empty body (nothing came from {where}); --allow-empty says it is meant")


def _messages(
    args: argparse.Namespace, meter: Optional[Meter], opened: List[IO[bytes]]
) -> Tuple[Envelope, Tuple[object, ...]]:
    source, where = _open_input(args, opened)
    total = size_of(source) if meter is not None else None
    counted: Any = Counted(source, meter) if meter is not None else source
    if args.raw:
        if meter is not None:
            meter.total = total
        recipients = (*args.to, *(args.cc or ()), *(args.bcc or ()))
        head = counted.read(1)
        if not head:
            _empty(args, where)
            return Envelope(args.from_, recipients), ("\n",)  # as send_smtp with no message
        return Envelope(args.from_, recipients), (head, counted)
    attachments: List[Any] = []
    for path in args.attach or ():
        if meter is None:
            attachments.append(path)
            continue
        stream = open(path, "rb")  # noqa: SIM115
        opened.append(stream)
        total = None if total is None else total + os.path.getsize(path)
        attachments.append(Counted(stream, meter))
    if meter is not None:
        meter.total = total
    body = body_part(counted, where)
    if body is None:
        _empty(args, where)
        body = ""
    options = LetterOptions(
        cc=args.cc or None,
        bcc=args.bcc or None,
        subject=args.subject,
        reply_to=args.reply_to,
        headers=args.header or None,
        attachments=attachments or None,
    )
    letter = build_letter(args.from_, list(args.to), body, options)
    return Envelope(letter.sender, letter.recipients), (letter.header, letter.part)


def run(args: argparse.Namespace) -> int:
    """Check everything, ask for the password, send; say what the server answered."""
    args.server_text = args.server
    _check_arguments(args)
    options = check_connect_options(args.timeout, args.local_hostname, None)
    password = ask_password(args)
    credentials: Optional[Tuple[str, str]] = None
    if args.login is not None:
        assert password is not None
        check_credentials(args.login, password)
        credentials = (args.login, password)
    if isinstance(args.server, MailServer):
        check_auth_transport(args.server, credentials)
    elif credentials is not None:
        raise ArgumentError("--login cannot be used with a (:program ...) transport")
    # No progress line with --json: standard output holds the JSON object only.
    quiet = args.quiet or args.json
    meter = Meter(sys.stdout) if sys.stdout.isatty() and not quiet else None
    opened: List[IO[bytes]] = []
    # Filled in as the send goes; main() reads it for --json's failure object.
    outcome = args.outcome = Outcome(transport_name(args.server))
    try:
        envelope, messages = _messages(args, meter, opened)
        with silence_notice(args.server, options.timeout):
            send(
                args.server,
                envelope,
                signed(messages, args.dkim),
                options,
                credentials,
                allow_no_auth=args.allow_no_auth,
                outcome=outcome,
                transcript=args.transcript,
            )
    except CertificateError as exc:
        assert isinstance(args.server, MailServer)
        raise explain_certificate(exc, args.server, args) from exc.__cause__
    except SenderRefusedError as exc:  # "log in" in the command line's words
        cli_wording(exc)
        raise
    finally:
        if meter is not None:
            meter.finish()
        for stream in opened:
            stream.close()
    if not args.quiet:
        show_outcome(outcome, json_output=args.json)
    return 0
