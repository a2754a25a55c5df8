"""The ``post-office`` command line (``python -m post_office``), on :mod:`argparse`.

Subcommands: ``demo`` (mail flows through the embedded sink, nothing else needed),
``serve`` (the embedded sink as a development catch-all server), ``send`` (a letter, or a
raw message, to any mail-server spec), ``check`` (what a server offers and whether a spec
would work with it) and ``parse`` (how a spec is understood).

Exit status: 0 success, 1 SMTP or network failure (one line with the code and reply),
2 usage or argument error (the message, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import getpass
import hashlib
import io
import ipaddress
import os
import secrets
import signal
import ssl
import stat
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple, Union

import post_office

from .addresses import check_address, check_recipients
from .debug import Transcript
from .errors import (
    ArgumentError,
    AuthenticationError,
    CertificateError,
    PostOfficeError,
    SinkUnavailableError,
)
from .smtp import Session, check_credentials
from .spec import MailServer, parse_mail_server, parse_transport

__all__ = ["build_parser", "main"]

PROG = "post-office"
#: Messages at least this big get a progress line when standard output is a terminal.
PROGRESS_THRESHOLD = 4 * 1024 * 1024
#: The addresses the demo uses (example.org is reserved for documentation, RFC 2606).
DEMO_FROM = "demo-sender@example.org"
DEMO_TO = "demo-recipient@example.org"
DEMO_LOGIN = "demo"


def _say(text: str = "", stream: Optional[TextIO] = None) -> None:
    out = stream if stream is not None else sys.stdout
    out.write(text + "\n")
    out.flush()


def _one_line(text: object) -> str:
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


# --------------------------------------------------------------------------- parse


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


# --------------------------------------------------------------------------- passwords


def _password(args: argparse.Namespace) -> Optional[str]:
    """The password for ``--login``: from ``--password-env`` or asked on the terminal."""
    login: Optional[str] = args.login
    variable: Optional[str] = args.password_env
    if login is None:
        if variable is not None:
            raise ArgumentError("--password-env needs --login")
        return None
    if variable is not None:
        value = os.environ.get(variable)
        if value is None:
            raise ArgumentError(
                f"--password-env {variable}: the environment variable {variable} is not set"
            )
        return value
    if os.name != "nt":
        try:
            with open("/dev/tty", "rb"):
                pass
        except OSError:
            raise ArgumentError(
                f"--login {login}: there is no terminal to ask for the password on; put it "
                "in an environment variable and name it with --password-env VAR"
            ) from None
    try:
        return getpass.getpass(f"password for {login}: ")
    except EOFError:
        raise ArgumentError(f"--login {login}: no password was given") from None


# --------------------------------------------------------------------------- progress


class _Progress:
    """A binary stream that reports on a terminal how much of it has been read.

    The message is streamed straight onto the socket, so what was read is what was sent
    (give or take one chunk).
    """

    def __init__(self, stream: IO[bytes], total: Optional[int], out: TextIO) -> None:
        self.stream = stream
        self.total = total
        self.out = out
        self.done = 0
        self.shown = -1
        self.finished = False
        self.last = ""
        name = getattr(stream, "name", None)
        if isinstance(name, str):
            self.name = name

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.done += len(data)
        if not data:
            self._finish()
        elif self.done >= PROGRESS_THRESHOLD or (self.total or 0) >= PROGRESS_THRESHOLD:
            step = self.done * 100 // self.total if self.total else self.done >> 20
            if step != self.shown:
                self.shown = step
                self._show()
        return data

    def _show(self, *, final: bool = False) -> None:
        megabytes = self.done / 1e6
        if self.total:
            text = f"sending: {megabytes:.1f} of {self.total / 1e6:.1f} MB"
            text += f" ({min(100, self.done * 100 // self.total)}%)"
        else:
            text = f"sending: {megabytes:.1f} MB"
        if text != self.last:
            self.out.write("\r" + text)
            self.last = text
        if final:
            self.out.write("\n")
        self.out.flush()

    def _finish(self) -> None:
        if not self.finished and self.shown >= 0:
            self.finished = True
            self._show(final=True)


def _size_of(stream: IO[bytes]) -> Optional[int]:
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        return info.st_size - stream.tell()
    except (OSError, ValueError):
        return info.st_size


def _with_progress(stream: IO[bytes], enabled: bool) -> Any:
    return _Progress(stream, _size_of(stream), sys.stdout) if enabled else stream


# --------------------------------------------------------------------------- send


def _read_text(stream: IO[bytes], where: str) -> str:
    data = stream.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArgumentError(
            f"the message body from {where} is not UTF-8 text (byte {exc.start}): send a "
            "file with --attach, or a whole message with --raw"
        ) from None


def _cmd_send(args: argparse.Namespace) -> int:
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
    password = _password(args)
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
                _say("reading the message from standard input; end it with Ctrl-D", sys.stderr)
        options: Dict[str, Any] = {"timeout": args.timeout}
        if args.local_hostname is not None:
            options["local_hostname"] = args.local_hostname
        if args.raw:
            _send_raw(args, password, _with_progress(source, progress), options)
        else:
            _send_letter(args, password, _read_text(source, where), progress, opened, options)
    finally:
        for stream in opened:
            stream.close()
    recipients = len(args.to) + len(args.cc or ()) + len(args.bcc or ())
    _say(f"sent: accepted for {recipients} recipient(s)")
    return 0


def _send_raw(
    args: argparse.Namespace, password: Optional[str], body: Any, options: Dict[str, Any]
) -> None:
    recipients = [*args.to, *(args.cc or ()), *(args.bcc or ())]
    if args.login is not None:
        assert password is not None
        post_office.send_smtp_auth(
            args.server, args.from_, recipients, args.login, password, body, **options
        )
    else:
        post_office.send_smtp(args.server, args.from_, recipients, body, **options)


def _send_letter(
    args: argparse.Namespace,
    password: Optional[str],
    text: str,
    progress: bool,
    opened: List[IO[bytes]],
    options: Dict[str, Any],
) -> None:
    from .letter import send_letter

    attachments: List[Any] = []
    for path in args.attach or ():
        if progress and os.path.getsize(path) >= PROGRESS_THRESHOLD:
            stream = open(path, "rb")  # noqa: SIM115
            opened.append(stream)
            attachments.append(_Progress(stream, os.path.getsize(path), sys.stdout))
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


# --------------------------------------------------------------------------- check


class _Recorder(Transcript):
    """A transcript that keeps every event for ``check`` (and shows it with --debug)."""

    def __init__(self, echo: Optional[TextIO]) -> None:
        super().__init__(echo, use_global=False)
        self.enabled = True
        self.events: List[Tuple[str, str]] = []

    def command(self, shown: str) -> None:
        self.events.append(("command", shown))
        super().command(shown)

    def reply(self, line: str) -> None:
        self.events.append(("reply", line))
        super().reply(line)

    def note(self, text: str) -> None:
        self.events.append(("note", text))
        super().note(text)

    def greeting(self) -> List[str]:
        lines: List[str] = []
        for kind, text in self.events:
            if kind != "reply":
                break
            lines.append(text)
        return lines

    def ehlo_replies(self) -> List[List[str]]:
        """The extension lines of each accepted (2xx) EHLO reply, in order."""
        replies: List[List[str]] = []
        current: Optional[List[str]] = None
        for kind, text in self.events:
            if kind == "command":
                current = [] if text.upper().startswith("EHLO ") else None
                if current is not None:
                    replies.append(current)
            elif kind == "reply" and current is not None:
                current.append(text)
            else:
                current = None
        return [[line[4:] for line in reply[1:]] for reply in replies if reply[0][:1] == "2"]


_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "emailAddress": "emailAddress",
}


def _dn(name: Any) -> str:
    parts = []
    for rdn in name or ():
        for key, value in rdn:
            parts.append(f"{_NAMES.get(key, key)}={value}")
    return ", ".join(parts) or "(empty)"


@dataclasses.dataclass
class _CertInfo:
    subject: str
    issuer: str
    expires: Optional[datetime.datetime]
    names: List[str]
    sha256: str


def _pairs(decoded: Any) -> List[Tuple[object, object]]:
    return [(pair[0], pair[1]) for pair in decoded.get("subjectAltName", ())]


def _alt_name(kind: str, value: str) -> str:
    if kind == "IP Address":
        try:
            return f"IP:{ipaddress.ip_address(value)}"
        except ValueError:
            return f"IP:{value}"
    return f"{kind}:{value}"


def _cert_info(sock: ssl.SSLSocket) -> Optional[_CertInfo]:
    der = sock.getpeercert(binary_form=True)
    if not der:
        return None
    fingerprint = hashlib.sha256(der).hexdigest()
    decoded = sock.getpeercert()
    if decoded:
        not_after = decoded.get("notAfter")
        expires = (
            datetime.datetime.fromtimestamp(
                ssl.cert_time_to_seconds(str(not_after)), datetime.timezone.utc
            )
            if not_after
            else None
        )
        names = [_alt_name(str(kind), str(value)) for kind, value in _pairs(decoded)]
        return _CertInfo(
            _dn(decoded.get("subject")), _dn(decoded.get("issuer")), expires, names, fingerprint
        )
    try:  # unverified: the ssl module decodes nothing, cryptography can when installed
        from cryptography import x509
    except ImportError:
        return _CertInfo("(not decoded)", "(not decoded)", None, [], fingerprint)
    cert = x509.load_der_x509_certificate(der)
    expires = getattr(cert, "not_valid_after_utc", None)
    if expires is None:
        expires = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [f"DNS:{n}" for n in alt.get_values_for_type(x509.DNSName)]
        names += [f"IP:{n}" for n in alt.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    return _CertInfo(
        cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), expires, names, fingerprint
    )


def _show_cert(info: Optional[_CertInfo]) -> None:
    if info is None:
        _say("certificate: none presented")
        return
    _say(f"certificate: subject {info.subject}")
    _say(f"             issuer  {info.issuer}")
    if info.names:
        _say(f"             names   {', '.join(info.names)}")
    if info.expires is not None:
        days = (info.expires - datetime.datetime.now(datetime.timezone.utc)).days
        state = f"in {days} days" if days >= 0 else f"EXPIRED {-days} days ago"
        _say(f"             expires {info.expires:%Y-%m-%d %H:%M:%S} UTC ({state})")
    _say(f"             sha256  {info.sha256}")


def _extensions(lines: Sequence[str]) -> str:
    return ", ".join(lines) if lines else "(none: the server answered EHLO with no extensions)"


def _open_session(
    server: MailServer, args: argparse.Namespace, recorder: _Recorder, verify: Optional[str]
) -> Session:
    if verify is not None:
        server = dataclasses.replace(server, tls=dataclasses.replace(server.tls, verify=verify))
    session = Session.prepare(server, timeout=args.timeout, local_hostname=args.local_hostname)
    session.transcript = recorder
    session.open()
    return session


def _would_verify(server: MailServer, args: argparse.Namespace) -> Tuple[bool, str]:
    """Whether the server's certificate verifies when verification is on (our default)."""
    try:
        session = _open_session(server, args, _Recorder(None), "required")
    except CertificateError as exc:
        return False, str(exc)
    with session:
        session.quit()
    return True, ""


