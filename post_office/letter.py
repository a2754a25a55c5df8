"""send-letter: headers, attachments and the ``(":program", ...)`` transport (SPEC section 6).

:func:`send_letter` turns Allegro's keyword arguments into a header block and a MIME
part, checks everything, and only then either talks SMTP through one
:class:`~post_office.smtp.Session` (exactly as ``send_smtp_auth`` does, so TLS, AUTH and
the transcript behave the same) or pipes the letter to a local program.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import warnings
from dataclasses import dataclass
from typing import IO, Any, Generator, Iterator, List, Optional, Sequence, Tuple, Union, cast

from .addresses import check_address, check_recipients
from .delivery import Envelope, deliver
from .errors import AddressError, MessageArgumentError, MimeError, OptionError, ProgramError
from .headers import (
    check_header_value,
    check_raw_header_lines,
    fold_address_list,
    format_header,
    make_date,
    make_message_id,
    raw_header_names,
)
from .mime import MimePart, append_subparts, make_mime_part
from .options import OAuth2Token, check_credentials
from .session import Session, default_local_hostname
from .spec import MailProgram, MailServer, parse_transport

__all__ = ["Letter", "prepare_letter", "send_letter"]

#: Most bytes of a program's stdout (and of its stderr) kept for the error message.
OUTPUT_LIMIT = 64 * 1024
_PIPE_CHUNK = 1 << 16

Attachment = Union[str, "os.PathLike[str]", IO[Any], MimePart]


def _recipients(value: object, argument: str, *, required: bool) -> List[str]:
    """send-letter's ``to``/``cc``/``bcc``: a str or a list of str (None: none)."""
    if value is None and not required:
        return []
    if isinstance(value, (list, tuple)) and not value and not required:
        return []
    if not isinstance(value, (str, list, tuple)):
        raise AddressError(
            f"{argument}: expected a string or a list of strings, got "
            f"{type(value).__name__} {value!r:.80}"
        )
    return check_recipients(value, argument)


def _is_stream(obj: object) -> bool:
    return not isinstance(obj, type) and callable(getattr(obj, "read", None))


def _message_part(message: object) -> MimePart:
    """send-letter's ``message``: str -> text part, stream -> file part, MimePart as is."""
    if isinstance(message, MimePart):
        return message
    if isinstance(message, str):
        return make_mime_part(text=message)
    if _is_stream(message):
        return make_mime_part(file=cast(Any, message))
    raise MessageArgumentError(
        f"message: expected a str, a readable stream or a MimePart made by make_mime_part, "
        f"got {type(message).__name__} {message!r:.80}"
    )


def _attachment_parts(attachments: object) -> List[MimePart]:
    """send-letter's ``attachments``: one or a list of file names, paths, streams, parts."""
    if attachments is None:
        return []
    items: Sequence[object]
    if isinstance(attachments, (list, tuple)):
        items, names = attachments, [f"attachments[{i}]" for i in range(len(attachments))]
    else:
        items, names = [attachments], ["attachments"]
    parts = []
    for item, argument in zip(items, names):
        if isinstance(item, MimePart):
            parts.append(item)
        elif isinstance(item, (str, os.PathLike)) or _is_stream(item):
            try:
                parts.append(make_mime_part(file=cast(Any, item)))
            except MimeError as exc:
                raise MimeError(f"{argument}: {exc}") from exc
        else:
            raise MessageArgumentError(
                f"{argument}: expected a file name, a path, a readable stream or a MimePart, "
                f"got {type(item).__name__} {item!r:.80} (a str attachment is a file name)"
            )
    return parts


def _domain(from_: str) -> str:
    """The domain for a Message-ID: the sender's, else this host's name (looked up once)."""
    _, at, domain = from_.rpartition("@")
    if at and domain.isascii() and domain and "[" not in domain:
        return domain
    return default_local_hostname() or "localhost"


