"""Small messages, one connection each: ``send_smtp`` vs plain smtplib.

``python bench/bench_small.py`` sends 500 messages of about 2 KB (a header, LF line
endings, some lines starting with ".") one connection per message, to each server in
its own process (the fast sink, then aiosmtpd), from a fresh client process per run:

- ``smtplib``: ``with smtplib.SMTP(host, port) as s: s.sendmail(from, to, text)``, the
  way the smtplib documentation writes it (connect, EHLO, MAIL, RCPT, DATA, QUIT);
- ``smtplib (local_hostname)``: the same with ``local_hostname="localhost"``, which saves
  smtplib's ``socket.getfqdn()`` per connection (a DNS lookup on many machines);
- ``send_smtp``: ``post_office.send_smtp((host, port), from, to, text)``.

The figure that matters is client CPU per message (the client's own process time); wall
time per message is shown too.  Ratios are paired per round against ``smtplib``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Sequence

from common import (
    Sink,
    interleave,
    machine,
    median_of,
    median_ratio,
    ratio_text,
    run_client,
    table,
)

VARIANTS = ("smtplib", "smtplib_hostname", "send_smtp")
LABELS = {
    "smtplib": "smtplib `SMTP()` + `sendmail` + `quit`",
    "smtplib_hostname": "the same with `local_hostname=`",
    "send_smtp": "post_office `send_smtp`",
    "session": "post_office `smtp_session`, one connection",
    "smtplib_reused": "smtplib, one connection reused",
}
SERVERS = {
    "fast": ("fast", None),
    "fast-no-pipelining": ("fast", False),
    "aiosmtpd": ("aiosmtpd", None),
    "aiosmtpd+pipelining": ("aiosmtpd", True),
}


def measure(
    server: str,
    variants: Sequence[str],
    *,
    count: int,
    size: int,
    rounds: int,
) -> List[Dict[str, Dict[str, Any]]]:
    kind, pipelining = SERVERS[server]
    with Sink(kind, pipelining=pipelining) as sink:

        def run(variant: str) -> Dict[str, Any]:
            task = {
                "task": "small",
                "variant": variant,
                "port": sink.port,
                "count": count,
                "size": size,
            }
            return run_client(task)

        results = interleave(variants, rounds, run)
        stats = sink.stop()
    expected = count * rounds * len(variants)
    if stats.get("messages") != expected:
        raise RuntimeError(f"the {server} server received {stats}, expected {expected} messages")
    return results


def per_message_rows(
    results: List[Dict[str, Dict[str, Any]]], variants: Sequence[str], baseline: str, count: int
) -> List[List[str]]:
    rows = []
    for variant in variants:
        rows.append(
            [
                LABELS[variant],
                f"{median_of(results, variant, 'cpu') / count * 1e6:.0f} µs",
                ratio_text(results, variant, baseline, "cpu"),
                f"{median_of(results, variant, 'wall') / count * 1e6:.0f} µs",
                ratio_text(results, variant, baseline, "wall", invert=True, suffix="x"),
            ]
        )
    return rows


HEADERS = [
    "client",
    "client CPU / message",
    "CPU vs smtplib (range)",
    "wall / message",
    "speed vs smtplib (range)",
]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="messages per run")
    parser.add_argument("--size", type=int, default=2000, help="bytes per message")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--servers", default="fast,aiosmtpd", help=",".join(SERVERS))
    args = parser.parse_args(argv)
    print(f"## Small messages, one connection each ({machine()})\n")
    for server in args.servers.split(","):
        results = measure(server, VARIANTS, count=args.count, size=args.size, rounds=args.rounds)
        rows = per_message_rows(results, VARIANTS, "smtplib", args.count)
        print(
            f"### {args.count} messages of {args.size} bytes, server: {server} "
            f"({args.rounds} rounds, medians)\n"
        )
        print(table(HEADERS, rows))
        cpu = median_ratio(results, "send_smtp", "smtplib", "cpu")
        cpu_named = median_ratio(results, "send_smtp", "smtplib_hostname", "cpu")
        if max(cpu, cpu_named) <= 1.10:
            verdict = "met"
        elif cpu <= 1.10:
            verdict = "met against smtplib as written, NOT against the local_hostname variant"
        else:
            verdict = "NOT met"
        print(
            "\n- send_smtp CPU per message "
            + ratio_text(results, "send_smtp", "smtplib", "cpu")
            + " of smtplib's, "
            + ratio_text(results, "send_smtp", "smtplib_hostname", "cpu")
            + f" of smtplib with local_hostname; target within 10% (at most 1.10): {verdict}\n",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
