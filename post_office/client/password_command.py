"""A named server's ``:password-command`` (msmtp's ``passwordeval``): run it, take the first
line of its output as the password (README "Named servers").  Here, in ``client/``,
because it starts a process."""

from __future__ import annotations

import subprocess

from ..errors import ArgumentError

__all__ = ["run_password_command"]


def run_password_command(command: str, timeout: float = 60) -> str:
    """The password ``command`` prints (first line, line end removed).  The command runs
    through the shell with the terminal kept, so that a password manager can prompt; its
    error output is passed through, never the password."""
    try:
        done = subprocess.run(
            command, shell=True, stdout=subprocess.PIPE, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ArgumentError(
            f":password-command {command!r} gave no password within {timeout:g} s"
        ) from None
    if done.returncode != 0:
        raise ArgumentError(f":password-command {command!r} failed with status {done.returncode}")
    lines = done.stdout.decode("utf-8", "surrogateescape").splitlines()
    if not lines or not lines[0]:
        raise ArgumentError(f":password-command {command!r} printed no password")
    return lines[0]