def letter_header(
    from_: str,
    to: Sequence[str],
    cc: Sequence[str],
    message: MimePart,
    *,
    subject: Optional[str],
    reply_to: Optional[str],
    raw_headers: Sequence[str],
) -> bytes:
    """The header block send-letter writes before the MIME part ``message``.

    From, To, Cc, Subject, Reply-To are written unless the part already has them; then
    Date and Message-ID unless the part or a raw header line has them; then the raw lines.
    """
    have = {name.lower() for name, _ in message.headers}
    raw_names = set(raw_header_names(raw_headers))
    lines: List[str] = []
    if from_ and "from" not in have:
        lines.append(f"From: {from_}\n")
    if "to" not in have:
        lines.append(f"To: {fold_address_list(to)}\n")
    if cc and "cc" not in have:
        lines.append(f"Cc: {fold_address_list(cc)}\n")
    if subject is not None and "subject" not in have:
        lines.append(format_header("Subject", subject))
    if reply_to is not None and "reply-to" not in have:
        lines.append(f"Reply-To: {reply_to}\n")
    if "date" not in have and "date" not in raw_names:
        lines.append(f"Date: {make_date()}\n")
    if "message-id" not in have and "message-id" not in raw_names:
        lines.append(f"Message-ID: {make_message_id(_domain(from_))}\n")
    lines.extend(line + "\n" for line in raw_headers)
    return "".join(lines).encode("utf-8")


def send_letter(
    server: object,
    from_: str,
    to: Union[str, Sequence[str]],
    message: Union[str, IO[Any], MimePart],
    *,
    cc: Union[str, Sequence[str], None] = None,
    bcc: Union[str, Sequence[str], None] = None,
    subject: Optional[str] = None,
    reply_to: Optional[str] = None,
    headers: Union[str, Sequence[str], None] = None,
    login: Optional[str] = None,
    password: Union[str, OAuth2Token, None] = None,
    attachments: Union[Attachment, Sequence[Attachment], None] = None,
    timeout: float = 60,
    local_hostname: Optional[str] = None,
    source_address: Optional[Tuple[str, int]] = None,
) -> bool:
    """Build a letter's header and send it (Allegro's ``send-letter``, SPEC section 6).

    :param server: Allegro's ``server``: any mail-server form of ``send_smtp``, or
        ``(":program", "sendmail -t -i")`` / ``(":program", ["sendmail", "-t"])`` to pipe
        the letter to a local program (a string runs through the shell).
    :param from_: Allegro's ``from``: the bare sender address, also the ``From:`` header.
    :param to: Allegro's ``to``: a bare address or a list of them (``To:`` header).
    :param message: Allegro's ``message``: a str (a text/plain part), a readable stream
        (a file part, an attachment as in Allegro) or a MimePart (sent as it is).
    :param cc: Allegro's ``:cc``, addresses for the ``Cc:`` header and the envelope.
    :param bcc: Allegro's ``:bcc``: envelope only, never in a header.
    :param subject: Allegro's ``:subject`` (RFC 2047 encoded when not ASCII).
    :param reply_to: Allegro's ``:reply-to``, the ``Reply-To:`` value.
    :param headers: Allegro's ``:headers``: a raw header line or a list of them, written
        after the ones built here.
    :param login: Allegro's ``:login``; with ``password``, authenticate as send_smtp_auth.
    :param password: Allegro's ``:password`` (or an :class:`~post_office.OAuth2Token`).
    :param attachments: Allegro's ``:attachments``: a file name, :class:`os.PathLike`,
        stream or MimePart, or a list of them; the message is wrapped in
        ``multipart/mixed`` and they follow it in the order given.
    :param timeout: seconds per socket operation (for ``:program``: seconds the program
        may go without reading or exiting).  Python only, like the two below.
    :param local_hostname: the EHLO name.
    :param source_address: ``(host, port)`` to bind the socket to.

    A header already in a MIME ``message`` wins over the one built here; ``Date:`` and
    ``Message-ID:`` are added when absent.  Everything is checked before a connection is
    opened or a program started.  Returns True (Allegro returns ``t``).
    """
    letter = prepare_letter(
        server,
        from_,
        to,
        message,
        cc=cc,
        bcc=bcc,
        subject=subject,
        reply_to=reply_to,
        headers=headers,
        login=login,
        password=password,
        attachments=attachments,
        timeout=timeout,
        local_hostname=local_hostname,
        source_address=source_address,
    )
    if letter.session is None:
        assert isinstance(letter.transport, MailProgram)
        if letter.bcc:
            warnings.warn(
                "bcc recipients are not written into the letter (never in a header), so "
                "the :program transport cannot deliver to them; pass them to the program",
                UserWarning,
                stacklevel=2,
            )
        _pipe_to_program(letter.transport, letter.chunks(), letter.timeout)
        return True
    deliver(
        letter.session.server,
        Envelope(letter.sender, letter.recipients),
        [letter.header, letter.part],
        letter.session.options,
        letter.credentials,
    )
    return True


