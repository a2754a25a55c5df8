"""The session's rules, fed bytes (README "Architecture"): greeting, EHLO/HELO, STARTTLS
required or opportunistic, the credentials-over-TLS rule, the MX rule, the mechanism
choice and the AUTH exchange.  No socket: the conversation only says what to do next."""

from __future__ import annotations

import base64
from typing import List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office.protocol.auth import REDACTED
from post_office.protocol.conversation import (
    Action,
    Conversation,
    Proceed,
    Send,
    SessionRules,
    StartTLS,
    TlsFacts,
)
from post_office.protocol.failures import Failure
from post_office.protocol.replies import Reply, ReplyParser

TLS = TlsFacts("TLSv1.3", "TLS_AES_256_GCM_SHA384")


def reply(data: bytes) -> Reply:
    parser = ReplyParser()
    parser.feed(data)
    parsed = parser.next_reply()
    assert parsed is not None
    return parsed


def rules(**changes: object) -> SessionRules:
    base = dict(host="mail.corp.example", port=587, reached="mail.corp.example",
                server_name="mail.corp.example", local_hostname="client.example")  # fmt: skip
    base.update(changes)
    return SessionRules(**base)  # type: ignore[arg-type]


EHLO_TLS = b"250-mail.corp.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
EHLO_AUTH = b"250-mail.corp.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"


def opened(conversation: Conversation, *answers: bytes) -> Action:
    """Greet with 220, then answer each command in turn; the last action."""
    action = conversation.greeted(reply(b"220 mail.corp.example ESMTP\r\n"))
    for data in answers:
        assert isinstance(action, Send), action
        action = conversation.answer(reply(data))
    return action


def test_a_2xx_greeting_is_followed_by_ehlo() -> None:
    conversation = Conversation(rules())
    assert conversation.greeted(reply(b"220 hi\r\n")) == Send(
        "EHLO client.example", "EHLO client.example"
    )


def test_a_greeting_that_is_not_2xx_is_a_connect_failure() -> None:
    with pytest.raises(Failure) as caught:
        Conversation(rules()).greeted(reply(b"554 go away\r\n"))
    failure = caught.value
    assert (failure.kind, failure.code, failure.command) == ("connect", 554, "(connect)")
    assert "mail.corp.example port 587 did not greet us with 2xx" in failure.message


def test_ehlo_then_open_with_the_extensions() -> None:
    conversation = Conversation(rules())
    assert opened(conversation, EHLO_AUTH) == Proceed()
    assert conversation.facts.extensions.auth == ("PLAIN", "LOGIN")
    assert not conversation.facts.used_helo


def test_a_refused_ehlo_falls_back_to_helo() -> None:
    conversation = Conversation(rules())
    action = opened(conversation, b"502 5.5.2 no\r\n")
    assert action == Send("HELO client.example", "HELO client.example")
    assert conversation.answer(reply(b"250 ok\r\n")) == Proceed()
    assert conversation.facts.used_helo and not conversation.facts.extensions.lines


def test_a_refused_helo_fails() -> None:
    conversation = Conversation(rules())
    opened(conversation, b"502 no\r\n")
    with pytest.raises(Failure) as caught:
        conversation.answer(reply(b"501 bad\r\n"))
    assert (caught.value.kind, caught.value.code) == ("helo", 501)
    assert caught.value.command == "HELO client.example"


def test_ehlo_421_is_no_reason_for_helo() -> None:
    with pytest.raises(Failure) as caught:
        opened(Conversation(rules()), b"421 closing\r\n")
    assert (caught.value.kind, caught.value.code) == ("helo", 421)


def test_starttls_when_offered_then_ehlo_again() -> None:
    conversation = Conversation(rules(starttls=True))
    assert opened(conversation, EHLO_TLS) == Send("STARTTLS", "STARTTLS")
    assert conversation.answer(reply(b"220 go ahead\r\n")) == StartTLS("mail.corp.example")
    assert conversation.tls_established(TLS) == Send("EHLO client.example", "EHLO client.example")
    assert conversation.answer(reply(EHLO_AUTH)) == Proceed()
    facts = conversation.facts
    assert facts.tls == TLS and facts.extensions_before_tls is not None
    assert facts.extensions_before_tls.starttls and facts.extensions.auth == ("PLAIN", "LOGIN")


def test_starttls_t_goes_on_in_plain_text_when_not_offered() -> None:
    conversation = Conversation(rules(starttls=True))
    action = opened(conversation, EHLO_AUTH)
    assert action == Proceed(note="the server does not offer STARTTLS; going on in plain text")
    assert not conversation.encrypted


def test_starttls_required_fails_when_not_offered() -> None:
    with pytest.raises(Failure) as caught:
        opened(Conversation(rules(starttls="required")), EHLO_AUTH)
    assert caught.value.kind == "starttls" and ":starttls :required" in caught.value.message


def test_a_refused_starttls_fails() -> None:
    conversation = Conversation(rules(starttls=True))
    opened(conversation, EHLO_TLS)
    with pytest.raises(Failure) as caught:
        conversation.answer(reply(b"454 4.7.0 TLS not available\r\n"))
    assert (caught.value.kind, caught.value.code, caught.value.command) == (
        "starttls",
        454,
        "STARTTLS",
    )