def _cmd_check(args: argparse.Namespace) -> int:
    server = parse_mail_server(args.server)
    password = _password(args)
    if args.login is not None:
        check_credentials(args.login, password)
    spec = server.to_lisp() if server.tls.context is None else server.to_python()
    _say(f"checking:    {spec}")
    recorder = _Recorder(sys.stderr if args.debug else None)
    session = _open_session(server, args, recorder, None)
    with session:
        conn = session.conn
        assert conn is not None and conn.sock is not None
        mode = "implicit TLS" if server.ssl else "plain text"
        _say(f"connected:   {server.host} port {server.port} ({mode})")
        _say(f"greeting:    {' / '.join(recorder.greeting())}")
        ehlos = recorder.ehlo_replies()
        if ehlos:
            _say(f"EHLO:        {_extensions(ehlos[0])}")
        else:
            _say("EHLO:        refused; HELO was used (no ESMTP extensions)")
        sock = conn.sock
        tls_used = isinstance(sock, ssl.SSLSocket)
        version, cipher = (
            (sock.version(), _cipher(sock)) if isinstance(sock, ssl.SSLSocket) else ("", "")
        )
        verdict: List[str] = []
        if server.starttls and not server.ssl:
            if tls_used:
                _say(f"STARTTLS:    upgraded ({version}, {cipher})")
            else:
                _say("STARTTLS:    not offered by the server; went on in plain text (as Allegro)")
                verdict.append("the server does not offer STARTTLS: the mail goes in plain text")
        elif server.ssl:
            _say(f"TLS:         {version}, {cipher}")
        elif "starttls" in session.features:
            _say("STARTTLS:    offered, but this spec does not use it: add :starttls t")
            verdict.append("TLS is offered but not used (add :starttls t)")
        else:
            _say("TLS:         not used (the server does not offer STARTTLS)")
        if isinstance(sock, ssl.SSLSocket):
            _show_cert(_cert_info(sock))
            if server.tls.verify == "none":
                ok, why = _would_verify(server, args)
                _say("verified:    no, this spec says :verify nil (Allegro's behaviour)")
                verdict.append("the certificate is not checked (:verify nil)")
                if ok:
                    _say("             with verification on (the default) it would verify")
                else:
                    _say(f"             with verification on (the default) it would NOT: {why}")
            else:
                against = (
                    f":ca-file {server.tls.ca_file}"
                    if server.tls.ca_file
                    else f":ca-directory {server.tls.ca_directory}"
                    if server.tls.ca_directory
                    else "the system's CAs"
                    if server.tls.context is None
                    else "the given :context"
                )
                name = server.tls.server_name or server.host
                _say(f"verified:    yes: the chain ({against}) and the name {name}")
        if tls_used and len(ehlos) > 1:
            _say(f"EHLO (TLS):  {_extensions(ehlos[-1])}")
        offered = session.features.get("auth", "").upper().split()
        if offered:
            usable = [m for m in ("CRAM-MD5", "PLAIN", "LOGIN") if m in offered]
            choice = f"post_office would use {usable[0]}" if usable else "no mechanism in common"
            _say(f"AUTH:        {' '.join(offered)} ({choice})")
        else:
            if not tls_used and "starttls" in session.features:
                hint = " (many servers offer AUTH only after STARTTLS: add :starttls t)"
            elif tls_used and ehlos and any(x.upper().startswith("AUTH") for x in ehlos[0]):
                hint = " after TLS (it was offered before)"
            else:
                hint = ""
            _say(f"AUTH:        not offered{hint}")
        if args.login is not None:
            assert password is not None
            if not offered:
                raise AuthenticationError(
                    f"--login {args.login}: the server offers no AUTH"
                    + (" here; add :starttls t" if "starttls" in session.features else "")
                )
            session.authenticate(args.login, password)
            _say(f"login:       accepted for {args.login}")
        session.quit()
    if verdict:
        _say("result:      works, but " + "; ".join(verdict))
    else:
        _say("result:      OK: this spec works with this server")
    return 0


