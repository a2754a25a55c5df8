"""pytest fixtures for testing code that sends mail (README, "Testing code that sends mail").

Registered through the ``pytest11`` entry point of the ``post_office`` distribution, so a
test module needs no conftest:

- ``smtp_sink``: a started :class:`~post_office.sink.server.Sink` on 127.0.0.1 (function scope,
  stopped after the test, failed or not).  ``@pytest.mark.smtp_sink(**options)`` gives it
  options.
- ``smtp_sink_factory(**options)``: a started sink with those options; every sink it made
  is stopped after the test.  Options: ``tls``, ``require_starttls``, ``ssl``,
  ``credentials``, ``refuse``, ``refuse_mail_from``, ``refuse_data``,
  ``strict_newlines``, ``hide_extensions``, ``max_size``, ``hang_at``,
  ``disconnect_at``, and the other keyword arguments of :class:`~post_office.sink.server.Sink`
  (``maildir``, ``mbox``, ``keep``, ...) except those that would listen beyond 127.0.0.1.
- ``smtp_sink_certificate``: the throwaway certificate the TLS sinks present, made once
  per test session (per xdist worker).

This module imports neither aiosmtpd nor the sink: without the ``sink`` extra, pytest runs
as before and only a test that asks for these fixtures fails, naming the install command.
Disable the plugin with ``-p no:post_office``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Type

import pytest

if TYPE_CHECKING:
    from .sink.certs import ThrowawayCertificate
    from .sink.server import Sink

__all__ = ["SinkFactory", "smtp_sink", "smtp_sink_certificate", "smtp_sink_factory"]

#: Options the fixtures refuse: the sinks they make listen on 127.0.0.1 only.
_NOT_HERE = ("host", "public", "allow_plaintext_auth")
_TLS_OPTIONS = ("tls", "ssl", "require_starttls")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "smtp_sink(**options): options of the smtp_sink fixture "
        "(tls, ssl, credentials, refuse, strict_newlines, hang_at, ...)",
    )


def _sink_class() -> Type[Sink]:
    """The Sink class, or fail the test (not the run) saying how to install aiosmtpd."""
    from .errors import SinkUnavailableError
    from .sink.server import INSTALL_HINT, Sink, require_aiosmtpd

    try:
        require_aiosmtpd()
    except SinkUnavailableError:
        missing = True
    else:
        missing = False
    if missing:  # outside the except block: one line, no chained traceback
        pytest.fail(f"the smtp_sink fixtures need aiosmtpd: {INSTALL_HINT}", pytrace=False)
    return Sink


class SinkFactory:
    """``smtp_sink_factory(**options)``: start a sink on 127.0.0.1 with those options."""

    def __init__(self, certificate: Callable[[], ThrowawayCertificate]) -> None:
        self._certificate = certificate
        self.sinks: List[Sink] = []

    def __call__(self, **options: Any) -> Sink:
        sink_class = _sink_class()
        refused = sorted(set(options) & set(_NOT_HERE))
        if refused:
            raise TypeError(
                f"smtp_sink_factory: {', '.join(refused)} not allowed: the fixtures' sinks "
                "listen on 127.0.0.1 only (start a post_office.Sink yourself for more)"
            )
        if "max_size" in options:
            options["data_size_limit"] = options.pop("max_size")
        wants_tls = any(options.get(name) for name in _TLS_OPTIONS)
        if wants_tls and options.get("tls_context") is None:
            options.setdefault("certificate", self._certificate())
        sink = sink_class("127.0.0.1", 0, **options)
        sink.start()
        self.sinks.append(sink)
        return sink

    def stop_all(self) -> None:
        """Stop every sink made (each is stopped even when another fails to)."""
        errors: List[BaseException] = []
        while self.sinks:
            try:
                self.sinks.pop().stop()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def smtp_sink_certificate(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCertificate:
    """The throwaway certificate of the TLS sinks, made once per session; clients trust
    it with ``:ca-file`` (``sink.server_spec()`` names it)."""
    _sink_class()
    from .sink.certs import make_throwaway_certificate

    return make_throwaway_certificate(tmp_path_factory.mktemp("smtp-sink-certificate"))


@pytest.fixture
def smtp_sink_factory(request: pytest.FixtureRequest) -> Iterator[SinkFactory]:
    """``smtp_sink_factory(**options)`` returns a started sink; all are stopped after the
    test, failed or not."""
    _sink_class()

    def certificate() -> ThrowawayCertificate:
        made: ThrowawayCertificate = request.getfixturevalue("smtp_sink_certificate")
        return made

    factory = SinkFactory(certificate)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def smtp_sink(request: pytest.FixtureRequest, smtp_sink_factory: SinkFactory) -> Sink:
    """A started sink on 127.0.0.1, stopped after the test; ``@pytest.mark.smtp_sink(...)``
    passes it options."""
    options: Dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("smtp_sink"))):
        options.update(marker.kwargs)
    return smtp_sink_factory(**options)
