"""Throughput of the DATA encoder next to the physical floor: ``python bench/bench_wire.py``.

The encoder's unavoidable work is turning every LF into CRLF, which a single
``data.replace(b"\\n", b"\\r\\n")`` does at memory speed; that is the reference.  The
encoder also dot-stuffs, checks for CRs and works in 64 KiB chunks, so the ratio says
what that costs.  Standard library only; run from the repository root or anywhere
(the repository root is put on ``sys.path``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from post_office.wire import encode_data


def make_mail(size: int, seed: int = 5321) -> bytes:
    """About ``size`` bytes of mail-like text: LF endings, lines of 0-78 characters, a few
    quoted lines, and about one line in 40 starting with "." (what dot-stuffing is for)."""
    rng = random.Random(seed)
    words = b"the quick brown fox jumps over lazy dog mail server reply message body".split()
    lines: List[bytes] = []
    for _ in range(4000):
        line = b" ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))[:78]
        roll = rng.random()
        if roll < 0.025:
            line = b"." + line
        elif roll < 0.1:
            line = b"> " + line
        lines.append(line)
    block = b"\n".join(lines) + b"\n"
    return block * (size // len(block) + 1)


def measure(label: str, run: Callable[[], int], size: int, rounds: int) -> float:
    """Best of ``rounds`` (the least disturbed by other processes), in MB/s."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    rate = size / best / 1e6
    print(f"{label:<34} {rate:8.0f} MB/s  (best of {rounds}: {best:.3f} s)")
    return rate


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=100, help="size of the test data in MB")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    data = make_mail(args.mb * 1_000_000)
    crlf = data.replace(b"\n", b"\r\n")
    dots = data.count(b"\n.")
    print(f"{len(data) / 1e6:.0f} MB of LF text, {dots} lines starting with '.'")

    def encode(source: bytes) -> Callable[[], int]:
        def run() -> int:
            return sum(len(chunk) for chunk in encode_data([source]))

        return run

    def replace() -> int:
        return len(data.replace(b"\n", b"\r\n"))

    reference = measure('data.replace(b"\\n", b"\\r\\n")', replace, len(data), args.rounds)
    encoder = measure("encode_data, LF input", encode(data), len(data), args.rounds)
    crlf_rate = measure("encode_data, CRLF input", encode(crlf), len(crlf), args.rounds)
    print(
        f"encoder / replace: {encoder / reference:.2f} (LF input), {crlf_rate / reference:.2f}"
        " (CRLF input)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
