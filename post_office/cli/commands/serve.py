"""``post-office serve``: the embedded sink as a development catch-all SMTP server, until
Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Dict, Optional, Tuple

from ...errors import ArgumentError
from .._output import PROG, error, say, say_printable
from .._sink import sink_module

__all__ = ["run"]


def _credentials(args: argparse.Namespace) -> Optional[Tuple[str, str]]:
    """``--auth USER:PASSWORD``, or the same read from the variable ``--auth-env`` names
    (so that the password is not on the command line, where ``ps`` shows it)."""
    if args.auth_env is not None:
        value = os.environ.get(args.auth_env)
        if value is None:
            raise ArgumentError(
                f"--auth-env {args.auth_env}: the environment variable is not set "
                "(it holds USER:PASSWORD)"
            )
        option = f"the value of --auth-env {args.auth_env}"
    elif args.auth is not None:
        value, option = args.auth, "--auth"
    else:
        return None
    login, colon, password = value.partition(":")
    if not login or not colon or not password:
        shown = "--auth " + repr(value) if option == "--auth" else option
        raise ArgumentError(f"{shown} is not USER:PASSWORD (both non-empty)")
    return login, password


def run(args: argparse.Namespace) -> int:
    """Check the options, make or load the certificate, run the sink until stopped."""
    sink = sink_module()
    if not args.public and not sink.is_loopback_host(args.host):
        raise ArgumentError(
            f"--host {args.host}: not a loopback address; a catch-all server on the network "
            "would accept anyone's mail. Add --public if you really mean it"
        )
    if not 0 <= args.port <= 65535:
        raise ArgumentError(f"--port {args.port}: not in 0..65535 (0 picks a free port)")
    if args.tls_key and not args.tls_cert:
        raise ArgumentError("--tls-key needs --tls-cert")
    if args.require_starttls and not (args.tls_cert or args.self_signed):
        raise ArgumentError("--require-starttls needs a certificate: --tls-cert or --self-signed")
    if args.require_starttls and args.ssl:
        raise ArgumentError("--require-starttls is for STARTTLS; --ssl is TLS from the start")
    credentials = _credentials(args)
    maildir = None if args.mbox else (args.maildir or "maildir")
    cleanup: Optional[tempfile.TemporaryDirectory[str]] = None
    context = None
    ca_file: Optional[Path] = None
    if args.tls_cert:
        try:
            context = sink.server_ssl_context(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ArgumentError(
                f"--tls-cert {args.tls_cert!r} / --tls-key {args.tls_key!r} could not be "
                f"loaded: {exc}"
            ) from None
    elif args.self_signed or args.ssl:
        cleanup = tempfile.TemporaryDirectory(prefix="post-office-sink-")
        hosts: Tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
        if args.host not in hosts:
            hosts = (*hosts, args.host.strip("[]"))
        certificate = sink.make_throwaway_certificate(cleanup.name, hosts)
        context = certificate.server_context()
        ca_file = certificate.ca_file
    try:
        server = sink.Sink(
            args.host,
            args.port,
            maildir=maildir,
            mbox=args.mbox,
            tls_context=context,
            ssl=args.ssl,
            require_starttls=args.require_starttls,
            credentials=credentials,
            on_message=lambda message: say_printable(message.summary()),
            keep=False,
            log=sys.stderr,
            log_level=10 if args.debug else 30,
            public=args.public,
            allow_plaintext_auth=args.allow_plaintext_auth,
        )
        return _serve(server, ca_file, credentials)
    finally:
        if cleanup is not None:
            cleanup.cleanup()


def _serve(server: Any, ca_file: Optional[Path], credentials: Optional[Tuple[str, str]]) -> int:
    """Run the sink until Ctrl-C (SIGINT) or SIGTERM; both stop it cleanly."""

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt

    previous: Dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, on_signal)
    try:
        try:
            server.start()
        except OSError as exc:
            error(f"could not listen on {server.host} port {server.port}: {exc.strerror or exc}")
            return 1
        say(f"post-office sink listening on {server.describe()}")
        if ca_file is not None:
            say(f"throwaway certificate (trust it with :ca-file): {ca_file}")
        spec = server.server_spec(ca_file).to_lisp()
        login = f" --login {credentials[0]} --password-env VAR" if credentials else ""
        say(f"send to it with: {PROG} send '{spec}' FROM TO{login} < message.txt")
        say("Ctrl-C stops it")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    say(f"post-office sink stopped after {server.received} message(s)")
    return 0
