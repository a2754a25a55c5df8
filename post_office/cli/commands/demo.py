"""``post-office demo``: a letter through the embedded sink over STARTTLS with AUTH, showing
the spec, the call, the SMTP transcript and the message as received.  Nothing else needed."""

from __future__ import annotations

import argparse
import io
import logging
import secrets
import sys
import tempfile
from pathlib import Path

from ...client.transcript import LOGGER_NAME
from .._output import say, say_printable
from .._sink import sink_module

__all__ = ["run"]

#: The addresses the demo uses (example.org is reserved for documentation, RFC 2606).
DEMO_FROM = "demo-sender@example.org"
DEMO_TO = "demo-recipient@example.org"
DEMO_LOGIN = "demo"

_DEMO_BODY = """\
Hello from post_office!

This letter went through send_letter, over STARTTLS with a verified certificate and
SMTP AUTH, to the embedded sink on 127.0.0.1. The attachment is a small CSV file.
"""


def run(args: argparse.Namespace) -> int:
    """Run the demo in a temporary directory that is removed at the end."""
    sink = sink_module()
    from ...api import send_letter

    with tempfile.TemporaryDirectory(prefix="post-office-demo-") as directory:
        root = Path(directory)
        certificate = sink.make_throwaway_certificate(root / "tls")
        password = secrets.token_urlsafe(12)
        attachment = root / "report.csv"
        attachment.write_text("month,letters\nJanuary,3\nFebruary,5\n", encoding="utf-8")
        server = sink.Sink(
            maildir=root / "maildir",
            tls_context=certificate.server_context(),
            require_starttls=True,
            credentials=(DEMO_LOGIN, password),
            log=sys.stderr,
        )
        with server:
            spec = server.server_spec(certificate.ca_file)
            say("post_office demo: a letter through the embedded SMTP sink, nothing else needed")
            say()
            say(f"1. The sink: aiosmtpd on {server.describe()}.")
            say(
                f"   Its throwaway self-signed certificate, made with {certificate.made_with}: "
                f"{certificate.cert_file}"
            )
            say()
            say("2. The mail-server spec (the client verifies the certificate with :ca-file):")
            say(f"   Lisp:   {spec.to_lisp()}")
            say(f"   Python: {spec.to_python()}")
            say()
            say("3. The call:")
            say(f"   send_letter(server, {DEMO_FROM!r}, {DEMO_TO!r}, body,")
            say("               subject='post_office demo', attachments=['report.csv'],")
            say(f"               login={DEMO_LOGIN!r}, password=<redacted>)")
            # The transcript through the library's logger (the command line never sets
            # post_office.smtp_debug, a process-wide special).
            transcript = io.StringIO()
            handler = logging.StreamHandler(transcript)
            smtp_log = logging.getLogger(LOGGER_NAME)
            level = smtp_log.level
            smtp_log.addHandler(handler)
            smtp_log.setLevel(logging.DEBUG)
            try:
                send_letter(
                    spec,
                    DEMO_FROM,
                    DEMO_TO,
                    _DEMO_BODY,
                    subject="post_office demo",
                    attachments=[str(attachment)],
                    login=DEMO_LOGIN,
                    password=password,
                    timeout=args.timeout,
                )
            finally:
                smtp_log.removeHandler(handler)
                smtp_log.setLevel(level)
                # --debug (its help: the transcript on standard error) is honoured even
                # though the demo shows the transcript below anyway, failure or not.
                debug_stream = args.transcript.stream if getattr(args, "debug", False) else None
                if debug_stream is not None:
                    debug_stream.write(transcript.getvalue())
                    debug_stream.flush()
            say("   -> True: the sink accepted the letter")
            say()
            say("4. The SMTP transcript (the post_office.smtp logger; credentials redacted):")
            for line in transcript.getvalue().splitlines():
                say(f"   {line}")
            say()
            [message] = server.messages
            stored = server.message_file(message)
            say(f"5. The message as the sink received it and stored it in {stored}")
            say("   (the demo's files are removed when it ends); the sink's line for it:")
            say_printable(f"   {message.summary()}")
            say()
            text = stored.read_text(encoding="utf-8", errors="replace") if stored else ""
            for line in text.splitlines():
                say(f"   {line.expandtabs()}")
    say()
    say("Next: run your own sink with `post-office serve --self-signed`, send to it with")
    say("`post-office send SPEC FROM TO`, and check a real server's spec with")
    say("`post-office check '(\"mail.corp\" :port 587 :starttls t)'`.")
    return 0
