"""The embedded sink's costs, which README "Testing code that sends mail" states (moved out
of the test suite, which never asserts timings).

``python bench/bench_sink.py --rounds 20``:

- how long a ``Sink`` takes to start and stop: plain, STARTTLS with a throwaway
  certificate, implicit TLS (medians over rounds);
- what 50 pytest tests each sending one message through the ``smtp_sink`` fixture add
  over 50 empty tests (one pytest process each, interleaved; medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent

FIFTY = """
import pytest
from post_office import send_smtp

@pytest.mark.parametrize("n", range(50))
def test_one(n, {fixture}):
    {body}
"""


def sink_start(rounds: int) -> Dict[str, float]:
    from post_office import Sink, make_throwaway_certificate

    with tempfile.TemporaryDirectory() as directory:
        certificate = make_throwaway_certificate(directory)
        variants = {
            "plain": {},
            "STARTTLS": {"certificate": certificate},
            "implicit TLS": {"certificate": certificate, "ssl": True},
        }
        times: Dict[str, List[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, options in variants.items():
                started = time.perf_counter()
                with Sink(**options):  # type: ignore[arg-type]
                    times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def fifty_tests(rounds: int) -> Dict[str, float]:
    send = 'send_smtp(smtp_sink.server_spec(), "a@example.org", ["b@example.org"], "x")'
    bodies = {
        "50 empty tests": ("tmp_path", "pass"),
        "50 tests with smtp_sink": (
            "smtp_sink",
            send + "\n    assert len(smtp_sink.messages) == 1",
        ),
    }
    times: Dict[str, List[float]] = {name: [] for name in bodies}
    with tempfile.TemporaryDirectory() as directory:
        for fixture, body in bodies.values():
            source = textwrap.dedent(FIFTY.format(fixture=fixture, body=body))
            Path(directory, f"test_{fixture}.py").write_text(source, encoding="utf-8")
        for _ in range(rounds):
            for name, (fixture, _body) in bodies.items():
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     "-p", "no:xdist", f"test_{fixture}.py"],
                    cwd=directory, check=True, stdout=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )  # fmt: skip
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    for name, seconds in sink_start(args.rounds).items():
        print(f"sink start+stop, {name:12}: {seconds * 1000:7.1f} ms")
    fifty = fifty_tests(max(3, args.rounds // 4))
    for name, seconds in fifty.items():
        print(f"{name:26}: {seconds:6.2f} s")
    extra = fifty["50 tests with smtp_sink"] - fifty["50 empty tests"]
    print(f"what 50 sink tests add        : {extra:6.2f} s")


if __name__ == "__main__":
    main()
