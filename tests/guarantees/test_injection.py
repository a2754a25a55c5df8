"""Hostile input: nothing a caller passes can smuggle a command, a header or an end of data.

Two halves:

- **Injection**: a CR, LF, NUL or any other control character in an envelope address, a
  login, the EHLO name, a server name or (send_letter) a header raises an
  :class:`~post_office.ArgumentError` naming the argument *before a socket is opened*:
  the fault server, asked afterwards with a probe, saw no connection at all.
- **Smuggling** (a hypothesis property): whatever the message holds (CR, LF, CRLF, dots,
  NUL, non-ASCII, long lines), the DATA bytes on the wire have no bare CR or LF, exactly
  one end-of-data line, nothing after it but QUIT, and un-stuff back to the input with
  its newlines made CRLF.
"""

from __future__ import annotations

import dataclasses
import io
import re
import socket
from typing import Callable, Iterator, List, Tuple, Type

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.faultserver import FaultServer

from post_office import (
    AddressError,
    ArgumentError,
    HeaderError,
    OptionError,
    ServerSpecError,
    send_letter,
    send_smtp,
    send_smtp_auth,
    smtp_session,
)
from post_office import test_email_address as email_address_probe  # not a test to collect

FROM, TO = "me@example.test", "you@example.test"
TIMEOUT = 5.0

#: Control characters: C0 (CR, LF, NUL, ...), DEL and C1 (NEL and friends).
CONTROL = ["\r", "\n", "\r\n", "\x00", "\x01", "\t", "\x0b", "\x1b", "\x7f", "\x80", "\x85", "\x9f"]
#: Header values may hold a TAB (it is folding white space); every other control is refused.
HEADER_CONTROL = [ch for ch in CONTROL if ch != "\t"]


# --------------------------------------------------------------------------- injection


@dataclasses.dataclass(frozen=True)
class Entry:
    """One argument of one entry point, and how a control character in it is refused."""

    name: str
    call: Callable[[FaultServer, str], object]
    """Makes the call with ``bad`` (a control character) inside that argument."""
    error: Type[ArgumentError]
    mentions: str
    """What the error message names (the argument)."""
    header: bool = False


def _session(server: FaultServer, **options: object) -> None:
    with smtp_session(server.spec(), timeout=TIMEOUT, **options) as session:  # type: ignore[arg-type]
        session.send_smtp(FROM, TO, "never\n")


def _letter(server: FaultServer, **options: object) -> None:
    send_letter(server.spec(), FROM, TO, "body\n", timeout=TIMEOUT, **options)  # type: ignore[arg-type]


