"""Which hosts are this machine: the one place credentials may go in clear without an
opt-in (README "Reliability").  Pure: no I/O."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """``localhost`` (any case) or a loopback address literal (127.0.0.0/8, ``::1``,
    with or without brackets)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
