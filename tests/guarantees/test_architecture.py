"""README "Architecture", checked rather than claimed: the protocol package is pure (it
loads nothing that can open a socket, start a process or a thread), and only ``client/``
(and the sink's server, in ``sink/``) opens sockets or starts processes."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

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
