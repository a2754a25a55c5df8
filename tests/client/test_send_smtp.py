"""send_smtp against real aiosmtpd servers on 127.0.0.1: what the server received, byte for byte."""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import io
import ipaddress
import logging
import smtplib
import socket
import threading
import time
import tracemalloc
from typing import Iterator

import pytest

import post_office
from post_office import (
    AddressError,
    DataError,
    MessageArgumentError,
    OptionError,
    RecipientRefusedError,
    SenderRefusedError,
    ServerSpecError,
    SMTPTimeoutError,
    SMTPUTF8Error,
    send_smtp,
)
from post_office.client.session import default_local_hostname

HEADER = "From: me@example.test\nTo: you@example.test\nSubject: test\n\n"


def spec(server: object) -> tuple[str, int]:
    return (server.host, server.port)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- content


def test_arguments_are_concatenated_in_order(smtp_plain) -> None:
    stream = io.BytesIO(b"from a binary stream\n")
    text = io.StringIO("from a text stream\n")
    send_smtp(
        spec(smtp_plain),
        "me@example.test",
        "you@example.test",
        HEADER,
        b"bytes part\n",
        None,
        stream,
        text,
        bytearray(b"tail"),
    )
    [message] = smtp_plain.messages
    assert message.content == (
        b"From: me@example.test\r\nTo: you@example.test\r\nSubject: test\r\n\r\n"
        b"bytes part\r\nfrom a binary stream\r\nfrom a text stream\r\ntail\r\n"
    )
    assert message.mail_from == "me@example.test"
    assert message.rcpt_tos == ["you@example.test"]


def test_leading_dots_are_stuffed_and_unstuffed(smtp_plain) -> None:
    body = ".\n..\n.leading\nmiddle.\n.\r\n.end"
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", body)
    [message] = smtp_plain.messages
    assert message.content == b".\r\n..\r\n.leading\r\nmiddle.\r\n.\r\n.end\r\n"


def test_bare_cr_and_lf_become_crlf(smtp_plain) -> None:
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", b"a\nb\rc\r\nd\n\re\r\r\n")
    [message] = smtp_plain.messages
    assert message.content == b"a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\n"


def test_crlf_split_across_arguments_is_one_newline(smtp_plain) -> None:
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", b"one\r", b"\n.two\n")
    assert smtp_plain.messages[0].content == b"one\r\n.two\r\n"


def test_message_ending_in_newline_gains_no_empty_line(smtp_plain) -> None:
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "body\n")
    assert smtp_plain.messages[0].content == b"body\r\n"


def test_non_ascii_text_is_utf8_and_announced_8bitmime(smtp_plain) -> None:
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "Grüße, 世界\n")
    [message] = smtp_plain.messages
    assert message.content == "Grüße, 世界\r\n".encode()
    assert "BODY=8BITMIME" in message.mail_options


def test_ascii_only_text_is_not_announced_8bit(smtp_plain) -> None:
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "plain ascii\n")
    assert "BODY=8BITMIME" not in smtp_plain.messages[0].mail_options


def test_streams_are_read_from_where_they_stand_and_left_open(smtp_plain) -> None:
    stream = io.BytesIO(b"SKIPPED|kept\n")
    stream.seek(8)
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", stream)
    assert smtp_plain.messages[0].content == b"kept\r\n"
    assert not stream.closed
    assert stream.tell() == len(b"SKIPPED|kept\n")


def test_email_message_objects_are_accepted(smtp_plain) -> None:
    msg = email.message.EmailMessage()
    msg["From"] = "me@example.test"
    msg["To"] = "you@example.test"
    msg["Subject"] = "an EmailMessage"
    msg.set_content(".starts with a dot\nsecond line\n")
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", msg)
    parsed = email.message_from_bytes(smtp_plain.messages[0].content, policy=email.policy.default)
    assert parsed["Subject"] == "an EmailMessage"
    assert parsed.get_content().replace("\r\n", "\n") == ".starts with a dot\nsecond line\n"


def test_recipient_list_and_null_sender(smtp_plain) -> None:
    send_smtp(spec(smtp_plain), "", ["a@example.test", "b@example.test", "c"], "x\n")
    [message] = smtp_plain.messages
    assert message.mail_from == ""
    assert message.rcpt_tos == ["a@example.test", "b@example.test", "c"]


def test_non_ascii_address_uses_smtputf8(smtp_plain) -> None:
    send_smtp(spec(smtp_plain), "jörg@example.test", "ünïcode@例え.test", "x\n")
    [message] = smtp_plain.messages
    assert "SMTPUTF8" in message.mail_options
    assert message.rcpt_tos == ["ünïcode@例え.test"]