def _cipher(sock: ssl.SSLSocket) -> str:
    cipher = sock.cipher()
    return cipher[0] if cipher else "unknown cipher"


# --------------------------------------------------------------------------- serve


def _sink_module() -> Any:
    """The sink module, after checking that aiosmtpd is importable (else exit 2)."""
    from . import sink

    sink.require_aiosmtpd()
    return sink


def _credentials(value: Optional[str]) -> Optional[Tuple[str, str]]:
    if value is None:
        return None
    login, colon, password = value.partition(":")
    if not login or not colon or not password:
        raise ArgumentError(f"--auth {value!r} is not USER:PASSWORD (both non-empty)")
    return login, password


def _cmd_serve(args: argparse.Namespace) -> int:
    sink = _sink_module()
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
    credentials = _credentials(args.auth)
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
    elif args.self_signed:
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
            require_starttls=args.require_starttls,
            credentials=credentials,
            on_message=lambda message: _say(message.summary()),
            keep=False,
            log=sys.stderr,
            log_level=10 if args.debug else 30,
            public=args.public,
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
            _error(f"could not listen on {server.host} port {server.port}: {exc.strerror or exc}")
            return 1
        _say(f"post-office sink listening on {server.describe()}")
        if ca_file is not None:
            _say(f"throwaway certificate (trust it with :ca-file): {ca_file}")
        spec = server.server_spec(ca_file).to_lisp()
        login = f" --login {credentials[0]} --password-env VAR" if credentials else ""
        _say(f"send to it with: {PROG} send '{spec}' FROM TO{login} < message.txt")
        _say("Ctrl-C stops it")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    _say(f"post-office sink stopped after {server.received} message(s)")
    return 0


