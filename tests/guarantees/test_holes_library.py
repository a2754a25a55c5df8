"""Holes in the library's promises (issue 20, item 5), each pinned by a regression test:

1. a :certificate-password never appears in an error about a spec, however the spec is
   misspelt, padded or commented (README "Reliability");
2. a login, password or token that UTF-8 cannot carry (a lone surrogate) is refused
   before connecting, without the secret;
3. an smtp_session used by a second call while a message is under way refuses it at once
   instead of writing its commands into the first message's body;
4. no header line the package writes exceeds 998 octets (RFC 5322 2.1.1).
"""

from __future__ import annotations

import email
import email.policy
import io
import string
import sys
import threading
from typing import Any, Callable, List, Optional, Tuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from post_office import (
    AddressError,
    HeaderError,
    Keyword,
    OAuth2Token,
    OptionError,
    SessionStateError,
    make_mime_part,
    parse_mail_server,
    read_lisp,
    send_letter,
    send_smtp_auth,
    smtp_session,
)
from post_office.cli import main
from post_office.errors import PostOfficeError
from post_office.message.headers import check_header_value, decode_header_text, format_header
from post_office.spec.redaction import is_secret_key, redact_spec
from post_office.spec.transport import parse_transport

# --------------------------------------------------------------------------- 1. secrets

SECRET = "Zq9sEcReT"

_PASSWORD_KEYS = [
    ":certificate-password",
    ":CERTIFICATE_PASSWORD",
    ":certificate-password ",
    " :certificate-password",
    ":certificat-password",
    ":certificate-passwor",
    ":certficate-password",
    "certificate_password",
    ":cert-password",
]


def _leaks(exc: BaseException, secret: str) -> bool:
    texts = [str(exc), repr(exc)] + [str(arg) for arg in exc.args]
    return any(secret in text for text in texts)


@pytest.mark.parametrize(
    "spec",
    [
        # a misspelt keyword
        f'("h" :certificate "/c.pem" :certificat-password "{SECRET}")',
        f'("h" :certificate "/c.pem" :certificate-passwor "{SECRET}")',
        ("h", ":certificate", "/c.pem", ":certificat-password", SECRET),
        {"host": "h", "certificate-passwor": SECRET},
        # a trailing (or leading) space in a keyword written as a str
        ("h", ":certificate", "/c.pem", ":certificate-password ", SECRET, ":bogus", 1),
        ("h", ":certificate", "/c.pem", " :certificate-password", SECRET, ":bogus", 1),
        # a ; comment between the keyword and its value
        f'("h" :certificate "/c.pem" :certificate-password ;the key\'s\n "{SECRET}" :bogus 1)',
        f'("h" :certificate "/c.pem" :certificate-password ; x\n ; y\n {SECRET} :bogus 1)',
        # a quoted value with a space, an escaped quote, or that never ends
        f'("h" :certificate "/c.pem" :certificate-password "{SECRET} two" :bogus 1)',
        f'("h" :certificate "/c.pem" :certificat-password "a {SECRET} \\" b" :bogus 1)',
        f'("h" :certificate "/c.pem" :certificat-password "{SECRET} two',
        # a syntax error near a misspelt keyword: the snippet would quote the value
        f'("h" :certificate "/c.pem" :certificat-password {SECRET})',
        f'("h" :certificate "/c.pem" :certificat-password ("{SECRET}") :port x)',
        f'("h" :certificate "/c.pem" :certificat-password . "{SECRET}")',
    ],
)
def test_no_spec_error_shows_the_certificate_password(spec: object) -> None:
    for parse in (parse_mail_server, parse_transport):
        with pytest.raises(PostOfficeError) as info:
            parse(spec)
        assert not _leaks(info.value, SECRET), str(info.value)


def test_post_office_parse_never_prints_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    specs = [
        f'("h" :certificate "/c.pem" :certificat-password "{SECRET} two")',
        f'("h" :certificate "/c.pem" :certificate-password ;c\n"{SECRET}" :bogus 1)',
        f'("h" :certificate "/c.pem" :certificat-password {SECRET} :port x)',
        f'("h" :certificate "/c.pem" :certificate-password "{SECRET}")',
    ]
    statuses = [main(["parse", spec]) for spec in specs]
    out, err = capsys.readouterr()
    assert statuses == [2, 2, 2, 0]
    assert SECRET not in out + err
    assert err.count("post-office: error:") == 3 and "Traceback" not in err


