"""Named servers: ``post-office send @work ...`` takes the spec (and its login, where the
password comes from, its DKIM key) from a config file in the Lisp form ported programs
already have (README "The command line", "Named servers").

The file: ``$POST_OFFICE_CONFIG``, else ``$XDG_CONFIG_HOME/post-office/servers.lisp``
(``~/.config/post-office/servers.lisp``).  One entry per server, ``;`` comments allowed::

    (:work ("mail.corp" :port 587 :starttls t) :login "me" :password-env "WORK_PW")
    (:home "mail.home.example" :login "me" :password-command "pass show mail/home")

A password is never stored here: ``:password-env`` names an environment variable,
``:password-command`` a command whose first line of output is the password (msmtp's
``passwordeval``).  Errors name the file and the line.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from ..errors import ArgumentError, LispSyntaxError
from ..spec.lisp import Keyword, read_lisp, to_lisp

__all__ = ["NamedServer", "apply_named_server", "config_path", "read_config"]

#: An entry's keywords after its spec, and the command-line option each stands for.
_OPTIONS = {
    "login": "login",
    "password-env": "password_env",
    "password-command": "password_command",
    "dkim-key": "dkim_key",
    "dkim-selector": "dkim_selector",
    "dkim-domain": "dkim_domain",
}


@dataclass(frozen=True)
class NamedServer:
    """One entry of the config file: its spec as Lisp text and its options."""

    name: str
    spec: str
    line: int
    options: Dict[str, str]


def config_path() -> Path:
    """Where named servers are read from (README "Named servers")."""
    given = os.environ.get("POST_OFFICE_CONFIG")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "post-office" / "servers.lisp"


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def read_config(path: Path) -> Dict[str, NamedServer]:
    """The entries of ``path``; :class:`~post_office.ArgumentError` naming the file and
    line for anything malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ArgumentError(f"{path}: cannot read the named servers: {exc.strerror}") from None
    try:
        forms = read_lisp("(" + text + "\n)")
    except LispSyntaxError as exc:
        position = max(0, int(getattr(exc, "position", 1)) - 1)
        raise ArgumentError(f"{path}:{_line_of(text, position)}: {exc}") from None
    starts = [match.start() for match in re.finditer(r"\(\s*:", text)]
    servers: Dict[str, NamedServer] = {}
    for index, form in enumerate(forms if isinstance(forms, list) else []):
        line = _line_of(text, starts[index]) if index < len(starts) else 1
        servers_entry = _entry(form, path, line)
        if servers_entry.name in servers:
            raise ArgumentError(f"{path}:{line}: @{servers_entry.name} is named twice")
        servers[servers_entry.name] = servers_entry
    return servers


def _entry(form: object, path: Path, line: int) -> NamedServer:
    where = f"{path}:{line}"
    if not isinstance(form, list) or len(form) < 2 or not isinstance(form[0], Keyword):
        raise ArgumentError(
            f'{where}: an entry is (:name SPEC :login "..." ...), e.g. '
            '(:work ("mail.corp" :port 587 :starttls t) :login "me" :password-env "WORK_PW")'
        )
    name, spec, rest = form[0].name, form[1], form[2:]
    if len(rest) % 2:
        raise ArgumentError(f"{where}: @{name}: a keyword without its value")
    options: Dict[str, str] = {}
    for key, value in zip(rest[::2], rest[1::2]):
        keyword = key.name if isinstance(key, Keyword) else None
        if keyword == "password":
            raise ArgumentError(
                f"{where}: @{name}: a password is never stored in the config file: use "
                ":password-env VAR or :password-command COMMAND"
            )
        if keyword not in _OPTIONS:
            known = ", ".join(":" + option for option in _OPTIONS)
            raise ArgumentError(f"{where}: @{name}: unknown keyword {key}; known: {known}")
        if not isinstance(value, str):
            raise ArgumentError(f"{where}: @{name}: :{keyword} takes a string")
        options[keyword] = value
    spec_text = spec if isinstance(spec, str) else to_lisp(spec)
    return NamedServer(name, spec_text, line, options)


def apply_named_server(args: argparse.Namespace) -> None:
    """``SERVER`` given as ``@name``: its spec, and its options where the command line
    gave none (the command line wins).  An unknown name is a usage error listing the
    known ones."""
    text = getattr(args, "server", None)
    if not isinstance(text, str) or not text.startswith("@"):
        return
    path = config_path()
    servers = read_config(path) if path.exists() else {}
    name = text[1:]
    entry = servers.get(name)
    if entry is None:
        known = ", ".join("@" + known for known in sorted(servers)) or "none"
        raise ArgumentError(
            f"{text}: no such named server in {path} (known: {known}); "
            "set POST_OFFICE_CONFIG to read another file"
        )
    args.server = entry.spec
    args.named_server = text
    args.password_command = None
    for keyword, value in entry.options.items():
        attribute = _OPTIONS[keyword]
        if attribute == "password_command":
            args.password_command = value
        elif hasattr(args, attribute) and getattr(args, attribute) is None:
            setattr(args, attribute, value)
    if getattr(args, "password_env", None) is not None and "password-env" not in entry.options:
        args.password_command = None  # the command line's --password-env wins
    elif "password-env" in entry.options:
        args.password_command = None


def password_command(args: argparse.Namespace) -> Optional[str]:
    """The ``:password-command`` of a named server, when one applies."""
    command = getattr(args, "password_command", None)
    return command if isinstance(command, str) else None
