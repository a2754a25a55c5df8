"""Run a command with its standard output on a pseudo-terminal, as a user's shell would,
and collect what it showed there (progress lines are drawn only on a terminal)."""

from __future__ import annotations

import os
import select
import subprocess
from typing import IO, Dict, List, Optional, Tuple, Union

#: Seconds to wait for output, or for the command to end.
LIMIT = 60.0


def run_on_terminal(
    argv: List[str],
    *,
    stdin: Union[int, IO[bytes]] = subprocess.DEVNULL,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[str] = None,
) -> Tuple[int, str, bytes]:
    """(exit status, what the terminal showed, standard error)."""
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            argv, stdin=stdin, stdout=slave, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            ready, _, _ = select.select([master], [], [], LIMIT)
            assert ready, f"no output; saw {shown[-200:]!r}"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        _, err = process.communicate(timeout=LIMIT)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return process.returncode, shown.decode(), err