ENTRIES = [
    # send_smtp
    Entry(
        "send_smtp from_",
        lambda s, c: send_smtp(s.spec(), f"me{c}x@example.test", TO, "x", timeout=TIMEOUT),
        AddressError,
        "from_",
    ),
    Entry(
        "send_smtp to",
        lambda s, c: send_smtp(s.spec(), FROM, f"you@exa{c}mple.test", "x", timeout=TIMEOUT),
        AddressError,
        "to",
    ),
    Entry(
        "send_smtp to[1]",
        lambda s, c: send_smtp(s.spec(), FROM, [TO, f"{c}RCPT TO:<x@y>"], "x", timeout=TIMEOUT),
        AddressError,
        "to[1]",
    ),
    Entry(
        "send_smtp local_hostname",
        lambda s, c: send_smtp(
            s.spec(), FROM, TO, "x", timeout=TIMEOUT, local_hostname=f"client{c}.test"
        ),
        OptionError,
        "local_hostname",
    ),
    Entry(
        "send_smtp server host",
        lambda s, c: send_smtp((f"127.0.0.1{c}", s.port), FROM, TO, "x", timeout=TIMEOUT),
        ServerSpecError,
        "mail-server",
    ),
    Entry(
        "send_smtp server string",
        lambda s, c: send_smtp(f"127.0.0.1:{s.port}{c}", FROM, TO, "x", timeout=TIMEOUT),
        ServerSpecError,
        "mail-server",
    ),
    Entry(
        "send_smtp server mapping",
        lambda s, c: send_smtp(
            {"host": f"{c}127.0.0.1", "port": s.port}, FROM, TO, "x", timeout=TIMEOUT
        ),
        ServerSpecError,
        "mail-server",
    ),
    Entry(
        "send_smtp :server-name",
        lambda s, c: send_smtp(
            s.spec(":starttls", True, ":server-name", f"local{c}host"),
            FROM,
            TO,
            "x",
            timeout=TIMEOUT,
        ),
        ServerSpecError,
        "server-name",
    ),
    # send_smtp_auth
    Entry(
        "send_smtp_auth login",
        lambda s, c: send_smtp_auth(s.spec(), FROM, TO, f"user{c}", "pw", "x", timeout=TIMEOUT),
        OptionError,
        "login",
    ),
    Entry(
        "send_smtp_auth from_",
        lambda s, c: send_smtp_auth(s.spec(), f"{c}{FROM}", TO, "user", "pw", "x", timeout=TIMEOUT),
        AddressError,
        "from_",
    ),
    Entry(
        "send_smtp_auth local_hostname",
        lambda s, c: send_smtp_auth(
            s.spec(), FROM, TO, "user", "pw", "x", timeout=TIMEOUT, local_hostname=f"a{c}"
        ),
        OptionError,
        "local_hostname",
    ),
    # send_letter
    Entry(
        "send_letter from_",
        lambda s, c: send_letter(s.spec(), f"me@x{c}", TO, "body\n", timeout=TIMEOUT),
        AddressError,
        "from_",
    ),
    Entry(
        "send_letter to",
        lambda s, c: send_letter(s.spec(), FROM, [f"you{c}@x"], "body\n", timeout=TIMEOUT),
        AddressError,
        "to[0]",
    ),
    Entry("send_letter cc", lambda s, c: _letter(s, cc=f"cc{c}@x"), AddressError, "cc"),
    Entry("send_letter bcc", lambda s, c: _letter(s, bcc=[TO, f"b{c}@x"]), AddressError, "bcc[1]"),
    Entry(
        "send_letter login",
        lambda s, c: _letter(s, login=f"user{c}", password="pw"),
        OptionError,
        "login",
    ),
    Entry(
        "send_letter local_hostname",
        lambda s, c: _letter(s, local_hostname=f"{c}client.test"),
        OptionError,
        "local_hostname",
    ),
    Entry(
        "send_letter server host",
        lambda s, c: send_letter((f"127.0.0.{c}1", s.port), FROM, TO, "x", timeout=TIMEOUT),
        ServerSpecError,
        "mail-server",
    ),
    Entry(
        "send_letter subject",
        lambda s, c: _letter(s, subject=f"hello{c}Bcc: evil@example.test"),
        HeaderError,
        "subject",
        header=True,
    ),
    Entry(
        "send_letter reply_to",
        lambda s, c: _letter(s, reply_to=f"reply@example.test{c}X-Evil: 1"),
        HeaderError,
        "reply_to",
        header=True,
    ),
    Entry(
        "send_letter headers (one line)",
        lambda s, c: _letter(s, headers=f"X-Note: one{c}Bcc: evil@example.test"),
        HeaderError,
        "headers",
        header=True,
    ),
    Entry(
        "send_letter headers (a list)",
        lambda s, c: _letter(s, headers=["X-Fine: yes", f"X-Note: {c}tail"]),
        HeaderError,
        "headers[1]",
        header=True,
    ),
    # test_email_address (its address: see test_email_address_is_false_unasked below)
    Entry(
        "test_email_address local_hostname",
        lambda s, c: email_address_probe(
            "user@x", server=s.spec(), timeout=TIMEOUT, local_hostname=f"me{c}"
        ),
        OptionError,
        "local_hostname",
    ),
    # smtp_session: its own arguments before connecting; a message's inside the session
    Entry(
        "smtp_session login",
        lambda s, c: _session(s, login=f"u{c}", password="pw"),
        OptionError,
        "login",
    ),
    Entry(
        "smtp_session local_hostname",
        lambda s, c: _session(s, local_hostname=f"me{c}.test"),
        OptionError,
        "local_hostname",
    ),
]


def _cases() -> Iterator[object]:
    for entry in ENTRIES:
        for ch in HEADER_CONTROL if entry.header else CONTROL:
            yield pytest.param(entry, ch, id=f"{entry.name}-{ch!r}")


@pytest.mark.parametrize(("entry", "bad"), list(_cases()))
def test_control_characters_raise_before_any_connection(
    entry: Entry, bad: str, fault_server_factory: Callable[..., FaultServer]
) -> None:
    server = fault_server_factory()
    with pytest.raises(entry.error) as info:
        entry.call(server, bad)
    assert entry.mentions in str(info.value)
    assert server.settled_connection_count() == 0, "a connection was opened"


@pytest.mark.parametrize("bad", CONTROL)
def test_email_address_with_a_control_character_is_false_unasked(
    bad: str, fault_server_factory: Callable[..., FaultServer]
) -> None:
    """Allegro's test-email-address never signals for a malformed address: nil, and
    here nothing is sent either."""
    server = fault_server_factory()
    assert email_address_probe(f"user{bad}@x", server=server.spec(), timeout=TIMEOUT) is False
    assert server.settled_connection_count() == 0, "a connection was opened"


@pytest.mark.parametrize("bad", ["\r\n", "\n", "\x00", "\x85"])
@pytest.mark.parametrize("where", ["from_", "to"])
def test_a_refused_message_in_an_open_session_sends_nothing(
    where: str, bad: str, fault_server_factory: Callable[..., FaultServer]
) -> None:
    """Inside an smtp_session the connection exists, but not one byte of the message goes."""
    server = fault_server_factory()
    evil = f"x@y{bad}RCPT TO:<victim@example.test>"
    with smtp_session(server.spec(), timeout=TIMEOUT) as session:
        with pytest.raises(AddressError) as info:
            session.send_smtp(evil if where == "from_" else FROM, evil if where == "to" else TO)
        assert where in str(info.value)
    [record] = server.wait_for(1)
    assert "MAIL" not in record.verbs and "RCPT" not in record.verbs


