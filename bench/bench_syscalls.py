"""System calls per message of the bulk clients, counted with ``strace -f -c``.

``python bench/bench_syscalls.py`` runs the client process of bench_bulk.py
(``bench/client.py``, task ``bulk``) under ``strace -f -c`` against the fast sink, once
with N messages and once with 2N, and divides the difference of the counts by N: what
the process does once (starting Python, imports, connecting, EHLO, QUIT) cancels out,
what is left is the cost of one more message (including what generating the message
before the clock costs, e.g. ``brk``/``mmap`` as the heap grows: shown under *other*).
Variants: ``session``, ``send_many`` and ``smtplib_reused`` by default (any bulk variant
of bench_bulk.py can be named).  Medians over ``--rounds`` pairs.  Needs ``strace``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Dict, List

from common import CLIENT, ROOT, Sink, machine, table

VARIANTS = ("session", "send_many", "smtplib_reused")
POLL = {"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2"}
SEND = {"sendto", "send", "sendmsg", "sendmmsg", "write", "writev"}
RECV = {"recvfrom", "recv", "recvmsg", "recvmmsg", "read", "readv"}


def count_syscalls(port: int, variant: str, count: int, size: int) -> Counter[str]:
    """Run one client under ``strace -f -c``; return the calls per system call."""
    task = {
        "task": "bulk",
        "variant": variant,
        "port": port,
        "count": count,
        "size": size,
        "token": uuid.uuid4().hex,
    }
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "strace.txt"
        result = subprocess.run(
            ["strace", "-f", "-c", "-o", str(out), sys.executable, str(CLIENT), json.dumps(task)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if result.returncode != 0:
            raise RuntimeError(f"client {variant} failed:\n{result.stderr}")
        data = json.loads(result.stdout.strip().splitlines()[-1])
        if "skipped" in data:
            raise RuntimeError(f"{variant} skipped: {data['skipped']}")
        if data["messages"] != count:
            raise RuntimeError(f"{variant}: {count - data['messages']} messages not accepted")
        calls: Counter[str] = Counter()
        for line in out.read_text().splitlines():
            fields = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(fields) in (5, 6) and fields[3].isdigit() and fields[-1] != "total":
                calls[fields[-1]] += int(fields[3])
    return calls


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="N (the runs send N and 2N)")
    parser.add_argument("--size", type=int, default=2000, help="bytes per message")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    if shutil.which("strace") is None:
        parser.error("strace is not installed")
    variants = args.variants.split(",")
    n = args.count
    per_round: Dict[str, List[Dict[str, float]]] = {v: [] for v in variants}
    with Sink("fast") as sink:
        for number in range(args.rounds):
            shift = number % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                small = count_syscalls(sink.port, variant, n, args.size)
                large = count_syscalls(sink.port, variant, 2 * n, args.size)
                diff = {name: large[name] - small[name] for name in set(small) | set(large)}
                groups = {
                    "all": sum(diff.values()),
                    "poll": sum(v for k, v in diff.items() if k in POLL),
                    "send": sum(v for k, v in diff.items() if k in SEND),
                    "recv": sum(v for k, v in diff.items() if k in RECV),
                }
                groups["other"] = groups["all"] - groups["poll"] - groups["send"] - groups["recv"]
                per_round[variant].append({k: v / n for k, v in groups.items()})
                top = sorted(diff.items(), key=lambda item: -item[1])[:6]
                print(
                    f"  {variant}: " + ", ".join(f"{k} {v / n:.2f}" for k, v in top),
                    file=sys.stderr,
                    flush=True,
                )
            print(f"  round {number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        stats = sink.stop()
    expected = 3 * n * args.rounds * len(variants)
    if stats.get("messages") != expected:
        raise RuntimeError(f"the fast sink received {stats}, the clients sent {expected}")

    def median(variant: str, key: str) -> str:
        return f"{statistics.median(r[key] for r in per_round[variant]):.2f}"

    print(f"## System calls per message, fast sink ({machine()})\n")
    print(
        f"`strace -f -c` of the client process; (calls with {2 * n} messages - calls with "
        f"{n}) / {n}, median of {args.rounds} pairs; messages of {args.size} bytes.\n"
    )
    rows = [
        [
            variant,
            median(variant, "all"),
            median(variant, "poll"),
            median(variant, "send"),
            median(variant, "recv"),
            median(variant, "other"),
        ]
        for variant in variants
    ]
    headers = ["client", "syscalls / message", "of which poll/select", "send", "recv", "other"]
    print(table(headers, rows))
    print(f"\n- checked: the sink received all {expected} messages\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
