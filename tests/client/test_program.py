"""The ``(":program", command)`` transport (README "Letters and attachments"): send_letter pipes
the letter into a real local program (a Python one-liner), which writes what it read to a file."""

from __future__ import annotations

import email
import email.message
import email.policy
import io
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from post_office import OptionError, ProgramError, send_letter
from post_office.client.program import check_program_timeout, pipe_to_program
from post_office.spec.transport import MailProgram

FROM = "me@example.test"
TO = "you@example.test"


def parse(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def payload(message: email.message.Message) -> bytes:
    data = message.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


WRITE_STDIN = "import sys; open(sys.argv[1], 'wb').write(sys.stdin.buffer.read())"


def test_program_transport_with_argv_list(tmp_path: Path) -> None:
    out = tmp_path / "letter.eml"
    attachment = tmp_path / "a.bin"
    attachment.write_bytes(os.urandom(3000))
    result = send_letter(
        (":program", [sys.executable, "-c", WRITE_STDIN, str(out)]),
        FROM,
        TO,
        "Line one\n.dotted line\n",
        subject="via program",
        attachments=attachment,
    )
    assert result is True
    data = out.read_bytes()
    assert b"\r" not in data  # native newlines, no SMTP encoding
    assert b"\n.dotted line\n" in data  # no dot-stuffing, no terminator
    assert not data.endswith(b".\n")
    message = parse(data)
    assert message["Subject"] == "via program"
    text, binary = message.iter_parts()
    assert payload(text) == b"Line one\n.dotted line\n"
    assert payload(binary) == attachment.read_bytes()


def test_program_transport_with_shell_command_and_lisp_text(tmp_path: Path) -> None:
    out = tmp_path / "letter.eml"
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(WRITE_STDIN)} {shlex.quote(str(out))}"
    send_letter((":program", command), FROM, TO, "shell\n")
    assert parse(out.read_bytes()).get_content() == "shell\n"
    out.unlink()
    # Allegro's (:program . "command line") runs the shell ...
    lisp = f"(:program . {json_string(command)})"
    send_letter(lisp, FROM, TO, "lisp\n")
    assert parse(out.read_bytes()).get_content() == "lisp\n"
    out.unlink()
    # ... and (:program "program" "arg" ...) an argv, with no shell
    argv = [sys.executable, "-c", WRITE_STDIN, str(out)]
    lisp = "(:program " + " ".join(json_string(arg) for arg in argv) + ")"
    send_letter(lisp, FROM, TO, "argv\n")
    assert parse(out.read_bytes()).get_content() == "argv\n"
    out.unlink()
    send_letter((":program", *argv), FROM, TO, "tuple\n")
    assert parse(out.read_bytes()).get_content() == "tuple\n"


def json_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_program_failure_raises_with_status_stdout_and_stderr() -> None:
    script = (
        "import sys; sys.stdin.buffer.read(); print('queued nothing'); "
        "print('no such user', file=sys.stderr); sys.exit(3)"
    )
    with pytest.raises(ProgramError) as caught:
        send_letter((":program", [sys.executable, "-c", script]), FROM, TO, "x")
    error = caught.value
    assert error.returncode == 3
    assert b"queued nothing" in error.output
    assert b"no such user" in error.stderr
    assert "status 3" in str(error) and "no such user" in str(error)


def test_program_that_does_not_exist() -> None:
    with pytest.raises(ProgramError) as caught:
        send_letter((":program", ["/nonexistent/sendmail", "-t"]), FROM, TO, "x")
    assert caught.value.returncode == 127


def test_program_that_reads_nothing_and_never_exits_is_killed() -> None:
    script = "import time; time.sleep(60)"
    started = time.monotonic()
    with pytest.raises(ProgramError) as caught:
        send_letter(
            (":program", [sys.executable, "-c", script]),
            FROM,
            TO,
            "x" * 1_000_000,  # more than a pipe holds: the writer blocks
            timeout=0.5,
        )
    assert time.monotonic() - started < 0.5 * 3 + 5
    assert caught.value.timeout == 0.5
    assert "killed" in str(caught.value)


def test_program_that_exits_early_with_success_is_not_success() -> None:
    # It read 10 bytes and exited 0: the letter was not delivered whole (README
    # "Reliability"); tests/client/test_program_truncation.py has the rest.
    script = "import sys; sys.stdin.buffer.read(10)"
    with pytest.raises(ProgramError) as caught:
        send_letter((":program", [sys.executable, "-c", script]), FROM, TO, "y" * 500_000)
    assert caught.value.returncode == 0 and caught.value.read is not None
    assert caught.value.read < 500_000 and "did not read the whole letter" in str(caught.value)


