"""Throughput of the DATA encoder next to the physical floor: ``python bench/bench_wire.py``.

The encoder's unavoidable work is turning every LF into CRLF, which a single
``data.replace(b"\\n", b"\\r\\n")`` does as fast as CPython can; that is the reference,
over the whole buffer and over the same 256 KiB chunks the session sends.  The encoder
also dot-stuffs and checks for CRs, so the ratio says what that costs.  smtplib's own
conversion of a ``str`` (``sendmail(str)``: two regular expressions) is shown for
comparison.  ``--prose`` puts a dot in every sentence (dense dots: the encoder's slower
path); ``--profile`` shows where the encoder's time goes.  Timings are medians of
``--rounds`` interleaved rounds.  Standard library only; run from anywhere (the
repository root is put on ``sys.path``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import smtplib
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from post_office.message.sources import encode_data


def make_mail(size: int, seed: int = 5321, prose: bool = False) -> bytes:
    """About ``size`` bytes of mail-like text: LF endings, lines of 0-78 characters, a few
    quoted lines, and about one line in 40 starting with "." (what dot-stuffing is for).
    With ``prose``, words end a sentence with "." one time in eight (dense dots)."""
    rng = random.Random(seed)
    words = b"the quick brown fox jumps over lazy dog mail server reply message body".split()
    if prose:
        words += [word + b"." for word in words[:2]]
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


def measure(runs: Dict[str, Callable[[], int]], size: int, rounds: int) -> Dict[str, float]:
    """Each run once per round, interleaved; the median time of each, printed in MB/s."""
    times: Dict[str, List[float]] = {label: [] for label in runs}
    for _ in range(rounds):
        for label, run in runs.items():
            start = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - start)
    rates = {}
    for label, samples in times.items():
        median = statistics.median(samples)
        rates[label] = size / median / 1e6
        print(f"{label:<40} {rates[label]:8.0f} MB/s  (median of {rounds}: {median:.3f} s)")
    return rates


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=100, help="size of the test data in MB")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prose", action="store_true", help="a dot in every sentence")
    parser.add_argument("--profile", action="store_true", help="profile the encoder")
    args = parser.parse_args(argv)

    data = make_mail(args.mb * 1_000_000, prose=args.prose)[: args.mb * 1_000_000]
    crlf = data.replace(b"\n", b"\r\n")
    text = data.decode("ascii")
    dots = data.count(b"\n.")
    print(
        f"{len(data) / 1e6:.0f} MB of LF text, {dots} lines starting with '.', "
        f"{data.count(b'.')} dots in all"
    )
    chunk = 1 << 18  # post_office.smtp.BODY_CHUNK_SIZE

    def encode(source: bytes) -> Callable[[], int]:
        def run() -> int:
            return sum(len(piece) for piece in encode_data([source], chunk))

        return run

    def replace() -> int:
        return len(data.replace(b"\n", b"\r\n"))

    def replace_chunked() -> int:
        return sum(
            len(data[start : start + chunk].replace(b"\n", b"\r\n"))
            for start in range(0, len(data), chunk)
        )

    def smtplib_str() -> int:
        # What sendmail(str) does to the text before sending it (smtplib internals).
        fixed = smtplib._fix_eols(text).encode("ascii")  # type: ignore[attr-defined]
        return len(smtplib._quote_periods(fixed))  # type: ignore[attr-defined]

    runs = {
        'data.replace(b"\\n", b"\\r\\n")': replace,
        "the same per 256 KiB chunk": replace_chunked,
        "encode_data, LF input": encode(data),
        "encode_data, CRLF input": encode(crlf),
        "smtplib sendmail(str) conversion": smtplib_str,
    }
    rates = measure(runs, len(data), args.rounds)
    reference = rates['data.replace(b"\\n", b"\\r\\n")']
    chunked = rates["the same per 256 KiB chunk"]
    encoder = rates["encode_data, LF input"]
    print(
        f"encoder / replace: {encoder / reference:.2f} (LF input; {encoder / chunked:.2f} of "
        f"the chunked replace), {rates['encode_data, CRLF input'] / reference:.2f} (CRLF "
        f"input); encoder / smtplib: {encoder / rates['smtplib sendmail(str) conversion']:.1f}x"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(encode(data))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(8)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