@dataclass(frozen=True)
class LetterContent:
    """A letter as send_letter builds it, whatever carries it (SMTP or a program)."""

    sender: str
    recipients: Tuple[str, ...]
    """RCPT order: all To, then Cc, then Bcc."""
    bcc: Tuple[str, ...]
    header: bytes
    """The header lines send_letter writes before the MIME part."""
    part: MimePart

    def chunks(self) -> Generator[bytes, None, None]:
        """The whole letter, ``\n`` newlines, generated lazily (as a program receives it)."""
        yield self.header
        yield from self.part.__post_office_chunks__()


@dataclass(frozen=True)
class Letter(LetterContent):
    """Everything send_letter checked and built, before anything is sent."""

    transport: Union[MailServer, MailProgram]
    session: Optional[Session]
    """The prepared (unopened) SMTP session; None for the :program transport."""
    credentials: Optional[Tuple[str, Union[str, OAuth2Token]]]
    timeout: float


def build_letter(
    from_: object,
    to: object,
    message: object,
    *,
    cc: object = None,
    bcc: object = None,
    subject: object = None,
    reply_to: object = None,
    headers: object = None,
    attachments: object = None,
) -> LetterContent:
    """Check send_letter's letter arguments and build the letter (SPEC section 6).

    Needs no server: :func:`prepare_letter` adds the transport, and an ``smtp_session``
    sends the result over its own connection.
    """
    sender = check_address(from_, "from_", allow_empty=True)
    tos = _recipients(to, "to", required=True)
    ccs = _recipients(cc, "cc", required=False)
    bccs = _recipients(bcc, "bcc", required=False)
    checked_subject = None if subject is None else check_header_value(subject, "subject")
    checked_reply_to = None if reply_to is None else check_header_value(reply_to, "reply_to")
    raw_headers = check_raw_header_lines(headers, "headers")
    part = _message_part(message)
    extra = _attachment_parts(attachments)
    if extra:
        if isinstance(message, MimePart):
            if (part.type.lower(), part.subtype.lower()) != ("multipart", "mixed"):
                raise MimeError(
                    "attachments are not allowed for non-multipart/mixed messages (the "
                    f"message is {part.content_type}); make it with "
                    "make_mime_part(subparts=[...]) or pass a str or stream"
                )
            part = append_subparts(part, extra)  # a copy: the caller's part is unchanged
        else:
            part = make_mime_part(subparts=[part, *extra])
    header = letter_header(
        sender,
        tos,
        ccs,
        part,
        subject=checked_subject,
        reply_to=checked_reply_to,
        raw_headers=raw_headers,
    )
    return LetterContent(
        sender=sender, recipients=(*tos, *ccs, *bccs), bcc=tuple(bccs), header=header, part=part
    )


