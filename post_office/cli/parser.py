"""The argument parser of ``post-office``: one subparser per subcommand.

The subcommand's name lands in ``args.command``; :func:`post_office.cli.main` imports the
module of that name only then, so ``post-office parse`` never loads the sink.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Optional

from .. import __version__
from ._output import PROG, say

__all__ = ["COMMANDS", "UsageExit", "build_parser"]

#: The subcommands, each implemented by ``run(args)`` in the module of the same name.
COMMANDS = ("demo", "serve", "sink-list", "sink-show", "send", "check", "parse")


class UsageExit(SystemExit):
    """A usage error :mod:`argparse` found (already printed): exit status 2, and the
    ``message`` for ``--json``'s failure object."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors, printed as argparse prints them (escaped: an argument may
    hold anything), then raised as :class:`UsageExit` so ``--json`` can report them."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        say(f"{self.prog}: error: {message}", sys.stderr)
        raise UsageExit(message)


class _Formatter(argparse.HelpFormatter):
    """Wraps prose; keeps text that has its own line breaks (the examples) as it is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds to wait for each network operation (default: 60)",
    )
    parser.add_argument(
        "--local-hostname", metavar="NAME", help="the name to say in EHLO (default: this host's)"
    )


def _add_login_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--login", metavar="USER", help="authenticate (SMTP AUTH) as USER")
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from the environment variable VAR (without it, the password "
        "is asked for on the terminal; it is never taken on the command line)",
    )


def _add_mailbox_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--maildir", metavar="DIR", help="the sink's Maildir (default: ./maildir, as serve)"
    )
    where.add_argument("--mbox", metavar="FILE", help="the sink's mbox file")


#: SERVER of send and check (README "Named servers").
_SERVER_HELP = (
    "the mail-server spec, or @NAME: a named server of the config file "
    "($POST_OFFICE_CONFIG, else ~/.config/post-office/servers.lisp)"
)


def _command(
    sub: argparse._SubParsersAction[_Parser],
    common: Optional[_Parser],
    name: str,
    *,
    help: str,
    description: str,
    epilog: str,
) -> argparse.ArgumentParser:
    """One subcommand's parser, with what every subcommand shares."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=[common] if common is not None else [],
        formatter_class=_Formatter,
        allow_abbrev=False,
        help=help,
        description=description,
        epilog=epilog,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``post-office`` with all its subcommands."""
    common = _Parser(add_help=False, allow_abbrev=False)
    common.add_argument(
        "--debug", action="store_true", help="show the SMTP transcript on standard error"
    )
    parser = _Parser(
        prog=PROG,
        description="Allegro CL's net.post_office mail API for Python: command line.",
        epilog="example: post-office demo        (mail flows, nothing else needed)\n"
        "exit status: 0 success, 1 the :program transport failed, 2 usage, 69 refused "
        "(5xx), 75 retry later (4xx, connection), 76 protocol, 78 the spec does not fit the "
        "server (certificate, :ssl t on a plain port), 130 interrupted",
        formatter_class=_Formatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = _command(
        sub,
        common,
        "demo",
        help="send a letter through the embedded sink and show everything (needs the sink extra)",
        description="Start the embedded SMTP sink on a free 127.0.0.1 port with a throwaway "
        "certificate, send a letter with an attachment through send_letter over STARTTLS "
        "with AUTH, and print the server spec, the SMTP transcript and the message as "
        "received.  Needs the sink extra: python -m pip install -e '.[sink]'.",
        epilog="example: post-office demo",
    )
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help=argparse.SUPPRESS)

    p = _command(
        sub,
        common,
        "serve",
        help="run the embedded sink: a development catch-all SMTP server",
        description="A development catch-all SMTP server (aiosmtpd): it accepts every "
        "message, stores it (Maildir by default) and prints one line per message.  Ctrl-C "
        "stops it.  It listens on loopback only unless --public is given.  Needs the sink "
        "extra: python -m pip install -e '.[sink]'.",
        epilog="examples:\n"
        "  post-office serve                       # port 8025, Maildir ./maildir\n"
        "  SINK_AUTH=me:secret post-office serve --port 0 --self-signed --require-starttls \\\n"
        "      --auth-env SINK_AUTH\n"
        "  post-office serve --ssl --port 8465     # implicit TLS, throwaway certificate\n"
        "  post-office serve --mbox mail.mbox",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8025, help="port (default: 8025; 0: a free one)")
    store = p.add_mutually_exclusive_group()
    store.add_argument(
        "--maildir", metavar="DIR", help="store messages in this Maildir (the default, ./maildir)"
    )
    store.add_argument("--mbox", metavar="FILE", help="store messages in this mbox file")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--tls-cert", metavar="FILE", help="offer STARTTLS with this PEM certificate")
    tls.add_argument(
        "--self-signed",
        action="store_true",
        help="offer STARTTLS with a throwaway self-signed certificate (its file is printed: "
        "clients trust it with :ca-file)",
    )
    p.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    p.add_argument(
        "--ssl",
        action="store_true",
        help="implicit TLS, as port 465 (for :ssl t specs), with --tls-cert or else a "
        "throwaway certificate",
    )
    p.add_argument("--require-starttls", action="store_true", help="refuse mail before STARTTLS")
    auth = p.add_mutually_exclusive_group()
    auth.add_argument(
        "--auth",
        metavar="USER:PASSWORD",
        help="require SMTP AUTH with this login; the password is then visible to other users "
        "(ps): prefer --auth-env",
    )
    auth.add_argument(
        "--auth-env",
        metavar="VAR",
        help="require SMTP AUTH with the USER:PASSWORD held by the environment variable VAR",
    )
    p.add_argument(
        "--public",
        action="store_true",
        help="allow a non-loopback --host (warns without --auth; AUTH then needs TLS)",
    )
    p.add_argument(
        "--allow-plaintext-auth",
        action="store_true",
        help="with --public, accept AUTH without TLS (passwords cross the network in clear)",
    )

    p = _command(
        sub,
        None,  # speaks no SMTP: no --debug
        "sink-list",
        help="list the messages a sink stored: one line each",
        description="List the messages in the sink's Maildir (or mbox), oldest first: "
        "number, time, sender, recipients, size, subject and file.  Needs no extra.",
        epilog="examples:\n  post-office sink-list\n  post-office sink-list --mbox mail.mbox",
    )
    p.set_defaults(command="sink_list")
    _add_mailbox_options(p)

    p = _command(
        sub,
        None,  # speaks no SMTP: no --debug
        "sink-show",
        help="show one stored message: headers, text parts and attachment names",
        description="Show message N of sink-list (1 is the oldest; -1 the newest): its file, "
        "envelope, headers, text parts and the names of its attachments.",
        epilog="examples:\n  post-office sink-show 1\n  post-office sink-show -1 --maildir mail",
    )
    p.set_defaults(command="sink_show")
    p.add_argument("number", metavar="N", type=int, help="the message's number in sink-list")
    _add_mailbox_options(p)

    p = _command(
        sub,
        common,
        "send",
        help="send a letter (or, with --raw, a whole message) to a mail server",
        description="Send a letter through send_letter: the body comes from standard input "
        "or --file, headers are made from the options.  With --raw the input is sent as it "
        "is through send_smtp (it carries its own headers).  SERVER is any Allegro "
        "mail-server form, Lisp text included.",
        epilog="examples:\n"
        "  echo 'Hello.' | post-office send mail.corp:2525 me@corp you@corp --subject Hi\n"
        "  post-office send '(\"mail.corp\" :port 587 :starttls t)' me@corp you@corp \\\n"
        "      --login me --password-env SMTP_PASSWORD --attach report.pdf --file body.txt\n"
        "  post-office send mail.corp me@corp you@corp --raw < message.eml",
    )
    p.add_argument(
        "server",
        metavar="SERVER",
        help=_SERVER_HELP,
    )
    p.add_argument("from_", metavar="FROM", help="the sender, a bare address (user@host)")
    p.add_argument("to", metavar="TO", nargs="+", help="recipients, bare addresses")
    p.add_argument("--cc", action="append", metavar="ADDRESS", help="a Cc recipient (repeatable)")
    p.add_argument(
        "--bcc",
        action="append",
        metavar="ADDRESS",
        help="a Bcc recipient (repeatable; never in a header)",
    )
    p.add_argument("--subject", help="the Subject header")
    p.add_argument("--reply-to", metavar="ADDRESS", help="the Reply-To header")
    p.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="an extra header line (repeatable)",
    )
    p.add_argument("--attach", action="append", metavar="FILE", help="attach a file (repeatable)")
    p.add_argument("--file", metavar="FILE", help="read the body from FILE, not standard input")
    p.add_argument(
        "--raw",
        action="store_true",
        help="send the input as is through send_smtp (it has its own headers)",
    )
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="send an empty body without the warning",
    )
    p.add_argument(
        "--dkim-key",
        metavar="FILE",
        help="DKIM-sign with this PEM private key (RSA 2048+ or Ed25519; needs the dkim "
        "extra); with --dkim-selector and --dkim-domain",
    )
    p.add_argument("--dkim-selector", metavar="S", help="the DKIM selector (s=)")
    p.add_argument("--dkim-domain", metavar="D", help="the DKIM signing domain (d=)")
    p.add_argument(
        "--allow-no-auth",
        action="store_true",
        help="with --login: send even when the server offers no AUTH (as Allegro does); "
        "without it, that is an error and nothing is sent",
    )
    output = p.add_mutually_exclusive_group()
    output.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    output.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: status, server, recipients, tls, auth, the final reply",
    )
    _add_login_options(p)
    _add_network_options(p)

    p = _command(
        sub,
        common,
        "check",
        help="connect and show what a server offers and whether a spec works with it",
        description="Connect as the mail-server spec says (TLS, STARTTLS, verification) and "
        "print what the server offers: EHLO extensions, TLS version, certificate subject, "
        "issuer and expiry (even when it does not verify), AUTH mechanisms, and whether "
        "the spec's certificate check passes; then MAIL FROM and RSET, as far as send "
        "would go.  No mail is sent.  Exits with send's status when send with this spec "
        "and these options would fail.",
        epilog="examples:\n"
        "  post-office check '(\"mail.corp\" :port 587 :starttls t)'\n"
        '  post-office check \'("mail.corp" :ssl t :ca-file "corp-ca.pem")\' --login me',
    )
    p.add_argument(
        "server",
        metavar="SERVER",
        help=_SERVER_HELP,
    )
    p.add_argument(
        "--from",
        dest="from_",
        metavar="ADDRESS",
        default="",
        help="the sender for the MAIL FROM probe (default: the null sender <>)",
    )
    p.add_argument(
        "--rcpt",
        action="append",
        metavar="ADDRESS",
        help="also ask RCPT TO for ADDRESS (repeatable), then RSET: nothing is sent; the exit "
        "status says accepted (0), refused (69) or temporarily refused (75)",
    )
    _add_login_options(p)
    _add_network_options(p)

    p = _command(
        sub,
        None,  # speaks no SMTP: no --debug
        "parse",
        help="show how a mail-server spec is understood",
        description="Show how a mail-server spec (any Allegro form, Lisp text included) is "
        "understood, with its canonical Lisp and Python forms.  Nothing is connected.",
        epilog="example: post-office parse '(\"mail.corp\" :port 587 :starttls t)'",
    )
    p.add_argument("server", help="the mail-server spec, e.g. mail.corp:2525 or a Lisp list")
    return parser
