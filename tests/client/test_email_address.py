"""test_email_address (README "API: Allegro -> Python") against a loopback server that answers
VRFY as told."""

from __future__ import annotations

import socket

import pytest
from support.faultserver import FaultServer

import post_office
from post_office import AddressError, OptionError, ServerSpecError

# Imported under another name: pytest would collect a module-level "test_*" function
# (the API function also carries __test__ = False, checked below).
probe = post_office.test_email_address

NO_SUCH_USER = "550 5.1.1 No such user"


def spec(server: object) -> tuple[str, int]:
    return (server.host, server.port)  # type: ignore[attr-defined]


def test_default_252_means_may_be_valid(smtp_plain) -> None:
    assert probe("someone@example.test", server=spec(smtp_plain)) is True
    # Any reply but 550 answers at once: the whole address is never asked.
    assert smtp_plain.handler.vrfy_requests == ["someone"]


def test_first_550_then_whole_address_accepted_is_true(smtp_plain) -> None:
    smtp_plain.handler.vrfy_replies["alias"] = NO_SUCH_USER
    smtp_plain.handler.vrfy_replies["alias@example.test"] = "250 2.1.5 <alias@example.test>"
    assert probe("alias@example.test", server=spec(smtp_plain)) is True
    assert smtp_plain.handler.vrfy_requests == ["alias", "alias@example.test"]


def test_two_550_replies_mean_false(smtp_plain) -> None:
    smtp_plain.handler.vrfy_replies["nobody"] = NO_SUCH_USER
    smtp_plain.handler.vrfy_replies["nobody@example.test"] = NO_SUCH_USER
    assert probe("nobody@example.test", server=spec(smtp_plain)) is False
    assert smtp_plain.handler.vrfy_requests == ["nobody", "nobody@example.test"]
    assert smtp_plain.handler.quits == 1  # the session ends politely


@pytest.mark.parametrize(
    "second", ["551 5.1.6 User not local", "553 5.1.3 bad syntax", "450 4.2.1 try later"]
)
def test_only_550_counts_as_no(smtp_plain, second: str) -> None:
    smtp_plain.handler.vrfy_replies["x"] = NO_SUCH_USER
    smtp_plain.handler.vrfy_replies["x@example.test"] = second
    assert probe("x@example.test", server=spec(smtp_plain)) is True


def test_other_5xx_first_reply_is_true_at_once(smtp_plain) -> None:
    smtp_plain.handler.vrfy_replies["x"] = "502 5.5.1 VRFY disabled"
    assert probe("x@example.test", server=spec(smtp_plain)) is True
    assert smtp_plain.handler.vrfy_requests == ["x"]


def test_address_without_at_sends_the_name_twice(smtp_plain) -> None:
    smtp_plain.handler.vrfy_replies["postmaster"] = NO_SUCH_USER
    assert probe("postmaster", server=spec(smtp_plain)) is False
    assert smtp_plain.handler.vrfy_requests == ["postmaster", "postmaster"]


def test_auth_required_server_refusing_vrfy_is_true(smtp_auth) -> None:
    # aiosmtpd answers 530 (authentication required): not a 550, so "may be valid".
    server = (
        smtp_auth.host,
        ":port",
        smtp_auth.port,
        ":starttls",
        True,
        ":ca-file",
        smtp_auth.ca_file,
    )
    assert probe("x@example.test", server=server) is True


def test_no_connection_is_false() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on that port any more: connection refused.
    assert probe("x@example.test", server=("127.0.0.1", port), timeout=5) is False


def test_at_at_either_end_is_false_without_connecting(smtp_plain) -> None:
    assert probe("@example.test", server=spec(smtp_plain)) is False
    assert probe("user@", server=spec(smtp_plain)) is False
    assert smtp_plain.connections == 0


def test_unparseable_host_part_is_false() -> None:
    # Allegro cannot connect to such a host either; it answers nil.
    assert probe("user@host(with)parens", timeout=5) is False


@pytest.mark.parametrize("bad", [None, "", 42, b"user@x", ["user@x"]])
def test_non_string_or_empty_address_raises(bad: object) -> None:
    with pytest.raises(AddressError, match="non-empty string"):
        probe(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["user\r\n@x", "user@x\r\nRSET", "user\x00@x", "u\x1b[31m@x"])
def test_control_characters_are_false_without_connecting(smtp_plain, bad: str) -> None:
    # A malformed address never raises (Allegro returns nil); CR, LF and NUL could
    # smuggle a command, so nothing is sent at all.
    assert probe(bad, server=spec(smtp_plain)) is False
    assert smtp_plain.connections == 0


def test_white_space_is_asked_as_allegro_asks_it() -> None:
    with FaultServer() as server:
        assert probe("jo e@example.test", server=server.spec(), timeout=5) is True
        [record] = server.finish()
    assert b"VRFY jo e" in record.commands


def test_bad_server_or_option_raises() -> None:
    with pytest.raises(ServerSpecError):
        probe("x@example.test", server=("127.0.0.1", ":port", "many"))
    with pytest.raises(OptionError):
        probe("x@example.test", server=("127.0.0.1", 25), timeout=0)
    with pytest.raises(OptionError):
        probe("x@example.test", timeout=-1)


def test_not_collected_by_pytest() -> None:
    assert post_office.test_email_address.__test__ is False  # type: ignore[attr-defined]
