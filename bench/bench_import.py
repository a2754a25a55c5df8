"""Start-up cost: a process that imports post_office against one that imports smtplib, and a
process that sends one message with each (issue 12, item 4).

``python bench/bench_import.py --rounds 40``.  Every run is a fresh interpreter
(``python -c CODE``); the variants are interleaved round by round, the order rotating each
round, and every figure is the median over rounds, with ratios taken within a round
(paired) against smtplib's run of that round:

- ``python``: ``pass``, the interpreter alone (for reference);
- ``import smtplib`` / ``import post_office``;
- ``smtplib, one message``: ``with smtplib.SMTP(host, port) as s: s.sendmail(...)``;
- ``send_smtp, one message``: ``import post_office; post_office.send_smtp(...)``;

both senders send the same 2 KB message to the fast sink (``bench/sink.py``, another
process), as their documentation writes the call.  Wall time is the parent's
``perf_counter`` around the child; CPU is the child's user + system time
(``RUSAGE_CHILDREN``), the steadier figure on a busy machine.

Each set runs twice: as installed (``python``, with ``site`` and whatever ``.pth`` files
the environment has; they cost both sides the same) and with ``python -S`` (no ``site``),
which shows the libraries' own cost.  Byte-code is cached in a temporary
``PYTHONPYCACHEPREFIX`` (warmed before measuring), so no run compiles source, even where
``PYTHONDONTWRITEBYTECODE`` is set.

``--breakdown`` adds the modules ``import post_office`` loads that ``import smtplib``
does not, with their median own import time (``python -S -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence, Tuple

from common import ROOT, Sink, interleave, machine, median_of, ratio_text, table

FROM = "bench@example.test"
TO = "sink@example.test"
MESSAGE = f"From: {FROM}\nTo: {TO}\nSubject: start-up benchmark\n\n" + "The quick brown fox.\n" * 95

IMPORTS = {
    "python": "pass",
    "import smtplib": "import smtplib",
    "import post_office": "import post_office",
}


def sends(port: int) -> Dict[str, str]:
    message = repr(MESSAGE)
    return {
        "smtplib, one message": (
            "import smtplib\n"
            f"with smtplib.SMTP('127.0.0.1', {port}) as s:\n"
            f"    s.sendmail({FROM!r}, [{TO!r}], {message})\n"
        ),
        "send_smtp, one message": (
            "import post_office\n"
            f"post_office.send_smtp('127.0.0.1:{port}', {FROM!r}, [{TO!r}], {message})\n"
        ),
    }


class Runner:
    """Runs ``python [flags] -c CODE`` in a fresh process; measures wall and CPU time."""

    def __init__(self, flags: Sequence[str], cache: str) -> None:
        self.flags = list(flags)
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env["PYTHONPATH"] = str(ROOT)
        self.env["PYTHONPYCACHEPREFIX"] = cache

    def __call__(self, code: str) -> Dict[str, Any]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, *self.flags, "-c", code],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            raise RuntimeError(f"{code!r} failed:\n{result.stderr}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"wall": wall, "cpu": cpu}


def measure(runner: Runner, codes: Dict[str, str], rounds: int) -> List[Dict[str, Dict[str, Any]]]:
    for code in codes.values():  # warm the byte-code cache and the page cache
        runner(code)
        runner(code)
    return interleave(list(codes), rounds, lambda variant: runner(codes[variant]))


def rows(
    results: List[Dict[str, Dict[str, Any]]], variants: Sequence[str], baseline: str
) -> List[List[str]]:
    out = []
    for variant in variants:
        wall = median_of(results, variant, "wall") * 1000
        cpu = median_of(results, variant, "cpu") * 1000
        if variant == baseline:
            ratios = ["1.00", "1.00"]
        elif variant == "python":
            ratios = ["", ""]
        else:
            ratios = [ratio_text(results, variant, baseline, key) for key in ("wall", "cpu")]
        out.append([variant, f"{wall:.1f} ms", f"{cpu:.1f} ms", *ratios])
    return out


def breakdown(cache: str, runs: int) -> List[Tuple[str, float]]:
    """Modules that ``import post_office`` loads beyond ``import smtplib``: median own µs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=cache)

    def importtime(code: str) -> Dict[str, int]:
        err = subprocess.run(
            [sys.executable, "-S", "-X", "importtime", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        own: Dict[str, int] = {}
        for line in err.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, _, name = line[len("import time:") :].split("|")
                own[name.strip()] = int(self_us)
        return own

    baseline = set(importtime("import smtplib"))
    samples: Dict[str, List[int]] = {}
    for _ in range(runs):
        for name, micros in importtime("import post_office").items():
            if name not in baseline:
                samples.setdefault(name, []).append(micros)
    medians = [(name, statistics.median(values)) for name, values in samples.items()]
    return sorted(medians, key=lambda item: -item[1])


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--breakdown", action="store_true", help="list what post_office adds")
    args = parser.parse_args(argv or None)
    print(f"{machine()}; {args.rounds} rounds\n")
    headers = ["process", "wall", "CPU", "wall vs smtplib (range)", "CPU vs smtplib (range)"]
    with tempfile.TemporaryDirectory(prefix="bench-import-") as cache:
        modes = (("as installed (`python`)", []), ("without site (`python -S`)", ["-S"]))
        for label, flags in modes:
            runner = Runner(flags, cache)
            results = measure(runner, IMPORTS, args.rounds)
            print(f"Importing, {label}:\n")
            print(table(headers, rows(results, list(IMPORTS), "import smtplib")) + "\n")
            with Sink("fast") as sink:
                codes = sends(sink.port)
                results = measure(runner, codes, args.rounds)
                stats = sink.stop()
            expected = (args.rounds + 2) * len(codes)
            if stats.get("messages") != expected:
                raise RuntimeError(f"the sink received {stats}, expected {expected} messages")
            print(f"Sending one message, {label}:\n")
            print(table(headers, rows(results, list(codes), "smtplib, one message")) + "\n")
        if args.breakdown:
            print("What `import post_office` loads beyond `import smtplib` (`python -S`):\n")
            top = breakdown(cache, max(5, args.rounds // 4))
            total = sum(micros for _, micros in top)
            print(f"total own import time: {total / 1000:.1f} ms; the largest:\n")
            print(table(["module", "own time"], [[n, f"{m / 1000:.1f} ms"] for n, m in top[:20]]))


if __name__ == "__main__":
    main(sys.argv[1:])