def test_non_ascii_address_without_smtputf8_raises(smtp_plain) -> None:
    smtp_plain.handler.hide_extensions = {"SMTPUTF8"}
    with pytest.raises(SMTPUTF8Error, match="SMTPUTF8"):
        send_smtp(spec(smtp_plain), "me@example.test", "ünïcode@example.test", "x\n")
    assert smtp_plain.messages == []


def test_big_stream_is_sent_in_bounded_memory(smtp_subprocess) -> None:
    """32 MB from a generated stream; the server (another process) hashes what it got.

    The bound is per chunk, so 32 MB is four times the peak allowed.
    """

    # Long lines: aiosmtpd's cost is per line, and the client's is what this test is about.
    block = b"".join(
        (b".dot line %d " if n % 7 == 0 else b"line %d of text ") % n + b"x" * (n % 900) + b"\n"
        for n in range(400)
    )
    size = 32 * 1024 * 1024

    class Repeated(io.RawIOBase):
        """``size`` bytes of ``block`` repeated, generated on the fly (costs no memory)."""

        def __init__(self) -> None:
            self.pos = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            start = self.pos % len(block)
            n = min(len(buffer), size - self.pos, len(block) - start)
            buffer[:n] = block[start : start + n]
            self.pos += n
            return n

    whole, rest = divmod(size, len(block))
    data = block * whole + block[:rest]
    expected = hashlib.sha256(data.replace(b"\n", b"\r\n") + b"\r\n" * (not data.endswith(b"\n")))
    expected_size = len(data) + data.count(b"\n") + 2 * (not data.endswith(b"\n"))
    del data

    tracemalloc.start()
    try:
        send_smtp(
            ("127.0.0.1", smtp_subprocess.port), "me@example.test", "you@example.test", Repeated()
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [record] = smtp_subprocess.records()
    assert record.size == expected_size
    assert record.sha256 == expected.hexdigest()
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak} bytes"


# --------------------------------------------------------------------------- server forms


def test_every_server_form_reaches_the_server(smtp_plain) -> None:
    host, port = smtp_plain.host, smtp_plain.port
    forms = [
        f"{host}:{port}",
        (host, port),
        [host, port],
        (host, ":port", port),
        (host, "port", port),
        (host, post_office.Keyword("port"), port),
        {"host": host, "port": port},
        f'("{host}" :port {port})',
        f'("{host}" . {port})',
        f'\'("{host}" :port {port} :starttls nil)',
        (ipaddress.IPv4Address(host), ":port", port),
        (int(ipaddress.IPv4Address(host)), ":port", port),
        post_office.parse_mail_server((host, port)),
    ]
    for n, form in enumerate(forms):
        send_smtp(form, "me@example.test", "you@example.test", f"form {n}\n")
    assert [m.content for m in smtp_plain.messages] == [
        f"form {n}\r\n".encode() for n in range(len(forms))
    ]


# --------------------------------------------------------------------------- refusals


def test_refused_recipient_raises_and_nothing_is_delivered(smtp_plain) -> None:
    smtp_plain.handler.refuse_recipients = {"bad@example.test"}
    with pytest.raises(RecipientRefusedError) as info:
        send_smtp(
            spec(smtp_plain),
            "me@example.test",
            ["ok@example.test", "bad@example.test", "later@example.test"],
            "x\n",
        )
    err = info.value
    assert isinstance(err, smtplib.SMTPRecipientsRefused)
    assert err.code == 550 and "Recipient refused" in err.reply
    assert err.recipient == "bad@example.test"
    assert err.command == "RCPT TO:<bad@example.test>"
    assert "We said: 'RCPT TO:<bad@example.test>'" in str(err)
    assert smtp_plain.messages == []


def test_refused_sender_raises(smtp_plain) -> None:
    smtp_plain.handler.refuse_senders = {"spammer@example.test"}
    with pytest.raises(SenderRefusedError) as info:
        send_smtp(spec(smtp_plain), "spammer@example.test", "you@example.test", "x\n")
    assert isinstance(info.value, smtplib.SMTPSenderRefused)
    assert info.value.code == 550 and info.value.sender == "spammer@example.test"
    assert smtp_plain.messages == []


def test_5xx_after_the_body_is_message_not_sent(smtp_plain) -> None:
    smtp_plain.handler.data_reply = "554 5.6.0 rejected by policy"
    with pytest.raises(DataError, match="message not sent") as info:
        send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "x\n")
    assert isinstance(info.value, smtplib.SMTPDataError)
    assert info.value.code == 554 and "rejected by policy" in info.value.reply
    assert smtp_plain.messages == []


