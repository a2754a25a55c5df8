"""AUTH mechanism choice and the lines each mechanism sends (RFC 4954), with no server."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from post_office.errors import AuthenticationError, ProtocolError, SMTPError, from_failure
from post_office.protocol.auth import (
    PASSWORD_MECHANISMS,
    REDACTED,
    TOKEN_MECHANISMS,
    choose_mechanism,
)
from post_office.protocol.auth import AuthExchange as PureAuthExchange
from post_office.protocol.failures import Failure
from post_office.protocol.replies import Reply, ReplyParser


class AuthExchange(PureAuthExchange):
    """The pure exchange, its failures turned into the errors the client raises."""

    def answer(self, reply: Reply) -> Optional[Tuple[str, str]]:
        try:
            return super().answer(reply)
        except Failure as failure:
            raise from_failure(failure) from failure.__cause__


LOGIN = "j\u00fcrgen@example.test"  # non-ASCII: credentials are UTF-8
SECRET = "p\u00e4ss w\u00f6rd \u20ac\u4e2d"
TOKEN = "ya29.a0AfH6SMBx-token"


def b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def reply(code: int, text: str = "") -> Reply:
    return Reply(code, (text,))


def from_bytes(data: bytes) -> Reply:
    parser = ReplyParser()
    parser.feed(data)
    result = parser.next_reply()
    assert result is not None
    return result


def run(exchange: AuthExchange, replies: List[Reply]) -> List[Tuple[str, str]]:
    """Every line the exchange sends, first included, given the server's ``replies``."""
    lines = [exchange.first()]
    for server in replies:
        step = exchange.answer(server)
        if step is None:
            break
        lines.append(step)
    return lines


def assert_hidden(lines: List[Tuple[str, str]], *secrets: str) -> None:
    for _, shown in lines:
        for secret in secrets:
            assert secret not in shown
            assert b64(secret.encode("utf-8")) not in shown


# --------------------------------------------------------------------------- choice


@pytest.mark.parametrize(
    ("offered", "token", "chosen"),
    [
        (("PLAIN", "LOGIN", "CRAM-MD5"), False, "CRAM-MD5"),
        (("LOGIN", "CRAM-MD5"), False, "CRAM-MD5"),
        (("LOGIN", "PLAIN"), False, "PLAIN"),
        (("PLAIN",), False, "PLAIN"),
        (("LOGIN",), False, "LOGIN"),
        (("XOAUTH2", "LOGIN"), False, "LOGIN"),
        (("XOAUTH2",), False, None),
        (("GSSAPI", "NTLM"), False, None),
        ((), False, None),
        (("XOAUTH2", "PLAIN", "CRAM-MD5"), True, "XOAUTH2"),
        (("PLAIN", "LOGIN", "CRAM-MD5"), True, None),
        (("OAUTHBEARER",), True, None),
        ((), True, None),
    ],
)
def test_choose_mechanism(offered: Tuple[str, ...], token: bool, chosen: Optional[str]) -> None:
    assert choose_mechanism(offered, token=token) == chosen


def test_preference_constants() -> None:
    assert PASSWORD_MECHANISMS == ("CRAM-MD5", "PLAIN", "LOGIN")
    assert TOKEN_MECHANISMS == ("XOAUTH2",)


@given(
    offered=st.lists(
        st.sampled_from(["CRAM-MD5", "PLAIN", "LOGIN", "XOAUTH2", "GSSAPI", "NTLM"]),
        unique=True,
    ),
    token=st.booleans(),
)
def test_choice_is_the_best_shared(offered: List[str], token: bool) -> None:
    preference = TOKEN_MECHANISMS if token else PASSWORD_MECHANISMS
    shared = [m for m in preference if m in offered]
    assert choose_mechanism(offered, token=token) == (shared[0] if shared else None)
    assert choose_mechanism(list(reversed(offered)), token=token) == (shared[0] if shared else None)


def test_unknown_mechanism_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown AUTH mechanism"):
        AuthExchange("GSSAPI", LOGIN, SECRET)
    with pytest.raises(ValueError):
        AuthExchange("plain", LOGIN, SECRET)  # upper case, as Extensions.auth gives


# --------------------------------------------------------------------------- PLAIN


def test_plain_initial_response() -> None:
    exchange = AuthExchange("PLAIN", LOGIN, SECRET)
    expected = b64(b"\0" + LOGIN.encode("utf-8") + b"\0" + SECRET.encode("utf-8"))
    assert expected == "AGrDvHJnZW5AZXhhbXBsZS50ZXN0AHDDpHNzIHfDtnJkIOKCrOS4rQ=="
    wire, shown = exchange.first()
    assert wire == f"AUTH PLAIN {expected}"
    assert shown == f"AUTH PLAIN {REDACTED}"
    assert exchange.answer(reply(235, "2.7.0 Authentication successful")) is None