def test_the_rule_keeps_what_is_no_secret() -> None:
    assert is_secret_key(Keyword("certificate-password"))
    assert not is_secret_key(":certificate")  # a certificate's path stays visible
    assert not is_secret_key("/tmp/test_certificate_password/c.pem")  # a path is no key
    shown = redact_spec('("h" :certificate "/c.pem" :certificate-password "x y" :port 25)')
    assert shown == '("h" :certificate "/c.pem" :certificate-password "<redacted>" :port 25)'
    assert redact_spec(("h", ":port", 25)) == ("h", ":port", 25)


_KEYWORDS = [":port", ":ssl", ":starttls", ":verify", ":ca-file", ":bogus", ":method", ":key"]
_VALUES = st.one_of(
    st.integers(-5, 70000),
    st.booleans(),
    st.none(),
    st.sampled_from(["t", "nil", ":required", "/ca.pem", "x y", ""]),
    st.sampled_from([Keyword("required"), Keyword("tlsv1.2")]),
)
_PADDING = st.text(alphabet=string.ascii_letters + string.digits + " \"\\;()'.:", max_size=8)


def _lisp(value: object) -> str:
    if isinstance(value, bool):
        return "t" if value else "nil"
    if value is None:
        return "nil"
    if isinstance(value, Keyword):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


@st.composite
def specs_with_a_password(draw: Any) -> Tuple[object, str]:
    """A spec in any form holding a certificate password, and the password's marker."""
    marker = "Zq" + draw(st.text(alphabet=string.ascii_letters, min_size=6, max_size=10))
    secret = draw(_PADDING) + marker + draw(_PADDING)
    key = draw(st.sampled_from(_PASSWORD_KEYS))
    pairs: List[Tuple[str, object]] = [
        (k, draw(_VALUES)) for k in draw(st.lists(st.sampled_from(_KEYWORDS), max_size=4))
    ]
    if draw(st.booleans()):
        pairs.append((":certificate", "/c.pem"))
    pairs.insert(draw(st.integers(0, len(pairs))), (key, secret))
    form = draw(st.sampled_from(["tuple", "list", "mapping", "lisp", "lisp-comment", "cut"]))
    if form in ("tuple", "list"):
        flat: List[object] = ["mail.corp"]
        for k, v in pairs:
            flat += [k, v]
        return (tuple(flat) if form == "tuple" else flat), marker
    if form == "mapping":
        return {"host": "mail.corp", **{k.strip().lstrip(":"): v for k, v in pairs}}, marker
    parts = ['("mail.corp"']
    for k, v in pairs:
        written = _lisp(v) if k != key or draw(st.booleans()) else marker
        gap = " ;" + draw(_PADDING).replace("\n", "") + "\n " if form == "lisp-comment" else " "
        parts.append(f"{k.strip()}{gap}{written}")
    text = " ".join(parts) + ")"
    if form == "cut":  # unbalanced or cut in the middle of the password
        text = text[: draw(st.integers(text.index(marker) + len(marker), len(text)))]
    return text, marker


@settings(max_examples=300, deadline=None)
@given(specs_with_a_password())
@example(('("h" :certificat-password "Zqabcdefg x")', "Zqabcdefg"))
@example((("h", ":certificate-password ", "Zqabcdefg", ":bogus", 1), "Zqabcdefg"))
def test_no_error_or_repr_ever_shows_a_certificate_password(case: Tuple[object, str]) -> None:
    spec, marker = case
    for parse in (parse_mail_server, parse_transport):
        try:
            parsed = parse(spec)
        except PostOfficeError as exc:
            assert not _leaks(exc, marker), str(exc)
        else:
            assert marker not in repr(parsed) + str(parsed)
    if isinstance(spec, str):
        try:
            read_lisp(spec)
        except PostOfficeError as exc:
            assert not _leaks(exc, marker), str(exc)


# --------------------------------------------------------------------------- 2. surrogates

FROM, TO = "me@example.test", "you@example.test"
#: What a password read from an environment variable holding the bytes b"s3cret\xff" is.
SURROGATE_PASSWORD = "Zq9s3cret\udcff"


def starttls(server: Any) -> Tuple[object, ...]:
    return (server.host, ":port", server.port, ":starttls", True, ":ca-file", server.ca_file)


def _send_smtp_auth(server: Any, login: str, password: object) -> None:
    send_smtp_auth(starttls(server), FROM, TO, login, password, "x\n", timeout=2)


def _send_letter(server: Any, login: str, password: object) -> None:
    send_letter(starttls(server), FROM, TO, "x\n", login=login, password=password, timeout=2)


def _session(server: Any, login: str, password: object) -> None:
    with smtp_session(starttls(server), login=login, password=password, timeout=2) as session:
        session.send_smtp(FROM, TO, "x\n")


