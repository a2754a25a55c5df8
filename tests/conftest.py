"""Shared test setup: hypothesis profiles, a test CA, and loopback SMTP servers.

Server fixtures (each a :class:`servers.LoopbackServer` on a free port of 127.0.0.1,
started before the test and stopped after it, so every test sees a fresh server):

- ``smtp_plain``: no TLS offered.
- ``smtp_starttls``: STARTTLS offered (not required), certificate for localhost/127.0.0.1.
- ``smtp_tls``: implicit TLS.
- ``smtp_auth``: STARTTLS and AUTH (PLAIN, LOGIN) required; ``USER`` / ``PASSWORD``
  (non-ASCII).  The STARTTLS and TLS servers accept the same login, without requiring it.
- ``smtp_server_factory(kind, **options)``: more of them, or with options (e.g.
  ``line_length_limit=``, ``enable_SMTPUTF8=False``, ``data_size_limit=``).
- ``smtp_subprocess``: a plain server in a child process that records only digests
  (for memory measurements of big messages).
- ``fault_server_factory(script, **options)``: a scripted, misbehaving server on plain
  sockets (``faultserver.py``) for the failure matrix and hostile-input tests.

Configure refusals through ``server.handler`` (see :class:`servers.RecordingHandler`);
read what arrived in ``server.messages``.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
import trustme
from hypothesis import HealthCheck, settings
from support.faultserver import FaultServer
from support.servers import (
    PASSWORD,
    USER,
    LoopbackServer,
    SubprocessServer,
    start_loopback_server,
)

#: dns_server, dns_server_factory, dns_settings (support/dns_fixtures.py); cli and sink
#: (support/cli.py); pytester for the plugin's own tests.
pytest_plugins = ["support.dns_fixtures", "support.cli", "pytester"]

# --------------------------------------------------------------------------- xdist


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """With pytest-xdist disabled (``-p no:xdist``), accept and ignore the
    ``--numprocesses`` and ``--dist`` that pyproject.toml's addopts pass to it."""
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist", "pytest-xdist is disabled: these are ignored")
        group.addoption("--numprocesses", default=None)
        group.addoption("--dist", default="no")


@pytest.hookimpl(optionalhook=True)  # -p no:xdist: the hook is not known, and not needed
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than there are CPUs.  About a third of the suite's
    time is spent waiting on sockets (servers, timeouts, child processes), so with one
    worker per CPU the CPUs sit idle; on 2 cores 3 workers take 52 s, 2 take 65 s."""
    return (os.cpu_count() or 1) + 1


# --------------------------------------------------------------------------- hypothesis

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """The test certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(tls_ca: trustme.CA) -> trustme.LeafCert:
    """The servers' certificate, for the names "localhost" and "127.0.0.1"."""
    return tls_ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture(scope="session")
def ca_file(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of the CA certificate (PEM): what a client passes as ``ca_file``."""
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_ssl_context(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


@pytest.fixture
def client_ssl_context(ca_file: str) -> ssl.SSLContext:
    """A client context that trusts the test CA and checks host names."""
    return ssl.create_default_context(cafile=ca_file)


@pytest.fixture
def smtp_credentials() -> tuple[str, str]:
    """(login, password) the AUTH-capable servers accept."""
    return USER, PASSWORD


# --------------------------------------------------------------------------- servers

ServerFactory = Callable[..., LoopbackServer]


@pytest.fixture
def smtp_server_factory(
    ca_file: str, server_ssl_context: ssl.SSLContext
) -> Iterator[ServerFactory]:
    """``factory(kind="plain", **options)`` starts a server; all stop after the test."""
    started: List[LoopbackServer] = []

    def factory(kind: str = "plain", **options: Any) -> LoopbackServer:
        server = start_loopback_server(
            kind, ca_file=ca_file, server_context=server_ssl_context, **options
        )
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        server.stop()


@pytest.fixture
def smtp_plain(smtp_server_factory: ServerFactory) -> LoopbackServer:
    return smtp_server_factory("plain")


@pytest.fixture
def smtp_starttls(smtp_server_factory: ServerFactory) -> LoopbackServer:
    return smtp_server_factory("starttls")


@pytest.fixture
def smtp_tls(smtp_server_factory: ServerFactory) -> LoopbackServer:
    return smtp_server_factory("tls")


@pytest.fixture
def smtp_auth(smtp_server_factory: ServerFactory) -> LoopbackServer:
    return smtp_server_factory("auth")


@pytest.fixture
def smtp_subprocess(tmp_path: Path) -> Iterator[SubprocessServer]:
    """A plain server in a child process; ``.records()`` reads what it received."""
    server = SubprocessServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- fault server


@pytest.fixture
def fault_server_factory(
    server_ssl_context: ssl.SSLContext,
) -> Iterator[Callable[..., FaultServer]]:
    """``factory(script=None, *, tls=False, **options)`` starts a scripted fault server
    (``faultserver.FaultServer``); ``tls=True`` gives it the test certificate, for STARTTLS
    and ``implicit_tls=True``.  All stop after the test."""
    started: List[FaultServer] = []

    def factory(script: Any = None, *, tls: bool = False, **options: Any) -> FaultServer:
        context = server_ssl_context if tls or options.get("implicit_tls") else None
        server = FaultServer(script, tls_context=context, **options)
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        server.stop()
