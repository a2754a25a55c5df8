"""DKIM signing cost: ``send_letter`` with one large attachment, unsigned vs signed.

``python bench/bench_dkim.py`` (100 MB), ``--sizes 10,100``, ``--rounds N``.

Each variant runs in a fresh client process (``client.py``, task ``dkim``) and sends to
the fast sink (another process): ``unsigned``, ``rsa`` (RSA 2048, rsa-sha256) and
``ed25519`` (RFC 8463).  The signer spools the message to a temporary file while it
hashes the body (README "DKIM signing"), so the figures include that write and the read
back.  Peak RSS is the client's ``VmHWM``; the target is under 64 MB with the signature.
The keys are made with the cryptography library (a test dependency).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Sink, interleave, machine, median_of, median_ratio, run_client, table

VARIANTS = ("unsigned", "rsa", "ed25519")
MB = 1_000_000
RSS_LIMIT_MIB = 64


def write_keys(directory: Path) -> Dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    keys = {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, none
        ),
        "ed25519": ed25519.Ed25519PrivateKey.generate().private_bytes(
            pem, serialization.PrivateFormat.PKCS8, none
        ),
    }
    paths = {}
    for name, data in keys.items():
        path = directory / f"{name}.pem"
        path.write_bytes(data)
        paths[name] = str(path)
    return paths


def write_attachment(directory: Path, size_mb: int) -> str:
    path = directory / f"attachment-{size_mb}mb.bin"
    block = os.urandom(1 << 20)
    with open(path, "wb") as file:
        for _ in range(size_mb * MB // len(block)):
            file.write(block)
        file.write(block[: size_mb * MB % len(block)])
    return str(path)


def report(size_mb: int, results: List[Dict[str, Dict[str, Any]]]) -> str:
    rows = []
    for variant in VARIANTS:
        added = median_ratio(results, "unsigned", variant, "wall")
        rows.append(
            [
                variant,
                f"{median_of(results, variant, 'wall'):.3f} s",
                f"{median_of(results, variant, 'cpu'):.3f} s",
                f"{1 / added:.2f}x",
                f"{median_of(results, variant, 'hwm_kib') / 1024:.0f} MiB",
            ]
        )
    worst = max(r[v]["hwm_kib"] for r in results for v in ("rsa", "ed25519")) / 1024
    extra = median_of(results, "rsa", "wall") - median_of(results, "unsigned", "wall")
    return "\n".join(
        [
            f"### {size_mb} MB attachment ({len(results)} rounds, medians)",
            "",
            table(["letter", "wall", "client CPU", "wall / unsigned", "peak RSS"], rows),
            "",
            f"- signing adds {extra:.2f} s (rsa, median wall) at {size_mb} MB",
            f"- signed peak RSS worst round {worst:.0f} MiB; target under {RSS_LIMIT_MIB} MB: "
            f"{'met' if worst < RSS_LIMIT_MIB else 'NOT met'}",
            "",
        ]
    )


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100", help="attachment sizes in MB, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tmp", default=None, help="directory for the temporary files")
    args = parser.parse_args(argv)
    print(f"## DKIM signing ({machine()}; server: fast)\n")
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="po-bench-") as name:
        directory = Path(name)
        keys = write_keys(directory)
        for size_mb in [int(size) for size in args.sizes.split(",") if size.strip()]:
            path = write_attachment(directory, size_mb)
            with Sink("fast") as sink:

                def run(variant: str, path: str = path, port: int = sink.port) -> Any:
                    task = {"task": "dkim", "variant": variant, "port": port, "path": path}
                    return run_client({**task, "key": keys.get(variant)})

                results = interleave(VARIANTS, args.rounds, run)
                sink.stop()
            print(report(size_mb, results), flush=True)
            Path(path).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