def prepare_letter(
    server: object,
    from_: object,
    to: object,
    message: object,
    *,
    cc: object = None,
    bcc: object = None,
    subject: object = None,
    reply_to: object = None,
    headers: object = None,
    login: object = None,
    password: object = None,
    attachments: object = None,
    timeout: object = 60,
    local_hostname: object = None,
    source_address: object = None,
) -> Letter:
    """send_letter's checks and building, without sending: every argument is checked
    here (SPEC section 6) and a :class:`Letter` returned.  Also for tests."""
    transport = parse_transport(server)
    session: Optional[Session] = None
    if isinstance(transport, MailServer):
        session = Session.prepare(
            transport,
            timeout=timeout,
            local_hostname=local_hostname,
            source_address=source_address,
        )
        checked_timeout = session.options.timeout
    else:
        checked_timeout = _check_program_timeout(timeout)
    credentials: Optional[Tuple[str, Union[str, OAuth2Token]]] = None
    if login is not None or password is not None:
        if login is None or password is None:
            missing = "password" if password is None else "login"
            raise OptionError(f"login and password go together: {missing} is missing")
        credentials = check_credentials(login, password)
    content = build_letter(
        from_,
        to,
        message,
        cc=cc,
        bcc=bcc,
        subject=subject,
        reply_to=reply_to,
        headers=headers,
        attachments=attachments,
    )
    return Letter(
        sender=content.sender,
        recipients=content.recipients,
        bcc=content.bcc,
        header=content.header,
        part=content.part,
        transport=transport,
        session=session,
        credentials=credentials,
        timeout=checked_timeout,
    )


# --------------------------------------------------------------------------- :program


def _check_program_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise OptionError(
            f"timeout {timeout!r} is not a positive number of seconds (a program that never "
            "reads must not hang the caller, so there is no 'wait forever')"
        )
    return float(timeout)


class _Capture(threading.Thread):
    """Drain one of the program's output pipes, keeping the first OUTPUT_LIMIT bytes."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.data = bytearray()

    def run(self) -> None:
        with self.pipe:
            for block in iter(lambda: self.pipe.read(_PIPE_CHUNK), b""):
                room = OUTPUT_LIMIT - len(self.data)
                if room > 0:
                    self.data += block[:room]


class _Feeder(threading.Thread):
    """Write the letter into the program's stdin; ``written`` counts progress."""

    def __init__(self, stdin: IO[bytes], chunks: Iterator[bytes]) -> None:
        super().__init__(daemon=True)
        self.stdin = stdin
        self.chunks = chunks
        self.written = 0
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                self.stdin.write(chunk)
                self.written += len(chunk)
        except BrokenPipeError:
            pass  # the program stopped reading; its exit status decides
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
        finally:
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()


def _pipe_to_program(
    program: MailProgram, chunks: Generator[bytes, None, None], timeout: float
) -> None:
    """Pipe the letter (``\\n`` newlines, no dot-stuffing) into ``program``'s stdin.

    A string command runs through the shell (as Allegro's ``command-output`` does), a
    sequence as argv.  A non-zero exit raises :class:`~post_office.ProgramError` with the
    status, stdout and stderr.  When the program neither reads nor exits for ``timeout``
    seconds it is killed and the same error is raised.
    """
    command = program.command
    try:
        process = subprocess.Popen(
            command if isinstance(command, str) else list(command),
            shell=isinstance(command, str),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise ProgramError(127, command, b"", str(exc).encode()) from exc
    assert process.stdin is not None and process.stdout is not None
    assert process.stderr is not None
    out, err = _Capture(process.stdout), _Capture(process.stderr)
    feeder = _Feeder(process.stdin, chunks)
    timed_out = False
    try:
        for thread in (out, err, feeder):
            thread.start()
        last = -1
        while feeder.is_alive():
            feeder.join(timeout)
            if feeder.is_alive() and feeder.written == last:
                timed_out = True
                break
            last = feeder.written
        if not timed_out:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if timed_out or feeder.error is not None or feeder.is_alive():
            process.kill()
        process.wait()
        feeder.join()
        out.join()
        err.join()
        chunks.close()
    if feeder.error is not None:
        raise feeder.error
    if timed_out or process.returncode != 0:
        raise ProgramError(
            process.returncode,
            command,
            bytes(out.data),
            bytes(err.data),
            timeout=timeout if timed_out else None,
        )
