"""The sink module for ``serve`` and ``demo``, imported only when one of them runs."""

from __future__ import annotations

from types import ModuleType

__all__ = ["sink_module"]


def sink_module() -> ModuleType:
    """The sink module, after checking that aiosmtpd is importable (else exit 2)."""
    from ..sink import server as sink

    sink.require_aiosmtpd()
    return sink