@pytest.mark.parametrize("call", [_send_smtp_auth, _send_letter, _session])
@pytest.mark.parametrize(
    ("argument", "login", "password"),
    [
        ("password", "user", SURROGATE_PASSWORD),
        ("login", "Zq9us\udcffer", "pässwörd-ü"),
        ("OAuth2Token", "user", OAuth2Token(SURROGATE_PASSWORD)),
    ],
    ids=["password", "login", "token"],
)
def test_credentials_utf8_cannot_carry_are_refused_before_connecting(
    smtp_auth: Any,
    call: Callable[[Any, str, object], None],
    argument: str,
    login: str,
    password: object,
) -> None:
    with pytest.raises(OptionError) as info:
        call(smtp_auth, login, password)
    assert argument in str(info.value) and "surrogate" in str(info.value)
    assert not _leaks(info.value, "Zq9")
    assert smtp_auth.connections == 0


def test_password_env_that_is_not_utf8_is_a_clean_cli_error(
    smtp_auth: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", SURROGATE_PASSWORD)
    spec = f'("{smtp_auth.host}" :port {smtp_auth.port} :starttls t :ca-file "{smtp_auth.ca_file}")'
    login = ["--login", "user", "--password-env", "PW"]
    for argv in (
        ["send", spec, FROM, TO, *login],
        ["check", spec, "--timeout", "2", *login],
    ):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\n"), encoding="utf-8"))
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "Zq9" not in out + err
        assert err.startswith("post-office: error: password contains a lone surrogate")
    assert smtp_auth.messages == [] and smtp_auth.connections == 0


# --------------------------------------------------------------------------- 3. one session


#: Long enough for a slow CI; the events below order the threads, never a clock.
WAIT = 10
FIRST = b"Subject: first\r\n\r\nthe first message, whole\r\n"


class SlowBody:
    """A body source that, after its first piece, stops until ``go`` is set: thread 1's
    message stays in the middle of DATA while the test makes its second call."""

    def __init__(self) -> None:
        self.in_body = threading.Event()
        self.go = threading.Event()
        self.pieces = [FIRST[:20], FIRST[20:]]
        self.during: Optional[Callable[[], None]] = None  # run inside the body, once

    def read(self, size: int = -1) -> bytes:
        if len(self.pieces) == 1:
            self.in_body.set()
            if self.during is not None:
                self.during()
            assert self.go.wait(WAIT)
        return self.pieces.pop(0) if self.pieces else b""


def _first_in_a_thread(session: Any, body: SlowBody) -> Tuple[threading.Thread, List[object]]:
    outcome: List[object] = []

    def send() -> None:
        try:
            outcome.append(session.send_smtp(FROM, TO, body))
        except BaseException as exc:  # reported by the test in the main thread
            outcome.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    assert body.in_body.wait(WAIT)
    return thread, outcome


def test_a_second_thread_is_refused_while_a_message_is_under_way(smtp_plain: Any) -> None:
    body = SlowBody()
    with smtp_session((smtp_plain.host, smtp_plain.port), timeout=1) as session:
        thread, outcome = _first_in_a_thread(session, body)
        try:
            with pytest.raises(SessionStateError, match="sending another message"):
                session.send_smtp(FROM, TO, "Subject: second\n\nintruder\n")
            with pytest.raises(SessionStateError):
                session.send_letter(FROM, TO, "intruder", subject="second")
        finally:
            body.go.set()
            thread.join(WAIT)
        assert outcome == [None]
        # the refused calls left the session usable
        session.send_smtp(FROM, TO, "Subject: third\n\nnext\n")
    assert [m.content for m in smtp_plain.messages] == [
        FIRST,
        b"Subject: third\r\n\r\nnext\r\n",
    ]
    assert smtp_plain.connections == 1


def test_a_send_from_inside_a_body_source_is_refused(smtp_plain: Any) -> None:
    body = SlowBody()
    refused: List[BaseException] = []
    with smtp_session((smtp_plain.host, smtp_plain.port), timeout=1) as session:

        def reenter() -> None:
            try:
                session.send_smtp(FROM, TO, "intruder\n")
            except SessionStateError as exc:
                refused.append(exc)
            body.go.set()

        body.during = reenter
        session.send_smtp(FROM, TO, body)
    assert len(refused) == 1
    assert [m.content for m in smtp_plain.messages] == [FIRST]


def test_closing_from_another_thread_waits_for_the_message(smtp_plain: Any) -> None:
    body = SlowBody()
    session = smtp_session((smtp_plain.host, smtp_plain.port), timeout=1)
    with session:
        thread, outcome = _first_in_a_thread(session, body)
        session.close()  # the QUIT is left to the sending thread
        body.go.set()
        thread.join(WAIT)
    assert outcome == [None]
    assert [m.content for m in smtp_plain.messages] == [FIRST]
    assert smtp_plain.handler.quits == 1
    with pytest.raises(SessionStateError, match="not open"):
        session.send_smtp(FROM, TO, "late\n")


# --------------------------------------------------------------------------- 4. long lines

#: A word no line can hold: RFC 5322 2.1.1 allows 998 octets before the CRLF.
LONG = "W" * 3000


def _header_lines(content: bytes) -> List[bytes]:
    """The header lines of a message and of each MIME part's header block."""
    lines: List[bytes] = []
    in_header = True
    for line in content.split(b"\r\n"):
        if in_header and line == b"":
            in_header = False
        elif in_header:
            lines.append(line)
        elif line.startswith(b"--"):
            in_header = True  # a boundary: a part's header block follows
    return lines


def test_no_header_line_of_a_letter_exceeds_998_octets(smtp_plain: Any) -> None:
    spaced = " ".join(["spaced"] * 600)
    part = make_mime_part(
        text="body",
        description=LONG,
        headers=[("Comments", LONG + " " + LONG), ("X-Spaced", spaced)],
    )
    send_letter(
        (smtp_plain.host, smtp_plain.port),
        FROM,
        TO,
        "body",
        subject="Long: " + LONG,
        reply_to="Team " + spaced + " <team@example.test>",
        headers=["X-Raw: " + spaced],
        attachments=[part, make_mime_part(text="a", description="ü" + LONG)],
        timeout=2,
    )
    [received] = smtp_plain.messages
    lines = _header_lines(received.content)
    assert max(len(line) for line in lines) <= 998
    # the free text reads back whole, the rest unfolds to what was given
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    assert message["Subject"] == "Long: " + LONG
    assert message["X-Raw"] == spaced
    assert str(message["Reply-To"]) == "Team " + spaced + " <team@example.test>"
    [_, first, second] = message.get_payload()
    assert first["Comments"] == LONG + " " + LONG
    assert first["Content-Description"] == LONG
    assert first["X-Spaced"] == spaced
    assert second["Content-Description"] == "ü" + LONG


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: make_mime_part(text="x", headers=[("X-Id", LONG)]), "headers[0] (X-Id)"),
        (lambda: make_mime_part(text="x", headers=[("X-" + LONG, "v")]), "headers[0]"),
        (lambda: send_letter("127.0.0.1:1", FROM, TO, "x", headers="X-Id: " + LONG), "headers"),
        (lambda: send_letter("127.0.0.1:1", FROM, TO, "x", reply_to=LONG), "reply_to"),
        (lambda: send_letter("127.0.0.1:1", FROM, [TO, LONG + "@x.test"], "x"), "to"),
        (lambda: send_letter("127.0.0.1:1", LONG + "@x.test", TO, "x"), "from_"),
    ],
)
def test_a_header_line_that_cannot_be_folded_is_refused_before_connecting(
    build: Callable[[], object], argument: str
) -> None:
    with pytest.raises((HeaderError, AddressError)) as info:
        build()
    assert str(info.value).startswith(argument + ":")
    assert "998" in str(info.value) or "too long" in str(info.value)