def test_failed_quit_after_acceptance_is_logged_not_raised(smtp_plain, caplog) -> None:
    smtp_plain.handler.quit_reply = "500 5.5.1 what quit"
    with caplog.at_level(logging.WARNING, logger="post_office.smtp"):
        send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "x\n")
    assert len(smtp_plain.messages) == 1
    assert "QUIT was not acknowledged" in caplog.text


def test_ehlo_refused_falls_back_to_helo(smtp_plain) -> None:
    smtp_plain.handler.refuse_ehlo = True
    send_smtp(
        spec(smtp_plain),
        "me@example.test",
        "you@example.test",
        "x\n",
        local_hostname="client.example.test",
    )
    assert smtp_plain.messages[0].ehlo_name == "client.example.test"


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("Joe <joe@example.test>", "you@example.test", "x"), AddressError, "bare address"),
        (("me@example.test", "you@example.test\r\nRCPT TO:<x@y>", "x"), AddressError, "to"),
        (("me@example.test", [], "x"), AddressError, "to"),
        (("me@example.test", "you@example.test", 42), MessageArgumentError, "message argument 1"),
        (("me@example.test", "you@example.test", "ok", object()), MessageArgumentError, "2"),
    ],
)
def test_bad_arguments_raise_before_connecting(smtp_plain, args, error, words) -> None:
    with pytest.raises(error, match=words):
        send_smtp(spec(smtp_plain), *args)
    assert smtp_plain.connections == 0


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"local_hostname": "evil\r\nMAIL FROM:<x>"}, "local_hostname"),
        ({"source_address": "127.0.0.1"}, "source_address"),
    ],
)
def test_bad_options_raise_before_connecting(smtp_plain, options, words) -> None:
    with pytest.raises(OptionError, match=words):
        send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "x", **options)
    assert smtp_plain.connections == 0


def test_bad_server_spec_raises_before_connecting() -> None:
    with pytest.raises(ServerSpecError, match=":prot"):
        send_smtp(("127.0.0.1", ":prot", 25), "me@example.test", "you@example.test", "x")


def test_ehlo_name_is_not_looked_up_per_message(smtp_plain, monkeypatch) -> None:
    """smtplib calls socket.getfqdn() (a DNS lookup) per connection; we do it once."""
    lookups = []
    real_getfqdn = socket.getfqdn

    def counting_getfqdn(name: str = "") -> str:
        lookups.append(name)
        return real_getfqdn(name)

    monkeypatch.setattr(socket, "getfqdn", counting_getfqdn)
    default_local_hostname.cache_clear()
    for _ in range(3):
        send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "x\n")
    assert len(lookups) == 1
    names = {m.ehlo_name for m in smtp_plain.messages}
    assert len(names) == 1 and names != {None}


# --------------------------------------------------------------------------- timeouts


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """Accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[:2]
    stop.set()
    thread.join()
    listener.close()
    for conn in accepted:
        conn.close()


def test_silent_server_times_out_within_the_timeout(silent_server) -> None:
    start = time.monotonic()
    with pytest.raises(SMTPTimeoutError) as info:
        send_smtp(silent_server, "me@example.test", "you@example.test", "x", timeout=0.3)
    elapsed = time.monotonic() - start
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, smtplib.SMTPServerDisconnected)
    assert elapsed < 0.3 + 1.0


# --------------------------------------------------------------------------- debug


def test_debug_transcript_goes_to_smtp_debug_and_the_logger(
    smtp_plain, monkeypatch, caplog
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(post_office, "smtp_debug", stream)
    with caplog.at_level(logging.DEBUG, logger="post_office.smtp"):
        send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "x\n")
    text = stream.getvalue()
    for expected in (
        "220 ",
        "to smtp command: 'EHLO ",
        "to smtp command: 'MAIL FROM:<me@example.test>'",
        "to smtp command: 'DATA'",
        "354 ",
        "to smtp command: 'QUIT'",
    ):
        assert expected in text
    assert "to smtp command: 'RCPT TO:<you@example.test>'" in caplog.text


def test_debug_true_prints_to_stdout(smtp_plain, monkeypatch, capsys) -> None:
    monkeypatch.setattr(post_office, "smtp_debug", True)
    send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", "x\n")
    assert "to smtp command: 'DATA'" in capsys.readouterr().out


def test_a_source_failing_mid_body_raises_its_own_error_and_delivers_nothing(smtp_plain) -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls > 2:
                raise OSError(5, "disk went away")
            buffer[:6] = b"chunk\n"
            return 6

    with pytest.raises(OSError, match="disk went away") as info:
        send_smtp(spec(smtp_plain), "me@example.test", "you@example.test", Failing())
    assert not isinstance(info.value, post_office.PostOfficeError)
    assert smtp_plain.messages == []
