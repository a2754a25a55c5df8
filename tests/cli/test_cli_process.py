"""``post-office`` as a process (issue 15, items 6 and "Big bodies"): Ctrl-C, a closed
output pipe, a terminal's progress line, and a big body streamed in constant memory."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Dict, List

import pytest
from support.terminal import run_on_terminal

from post_office.cli import main

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60.0


def env_with_tree() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def command(*args: str) -> List[str]:
    return [sys.executable, "-m", "post_office", *args]


def big_text_body(path: Path, megabytes: int) -> Path:
    line = ("All work and no play makes Jack a dull boy. ü " * 2 + "\n").encode("utf-8")
    with open(path, "wb") as file:
        for _ in range(megabytes * 1024 * 1024 // len(line) + 1):
            file.write(line)
    return path


def test_ctrl_c_while_waiting_for_a_reply_exits_130_with_one_line() -> None:
    with socket.socket() as silent:  # accepts, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        process = subprocess.Popen(
            command("send", f"127.0.0.1:{silent.getsockname()[1]}", "a@x.org", "b@x.org",
                    "--allow-empty"),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env_with_tree(), cwd=ROOT,
        )  # fmt: skip
        try:
            silent.settimeout(LIMIT)
            connection, _ = silent.accept()  # it is waiting for the greeting now
            with connection:
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=LIMIT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130
    assert err.decode() == "post-office: interrupted\n"
    assert out == b""


@pytest.mark.parametrize(
    "args",
    [
        ["parse", '("127.0.0.1" :port 587 :starttls t)'],
        ["send", '(:program "cat")', "a@example.org", "b@example.org", "--allow-empty"],
        ["--help"],
    ],
)
def test_output_into_a_closed_pipe_ends_quietly(args: List[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `post-office ... | head -0`: nobody reads
    try:
        result = subprocess.run(
            command(*args), stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE,
            env=env_with_tree(), cwd=ROOT, timeout=LIMIT, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""


def test_a_big_body_is_streamed_not_read_whole(
    smtp_subprocess: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = big_text_body(tmp_path / "body.txt", 8)
    port = smtp_subprocess.port  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        status = main(
            ["send", f"127.0.0.1:{port}", "a@example.org", "b@example.org", "--file", str(body)]
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 0, capsys.readouterr().err
    assert peak < 6 * 1024 * 1024, peak  # the body is 8 MB; read whole it would be 16+
    [record] = smtp_subprocess.records()  # type: ignore[attr-defined]
    assert record.size > body.stat().st_size


def test_a_body_that_is_not_utf8_past_the_first_megabyte_sends_nothing(
    smtp_subprocess: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = big_text_body(tmp_path / "body.txt", 2)
    with open(body, "ab") as file:
        file.write(b"\xff\xfe not text\n")
    port = smtp_subprocess.port  # type: ignore[attr-defined]
    stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
    try:
        status = main(
            ["send", f"127.0.0.1:{port}", "a@example.org", "b@example.org", "--file", str(body)]
        )
    finally:
        sys.stdin = stdin
    err = capsys.readouterr().err
    assert status == 2 and "is not UTF-8 text" in err and "Traceback" not in err
    assert smtp_subprocess.records() == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", ["--file", "stdin"])
def test_a_progress_line_for_a_big_body_on_a_terminal(
    source: str, smtp_subprocess: object, tmp_path: Path
) -> None:
    body = big_text_body(tmp_path / "body.txt", 5)
    port = smtp_subprocess.port  # type: ignore[attr-defined]
    args = ["send", f"127.0.0.1:{port}", "a@example.org", "b@example.org", "--subject", "big"]
    stdin = open(body, "rb") if source == "stdin" else subprocess.DEVNULL  # noqa: SIM115
    if source == "--file":
        args += ["--file", str(body)]
    try:
        status, text, err = run_on_terminal(
            command(*args), stdin=stdin, env=env_with_tree(), cwd=str(ROOT)
        )
    finally:
        if not isinstance(stdin, int):
            stdin.close()
    assert status == 0, err
    assert "\rsending: " in text
    assert "(100%)\r\nsent: accepted for 1 recipient(s)" in text
