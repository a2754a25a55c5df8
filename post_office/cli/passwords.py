"""The password for ``--login``: from ``--password-env VAR``, a named server's
``:password-command``, or asked on the terminal.

It is never taken on the command line, where other users could read it.
"""

from __future__ import annotations

import argparse
import os
from typing import Optional

from ..errors import ArgumentError

__all__ = ["password"]


def password(args: argparse.Namespace) -> Optional[str]:
    """The password for ``args.login`` (None without ``--login``)."""
    import getpass

    login: Optional[str] = args.login
    variable: Optional[str] = args.password_env
    if login is None:
        if variable is not None:
            raise ArgumentError("--password-env needs --login")
        return None
    command = getattr(args, "password_command", None)
    if variable is None and command is not None:  # a named server's :password-command
        from ..client.password_command import run_password_command

        return run_password_command(command)
    if variable is not None:
        value = os.environ.get(variable)
        if value is None:
            raise ArgumentError(
                f"--password-env {variable}: the environment variable {variable} is not set"
            )
        return value
    if os.name != "nt":
        try:
            with open("/dev/tty", "rb"):
                pass
        except OSError:
            raise ArgumentError(
                f"--login {login}: there is no terminal to ask for the password on; put it "
                "in an environment variable and name it with --password-env VAR"
            ) from None
    try:
        return getpass.getpass(f"password for {login}: ")
    except EOFError:
        raise ArgumentError(f"--login {login}: no password was given") from None