# --------------------------------------------------------------------------- demo

_DEMO_BODY = """\
Hello from post_office!

This letter went through send_letter, over STARTTLS with a verified certificate and
SMTP AUTH, to the embedded sink on 127.0.0.1. The attachment is a small CSV file.
"""


def _cmd_demo(args: argparse.Namespace) -> int:
    sink = _sink_module()
    from .letter import send_letter

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
            _say("post_office demo: a letter through the embedded SMTP sink, nothing else needed")
            _say()
            _say(f"1. The sink: aiosmtpd on {server.describe()}.")
            _say(
                f"   Its throwaway self-signed certificate, made with {certificate.made_with}: "
                f"{certificate.cert_file}"
            )
            _say()
            _say("2. The mail-server spec (the client verifies the certificate with :ca-file):")
            _say(f"   Lisp:   {spec.to_lisp()}")
            _say(f"   Python: {spec.to_python()}")
            _say()
            _say("3. The call:")
            _say(f"   send_letter(server, {DEMO_FROM!r}, {DEMO_TO!r}, body,")
            _say("               subject='post_office demo', attachments=['report.csv'],")
            _say(f"               login={DEMO_LOGIN!r}, password=<redacted>)")
            transcript = io.StringIO()
            previous = post_office.smtp_debug
            post_office.smtp_debug = transcript
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
                post_office.smtp_debug = previous
            _say("   -> True: the sink accepted the letter")
            _say()
            _say("4. The SMTP transcript (post_office.smtp_debug; credentials redacted):")
            for line in transcript.getvalue().splitlines():
                _say(f"   {line}")
            _say()
            [message] = server.messages
            stored = server.message_file(message)
            _say(f"5. The message as the sink received it and stored it in {stored}")
            _say("   (the demo's files are removed when it ends); the sink's line for it:")
            _say(f"   {message.summary()}")
            _say()
            text = stored.read_text(encoding="utf-8", errors="replace") if stored else ""
            for line in text.splitlines():
                _say(f"   {line}")
    _say()
    _say("Next: run your own sink with `post-office serve --self-signed`, send to it with")
    _say("`post-office send SPEC FROM TO`, and check a real server's spec with")
    _say("`post-office check '(\"mail.corp\" :port 587 :starttls t)'`.")
    return 0


