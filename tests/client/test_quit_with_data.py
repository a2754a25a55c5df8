"""A lone ``send_smtp`` ends with QUIT in the write of the end of the data where the
server offers PIPELINING (RFC 2920 3.1: message content may open a group that QUIT
ends): a write and a round trip saved, the message's own reply still read first and
judged alone (README "Reliability").  Against the scripted fault server, whose records
show what arrived before it answered.
"""

from __future__ import annotations

import logging
from typing import Callable

import pytest
from support.faultserver import SILENCE, FaultServer, reply

from post_office import DataError, SMTPTimeoutError, send_smtp

Factory = Callable[..., FaultServer]
FROM = "me@example.test"
TO = "you@example.test"
BODY = b"Subject: one\r\n\r\nHello.\r\n"


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "plain"])
def test_quit_goes_with_the_end_of_data_only_where_pipelining_is_offered(
    fault_server_factory: Factory, pipelining: bool
) -> None:
    # The server never answers the end of data: whatever it holds after it came unasked.
    server = fault_server_factory({"END": SILENCE}, pipelining=pipelining)
    with pytest.raises(SMTPTimeoutError):
        send_smtp(server.spec(), FROM, TO, BODY, timeout=0.3)
    [record] = server.wait_for(1)
    assert record.data == BODY + b".\r\n"
    assert record.after_data == (b"QUIT\r\n" if pipelining else b"")


def test_the_message_is_accepted_then_quit_is_answered(fault_server_factory: Factory) -> None:
    server = fault_server_factory({}, pipelining=True)
    assert send_smtp(server.spec(), FROM, TO, BODY) is None
    [record] = server.wait_for(1)
    assert record.verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert record.ended_by == "client"


def test_a_refused_message_raises_and_nothing_follows_the_quit(
    fault_server_factory: Factory,
) -> None:
    server = fault_server_factory({"END": reply("554 5.7.1 no thanks")}, pipelining=True)
    with pytest.raises(DataError) as info:
        send_smtp(server.spec(), FROM, TO, BODY)
    assert info.value.code == 554
    [record] = server.wait_for(1)
    assert record.verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]  # no RSET after it


def test_a_quit_left_unanswered_is_logged_not_raised(
    fault_server_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    server = fault_server_factory({"QUIT": SILENCE}, pipelining=True)
    with caplog.at_level(logging.WARNING):
        assert send_smtp(server.spec(), FROM, TO, BODY, timeout=0.3) is None
    assert "QUIT was not acknowledged (the message was already accepted)" in caplog.text
    [record] = server.wait_for(1)
    assert record.messages == [BODY + b".\r\n"]
