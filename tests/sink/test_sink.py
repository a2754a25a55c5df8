"""The embedded sink itself (``post_office.Sink``): bounded memory, Maildir creation,
escaped output, ``public`` safety, no process-wide state, and the protocol's details
(CRAM-MD5, implicit TLS, refusals logged one line each)."""

from __future__ import annotations

import io
import socket
import threading
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Iterator, List

import pytest

from post_office import AuthenticationError, OptionError, Sink, send_smtp, send_smtp_auth

CHUNK = b"x" * 65536


class Raw:
    """A bare SMTP client on a socket: exactly the bytes given."""

    def __init__(self, sink: Sink) -> None:
        self.sock = socket.create_connection(("127.0.0.1", sink.port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.reply()

    def reply(self) -> str:
        lines: List[str] = []
        while True:
            line = self.file.readline().decode("utf-8", "replace")
            lines.append(line.rstrip())
            if line[3:4] != "-":
                return "\n".join(lines)

    def send(self, data: bytes) -> str:
        self.sock.sendall(data)
        return self.reply()

    def start_data(self, sender: bytes = b"<a@example.org>") -> None:
        assert self.send(b"EHLO me\r\n").startswith("250")
        assert self.send(b"MAIL FROM:" + sender + b"\r\n").startswith("250")
        assert self.send(b"RCPT TO:<b@example.org>\r\n").startswith("250")
        assert self.send(b"DATA\r\n").startswith("354")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


def test_memory_is_bounded_by_the_size_limit_for_a_message_without_line_breaks() -> None:
    """16 MiB on one line to a sink that takes 256 KiB: aiosmtpd alone keeps every fragment
    of the line (1 GiB took 1056 MB); the sink keeps at most the limit."""
    with Sink(data_size_limit=256 * 1024) as sink:
        client = Raw(sink)
        client.start_data()
        tracemalloc.start()
        try:
            for _ in range(256):
                client.sock.sendall(CHUNK)
            reply = client.send(b"\r\n.\r\n")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        client.close()
    assert reply[:4] in ("552 ", "500 ")  # too big, or its line too long: refused either way
    assert peak < 4 * 1024 * 1024, f"peak {peak:,} bytes"
    assert sink.messages == []


def test_a_too_long_line_is_refused_and_the_next_message_still_works(sink: Sink) -> None:
    client = Raw(sink)
    client.start_data()
    assert client.send(b"y" * 5000 + b"\r\n.\r\n").startswith("500 5.5.2")
    assert client.send(b"MAIL FROM:<a@example.org>\r\n").startswith("250")
    assert client.send(b"RCPT TO:<b@example.org>\r\n").startswith("250")
    assert client.send(b"DATA\r\n").startswith("354")
    assert client.send(b"Subject: ok\r\n\r\n..x\r\n.\r\n").startswith("250")
    client.close()
    assert [m.data for m in sink.messages] == [b"Subject: ok\r\n\r\n.x\r\n"]


def test_an_existing_empty_directory_becomes_a_maildir(tmp_path: Path) -> None:
    (tmp_path / "mail").mkdir()
    with Sink(maildir=tmp_path / "mail") as sink:
        send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "Subject: x\n\nhi\n")
    [message] = sink.messages
    assert message.stored_in is not None and message.stored_in.parent == tmp_path / "mail" / "new"
    assert message.stored_in.read_bytes().endswith(b"Subject: x\n\nhi\n")
    assert f"stored in {message.stored_in}" in message.summary()


def test_control_characters_are_escaped_in_everything_printed(tmp_path: Path) -> None:
    log = io.StringIO()
    hostile = b'<"\x1b[2J\x1b]0;pwned\x07\xe2\x80\xae"@example.org>'
    with Sink(log=log, refuse={"*evil*": "550 5.1.1 no"}) as sink:
        client = Raw(sink)
        client.start_data(hostile)
        assert client.send(b"Subject: \x1b[31mred\r\n\r\nhi\r\n.\r\n").startswith("250")
        assert client.send(b"RSET\r\n").startswith("250")
        client.send(b"MAIL FROM:<a@example.org>\r\n")
        assert client.send(b"RCPT TO:<\x1b[1mevil@example.org>\r\n").startswith("5")
        client.send(b"NO\x1bPE\r\n")
        client.close()
    summary = sink.messages[0].summary()
    output = summary + log.getvalue()
    for bad in ("\x1b", "\x07", "\u202e"):
        assert bad not in output
    assert '"\\x1b[2J\\x1b]0;pwned\\x07\\u202e"@example.org' in summary
    assert "\\x1b[1mevil@example.org" in log.getvalue()


def test_public_without_credentials_warns() -> None:
    with pytest.warns(UserWarning, match="without credentials"):
        Sink("192.0.2.1", public=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Sink("127.0.0.1", public=True)  # loopback: nothing to warn about


def test_public_auth_without_tls_is_refused_unless_asked_for() -> None:
    with pytest.raises(OptionError, match="allow_plaintext_auth"):
        Sink("192.0.2.1", public=True, credentials=("me", "secret"))
    Sink("192.0.2.1", public=True, credentials=("me", "secret"), tls=True)
    Sink("192.0.2.1", public=True, credentials=("me", "secret"), allow_plaintext_auth=True)


def test_start_leaves_the_warnings_filters_alone() -> None:
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Sink(credentials=("me", "secret")) as sink:
            assert list(warnings.filters)[1:] == before  # only catch_warnings' own entry
            send_smtp_auth(sink.server_spec(), "a@example.org", ["b@example.org"], "me",
                           "secret", "x")  # fmt: skip
    assert list(warnings.filters) == before
    assert [str(w.message) for w in caught] == []
    assert sink.messages[0].login == "me"


def test_refused_logins_and_commands_are_logged_one_line_each() -> None:
    log = io.StringIO()
    with (
        Sink(tls=True, credentials=("me", "s3cret"), log=log) as sink,
        pytest.raises(AuthenticationError, match="535"),
    ):
        send_smtp_auth(sink.server_spec(), "a@example.org", ["b@example.org"], "me",
                       "wrong-password", "x")  # fmt: skip
    lines = log.getvalue().splitlines()
    refused = [line for line in lines if "refused" in line]
    assert len(refused) == 1, lines
    assert "refused AUTH" in refused[0] and "(login 'me')" in refused[0] and "535" in refused[0]
    assert "wrong-password" not in log.getvalue()


class _Watch(io.StringIO):
    """A sink log that sets ``seen`` when a line holding ``text`` is written."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, threading.Event()

    def write(self, line: str) -> int:
        if self.text in line:
            self.seen.set()
        return super().write(line)


def test_stop_ends_a_hanging_connection_at_once() -> None:
    hanging = _Watch("going silent (hang_at)")
    with Sink(hang_at="DATA", log=hanging) as sink:
        errors: List[BaseException] = []

        def send() -> None:
            try:
                send_smtp(sink.server_spec(), "a@example.org", ["b@example.org"], "x",
                          timeout=30)  # fmt: skip
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=send)
        thread.start()
        assert hanging.seen.wait(10)  # the client is at DATA and the sink is silent
        started = time.monotonic()
    thread.join(10)
    assert not thread.is_alive() and errors and time.monotonic() - started < 5


def test_bad_options_name_themselves() -> None:
    with pytest.raises(OptionError, match=r"hide_extensions.*CHUNKING"):
        Sink(hide_extensions=["CHUNKING"])
    with pytest.raises(OptionError, match=r"refuse: .*not a 4xx or 5xx reply"):
        Sink(refuse={"a@example.org": "250 fine"})
    with pytest.raises(OptionError, match="hang_at and disconnect_at both name MAIL"):
        Sink(hang_at="mail", disconnect_at="MAIL")
    with pytest.raises(OptionError, match="require_starttls is for STARTTLS"):
        Sink(ssl=True, require_starttls=True)
