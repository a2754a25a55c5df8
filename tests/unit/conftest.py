"""The pure packages (spec/, message/, mime/, protocol/) are tested with bytes and values
only: any attempt to open a socket or start a process in a test here fails, so "pure" is
checked, not claimed (README "Architecture")."""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("a unit test of a pure package used a socket or started a process")


@pytest.fixture(autouse=True)
def no_sockets_or_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "__init__", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse)
