"""A whole process that sends one message: ``send_smtp`` against smtplib, start-up included
(issue "Bulk at the protocol floor", item 4).

``python bench/bench_process.py --rounds 40``.  The fast sink (``bench/sink.py``) runs in
its own process; every measured run is a fresh interpreter (``python -c CODE``), the
variants interleaved round by round with the order rotating each round, and every figure
is the median over rounds, with ratios taken within a round (paired) against smtplib:

- ``python -c pass``: the interpreter alone, the floor under both;
- ``import smtplib`` / ``import post_office`` / ``from post_office.api import send_smtp``:
  the imports alone, no connection;
- ``smtplib``: ``import smtplib; with smtplib.SMTP("127.0.0.1", port) as s:
  s.sendmail(...)`` (connect, EHLO, MAIL, RCPT, DATA, QUIT);
- ``send_smtp``: ``import post_office; post_office.send_smtp(("127.0.0.1", ":port", port),
  ...)``, the same conversation.

Both send the same 2 KB message.  Wall time is the parent's ``perf_counter`` around the
child; CPU is the child's user + system time.  The "above the floor" column subtracts
the median of ``python -c pass``: what the library and the conversation cost.  Byte-code
is cached in a temporary ``PYTHONPYCACHEPREFIX`` (warmed first), so no run compiles
source.  ``--no-site`` runs every child with ``python -S`` (no ``site`` and no ``.pth``
files, whose imports, e.g. ``typing``, otherwise come free to both sides).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from typing import Any, Dict, List, Sequence

from bench_import import FROM, MESSAGE, TO, Runner
from common import Sink, interleave, machine, median_of, ratio_text, table

FLOOR = "python -c pass"
BASELINE = "smtplib, one message"


def imports() -> Dict[str, str]:
    return {
        "import smtplib": "import smtplib",
        "import post_office": "import post_office",
        "from post_office.api import send_smtp": "from post_office.api import send_smtp",
    }


def sends(port: int) -> Dict[str, str]:
    message = repr(MESSAGE)
    return {
        BASELINE: (
            "import smtplib\n"
            f"with smtplib.SMTP('127.0.0.1', {port}) as s:\n"
            f"    s.sendmail({FROM!r}, [{TO!r}], {message})\n"
        ),
        "send_smtp, one message": (
            "import post_office\n"
            f"post_office.send_smtp(('127.0.0.1', ':port', {port}), {FROM!r}, [{TO!r}], "
            f"{message})\n"
        ),
    }


def report(results: List[Dict[str, Dict[str, Any]]], codes: Dict[str, str], baseline: str) -> str:
    floor = median_of(results, FLOOR, "wall")
    rows: List[List[str]] = []
    for variant in codes:
        wall = median_of(results, variant, "wall")
        cpu = median_of(results, variant, "cpu")
        above = "" if variant == FLOOR else f"{(wall - floor) * 1000:.1f} ms"
        if variant == baseline:
            ratio = "1.00"
        elif variant == FLOOR:
            ratio = ""
        else:
            ratio = ratio_text(results, variant, baseline, "wall")
        rows.append([f"`{variant}`", f"{wall * 1000:.1f} ms", above, f"{cpu * 1000:.1f} ms", ratio])
    headers = ["process", "wall", "wall above the floor", "CPU", f"wall vs `{baseline}` (range)"]
    return table(headers, rows)


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--no-site", action="store_true", help="run the children with -S")
    args = parser.parse_args(argv or None)
    flags = ["-S"] if args.no_site else []
    mode = "`python -S`" if args.no_site else "`python`"
    print(f"{machine()}; {args.rounds} rounds; children run as {mode}\n")
    with tempfile.TemporaryDirectory(prefix="bench-process-") as cache:
        runner = Runner(flags, cache)
        with Sink("fast") as sink:
            codes = {FLOOR: "pass", **sends(sink.port), **imports()}
            for code in codes.values():  # warm the byte-code cache and the page cache
                runner(code)
                runner(code)
            results = interleave(list(codes), args.rounds, lambda v: runner(codes[v]))
            stats = sink.stop()
        expected = (args.rounds + 2) * 2
        if stats.get("messages") != expected:
            raise RuntimeError(f"the sink received {stats}, expected {expected} messages")
    sending = {name: codes[name] for name in (FLOOR, BASELINE, "send_smtp, one message")}
    importing = {name: codes[name] for name in (FLOOR, *imports())}
    print("Sending one message, the whole process:\n")
    print(report(results, sending, BASELINE) + "\n")
    print("Importing alone:\n")
    print(report(results, importing, "import smtplib"))


if __name__ == "__main__":
    main(sys.argv[1:])
