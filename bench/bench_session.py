"""Bulk sending: ``smtp_session`` vs smtplib with a reused connection and per message.

``python bench/bench_session.py`` sends 500 messages of about 2 KB to each server (the
fast sink, which advertises PIPELINING; aiosmtpd, which as shipped does not; and
aiosmtpd told to advertise it), from a fresh client process per run:

- ``smtp_session``: ``with smtp_session(server) as s:`` then ``s.send_smtp(...)`` per
  message (one connection; MAIL, RCPT and DATA in one write when PIPELINING is offered);
- ``smtplib, one connection reused``: one ``smtplib.SMTP``, ``sendmail`` per message;
- ``smtplib`` and ``send_smtp``: one connection per message (as in bench_small.py).

Here the time to get the mail out (wall) is what counts; client CPU is shown too.
Ratios are paired per round: speed = the other's wall time / the session's.
"""

from __future__ import annotations

import argparse
import sys
from typing import List

from bench_small import HEADERS, measure, per_message_rows
from common import machine, median_ratio, ratio_text, table

VARIANTS = ("smtplib_reused", "session", "smtplib", "send_smtp")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="messages per run")
    parser.add_argument("--size", type=int, default=2000, help="bytes per message")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--servers", default="fast,aiosmtpd,aiosmtpd+pipelining")
    args = parser.parse_args(argv)
    print(f"## Bulk sending over one connection ({machine()})\n")
    for server in args.servers.split(","):
        results = measure(server, VARIANTS, count=args.count, size=args.size, rounds=args.rounds)
        rows = per_message_rows(results, VARIANTS, "smtplib", args.count)
        print(
            f"### {args.count} messages of {args.size} bytes, server: {server} "
            f"({args.rounds} rounds, medians; ratios against smtplib per message)\n"
        )
        print(table(HEADERS, rows))
        reused = median_ratio(results, "smtplib_reused", "session", "wall")
        per_message = median_ratio(results, "smtplib", "session", "wall")
        print(
            "\n- smtp_session is "
            + ratio_text(results, "session", "smtplib_reused", "wall", invert=True, suffix="x")
            + " as fast as smtplib with one reused connection (target at least 1x: "
            + ("met" if reused >= 1 else "NOT met")
            + "), using "
            + ratio_text(results, "session", "smtplib_reused", "cpu")
            + " of its CPU\n- smtp_session is "
            + ratio_text(results, "session", "smtplib", "wall", invert=True, suffix="x")
            + " as fast as smtplib with a connection per message (target at least 2x: "
            + ("met" if per_message >= 2 else "NOT met")
            + ")\n",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