def test_plain_ascii_credentials() -> None:
    wire, _ = AuthExchange("PLAIN", "login", "secret").first()
    assert wire == "AUTH PLAIN " + b64(b"\0login\0secret")
    assert wire == "AUTH PLAIN AGxvZ2luAHNlY3JldA=="


def test_plain_after_an_empty_challenge_sends_the_response_on_its_own_line() -> None:
    exchange = AuthExchange("PLAIN", "login", "secret")
    exchange.first()
    step = exchange.answer(from_bytes(b"334 \r\n"))
    assert step == ("AGxvZ2luAHNlY3JldA==", REDACTED)
    assert exchange.answer(reply(235)) is None


def test_plain_asked_twice_is_refused() -> None:
    exchange = AuthExchange("PLAIN", "login", "secret")
    exchange.first()
    exchange.answer(reply(334))
    with pytest.raises(AuthenticationError, match="kept asking") as info:
        exchange.answer(reply(334))
    assert info.value.code == 334


# --------------------------------------------------------------------------- LOGIN


def test_login_exchange() -> None:
    exchange = AuthExchange("LOGIN", LOGIN, SECRET)
    lines = run(
        exchange,
        [from_bytes(b"334 VXNlcm5hbWU6\r\n"), from_bytes(b"334 UGFzc3dvcmQ6\r\n"), reply(235)],
    )
    assert lines == [
        ("AUTH LOGIN", "AUTH LOGIN"),
        (b64(LOGIN.encode("utf-8")), REDACTED),
        (b64(SECRET.encode("utf-8")), REDACTED),
    ]
    assert lines[1][0] == "asO8cmdlbkBleGFtcGxlLnRlc3Q="
    assert lines[2][0] == "cMOkc3Mgd8O2cmQg4oKs5Lit"
    assert_hidden(lines, SECRET, LOGIN)


def test_login_asked_a_third_time_is_refused() -> None:
    exchange = AuthExchange("LOGIN", "u", "p")
    exchange.first()
    exchange.answer(reply(334, "VXNlcm5hbWU6"))
    exchange.answer(reply(334, "UGFzc3dvcmQ6"))
    with pytest.raises(AuthenticationError, match="kept asking during AUTH LOGIN") as info:
        exchange.answer(reply(334, "UGFzc3dvcmQ6"))
    assert info.value.code == 334 and info.value.reply == "UGFzc3dvcmQ6"


# --------------------------------------------------------------------------- CRAM-MD5

RFC2195_CHALLENGE = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
RFC2195_RESPONSE = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"


def test_cram_md5_rfc_2195_example() -> None:
    exchange = AuthExchange("CRAM-MD5", "tim", "tanstaaftanstaaf")
    assert exchange.first() == ("AUTH CRAM-MD5", "AUTH CRAM-MD5")
    step = exchange.answer(from_bytes(b"334 " + RFC2195_CHALLENGE.encode() + b"\r\n"))
    assert step == (RFC2195_RESPONSE, REDACTED)
    assert base64.b64decode(RFC2195_RESPONSE) == b"tim b913a602c7eda7a495b4e6e7334d3890"
    assert exchange.answer(reply(235, "Authentication successful")) is None


def test_cram_md5_utf8_credentials() -> None:
    nonce = b"<12345.678@mail.example.test>"
    exchange = AuthExchange("CRAM-MD5", LOGIN, SECRET)
    exchange.first()
    step = exchange.answer(reply(334, b64(nonce)))
    digest = hmac.new(SECRET.encode("utf-8"), nonce, hashlib.md5).hexdigest()
    assert step == (b64(f"{LOGIN} {digest}".encode()), REDACTED)
    assert SECRET not in base64.b64decode(step[0]).decode("utf-8")


@pytest.mark.parametrize("challenge", ["not base64!", "PDE4OTYu*", "abc", "h\u00e9llo"])
def test_cram_md5_challenge_not_base64(challenge: str) -> None:
    exchange = AuthExchange("CRAM-MD5", "tim", "tanstaaftanstaaf")
    exchange.first()
    with pytest.raises(ProtocolError, match="not base64") as info:
        exchange.answer(reply(334, challenge))
    assert info.value.reply == challenge
    assert info.value.command == "AUTH CRAM-MD5"
    assert not isinstance(info.value, AuthenticationError)


def test_cram_md5_refused_after_the_response() -> None:
    exchange = AuthExchange("CRAM-MD5", "tim", "tanstaaftanstaaf")
    exchange.first()
    exchange.answer(reply(334, RFC2195_CHALLENGE))
    with pytest.raises(AuthenticationError) as info:
        exchange.answer(reply(535, "5.7.8 Authentication credentials invalid"))
    assert info.value.code == 535
    assert info.value.command == REDACTED
    assert "tanstaaftanstaaf" not in str(info.value)
    assert RFC2195_RESPONSE not in str(info.value)


# --------------------------------------------------------------------------- XOAUTH2