def test_bcc_with_program_warns(tmp_path: Path) -> None:
    out = tmp_path / "letter.eml"
    with pytest.warns(UserWarning, match="bcc"):
        send_letter(
            (":program", [sys.executable, "-c", WRITE_STDIN, str(out)]),
            FROM,
            TO,
            "x",
            bcc="hidden@example.test",
        )
    assert b"hidden" not in out.read_bytes()


def test_pipe_to_program_takes_chunks_as_they_are(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    chunks = (piece for piece in [b"a\r\n", b".b\n", b""])
    pipe_to_program(MailProgram((sys.executable, "-c", WRITE_STDIN, str(out))), chunks, 10)
    assert out.read_bytes() == b"a\r\n.b\n"
    assert chunks.gi_frame is None  # the generator was closed


@pytest.mark.parametrize("timeout", [0, -1, True, "5", None, float("nan")])
def test_program_timeout_must_be_a_positive_number(timeout: object) -> None:
    with pytest.raises(OptionError, match="a program that never reads"):
        check_program_timeout(timeout)
    with pytest.raises(OptionError, match="a program that never reads"):
        send_letter((":program", "true"), FROM, TO, "x", timeout=timeout)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- no partial letters
# Issue 14 item 3: a mail program that sees EOF delivers what it read.  When the letter
# cannot be finished, the program must be killed before its stdin is closed.

#: A fake mail program: reads stdin to EOF, and only then writes what it read to argv[1]
#: (as ``sendmail -t -i`` queues the letter only at EOF).
AT_EOF = "import sys\ndata = sys.stdin.buffer.read()\nopen(sys.argv[1], 'wb').write(data)\n"
#: How much of the attachment is read before its stream fails.
FAIL_AFTER = 192 * 1024


class FailingStream:
    """A binary attachment stream that raises part-way, as a file on a dying disk."""

    def __init__(self, limit: int = FAIL_AFTER) -> None:
        self.limit = limit
        self.given = 0

    def read(self, size: int = -1) -> bytes:
        if self.given >= self.limit:
            raise OSError("the attachment's disk went away")
        size = self.limit - self.given if size is None or size < 0 else size
        piece = min(size, self.limit - self.given)
        self.given += piece
        return b"\xa5" * piece


def _no_letter_appears(path: Path, wait: float = 1.0) -> None:
    """``path`` does not appear within ``wait`` seconds (a survivor that got EOF would
    write it within milliseconds)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        assert not path.exists(), f"the program saw EOF and delivered {path.stat().st_size} bytes"
        time.sleep(0.05)


def _fake_program(out: Path) -> List[str]:
    return [sys.executable, "-c", AT_EOF, str(out)]


def test_a_source_failing_part_way_never_lets_the_program_see_eof(tmp_path: Path) -> None:
    out = tmp_path / "letter.eml"
    stream = FailingStream()
    with pytest.raises(OSError, match="disk went away"):
        send_letter(
            (":program", _fake_program(out)),
            FROM,
            TO,
            "the body\n",
            subject="partial",
            attachments=stream,
        )
    assert stream.given == FAIL_AFTER  # the failure came part-way, after data was piped
    _no_letter_appears(out)


def test_a_shell_command_and_its_children_are_killed_too(tmp_path: Path) -> None:
    # "; true" makes the shell fork the program instead of exec'ing it: killing only the
    # shell would leave the program reading a pipe that then reaches EOF.
    out = tmp_path / "letter.eml"
    command = " ".join(shlex.quote(word) for word in _fake_program(out)) + "; true"
    with pytest.raises(OSError, match="disk went away"):
        send_letter((":program", command), FROM, TO, "body\n", attachments=FailingStream())
    _no_letter_appears(out)


def test_pipe_to_program_kills_before_closing_on_a_failing_chunk_source(tmp_path: Path) -> None:
    out = tmp_path / "raw"

    def chunks() -> Iterator[bytes]:
        yield b"Subject: half\n\n" + b"x" * 100_000
        raise ValueError("the source broke")

    with pytest.raises(ValueError, match="the source broke"):
        pipe_to_program(MailProgram(tuple(_fake_program(out))), chunks(), 10)
    _no_letter_appears(out)


def test_a_complete_letter_still_reaches_the_program_at_eof(tmp_path: Path) -> None:
    out = tmp_path / "letter.eml"
    send_letter(
        (":program", _fake_program(out)),
        FROM,
        TO,
        "whole\n",
        attachments=io.BytesIO(b"\xa5" * FAIL_AFTER),
    )
    message = parse(out.read_bytes())
    _, attachment = message.iter_parts()
    assert payload(attachment) == b"\xa5" * FAIL_AFTER
