"""README "Architecture", checked rather than claimed: the protocol package is pure (it
loads nothing that can open a socket, start a process or a thread), only ``client/``
(and the sink's server, in ``sink/``) opens sockets or starts processes, and sending one
message loads nothing it does not use (start-up is part of its cost)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "post_office"
PROTOCOL_MODULES = sorted(
    f"post_office.protocol.{path.stem}"
    for path in (PACKAGE / "protocol").glob("*.py")
    if path.stem != "__init__"
)
# What a pure module must not bring in: sockets, TLS sockets, processes, threads, and
# smtplib (which loads the socket layer); asyncio and selectors drive I/O.
IMPURE = ("socket", "ssl", "subprocess", "threading", "smtplib", "selectors", "select", "asyncio")


def test_the_protocol_package_loads_nothing_that_does_io() -> None:
    code = (
        "import sys\n"
        f"for name in {PROTOCOL_MODULES!r}:\n"
        "    __import__(name)\n"
        f"print(' '.join(sorted(n for n in {IMPURE!r} if n in sys.modules)))\n"
    )
    # -S: no site, whose .pth files may load threading before we look
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert len(PROTOCOL_MODULES) >= 7
    assert result.stdout.split() == [], f"post_office.protocol loads {result.stdout}"


# What a plain send_smtp does not use, and so must not load: processes and threads (only
# the (":program", ...) transport and sessions need them), dataclasses and what it brings
# (inspect, ast, dis, tokenize), difflib (only to judge an unknown keyword); importing
# the send path loads no unicodedata either (only a non-ASCII address needs it: connecting
# loads it anyway, socket's getaddrinfo encodes the host with IDNA, as smtplib's does).
# `import post_office` alone loads not even typing.  typing is on the send path: the
# client's connection and transfer modules import it at run time.
NOT_TO_SEND = (
    "subprocess",
    "signal",
    "threading",
    "dataclasses",
    "inspect",
    "ast",
    "dis",
    "tokenize",
    "difflib",
    "importlib",  # the package's lazy names are loaded with __import__
    "typing",
    "smtplib",  # our SMTP errors derive from its own: loaded with them, on a failure
    "email",
    "hmac",
    "ssl",  # only for TLS: a plain send opens a plain socket
)
NOT_ON_IMPORT = (*NOT_TO_SEND, "unicodedata", "socket")


def _loaded_after(code: str, watched: Tuple[str, ...]) -> List[str]:
    """The modules of ``watched`` a fresh ``python -S`` has loaded after running ``code``."""
    script = (
        f"import sys\n{code}\nprint(' '.join(sorted(n for n in {watched!r} if n in sys.modules)))"
    )
    # -S: no site, whose .pth files may load typing or threading before we look
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_import_post_office_loads_next_to_nothing() -> None:
    assert _loaded_after("import post_office", NOT_ON_IMPORT) == []


def test_the_send_path_loads_only_what_sending_uses() -> None:
    loaded = _loaded_after("from post_office.api import send_smtp", (*NOT_TO_SEND, "unicodedata"))
    assert loaded == []


def test_sending_one_message_loads_only_what_sending_uses(smtp_plain: Any) -> None:
    code = (
        "import post_office\n"
        f"post_office.send_smtp(({smtp_plain.host!r}, ':port', {smtp_plain.port}), "
        "'me@example.test', 'you@example.test', 'Subject: x\\n\\nbody\\n')"
    )
    assert _loaded_after(code, NOT_TO_SEND) == []
    assert len(smtp_plain.messages) == 1


def test_the_watch_sees_a_module_load() -> None:
    assert _loaded_after("import dataclasses", ("dataclasses", "inspect")) == [
        "dataclasses",
        "inspect",
    ]


# Calls that open a socket or start a process.
OPENERS = {
    "socket": {"socket", "create_connection", "create_server", "socketpair", "fromfd"},
    "subprocess": {"Popen", "run", "call", "check_call", "check_output", "getoutput"},
    "os": {"fork", "system", "popen", "posix_spawn", "spawnv", "execv", "execvp"},
    "asyncio": {"open_connection", "start_server", "create_subprocess_exec"},
}


def _openers(tree: ast.AST) -> Iterator[Tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and node.func.attr in OPENERS.get(owner.id, ()):
                yield node.lineno, f"{owner.id}.{node.func.attr}"


@pytest.mark.parametrize("subpackage", ["protocol", "spec", "message", "mime", "cli", "."])
def test_only_client_and_the_sink_open_sockets_or_processes(subpackage: str) -> None:
    folder = PACKAGE / subpackage
    paths = folder.glob("*.py") if subpackage == "." else folder.rglob("*.py")
    found: List[str] = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(ROOT)}:{line}: {call}" for line, call in _openers(tree)]
    assert found == []


def test_the_checker_finds_an_opener() -> None:
    tree = ast.parse("import socket\nsocket.create_connection(('127.0.0.1', 25))\n")
    assert list(_openers(tree)) == [(2, "socket.create_connection")]


# Our stateful classes, by the names their instances go by outside their own module.
OWNERS = {
    "session": "client/session.py",
    "connection": "client/connection.py",
    "conversation": "protocol/conversation.py",
    "transaction": "protocol/transaction.py",
}


def test_no_module_assigns_another_class_s_attributes() -> None:
    """The session's state has one owner: nothing outside a class's module writes
    ``session.x = ...`` (the sink's ``self.session`` is aiosmtpd's, not ours)."""
    found: List[str] = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("sink/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for target in targets:
                if not isinstance(target, ast.Attribute):
                    continue
                owner = target.value
                if isinstance(owner, ast.Name) and OWNERS.get(owner.id, relative) != relative:
                    found.append(f"{relative}:{node.lineno}: {owner.id}.{target.attr}")
    assert found == []


def test_a_failure_loads_the_smtp_errors_and_smtplib_catches_them() -> None:
    # The SMTP errors are made on first use; once made, they are smtplib's subclasses
    # and name themselves post_office.errors.<name>, as before.
    code = (
        "import smtplib, socket, post_office\n"
        "listener = socket.socket(); listener.bind(('127.0.0.1', 0))\n"
        "port = listener.getsockname()[1]; listener.close()\n"
        "try:\n"
        "    post_office.send_smtp(('127.0.0.1', ':port', port), 'a@x.test', 'b@x.test', 'x')\n"
        "except smtplib.SMTPConnectError as error:\n"
        "    print(type(error).__module__, type(error).__name__, error.stage.name)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["post_office.errors", "ConnectionFailedError", "BEFORE_MAIL"]