def test_implicit_tls_never_says_starttls() -> None:
    conversation = Conversation(rules(ssl=True, starttls=True), tls=TLS)
    assert opened(conversation, EHLO_TLS) == Proceed()
    assert conversation.encrypted


# --------------------------------------------------------------------------- AUTH


def authenticated(conversation: Conversation, *answers: bytes) -> List[Action]:
    actions = [conversation.authenticate("me", "s3cret", token=False)]
    for data in answers:
        actions.append(conversation.answer(reply(data)))
    return actions


def test_auth_plain_over_tls_redacts_what_it_shows() -> None:
    conversation = Conversation(rules(ssl=True), tls=TLS)
    opened(conversation, EHLO_AUTH)
    first, done = authenticated(conversation, b"235 2.7.0 ok\r\n")
    assert isinstance(first, Send)
    assert first.line == "AUTH PLAIN " + base64.b64encode(b"\0me\0s3cret").decode()
    assert first.shown == f"AUTH PLAIN {REDACTED}" and "s3cret" not in first.shown
    assert done == Proceed() and conversation.facts.auth_mechanism == "PLAIN"


def test_a_refused_login_is_an_auth_failure() -> None:
    conversation = Conversation(rules(ssl=True), tls=TLS)
    opened(conversation, EHLO_AUTH)
    with pytest.raises(Failure) as caught:
        authenticated(conversation, b"535 5.7.8 no\r\n")
    assert (caught.value.kind, caught.value.code) == ("auth", 535)
    assert "s3cret" not in str(caught.value) + repr(caught.value.command)


def test_no_credentials_in_clear_to_another_machine() -> None:
    conversation = Conversation(rules())
    opened(conversation, EHLO_AUTH)
    with pytest.raises(Failure) as caught:
        conversation.authenticate("me", "s3cret", token=False)
    assert caught.value.kind == "option" and ":allow-plaintext-auth t" in caught.value.message


@pytest.mark.parametrize("changes", [{"host": "127.0.0.1"}, {"allow_plaintext_auth": True}])
def test_credentials_in_clear_to_this_machine_or_when_opted_in(changes: dict) -> None:
    conversation = Conversation(rules(**changes))
    opened(conversation, EHLO_AUTH)
    action = conversation.authenticate("me", "s3cret", token=False)
    assert isinstance(action, Send) and action.line.startswith("AUTH PLAIN ")


def test_with_a_login_starttls_t_means_required() -> None:
    conversation = Conversation(rules(starttls=True, host="localhost"))
    opened(conversation, EHLO_AUTH)  # STARTTLS not offered: stripped?
    with pytest.raises(Failure) as caught:
        conversation.authenticate("me", "s3cret", token=False)
    assert caught.value.kind == "starttls" and "password was not sent" in caught.value.message


def test_never_credentials_to_a_mail_exchanger_from_dns() -> None:
    conversation = Conversation(rules(ssl=True, exchanger="mx.attacker.example"), tls=TLS)
    opened(conversation, EHLO_AUTH)
    with pytest.raises(Failure) as caught:
        conversation.authenticate("me", "s3cret", token=False)
    assert caught.value.kind == "option" and "mx.attacker.example" in caught.value.message


@pytest.mark.parametrize(
    "ehlo, token, expected",
    [
        (b"250-x\r\n250 AUTH CRAM-MD5 PLAIN LOGIN\r\n", False, "AUTH CRAM-MD5"),
        (b"250-x\r\n250 AUTH LOGIN\r\n", False, "AUTH LOGIN"),
        (b"250-x\r\n250 AUTH XOAUTH2 PLAIN\r\n", True, "AUTH XOAUTH2 "),
        (b"250-x\r\n250 AUTH GSSAPI\r\n", False, None),
        (b"250 x\r\n", False, None),
    ],
)
def test_the_mechanism_both_speak(ehlo: bytes, token: bool, expected: Optional[str]) -> None:
    conversation = Conversation(rules(ssl=True), tls=TLS)
    opened(conversation, ehlo)
    action = conversation.authenticate("me", "secret-or-token", token=token)
    if expected is None:  # nothing shared: sent without AUTH, with a warning
        assert isinstance(action, Proceed) and action.warning is not None
        assert "sending without authenticating" in action.warning
    else:
        assert isinstance(action, Send) and action.line.startswith(expected)


# --------------------------------------------------------------------------- property

CODES = st.sampled_from([b"220", b"250", b"421", b"454", b"502", b"554"])


@given(st.lists(CODES, min_size=1, max_size=6), st.booleans())
def test_no_credentials_before_tls_whatever_the_server_says(
    codes: List[bytes], required: bool
) -> None:
    """A non-loopback :starttls server (or a man in the middle) answering anything,
    STARTTLS never completing: AUTH is never sent."""
    conversation = Conversation(rules(starttls="required" if required else True))
    sent: List[str] = []
    try:
        action: Action = conversation.greeted(reply(b"220 hi\r\n"))
        for code in codes:
            if not isinstance(action, Send):
                break
            sent.append(action.line)
            line = (
                b"250-x\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"
                if code == b"250"
                else code + b" x\r\n"
            )
            action = conversation.answer(reply(line))
        if isinstance(action, Proceed):
            action = conversation.authenticate("me", "s3cret", token=False)
            if isinstance(action, Send):
                sent.append(action.line)
    except Failure:
        pass
    assert not any(line.startswith("AUTH") for line in sent)
