"""send_letter's ``(":program", command)`` transport: pipe the letter into a local program.

The letter goes to the program's standard input as a mail program expects it (typically
``sendmail -t -i``, which reads the recipients from the header): ``\\n`` newlines, no
dot-stuffing and no ``.`` line at the end, where Allegro feeds it SMTP's DATA encoding.
The program's stdout and stderr are drained by threads so it can never block on them,
and kept (up to :data:`OUTPUT_LIMIT` bytes each) for the error.

A mail program delivers what it read once its input ends, so the end of input is given
only to a complete letter: when the letter cannot be finished (a message source fails
part-way, the program stalls, the caller is interrupted), the program (with the whole
process group it started, on POSIX) is killed *before* its stdin is closed, then the error
is raised (README "Reliability").  README: "Letters and attachments" and "Differences
from Allegro".
"""

from __future__ import annotations

import array
import contextlib
import os
import select
import signal
import subprocess
import threading
from time import monotonic
from typing import IO, Iterator, Optional

from .._checks import check_timeout
from ..errors import ProgramError
from ..spec.transport import MailProgram
from .mail_programs import LoneDotGuard, LoneDotLine, ends_input_at_a_dot

__all__ = ["OUTPUT_LIMIT", "check_program_timeout", "pipe_to_program"]

#: Most bytes of a program's stdout (and of its stderr) kept for the error message.
OUTPUT_LIMIT = 64 * 1024
_PIPE_CHUNK = 1 << 16
#: Seconds between two looks at the feeder: how soon Ctrl-C is acted on.
_POLL = 0.05


def check_program_timeout(timeout: object) -> float:
    """send_letter's ``timeout`` for a program: seconds it may go without reading or
    exiting (there is no 'wait forever'); :class:`~post_office.OptionError` otherwise."""
    return check_timeout(timeout, "a program that never reads")


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
    """Write the letter into the program's stdin (a pipe's write end); ``written`` counts
    the bytes that entered the pipe.

    Only a letter written whole is ended (the pipe closed: the program's EOF).  On a
    failure the pipe is left open for :func:`pipe_to_program` to close once the program
    is dead.  The parent keeps the pipe's read end (to count what the program never
    read), so a program that exits does not break the pipe: :attr:`stop` tells the
    feeder to give up, and on POSIX it writes without blocking so that it sees it.
    :attr:`finished` is set when the feeder is done, whatever happened: waiting on it
    never depends on ``Thread.join``/``is_alive``, which an interrupted ``join`` can
    leave claiming a running thread has stopped (CPython 3.11, bpo-45274's fix).
    """

    def __init__(self, fd: int, chunks: Iterator[bytes], guard: Optional[LoneDotGuard]) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.chunks = chunks
        self.guard = guard
        self.written = 0
        self.ended = False  # the whole letter was written and the pipe closed
        self.error: Optional[BaseException] = None
        self.stop = threading.Event()
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self._feed()
        finally:
            self.finished.set()

    def _feed(self) -> None:
        try:
            for chunk in self.chunks:
                if self.guard is not None:
                    self.guard.check(chunk)  # before a byte of this chunk is written
                if not self._write(memoryview(chunk)):
                    return  # the program stopped reading: its exit and what it read decide
            if self.guard is not None:
                self.guard.finish()
        except BaseException as exc:  # handed to the caller's thread; stdin stays open
            self.error = exc
            return
        os.close(self.fd)  # the whole letter: now the program may see EOF
        self.ended = True

    def _write(self, view: memoryview) -> bool:
        while view:
            if self.stop.is_set():
                return False
            try:
                count = os.write(self.fd, view)
            except BlockingIOError:  # the pipe is full: wait a little for the reader
                select.select([], [self.fd], [], _POLL)
                continue
            except BrokenPipeError:
                return False
            view = view[count:]
            self.written += count
        return True


