"""What the benchmark scripts share: sink processes, client child processes, statistics.

Every measured run is a fresh child process (``bench/client.py``) so that its CPU time
and its peak memory (``VmHWM`` from ``/proc/self/status``, read in the child: see
DESIGN.md on ``ru_maxrss``) are the client's alone; the server is another process again.
Variants are interleaved round by round, the order rotating each round, and every
figure is reported as the median over rounds, with ratios taken within a round (paired)
against the plain-smtplib baseline of that round.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLIENT = BENCH / "client.py"
SINK = BENCH / "sink.py"
START_TIMEOUT = 30.0


class Sink:
    """A benchmark server (``bench/sink.py``) in a child process."""

    def __init__(
        self, kind: str = "fast", *, pipelining: Optional[bool] = None, end_only: bool = False
    ) -> None:
        command = [sys.executable, str(SINK), "--kind", kind]
        if end_only:  # only for clients that send nothing after the data (sink.py)
            command.append("--end-only")
        if pipelining is True:
            command.append("--pipelining")
        elif pipelining is False:
            command.append("--no-pipelining")
        self.kind = kind
        self.label = kind + {None: "", True: "+PIPELINING", False: " (no PIPELINING)"}[pipelining]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = _readline(self.process.stdout, START_TIMEOUT)
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"the {kind} sink did not start: {line!r}")
        self.port = int(line.split()[1])
        self.stats: Dict[str, int] = {}

    def stop(self) -> Dict[str, int]:
        """Stop the server; return what it received (messages, data_bytes, connections)."""
        out, _ = self.process.communicate("", timeout=START_TIMEOUT)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        self.stats = json.loads(lines[-1]) if lines else {}
        return self.stats

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()


def _readline(stream: Any, timeout: float) -> str:
    box: List[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else ""


def run_client(task: Dict[str, Any]) -> Dict[str, Any]:
    """Run one measurement in a fresh child process; return its JSON result."""
    result = subprocess.run(
        [sys.executable, str(CLIENT), json.dumps(task)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), **task.get("env", {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"client {task['variant']} failed:\n{result.stderr}")
    data: Dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def interleave(
    variants: Sequence[str],
    rounds: int,
    run: Callable[[str], Dict[str, Any]],
    progress: bool = True,
) -> List[Dict[str, Dict[str, Any]]]:
    """``rounds`` rounds; in each, every variant once, the order rotated by one each round."""
    results: List[Dict[str, Dict[str, Any]]] = []
    for number in range(rounds):
        shift = number % len(variants)
        order = list(variants[shift:]) + list(variants[:shift])
        this_round: Dict[str, Dict[str, Any]] = {}
        for variant in order:
            this_round[variant] = run(variant)
        results.append(this_round)
        if progress:
            print(f"  round {number + 1}/{rounds} done", file=sys.stderr, flush=True)
    return results


def median_of(results: List[Dict[str, Dict[str, Any]]], variant: str, key: str) -> float:
    return statistics.median(float(r[variant][key]) for r in results)


def median_ratio(
    results: List[Dict[str, Dict[str, Any]]], variant: str, baseline: str, key: str
) -> float:
    """Median over rounds of ``variant[key] / baseline[key]`` within each round."""
    return statistics.median(float(r[variant][key]) / float(r[baseline][key]) for r in results)


def ratio_text(
    results: List[Dict[str, Dict[str, Any]]],
    variant: str,
    baseline: str,
    key: str,
    *,
    invert: bool = False,
    suffix: str = "",
) -> str:
    """The paired median ratio with its range over the rounds: ``0.92 (0.85-1.01)``.

    ``invert`` gives ``baseline / variant`` (a speed-up when ``key`` is a time).
    """
    ratios = sorted(
        float(r[baseline][key]) / float(r[variant][key])
        if invert
        else float(r[variant][key]) / float(r[baseline][key])
        for r in results
    )
    return f"{statistics.median(ratios):.2f}{suffix} ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line about where the figures come from."""
    import platform

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({cpu})"
    )
