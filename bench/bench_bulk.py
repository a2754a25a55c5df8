"""Bulk at the protocol floor (issue 25): ``send_many`` against other bulk clients.

``python bench/bench_bulk.py`` sends 2000 messages of about 2 KB (a header with a
Message-ID unique to the run, LF line endings, some lines starting with ".") to each
server, from a fresh client process per run (``bench/client.py``, task ``bulk``):

- ``session``: ``with smtp_session(server) as s:`` then ``s.send_smtp(...)`` per message
  (two round trips a message with PIPELINING: MAIL, RCPT and DATA; then the data);
- ``send_many``: the same session, one ``s.send_many([(from, to, text), ...])`` call (one
  round trip a message with PIPELINING: each message's end of data goes in the same
  write as the next one's MAIL, RCPT and DATA); every result is checked;
- ``send_many_8``: ``smtp_session(server, connections=8)`` then ``send_many`` (skipped,
  with a note, while ``smtp_session`` has no ``connections`` keyword);
- ``smtplib_reused``: one ``smtplib.SMTP``, ``sendmail`` per message (the baseline);
- ``aiosmtplib_1`` / ``aiosmtplib_8``: aiosmtplib ``sendmail`` per message over one
  connection, or over 8 connections under ``asyncio.gather``;
- ``raw_4rt``, ``raw_2rt``, ``raw_1rt``, ``raw_8x1rt``: hand-written socket clients,
  the messages encoded (CRLF, dot-stuffing) before the clock: four round trips a message
  (one command at a time, the floor without PIPELINING); two; one; one over 8
  connections multiplexed from one thread with ``selectors``.  All but ``raw_4rt``
  pipeline, so they do not run against a server that does not offer PIPELINING.

Servers: ``fast`` (bench/sink.py), ``aiosmtpd``, ``aiosmtpd+pipelining`` and
``postfix``: a real Postfix that must already run, e.g. the acceptance one
(``servers.sh start``); its plain SMTP port is ``$ACCEPTANCE_SMTP_PORT`` and its
Maildir ``$ACCEPTANCE_MAILDIR``.  Against Postfix every run is followed by counting the
new files in the Maildir (waiting, bounded, until delivery settles) and their distinct
Message-IDs: every message must arrive exactly once.  Against the other servers the
server's own count must equal what the clients sent.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

from common import Sink, interleave, machine, median_of, ratio_text, run_client, table

VARIANTS = (
    "session",
    "send_many",
    "send_many_8",
    "smtplib_reused",
    "aiosmtplib_1",
    "aiosmtplib_8",
    "raw_4rt",
    "raw_2rt",
    "raw_1rt",
    "raw_8x1rt",
)
LABELS = {
    "session": "post_office `smtp_session` + `send_smtp` each",
    "send_many": "post_office `send_many`",
    "send_many_8": "post_office `send_many`, `connections=8`",
    "smtplib_reused": "smtplib, one connection reused",
    "aiosmtplib_1": "aiosmtplib, one connection",
    "aiosmtplib_8": "aiosmtplib, 8 connections (`gather`)",
    "raw_4rt": "raw socket, 4 round trips / message (no pipelining)",
    "raw_2rt": "raw socket, 2 round trips / message",
    "raw_1rt": "raw socket, 1 round trip / message",
    "raw_8x1rt": "raw socket, 8 x 1 round trip (`selectors`)",
}
PIPELINING_ONLY = {"raw_2rt", "raw_1rt", "raw_8x1rt"}
SERVERS = {
    "fast": ("fast", None),
    "aiosmtpd": ("aiosmtpd", None),
    "aiosmtpd+pipelining": ("aiosmtpd", True),
    "postfix": ("postfix", None),
}
BASELINE = "smtplib_reused"
SETTLE_TIMEOUT = 120.0  # seconds to wait for Postfix to deliver one run's messages
QUIET = 5.0  # ... giving up earlier when the Maildir has not grown for this long
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>]*)>", re.IGNORECASE | re.MULTILINE)


class Maildir:
    """The new files of a Maildir since the last :meth:`mark`, and their Message-IDs."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.seen: Set[str] = set()

    def files(self) -> Set[str]:
        names: Set[str] = set()
        for sub in ("new", "cur"):
            with os.scandir(self.path / sub) as entries:
                names.update(f"{sub}/{entry.name}" for entry in entries)
        return names

    def mark(self) -> None:
        self.seen = self.files()

    def settle(self, expected: int) -> List[str]:
        """Wait until ``expected`` new files are there (or nothing arrives for a while)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        last_count, last_change = -1, time.monotonic()
        while True:
            new = self.files() - self.seen
            now = time.monotonic()
            if len(new) != last_count:
                last_count, last_change = len(new), now
            if len(new) >= expected:
                time.sleep(0.5)  # anything more (a duplicate) would show now
                new = self.files() - self.seen
                break
            if now > deadline or now - last_change > QUIET:
                break
            time.sleep(0.05)
        self.seen |= new
        return sorted(new)

    def message_ids(self, names: Sequence[str]) -> List[str]:
        ids = []
        for name in names:
            try:
                head = (self.path / name).read_bytes().split(b"\n\n", 1)[0]
            except FileNotFoundError:  # moved from new/ to cur/ meanwhile: not by us
                continue
            found = MESSAGE_ID.search(head)
            ids.append(found.group(1).decode("ascii", "replace") if found else "")
        return ids


def measure(
    server: str,
    variants: Sequence[str],
    *,
    count: int,
    size: int,
    rounds: int,
) -> Dict[str, Any]:
    """Run the rounds; return the results and what was skipped and checked."""
    kind, pipelining = SERVERS[server]
    skipped: Dict[str, str] = {}
    if server == "aiosmtpd":
        for variant in variants:
            if variant in PIPELINING_ONLY:
                skipped[variant] = "pipelines, and this server does not offer PIPELINING"
    runnable = [v for v in variants if v not in skipped]
    sink: Optional[Sink] = None
    maildir: Optional[Maildir] = None
    if kind == "postfix":
        port = int(os.environ["ACCEPTANCE_SMTP_PORT"])
        maildir = Maildir(os.environ["ACCEPTANCE_MAILDIR"])
    else:
        sink = Sink(kind, pipelining=pipelining)
        port = sink.port
    sent = 0
    problems: List[str] = []

    def run(variant: str) -> Dict[str, Any]:
        nonlocal sent
        if variant in skipped:
            return {"skipped": skipped[variant]}
        token = f"{variant}.{uuid.uuid4().hex}"
        task = {
            "task": "bulk",
            "variant": variant,
            "port": port,
            "count": count,
            "size": size,
            "token": token,
        }
        if maildir is not None:
            maildir.mark()
        result = run_client(task)
        if "skipped" in result:
            skipped[variant] = result["skipped"]
            print(f"  {variant} skipped: {result['skipped']}", file=sys.stderr, flush=True)
            return result
        sent += count
        if result["messages"] != count:
            problems.append(f"{variant}: {count - result['messages']} of {count} not accepted")
        if maildir is not None:
            files = maildir.settle(count)
            ids = maildir.message_ids(files)
            mine = {i for i in ids if i.endswith(f".{token}@example.test")}
            result["delivered"] = len(files)
            result["distinct"] = len(mine)
            if len(files) != count or len(mine) != count:
                problems.append(
                    f"{variant}: {len(files)} files delivered, {len(mine)} distinct "
                    f"Message-IDs of this run, {count} sent"
                )
        return result

    try:
        results = interleave(runnable, rounds, run)
    finally:
        stats = sink.stop() if sink is not None else None
    if stats is not None and stats.get("messages") != sent:
        problems.append(f"the {server} server received {stats}, the clients sent {sent}")
    done = [v for v in runnable if v not in skipped]
    results = [{v: r[v] for v in done} for r in results]
    return {"results": results, "variants": done, "skipped": skipped, "problems": problems}


def rows_for(
    results: List[Dict[str, Dict[str, Any]]], variants: Sequence[str], count: int, baseline: str
) -> List[List[str]]:
    rows = []
    for variant in variants:
        wall = median_of(results, variant, "wall")
        row = [
            LABELS[variant],
            f"{count / wall:,.0f}",
            ratio_text(results, variant, baseline, "wall", invert=True, suffix="x"),
            f"{median_of(results, variant, 'cpu') / count * 1e6:.0f} µs",
            ratio_text(results, variant, baseline, "cpu"),
        ]
        if "delivered" in results[0][variant]:
            delivered = sorted(r[variant]["delivered"] for r in results)
            distinct = sorted(r[variant]["distinct"] for r in results)
            row.append(f"{delivered[0]}-{delivered[-1]} / {distinct[0]}-{distinct[-1]}")
        rows.append(row)
    return rows


#: The summary's sentences: the variant, the one it is set against, and the words around
#: the paired ratios (``{x}``: how many times as fast; ``{of}``: the share of the other's
#: speed; ``{cpu}``: its client CPU against the other's).  A sentence whose two variants
#: did not both run is left out.
SENTENCES = (
    (
        "send_many",
        "session",
        "send_many is {x} as fast as session (send_smtp per message), with {cpu} of its client CPU",
    ),
    (
        "send_many",
        "smtplib_reused",
        "send_many is {x} as fast as smtplib with one reused connection",
    ),
    ("send_many", "raw_2rt", "send_many's client CPU per message is {cpu} times raw_2rt's"),
    ("send_many", "raw_4rt", "send_many reaches {of} of raw_4rt's speed"),
    ("send_many", "raw_1rt", "send_many reaches {of} of raw_1rt's speed (same round trips)"),
    (
        "send_many_8",
        "session",
        "send_many_8 is {x} as fast as session (one connection, send_smtp per message)",
    ),
    ("send_many_8", "aiosmtplib_8", "send_many_8 is {x} as fast as aiosmtplib's 8 connections"),
    ("send_many_8", "raw_8x1rt", "send_many_8 reaches {of} of raw_8x1rt's speed"),
)


def summary(results: List[Dict[str, Dict[str, Any]]], variants: Sequence[str]) -> List[str]:
    lines = []
    for variant, other, words in SENTENCES:
        if variant in variants and other in variants:
            lines.append(
                words.format(
                    x=ratio_text(results, variant, other, "wall", invert=True, suffix="x"),
                    of=ratio_text(results, variant, other, "wall", invert=True),
                    cpu=ratio_text(results, variant, other, "cpu"),
                )
            )
    return lines


def headers_for(baseline: str) -> List[str]:
    short = "smtplib reused" if baseline == BASELINE else baseline
    return [
        "client",
        "messages/s",
        f"speed vs {short} (range)",
        "client CPU / message",
        f"CPU vs {short} (range)",
    ]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="messages per run")
    parser.add_argument("--size", type=int, default=2000, help="bytes per message")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--servers",
        default="fast,aiosmtpd,aiosmtpd+pipelining",
        help=",".join(SERVERS) + " (postfix: start it first, see the module docstring)",
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    for name in variants:
        if name not in LABELS:
            parser.error(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    servers = args.servers.split(",")
    for name in servers:
        if name not in SERVERS:
            parser.error(f"unknown server {name!r}; known: {', '.join(SERVERS)}")
        if name == "postfix" and not (
            os.environ.get("ACCEPTANCE_SMTP_PORT") and os.environ.get("ACCEPTANCE_MAILDIR")
        ):
            parser.error(
                "postfix: set ACCEPTANCE_SMTP_PORT and ACCEPTANCE_MAILDIR "
                '(eval "$(servers.sh env)" after servers.sh start)'
            )
    print(f"## Bulk at the protocol floor ({machine()})\n")
    failed = False
    for server in servers:
        print(f"server {server}:", file=sys.stderr, flush=True)
        measured = measure(server, variants, count=args.count, size=args.size, rounds=args.rounds)
        results, done = measured["results"], measured["variants"]
        print(
            f"### {args.count} messages of {args.size} bytes, server: {server} "
            f"({args.rounds} rounds, medians; ratios paired within a round)\n"
        )
        if not done:
            print("(nothing ran)\n")
        else:
            baseline = BASELINE if BASELINE in done else done[0]
            headers = headers_for(baseline)
            if server == "postfix":
                headers = [*headers, "Maildir files / distinct IDs per run"]
            print(table(headers, rows_for(results, done, args.count, baseline)))
            print()
            for line in summary(results, done):
                print(f"- {line}")
        for variant, why in measured["skipped"].items():
            print(f"- skipped {variant}: {why}")
        if measured["problems"]:
            failed = True
            for problem in measured["problems"]:
                print(f"- **CHECK FAILED**: {problem}")
        else:
            print(
                "- checked: every message accepted"
                + (
                    ", and delivered exactly once (Maildir files, distinct Message-IDs)"
                    if server == "postfix"
                    else ", and the server's count equals what the clients sent"
                )
            )
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