# --------------------------------------------------------------------------- parser


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``post-office`` with all its subcommands."""
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument(
        "--debug", action="store_true", help="show the SMTP transcript on standard error"
    )
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Allegro CL's net.post_office mail API for Python: command line.",
        epilog="example: post-office demo        (mail flows, nothing else needed)\n"
        "exit status: 0 success, 1 SMTP or network failure, 2 usage or argument error",
        formatter_class=_Formatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {post_office.__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "demo",
        parents=[common],
        formatter_class=_Formatter,
        allow_abbrev=False,
        help="send a letter through the embedded sink and show everything (needs the sink extra)",
        description="Start the embedded SMTP sink on a free 127.0.0.1 port with a throwaway "
        "certificate, send a letter with an attachment through send_letter over STARTTLS "
        "with AUTH, and print the server spec, the SMTP transcript and the message as "
        "received.  Needs the sink extra: python -m pip install -e '.[sink]'.",
        epilog="example: post-office demo",
    )
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "serve",
        parents=[common],
        formatter_class=_Formatter,
        allow_abbrev=False,
        help="run the embedded sink: a development catch-all SMTP server",
        description="A development catch-all SMTP server (aiosmtpd): it accepts every "
        "message, stores it (Maildir by default) and prints one line per message.  Ctrl-C "
        "stops it.  It listens on loopback only unless --public is given.  Needs the sink "
        "extra: python -m pip install -e '.[sink]'.",
        epilog="examples:\n"
        "  post-office serve                       # port 8025, Maildir ./maildir\n"
        "  post-office serve --port 0 --self-signed --require-starttls --auth me:secret\n"
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
    p.add_argument("--require-starttls", action="store_true", help="refuse mail before STARTTLS")
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require SMTP AUTH with this login")
    p.add_argument("--public", action="store_true", help="allow a non-loopback --host")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser(
        "send",
        parents=[common],
        formatter_class=_Formatter,
        allow_abbrev=False,
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
    p.add_argument("server", metavar="SERVER", help="the mail-server spec")
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
    _add_login_options(p)
    _add_network_options(p)
    p.set_defaults(func=_cmd_send)

    p = sub.add_parser(
        "check",
        parents=[common],
        formatter_class=_Formatter,
        allow_abbrev=False,
        help="connect and show what a server offers and whether a spec works with it",
        description="Connect as the mail-server spec says (TLS, STARTTLS, verification) and "
        "print what the server offers: EHLO extensions, TLS version, certificate subject, "
        "issuer and expiry, AUTH mechanisms, and whether the spec's certificate check "
        "passes.  No mail is sent.  Exits 1 with the error when the spec would not work.",
        epilog="examples:\n"
        "  post-office check '(\"mail.corp\" :port 587 :starttls t)'\n"
        '  post-office check \'("mail.corp" :ssl t :ca-file "corp-ca.pem")\' --login me',
    )
    p.add_argument("server", metavar="SERVER", help="the mail-server spec")
    _add_login_options(p)
    _add_network_options(p)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "parse",
        parents=[common],
        formatter_class=_Formatter,
        allow_abbrev=False,
        help="show how a mail-server spec is understood",
        description="Show how a mail-server spec (any Allegro form, Lisp text included) is "
        "understood, with its canonical Lisp and Python forms.  Nothing is connected.",
        epilog="example: post-office parse '(\"mail.corp\" :port 587 :starttls t)'",
    )
    p.add_argument("server", help="the mail-server spec, e.g. mail.corp:2525 or a Lisp list")
    p.set_defaults(func=_cmd_parse)
    return parser


# --------------------------------------------------------------------------- main


def _show_warning(
    message: Union[Warning, str],
    category: type,
    filename: str,
    lineno: int,
    file: Optional[TextIO] = None,
    line: Optional[str] = None,
) -> None:
    _say(f"{PROG}: warning: {_one_line(message)}", sys.stderr)


def _error(text: object) -> None:
    _say(f"{PROG}: error: {_one_line(text)}", sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 mail failure, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    previous_debug = post_office.smtp_debug
    if getattr(args, "debug", False):
        post_office.smtp_debug = sys.stderr
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return func(args)
    except ArgumentError as exc:
        _error(exc)
        return 2
    except SinkUnavailableError as exc:
        _error(exc)
        return 2
    except PostOfficeError as exc:
        _error(exc)
        return 1
    except OSError as exc:
        _error(exc)
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    finally:
        post_office.smtp_debug = previous_debug