def _unread(fd: int) -> int:
    """Bytes in the pipe that the program never read (``FIONREAD``).  Where the call is
    missing (not POSIX), 0: a program that stops reading is then seen only when it stops
    before the letter was written whole."""
    try:
        import fcntl
        import termios
    except ImportError:
        return 0
    count = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.FIONREAD, count)
    except OSError:
        return 0
    return count[0]


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the program and, on POSIX, every process of the group it leads (a shell
    command's children read the same stdin and would see EOF when it is closed)."""
    if os.name == "posix":
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()


def pipe_to_program(program: MailProgram, chunks: Iterator[bytes], timeout: float) -> None:
    """Pipe the letter (``\\n`` newlines, no dot-stuffing) into ``program``'s stdin.

    A string command runs through the shell (as Allegro's ``command-output`` does), a
    sequence as argv.  A non-zero exit raises :class:`~post_office.ProgramError` with the
    status, stdout and stderr; so does an exit, even with status 0, before the program
    read the whole letter (its ``read`` and ``letter`` say how much).  When the program
    neither reads nor exits for ``timeout`` seconds it is killed and the same error is
    raised.  When the letter cannot be finished (``chunks`` raises, the caller is
    interrupted, or a ``sendmail`` without ``-i`` would meet a lone ``.`` line), the
    program is killed before its stdin is closed, so that it never sees the end of a
    partial letter, and the error is raised.
    """
    command = program.command
    dot_program = ends_input_at_a_dot(command)
    guard = LoneDotGuard() if dot_program is not None else None
    read_end, write_end = os.pipe()  # both non-inheritable; the child gets read_end as 0
    try:
        process = subprocess.Popen(
            command if isinstance(command, str) else list(command),
            shell=isinstance(command, str),
            stdin=read_end,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # its own process group, so that _kill reaches a shell command's children
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        raise ProgramError(127, command, b"", str(exc).encode()) from exc
    assert process.stdout is not None and process.stderr is not None
    if os.name == "posix":
        os.set_blocking(write_end, False)  # the feeder must notice a program that exited
    else:  # no FIONREAD to count unread bytes: let an exit break the pipe, as before
        os.close(read_end)
        read_end = -1
    out, err = _Capture(process.stdout), _Capture(process.stderr)
    feeder = _Feeder(write_end, chunks, guard)
    timed_out = False
    unread = 0
    try:
        for thread in (out, err, feeder):
            thread.start()
        last, progress_at = -1, monotonic()
        # Short waits: a lock's wait is not interrupted by a signal on every platform, and
        # Ctrl-C must kill the program at once, before the feeder can end the letter.
        while not feeder.finished.wait(_POLL):
            if process.poll() is not None:
                feeder.stop.set()  # it exited before the end of the letter: stop writing
            elif feeder.written != last:
                last, progress_at = feeder.written, monotonic()
            elif monotonic() - progress_at >= timeout:
                timed_out = True
                break
        if not timed_out and feeder.error is None:  # after an error: no wait, the kill
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
        if not timed_out and feeder.error is None and read_end >= 0:
            unread = _unread(read_end)  # the program is gone: nothing reads any more
    finally:
        if timed_out or feeder.error is not None or not feeder.finished.is_set():
            _kill(process)  # before stdin is closed: a partial letter never sees EOF
        process.wait()
        started = [thread for thread in (out, err, feeder) if thread.ident is not None]
        if feeder in started:
            feeder.stop.set()
            feeder.finished.wait()  # its next write, if any, meets a dead program
        if not feeder.ended:
            with contextlib.suppress(OSError):
                os.close(write_end)  # after a failure the feeder left it open
        if read_end >= 0:
            os.close(read_end)
        for thread in started:
            if thread is not feeder:
                thread.join()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # a generator: let it close the caller's streams it holds
    if isinstance(feeder.error, LoneDotLine):
        raise ProgramError(
            process.returncode,
            command,
            bytes(out.data),
            bytes(err.data),
            lone_dot_line=feeder.error.line,
            program=dot_program,
        ) from None
    if feeder.error is not None:
        raise feeder.error
    cut_short = not feeder.ended or unread > 0
    if timed_out or process.returncode != 0 or cut_short:
        raise ProgramError(
            process.returncode,
            command,
            bytes(out.data),
            bytes(err.data),
            timeout=timeout if timed_out else None,
            read=feeder.written - unread if cut_short and not timed_out else None,
            letter=feeder.written,
            letter_complete=feeder.ended,
        )
