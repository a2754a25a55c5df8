"""Large messages: ``send_smtp`` from a file stream vs ``smtplib.SMTP.sendmail`` from memory.

``python bench/bench_large.py`` (10 and 100 MB), ``--sizes 10,100,500`` for all three;
``--prose`` for text with a dot in every sentence (the encoder's slower dot path);
``--variants send_smtp`` to time only some clients (smtplib needs about 6x the message
size in memory, 3 GB at 500 MB).

For each size, a text message (LF line endings, about one line in 40 starting with "."),
is written to a temporary file, and each variant sends it to the fast sink (another
process) in a fresh client process:

- ``sendmail(str)``: the file read into a ``str``, then ``SMTP.sendmail`` (smtplib turns
  the newlines into CRLF and dot-stuffs with regular expressions, on whole copies);
- ``sendmail(bytes)``: the file read into ``bytes``, then ``SMTP.sendmail`` (smtplib only
  dot-stuffs: the bare LFs go out as they are, which real servers treat differently, so
  this is not a correct way to send this file, only a speed reference);
- ``aiosmtplib``: the file read into ``bytes``, then ``aiosmtplib.SMTP.sendmail`` (which
  turns the newlines into CRLF and dot-stuffs, with regular expressions on the whole
  message); left out when aiosmtplib is not installed;
- ``send_smtp``: the open file passed as the message (streamed, converted chunk by chunk
  by the pure-Python encoder of ``post_office.message.sources``);
- ``floor``: the least any streaming client must do, by hand: read 256 KiB, turn LF into
  CRLF with ``bytes.replace`` (the fastest standard-library way), ``sendall``; no
  dot-stuffing, so not correct SMTP: the ceiling for a converter in pure Python;
- ``raw``: the already-converted DATA bytes, in memory, written with one ``sendall`` after
  a minimal hand-written SMTP exchange: the physical reference for throughput.

Wall time and CPU cover the SMTP conversation only (reading the file into memory for
the smtplib variants is not counted); peak RSS is the client process's ``VmHWM``, so it
does include the in-memory copy, which is the point.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_wire import make_mail
from common import Sink, interleave, machine, median_of, median_ratio, run_client, table

from post_office.message.sources import encode_data

VARIANTS = ("sendmail_str", "sendmail_bytes", "aiosmtplib_bytes", "send_smtp", "floor", "raw")
LABELS = {
    "sendmail_str": "smtplib `sendmail(str)`",
    "sendmail_bytes": "smtplib `sendmail(bytes)`",
    "aiosmtplib_bytes": "aiosmtplib `sendmail(bytes)`",
    "send_smtp": "post_office `send_smtp(file)`",
    "floor": "floor: read + `bytes.replace` + `sendall`",
    "raw": "raw `sendall` of the DATA bytes",
}
MB = 1_000_000
RSS_LIMIT_MIB = 64
#: issue 12: send_smtp at least this many times faster than sendmail(str) at 100 MB.
SPEEDUP_TARGET = 8


def write_files(directory: Path, size_mb: int, prose: bool = False) -> Dict[str, str]:
    """The message (exactly ``size_mb`` MB, cut at a line end) and its DATA encoding."""
    block = make_mail(1, prose=prose)
    target = size_mb * MB
    mail = directory / f"mail-{size_mb}mb.txt"
    with open(mail, "wb") as file:
        written = 0
        while written + len(block) <= target:
            file.write(block)
            written += len(block)
        rest = block[: target - written]
        file.write(rest[: rest.rfind(b"\n") + 1])
    wire = directory / f"wire-{size_mb}mb.bin"
    with open(mail, "rb") as source, open(wire, "wb") as out:
        for chunk in encode_data([source]):
            out.write(chunk)
    return {"path": str(mail), "wire": str(wire)}


def report(
    size_mb: int, nbytes: int, variants: List[str], results: List[Dict[str, Dict[str, Any]]]
) -> str:
    baseline = "sendmail_str" if "sendmail_str" in variants else None
    rows = []
    for variant in variants:
        wall = median_of(results, variant, "wall")
        if baseline is None:
            speed = cpu_share = "-"
        else:
            speed = f"{median_ratio(results, baseline, variant, 'wall'):.2f}x"
            cpu_share = f"{median_ratio(results, variant, baseline, 'cpu'):.2f}"
        rows.append(
            [
                LABELS[variant],
                f"{wall:.3f} s",
                f"{nbytes / wall / MB:.0f} MB/s",
                speed,
                f"{median_of(results, variant, 'cpu'):.3f} s",
                cpu_share,
                f"{median_of(results, variant, 'hwm_kib') / 1024:.0f} MiB",
            ]
        )
    out = [
        f"### {size_mb} MB ({nbytes} bytes, {len(results)} rounds, medians)",
        "",
        table(
            [
                "client",
                "wall",
                "throughput",
                "speed vs sendmail(str)",
                "client CPU",
                "CPU / sendmail(str)",
                "peak RSS",
            ],
            rows,
        ),
        "",
    ]
    if "send_smtp" not in variants:
        return "\n".join(out)
    rss = median_of(results, "send_smtp", "hwm_kib") / 1024
    worst_rss = max(r["send_smtp"]["hwm_kib"] for r in results) / 1024
    out.append(
        f"- send_smtp peak RSS {rss:.0f} MiB (worst round {worst_rss:.0f} MiB); target under "
        f"{RSS_LIMIT_MIB} MB: {'met' if worst_rss < RSS_LIMIT_MIB else 'NOT met'}"
    )
    for other in ("sendmail_str", "sendmail_bytes", "aiosmtplib_bytes"):
        if other not in variants:
            continue
        speedup = median_ratio(results, other, "send_smtp", "wall")
        target = ""
        if other == "sendmail_str" and size_mb == 100:
            met = "met" if speedup >= SPEEDUP_TARGET else "NOT met"
            target = f"; target {SPEEDUP_TARGET}x at 100 MB: {met}"
        out.append(f"- send_smtp {speedup:.1f}x faster than {LABELS[other]}{target}")
    if "raw" in variants:
        of_raw = median_ratio(results, "raw", "send_smtp", "wall")
        line = f"- send_smtp throughput {of_raw:.0%} of raw sendall"
        if "floor" in variants:
            floor_of_raw = median_ratio(results, "raw", "floor", "wall")
            of_floor = median_ratio(results, "floor", "send_smtp", "wall")
            line += (
                f" (the floor client reaches {floor_of_raw:.0%} of raw; send_smtp reaches "
                f"{of_floor:.0%} of the floor)"
            )
        out.append(line)
    out.append("")
    return "\n".join(out)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", default="10,100", help="message sizes in MB, comma-separated (e.g. 10,100,500)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tmp", default=None, help="directory for the temporary files")
    parser.add_argument("--server", choices=("fast", "aiosmtpd"), default="fast")
    parser.add_argument(
        "--prose", action="store_true", help="a dot in every sentence (see bench_wire.py)"
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"the clients to time, comma-separated (default: all of {', '.join(VARIANTS)})",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if "aiosmtplib_bytes" in variants and importlib.util.find_spec("aiosmtplib") is None:
        print("(aiosmtplib is not installed: its row is left out)", file=sys.stderr)
        variants.remove("aiosmtplib_bytes")
    text = "prose (dense dots)" if args.prose else "dots only at line starts"
    print(f"## Large messages ({machine()}; server: {args.server}; text: {text})\n")
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="po-bench-") as directory:
        for size_mb in sizes:
            print(f"preparing {size_mb} MB...", file=sys.stderr, flush=True)
            files = write_files(Path(directory), size_mb, args.prose)
            nbytes = Path(files["path"]).stat().st_size
            # end_only: the floor client does not dot-stuff (see sink.py read_data).
            with Sink(args.server, end_only=True) as sink:

                def run(variant: str, files: Dict[str, str] = files, port: int = sink.port) -> Any:
                    task = {"task": "large", "variant": variant, "port": port}
                    return run_client({**task, **files})

                results = interleave(variants, args.rounds, run)
                stats = sink.stop()
            expected = args.rounds * len(variants)
            if stats.get("messages") != expected:
                raise RuntimeError(f"the sink received {stats} messages, expected {expected}")
            print(report(size_mb, nbytes, variants, results), flush=True)
            for name in files.values():
                Path(name).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