def _text(draw: Any) -> str:
    piece = st.one_of(
        st.text(max_size=12),
        st.builds(lambda c, n: c * n, st.characters(), st.integers(70, 2200)),
    )
    return " ".join(draw(st.lists(piece, max_size=4)))


@st.composite
def header_texts(draw: Any) -> str:
    text = _text(draw)
    try:
        return check_header_value(text, "x")
    except HeaderError:
        return draw(st.just("fallback: " + "x" * 1200))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Subject", "Comments", "Content-Description", "X-Other"]), header_texts())
@example("Subject", LONG)
@example("Content-Description", "é" * 1000)
def test_every_header_line_fits_and_reads_back(name: str, text: str) -> None:
    try:
        written = format_header(name, text)
    except HeaderError:
        assert name == "X-Other"  # a header of unknown syntax is never encoded
        return
    lines = written[:-1].split("\n")
    assert all(len(line.encode("utf-8")) <= 998 for line in lines)
    unfolded = written[len(name) + 2 : -1].replace("\n", "")
    if name == "X-Other":
        assert unfolded == text  # folded at its spaces only
        if len(f"{name}: {text}".encode()) <= 998:
            assert written == f"{name}: {text}\n"  # as given, as Allegro writes it
    else:
        assert decode_header_text(unfolded) == text
