"""Batches for the ``send_many`` tests: numbered messages, and which of them arrived."""

from __future__ import annotations

import re
from typing import List, Sequence

FROM = "me@example.org"


def batch(n: int) -> List[tuple]:
    """``n`` items for ``send_many``, message ``i`` to ``to{i}@example.org`` with
    ``Subject: i`` and ``body i``."""
    return [(FROM, [f"to{i}@example.org"], f"Subject: {i}\n\nbody {i}\n") for i in range(n)]


def tags(messages: Sequence[bytes]) -> List[int]:
    """The numbers of :func:`batch`'s messages among ``messages`` (as the server got
    them), in order."""
    found = (re.search(rb"Subject: (\d+)", data) for data in messages)
    return [int(match.group(1)) for match in found if match is not None]
