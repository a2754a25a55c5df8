"""The command line as the tests drive it: in-process runs (the ``cli`` fixture),
subprocesses with a clean environment, and a shared ``serve`` process (the ``sink`` fixture)."""

from __future__ import annotations

import email
import email.policy
import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import pytest

from post_office.cli import main

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "python -m pip install -e '.[sink]'"
USER = "user"
PASSWORD = "pässwörd-ü"
#: Seconds any CLI run may take before the test fails (a bound, not a measurement).
LIMIT = 60.0

# Runs the command line with aiosmtpd (and, optionally, more modules) impossible to import,
# as on a machine without the sink extra.
BLOCKER = (
    "import runpy, sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    sys.modules[name] = None\n"
    "sys.argv = ['post_office', *sys.argv[2:]]\n"
    "runpy.run_module('post_office', run_name='__main__', alter_sys=True)\n"
)


def cli_env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PW", None)
    env.update(extra)
    return env


def run(
    *args: str,
    input: Optional[bytes] = None,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[Path] = None,
    **popen: object,
) -> subprocess.CompletedProcess[str]:
    """``python -m post_office ARGS``; stdout and stderr as text."""
    result = subprocess.run(
        [sys.executable, "-m", "post_office", *args],
        input=input,
        capture_output=True,
        env=env or cli_env(),
        cwd=cwd or ROOT,
        timeout=LIMIT,
        check=False,
        **popen,  # type: ignore[call-overload]
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


Cli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``main(ARGS)`` in this process: ``cli(*args, input=b"", env={}, cwd=path)`` returns a
    CompletedProcess with the exit status and what was written to stdout and stderr."""

    def call(
        *args: str,
        input: bytes = b"",
        env: Optional[Dict[str, str]] = None,
        cwd: Optional[Path] = None,
    ) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()  # drop what earlier calls left
        with monkeypatch.context() as patch:
            patch.delenv("PW", raising=False)
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(input), encoding="utf-8"))
            if cwd is not None:
                patch.chdir(cwd)
            status = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["post-office", *args], status, out, err)

    return call


def assert_clean_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    """The run failed with ``status`` and one ``post-office: error:`` line, no traceback."""
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


# --------------------------------------------------------------------------- serve


class Serve:
    """A ``post-office serve`` subprocess; its output lines arrive in :attr:`lines`."""

    def __init__(self, args: Sequence[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "post_office", "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
            cwd=cwd,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: List[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._pump, args=(self.process.stdout,), daemon=True).start()
        self._stderr_reader = threading.Thread(
            target=lambda: self.stderr.extend(self.process.stderr),  # type: ignore[arg-type]
            daemon=True,
        )
        self._stderr_reader.start()
        self.banner = self.read_until("Ctrl-C stops it")
        text = "\n".join(self.banner)
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
        assert match, text
        self.port = int(match.group(1))
        ca = re.search(r"trust it with :ca-file\): (.+)", text)
        self.ca_file = ca.group(1).strip() if ca else None

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(line.rstrip("\n"))
        self.lines.put("")  # end of output

    def read_until(self, marker: str) -> List[str]:
        """Lines up to and including the first one containing ``marker``."""
        seen: List[str] = []
        while True:
            try:
                line = self.lines.get(timeout=LIMIT)
            except queue.Empty:
                pytest.fail(f"serve said no {marker!r}; so far {seen}; stderr {self.stderr}")
            if line == "" and self.process.poll() is not None:
                self._stderr_reader.join(LIMIT)
                pytest.fail(f"serve ended before {marker!r}: {seen}; stderr {self.stderr}")
            seen.append(line)
            if marker in line:
                return seen

    def spec(self, **keywords: str) -> str:
        extra = "".join(f" :{key.replace('_', '-')} {value}" for key, value in keywords.items())
        return (
            f'("127.0.0.1" :port {self.port} :starttls :required :ca-file "{self.ca_file}"{extra})'
        )

    def interrupt(self) -> str:
        """Ctrl-C; returns the rest of the output.  The process must end by itself."""
        self.process.send_signal(signal.SIGINT)
        rest = self.read_until("stopped")
        self.process.wait(LIMIT)
        self._stderr_reader.join(LIMIT)
        return "\n".join(rest)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(LIMIT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """serve --self-signed --require-starttls --auth user:pässwörd-ü, Maildir in a tmp dir."""
    directory = tmp_path_factory.mktemp("sink")
    server = Serve(
        ["--self-signed", "--require-starttls", "--auth", f"{USER}:{PASSWORD}", "--maildir",
         str(directory / "maildir")],
        directory,
    )  # fmt: skip
    try:
        yield server
        output = server.interrupt()
        assert server.process.returncode == 0, (output, server.stderr)
    finally:
        server.kill()


@dataclass
class Stored:
    summary: str
    message: email.message.EmailMessage
    raw: bytes


def received(sink: Serve) -> Stored:
    """The server's line for the message just sent, and the message from its Maildir."""
    [summary] = sink.read_until(" bytes, subject ")
    maildir = Path(sink.banner[0].split("storing in Maildir ", 1)[1])
    newest = max((maildir / "new").iterdir(), key=lambda path: path.stat().st_mtime_ns)
    raw = newest.read_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return Stored(summary, parsed, raw)


def password_env() -> Dict[str, str]:
    return cli_env(PW=PASSWORD)
