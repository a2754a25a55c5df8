"""``python -m post_office``: the command line (see :mod:`post_office.cli`)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