def test_the_probe_does_count_a_connection(
    fault_server_factory: Callable[..., FaultServer],
) -> None:
    """The counter the injection tests rely on sees a call that did connect, even one that
    hung up at once (before the server could have recorded it)."""
    server = fault_server_factory()
    send_smtp(server.spec(), FROM, TO, "x", timeout=TIMEOUT)
    assert server.settled_connection_count() == 1
    socket.create_connection((server.host, server.port), TIMEOUT).close()
    assert server.settled_connection_count() == 2


def test_a_tab_in_a_header_is_folding_white_space_not_an_injection(
    fault_server_factory: Callable[..., FaultServer],
) -> None:
    server = fault_server_factory()
    send_letter(server.spec(), FROM, TO, "body\n", headers=["X-Note: a\tb", "\tcontinued"])
    [record] = server.wait_for(1)
    assert record.data is not None and b"\r\nX-Note: a\tb\r\n\tcontinued\r\n" in record.data


# --------------------------------------------------------------------------- smuggling


@pytest.fixture(scope="module")
def recording_server() -> Iterator[FaultServer]:
    """One fault server in its default (recording) mode for every hypothesis example."""
    with FaultServer(ehlo_keywords=("8BITMIME", "SMTPUTF8")) as server:
        yield server


#: The pieces smuggling attacks are made of, and ordinary text around them.
_PIECES = st.one_of(
    st.sampled_from(
        [
            "\r",
            "\n",
            "\r\n",
            ".",
            "..",
            "\x00",
            "\r\n.\r\n",
            "\n.\n",
            "\r.\r",
            "\n.\r\n",
            "\r\n.\n",
            "\r\n.\r",
            ".\r\n",
            "\r\nMAIL FROM:<evil@example.test>\r\n",
            "é",
            "\u2028",
            "\U0001f4ec",
        ]
    ),
    st.text(max_size=40),
    st.builds(lambda n, c: c * n, st.integers(0, 2000), st.sampled_from(["x", ".", "ü"])),
)


@st.composite
def _messages(draw: st.DrawFn) -> Tuple[bytes, List[object]]:
    """The message's raw bytes, and the same bytes cut into send_smtp arguments."""
    text = "".join(draw(st.lists(_PIECES, max_size=30)))
    data = text.encode("utf-8")
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3)))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    arguments: List[object] = []
    for piece in pieces:
        kind = draw(st.sampled_from(["bytes", "str", "stream"]))
        try:
            decoded = piece.decode("utf-8")
        except UnicodeDecodeError:  # a cut inside a UTF-8 sequence: keep it as bytes
            kind = "stream" if kind == "stream" else "bytes"
            decoded = ""
        if kind == "str":
            arguments.append(decoded)
        elif kind == "stream":
            arguments.append(io.BytesIO(piece))
        else:
            arguments.append(piece)
    return data, arguments


def _expected(data: bytes) -> bytes:
    """What the receiver must get: every newline (CRLF, CR, LF) a CRLF, and a final CRLF."""
    lines = re.split(rb"\r\n|\r|\n", data)
    if lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def _unstuff(wire: bytes) -> bytes:
    """An RFC 5321 4.5.2 receiver, written independently of post_office.message.sources."""
    assert wire.endswith(b".\r\n")
    lines = wire[: -len(b".\r\n")].split(b"\r\n")
    assert lines[-1] == b""  # the content ends with CRLF (or is empty)
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines[:-1])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(message=_messages())
@example(message=(b"hi\n.\nMAIL FROM:<a@b>\n", [b"hi\n.\nMAIL FROM:<a@b>\n"]))
@example(message=(b"a\r\n.\r", [b"a\r\n.", b"\r"]))
@example(message=(b"", []))
@example(message=(b".", ["."]))
def test_no_smuggling_whatever_the_message(
    recording_server: FaultServer, message: Tuple[bytes, List[object]]
) -> None:
    data, arguments = message
    recording_server.clear()
    send_smtp(recording_server.spec(), FROM, TO, *arguments, timeout=TIMEOUT)
    [record] = recording_server.wait_for(1)
    wire = record.data
    assert wire is not None
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", wire) is None, "a bare CR or LF reached the wire"
    assert (b"\r\n" + wire).count(b"\r\n.\r\n") == 1 and wire.endswith(b".\r\n")
    assert record.after_data == b"QUIT\r\n", "something followed the end of data"
    assert record.verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    # No message argument at all: one empty line, as Allegro's send-smtp writes.
    assert _unstuff(wire) == (_expected(data) if arguments else b"\r\n")