def test_xoauth2_initial_response() -> None:
    exchange = AuthExchange("XOAUTH2", LOGIN, TOKEN)
    wire, shown = exchange.first()
    raw = b"user=" + LOGIN.encode("utf-8") + b"\x01auth=Bearer " + TOKEN.encode() + b"\x01\x01"
    assert wire == "AUTH XOAUTH2 " + b64(raw)
    assert shown == f"AUTH XOAUTH2 {REDACTED}"
    assert exchange.answer(reply(235, "2.7.0 Accepted")) is None


def test_xoauth2_error_details_are_answered_with_an_empty_line() -> None:
    details = b64(b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}')
    exchange = AuthExchange("XOAUTH2", LOGIN, TOKEN)
    exchange.first()
    assert exchange.answer(reply(334, details)) == ("", "")
    with pytest.raises(AuthenticationError) as info:
        exchange.answer(reply(535, "5.7.8 Username and Password not accepted"))
    assert info.value.code == 535
    assert TOKEN not in str(info.value)


def test_xoauth2_asked_twice_is_refused() -> None:
    exchange = AuthExchange("XOAUTH2", LOGIN, TOKEN)
    exchange.first()
    exchange.answer(reply(334, "e30="))
    with pytest.raises(AuthenticationError, match="kept asking"):
        exchange.answer(reply(334, "e30="))


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"])
@pytest.mark.parametrize("code", [535, 534, 454, 504, 538, 421, 250])
def test_refusal_raises_authentication_error_with_the_code(mechanism: str, code: int) -> None:
    exchange = AuthExchange(mechanism, LOGIN, SECRET)
    wire, shown = exchange.first()
    with pytest.raises(AuthenticationError) as info:
        exchange.answer(reply(code, "5.7.8 Authentication credentials invalid"))
    error = info.value
    assert isinstance(error, SMTPError)
    assert error.code == code
    assert error.reply == "5.7.8 Authentication credentials invalid"
    assert error.command == shown
    assert f"AUTH {mechanism} was refused" in str(error)
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert b64(SECRET.encode("utf-8")) not in str(error)
    if mechanism in ("PLAIN", "XOAUTH2"):  # the initial response carries the secret
        assert wire.split()[-1] not in str(error)


def test_refusal_of_the_password_in_login() -> None:
    exchange = AuthExchange("LOGIN", LOGIN, SECRET)
    exchange.first()
    exchange.answer(reply(334, "VXNlcm5hbWU6"))
    exchange.answer(reply(334, "UGFzc3dvcmQ6"))
    with pytest.raises(AuthenticationError) as info:
        exchange.answer(reply(535, "bad"))
    assert info.value.code == 535 and info.value.command == REDACTED
    assert b64(SECRET.encode("utf-8")) not in str(info.value)


def test_multi_line_refusal_text() -> None:
    exchange = AuthExchange("PLAIN", "u", "p")
    exchange.first()
    with pytest.raises(AuthenticationError) as info:
        exchange.answer(
            from_bytes(b"535-5.7.8 Username and Password not accepted.\r\n535 more\r\n")
        )
    assert info.value.reply == "5.7.8 Username and Password not accepted.\nmore"


def test_repr_shows_no_credentials() -> None:
    exchange = AuthExchange("PLAIN", LOGIN, SECRET)
    assert repr(exchange) == "AuthExchange('PLAIN', step 0)"
    exchange.first()
    exchange.answer(reply(334))
    assert repr(exchange) == "AuthExchange('PLAIN', step 1)"


# --------------------------------------------------------------------------- properties

_credential = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=30)


@given(login=_credential, secret=_credential)
def test_plain_carries_utf8_credentials(login: str, secret: str) -> None:
    wire, _ = AuthExchange("PLAIN", login, secret).first()
    command, mechanism, response = wire.split(" ")
    assert (command, mechanism) == ("AUTH", "PLAIN")
    assert base64.b64decode(response, validate=True) == (
        b"\0" + login.encode("utf-8") + b"\0" + secret.encode("utf-8")
    )


@given(
    mechanism=st.sampled_from(["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"]),
    login=_credential,
    secret=_credential,
)
def test_shown_text_never_carries_a_credential(mechanism: str, login: str, secret: str) -> None:
    exchange = AuthExchange(mechanism, login, secret)
    challenges = {
        "PLAIN": [reply(334)],
        "LOGIN": [reply(334, "VXNlcm5hbWU6"), reply(334, "UGFzc3dvcmQ6")],
        "CRAM-MD5": [reply(334, RFC2195_CHALLENGE)],
        "XOAUTH2": [reply(334, "e30=")],
    }[mechanism]
    lines = run(exchange, [*challenges, reply(235)])
    assert len(lines) == 1 + len(challenges)
    allowed = {f"AUTH {mechanism}", f"AUTH {mechanism} {REDACTED}", REDACTED, ""}
    for wire, shown in lines:
        assert shown in allowed
        assert "\r" not in wire and "\n" not in wire  # one line each, whatever the input
    assert exchange.command in allowed
