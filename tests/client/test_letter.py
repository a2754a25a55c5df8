"""send_letter (README "Letters and attachments") against real loopback servers and a real local
program.

What the server received is parsed back with ``email.message_from_bytes(...,
policy=email.policy.default)`` and compared with what was sent.  The hypothesis round
trips check the generated letter in memory (``build_letter``, the same code path up to
the transport); a few real-server round trips check the same through SMTP.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path
from typing import Iterator, List

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from support.mail import crlf_free, filename, parse, payload

from post_office import (
    AddressError,
    HeaderError,
    MessageArgumentError,
    MimeError,
    OptionError,
    RecipientRefusedError,
    ServerSpecError,
    make_mime_part,
    seed_boundaries,
    send_letter,
)
from post_office.message.headers import fold_address_list
from post_office.message.letter import build_letter

FROM = "me@example.test"
TO = "you@example.test"


@pytest.fixture(autouse=True)
def _unseeded() -> Iterator[None]:
    seed_boundaries(None)
    yield
    seed_boundaries(None)


def spec(server: object) -> tuple[str, int]:
    return (server.host, server.port)  # type: ignore[attr-defined]


def letter_bytes(*args: object, **keywords: object) -> bytes:
    """The letter send_letter would send, in memory (``\\n`` newlines)."""
    letter = build_letter(*args, **keywords)
    return b"".join(letter.chunks())


# --------------------------------------------------------------------------- basics


def test_simple_letter_headers_and_envelope(smtp_plain) -> None:
    result = send_letter(
        spec(smtp_plain),
        FROM,
        [TO, "two@example.test"],
        "Hello there.\n.leading dot\n",
        cc="cc@example.test",
        bcc=["hidden@example.test", "hidden2@example.test"],
        subject="Greetings",
        reply_to="Replies <replies@example.test>",
    )
    assert result is True
    [received] = smtp_plain.messages
    assert received.mail_from == FROM
    assert received.rcpt_tos == [
        TO,
        "two@example.test",
        "cc@example.test",
        "hidden@example.test",
        "hidden2@example.test",
    ]
    assert b"hidden" not in received.content  # Bcc never in a header
    message = parse(received.content)
    assert message["From"] == FROM
    assert message["To"] == f"{TO}, two@example.test"
    assert message["Cc"] == "cc@example.test"
    assert message["Subject"] == "Greetings"
    assert message["Reply-To"] == "Replies <replies@example.test>"
    assert message["Bcc"] is None
    assert message["Date"].datetime is not None
    assert message["Message-ID"].endswith("@example.test>")
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hello there.\r\n.leading dot\r\n"  # CRLF off the wire
    names = [line.split(b":")[0] for line in received.content.split(b"\r\n\r\n")[0].split(b"\r\n")]
    assert names == [
        b"From",
        b"To",
        b"Cc",
        b"Subject",
        b"Reply-To",
        b"Date",
        b"Message-ID",
        b"MIME-Version",
        b"Content-Type",
        b'    charset="utf-8"',
        b"Content-Transfer-Encoding",
    ]


def test_no_cc_header_without_cc_and_no_subject_without_subject() -> None:
    message = parse(letter_bytes(FROM, TO, "x"))
    assert message["Cc"] is None and message["Subject"] is None and message["Reply-To"] is None


def test_empty_from_is_the_null_sender_and_writes_no_from_header(smtp_plain) -> None:
    send_letter(spec(smtp_plain), "", TO, "bounce\n", subject="s")
    [received] = smtp_plain.messages
    assert received.mail_from == ""
    assert parse(received.content)["From"] is None


# --------------------------------------------------------------------------- folding


def test_allegro_folding_of_51_addresses() -> None:
    addresses = [f"users{n:02d}@example.tests" for n in range(51)]
    assert {len(a) for a in addresses} == {21}
    lines = [", ".join(addresses[:4]) + ", "]
    rest = addresses[4:]
    while rest:
        chunk, rest = rest[:3], rest[3:]
        lines.append("    " + ", ".join(chunk) + (", " if rest else ""))
    expected = "\n".join(lines)
    assert fold_address_list(addresses) == expected
    assert len(lines) == 1 + 16 and lines[-1].count("@") == 2

    data = letter_bytes(FROM, addresses, "x", cc=addresses[:5])
    header = data.split(b"\n\n")[0].decode()
    assert f"To: {expected}\n" in header
    assert f"Cc: {fold_address_list(addresses[:5])}\n" in header
    message = parse(data)
    assert [a.addr_spec for a in message["To"].addresses] == addresses
    assert [a.addr_spec for a in message["Cc"].addresses] == addresses[:5]


def test_folding_rule_details() -> None:
    assert fold_address_list(["a@x"]) == "a@x"
    assert fold_address_list(["a@x", "b@x"]) == "a@x, b@x"
    long = "x" * 90 + "@example.test"
    # A long address is never broken; the segment ends after it and its ", ".
    assert fold_address_list([long, "b@x", "c@x"]) == f"{long}, \n    b@x, c@x"
    # No break after the last address, however long the segment.
    assert fold_address_list(["b@x", long]) == f"b@x, {long}"
    # Exactly 70 with its ", " breaks; 69 does not.
    a68 = "a" * 60 + "@x.test"  # 67 + 2 = 69
    assert fold_address_list([a68, "z@x"]) == f"{a68}, z@x"
    a69 = "a" * 61 + "@x.test"  # 68 + 2 = 70
    assert fold_address_list([a69, "z@x"]) == f"{a69}, \n    z@x"
    # A continuation segment starts at 5 (the line break and four spaces): 5 + 63 + 2
    # reaches 70 and breaks, where counting 4 would not.
    b63 = "b" * 56 + "@x.test"
    assert fold_address_list([a69, b63, "z@x"]) == f"{a69}, \n    {b63}, \n    z@x"
    b62 = "b" * 55 + "@x.test"
    assert fold_address_list([a69, b62, "z@x"]) == f"{a69}, \n    {b62}, z@x"


# --------------------------------------------------------------------------- headers


def test_headers_already_in_the_mime_part_win() -> None:
    part = make_mime_part(
        text="body",
        headers=[
            ("from", "The Boss <boss@example.test>"),
            ("TO", "list@example.test"),
            ("Subject", "from the part"),
            ("Cc", "partcc@example.test"),
            ("Reply-To", "r@example.test"),
            ("Date", "Mon, 1 Jan 2001 00:00:00 +0000"),
            ("Message-ID", "<fixed@example.test>"),
        ],
    )
    data = letter_bytes(
        FROM, TO, part, cc="argcc@example.test", subject="from the argument", reply_to="x@y"
    )
    message = parse(data)
    for name in ("From", "To", "Subject", "Cc", "Reply-To", "Date", "Message-ID"):
        assert (
            data.lower().count(f"\n{name.lower()}:".encode())
            + data.lower().startswith(f"{name.lower()}:".encode())
            == 1
        ), name
    assert message["From"] == "The Boss <boss@example.test>"
    assert message["Subject"] == "from the part"
    assert message["Cc"] == "partcc@example.test"
    assert message["Message-ID"] == "<fixed@example.test>"


def test_raw_headers_string_or_list_come_after_the_built_ones() -> None:
    data = letter_bytes(FROM, TO, "x", subject="s", headers="X-Mailer: post_office")
    header = data.split(b"\n\n")[0]
    assert header.index(b"Subject: s") < header.index(b"X-Mailer: post_office")
    assert header.index(b"X-Mailer") < header.index(b"MIME-Version")
    data = letter_bytes(
        FROM,
        TO,
        "x",
        headers=[
            "X-One: 1",
            "X-Folded: a",
            "\tcontinued",
            "Date: Tue, 2 Jan 2001 00:00:00 +0000",
            "Message-Id: <mine@x>",
        ],
    )
    message = parse(data)
    assert message["X-One"] == "1"
    assert message["X-Folded"] == "a\tcontinued"  # unfolding removes only the line break
    assert [str(d) for d in message.get_all("Date")] == ["Tue, 02 Jan 2001 00:00:00 +0000"]
    assert message.get_all("Message-ID") == ["<mine@x>"]


def test_non_ascii_subject_is_rfc2047_encoded() -> None:
    subject = "Grüße — ünïcödé subject that is long enough to be folded over more lines ✓"
    data = letter_bytes(FROM, TO, "x", subject=subject)
    head = data.split(b"\n\n")[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    assert max(len(line) for line in head.split(b"\n")) <= 78
    assert parse(data)["Subject"] == subject


def test_long_ascii_subject_is_folded_at_spaces() -> None:
    subject = " ".join(f"word{n}" for n in range(40))
    data = letter_bytes(FROM, TO, "x", subject=subject)
    head = data.split(b"\n\n")[0]
    assert max(len(line) for line in head.split(b"\n")) <= 78
    assert parse(data)["Subject"] == subject


def test_date_and_message_id_are_added_and_unique() -> None:
    first, second = parse(letter_bytes(FROM, TO, "x")), parse(letter_bytes(FROM, TO, "x"))
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Message-ID"].startswith("<") and first["Message-ID"].endswith("@example.test>")


# --------------------------------------------------------------------------- attachments


def test_attachments_of_every_kind_in_order(smtp_plain, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_bytes(b"some notes\n")
    binary_file = tmp_path / "data.bin"
    binary_blob = os.urandom(5000)
    binary_file.write_bytes(binary_blob)
    part = make_mime_part(
        text=b"\x89PNG...", content_type="image/png", attachmentp=True, name="logo.png"
    )
    stream = io.BytesIO(b"from a stream")
    send_letter(
        spec(smtp_plain),
        FROM,
        TO,
        "See attached.\n",
        subject="files",
        attachments=[str(text_file), binary_file, stream, part],
    )
    message = parse(smtp_plain.messages[0].content)
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain",
        "text/plain",
        "application/octet-stream",
        "application/octet-stream",
        "image/png",
    ]
    assert crlf_free(payload(parts[0])) == b"See attached.\n"
    assert [p.get_filename() for p in parts] == [None, "notes.txt", "data.bin", None, "logo.png"]
    assert [p.get_content_disposition() for p in parts[1:]] == ["attachment"] * 4
    assert payload(parts[1]) == b"some notes\n"
    assert payload(parts[2]) == binary_blob
    assert payload(parts[3]) == b"from a stream"
    assert payload(parts[4]) == b"\x89PNG..."
    assert not stream.closed


def test_a_single_attachment_need_not_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "one.pdf"
    path.write_bytes(b"%PDF")
    message = parse(letter_bytes(FROM, TO, "body", attachments=path))
    _, attachment = message.iter_parts()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "one.pdf"


def test_a_str_attachment_is_a_file_name_never_text() -> None:
    with pytest.raises(MimeError, match=r"attachments: file: 'no such file\.txt' cannot be read"):
        letter_bytes(FROM, TO, "body", attachments="no such file.txt")


def test_stream_message_becomes_an_attachment_part() -> None:
    message = parse(letter_bytes(FROM, TO, io.BytesIO(b"\x00\x01")))
    assert message.get_content_type() == "application/octet-stream"
    assert message.get_content_disposition() == "attachment"
    assert payload(message) == b"\x00\x01"


def test_attachments_follow_a_multipart_messages_own_parts_and_leave_it_unchanged(
    smtp_plain,
) -> None:
    own = [make_mime_part(text="first"), make_mime_part(text="second")]
    message_part = make_mime_part(subparts=own, headers=[("Subject", "mine")])
    before = (message_part.parts, message_part.boundary, message_part.parameters)
    extra = make_mime_part(text=b"third", attachmentp=True, name="3.bin")
    send_letter(spec(smtp_plain), FROM, TO, message_part, attachments=[extra])
    assert (message_part.parts, message_part.boundary, message_part.parameters) == before
    received = parse(smtp_plain.messages[0].content)
    assert received["Subject"] == "mine"
    assert [payload(p) for p in received.iter_parts()] == [b"first", b"second", b"third"]
    # and also when the call fails
    smtp_plain.handler.refuse_recipients = {"refused@example.test"}
    with pytest.raises(RecipientRefusedError):
        send_letter(spec(smtp_plain), FROM, "refused@example.test", message_part, attachments=extra)
    assert (message_part.parts, message_part.boundary, message_part.parameters) == before


def test_attachment_containing_the_boundary_gets_the_copy_a_fresh_one() -> None:
    message_part = make_mime_part(subparts=[make_mime_part(text="a")])
    assert message_part.boundary is not None
    trap = make_mime_part(text=f"\n--{message_part.boundary}\n", content_type="text/x-trap")
    letter = build_letter(FROM, TO, message_part, attachments=trap)
    assert letter.part.boundary != message_part.boundary
    parsed = parse(b"".join(letter.chunks()))
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/x-trap"]


def test_attachments_on_a_non_mixed_mime_part_are_an_error(smtp_plain) -> None:
    with pytest.raises(MimeError, match="non-multipart/mixed"):
        send_letter(
            spec(smtp_plain),
            FROM,
            TO,
            make_mime_part(text="x"),
            attachments=make_mime_part(text="y"),
        )
    alternative = make_mime_part(content_type="multipart/alternative", subparts=[])
    with pytest.raises(MimeError, match="non-multipart/mixed"):
        send_letter(spec(smtp_plain), FROM, TO, alternative, attachments=make_mime_part(text="y"))
    assert smtp_plain.connections == 0


# --------------------------------------------------------------------------- AUTH


def test_login_and_password_authenticate(smtp_auth) -> None:
    server = (
        smtp_auth.host,
        ":port",
        smtp_auth.port,
        ":starttls",
        True,
        ":ca-file",
        smtp_auth.ca_file,
    )
    assert (
        send_letter(server, FROM, TO, "secret\n", login=smtp_auth.user, password=smtp_auth.password)
        is True
    )
    [received] = smtp_auth.messages
    assert received.auth_login == smtp_auth.user and received.tls


def test_login_without_password_raises(smtp_plain) -> None:
    with pytest.raises(OptionError, match="password is missing"):
        send_letter(spec(smtp_plain), FROM, TO, "x", login="user")
    with pytest.raises(OptionError, match="login is missing"):
        send_letter(spec(smtp_plain), FROM, TO, "x", password="pw")
    assert smtp_plain.connections == 0


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("keywords", "error", "match"),
    [
        ({"subject": "hi\r\nBcc: victim@example.test"}, HeaderError, "subject"),
        ({"subject": "hi\nthere"}, HeaderError, "subject"),
        ({"subject": "bell\x07"}, HeaderError, "control characters"),
        ({"subject": "next line\x85"}, HeaderError, "control characters"),
        ({"headers": "X-A: \x1b[31m"}, HeaderError, "control characters"),
        ({"reply_to": "a@b\r\nX-Evil: 1"}, HeaderError, "reply_to"),
        ({"headers": "X-A: 1\r\nX-Evil: 2"}, HeaderError, "headers"),
        ({"headers": ["X-A: 1", "X-B: 2\nX-Evil: 3"]}, HeaderError, r"headers\[1\]"),
        ({"headers": ["X-A: 1", ""]}, HeaderError, r"headers\[1\]"),
        ({"headers": ["no colon here"]}, HeaderError, "Name: value"),
        ({"headers": [" starts with a space"]}, HeaderError, "Name: value"),
        ({"headers": 42}, HeaderError, "raw header line"),
        ({"subject": True}, HeaderError, "subject"),
        ({"cc": "cc@x\r\nRCPT TO:<evil@x>"}, AddressError, "cc"),
        ({"bcc": "Joe <joe@x>"}, AddressError, "bcc"),
        ({"cc": 42}, AddressError, "cc should be a string or list"),
        ({"attachments": 42}, MessageArgumentError, "attachments"),
        ({"attachments": [b"bytes"]}, MessageArgumentError, r"attachments\[0\]"),
        ({"timeout": 0}, OptionError, "timeout"),
    ],
)
def test_bad_arguments_raise_before_connecting(
    smtp_plain, keywords: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        send_letter(spec(smtp_plain), FROM, TO, "x", **keywords)
    assert smtp_plain.connections == 0


def test_injected_attachment_name(tmp_path: Path) -> None:
    with pytest.raises(HeaderError, match="name"):
        make_mime_part(text=b"x", attachmentp=True, name="a.txt\r\nX-Evil: 1")
    evil = tmp_path / "evil\nX-Injected: 1.txt"
    evil.write_bytes(b"x")
    with pytest.raises(HeaderError, match="file's name"):
        letter_bytes(FROM, TO, "x", attachments=evil)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ((FROM, 42, "x"), AddressError),
        ((FROM, [], "x"), AddressError),
        ((FROM, "you@x\r\nDATA", "x"), AddressError),
        (("Me <me@x>", TO, "x"), AddressError),
        ((FROM, TO, 42), MessageArgumentError),
        ((FROM, TO, b"bytes"), MessageArgumentError),
    ],
)
def test_bad_addresses_and_messages(smtp_plain, arguments: tuple, error: type) -> None:
    with pytest.raises(error):
        send_letter(spec(smtp_plain), *arguments)
    assert smtp_plain.connections == 0


def test_bad_server_raises(tmp_path: Path) -> None:
    with pytest.raises(ServerSpecError):
        send_letter(("127.0.0.1", ":port", 0), FROM, TO, "x")
    with pytest.raises(ServerSpecError):
        send_letter((":program",), FROM, TO, "x")


# --------------------------------------------------------------------------- round trips

header_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\t"), max_size=120
)
local_parts = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True)
addresses = st.builds(
    lambda local, domain: f"{local}@{domain}",
    local_parts,
    st.sampled_from(["example.test", "mail.example.org", "x.y"]),
)
attachment_specs = st.lists(
    st.tuples(
        st.binary(max_size=400),
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30),
    ),
    max_size=3,
)


@given(
    subject=header_text,
    body=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
    to=st.lists(addresses, min_size=1, max_size=30),
    cc=st.lists(addresses, max_size=5),
    attachments=attachment_specs,
)
@example(subject=" leading space", body="", to=["a@x.y"], cc=[], attachments=[])
@example(subject="=?utf-8?q?not_encoded?=", body=".", to=["a@x.y"], cc=[], attachments=[])
@example(subject="tab\tand  double  spaces ", body="\r", to=["a@x.y"], cc=[], attachments=[])
def test_round_trip_in_memory(
    subject: str, body: str, to: List[str], cc: List[str], attachments: list
) -> None:
    parts = [
        make_mime_part(text=data, content_type="application/x-test", attachmentp=True, name=name)
        for data, name in attachments
    ]
    data = letter_bytes(
        FROM,
        to,
        body,
        cc=cc or None,
        bcc="secret@example.test",
        subject=subject,
        attachments=parts or None,
    )
    assert b"secret@" not in data
    message = parse(data)
    assert message["Subject"] == subject
    assert [a.addr_spec for a in message["To"].addresses] == to
    if cc:
        assert [a.addr_spec for a in message["Cc"].addresses] == cc
    assert not message.defects
    if parts:
        received = list(message.iter_parts())
        assert crlf_free(payload(received[0])) == crlf_free(body.encode())
        for (expected, name), got in zip(attachments, received[1:]):
            assert payload(got) == expected
            assert filename(got) == name
    else:
        assert crlf_free(payload(message)) == crlf_free(body.encode())


@pytest.mark.parametrize(
    "subject", ["plain", "Grüße aus Köln", "日本語の件名", "x" * 200, "  =?odd?= \t"]
)
def test_round_trip_through_the_server(smtp_plain, subject: str, tmp_path: Path) -> None:
    blob = os.urandom(70_000)
    path = tmp_path / "blob ü.bin"
    path.write_bytes(blob)
    body = "Body with non-ASCII: ✓\n.and a dot line\n"
    send_letter(
        spec(smtp_plain),
        FROM,
        [TO, "b@example.test"],
        body,
        subject=subject,
        cc="c@example.test",
        attachments=[path],
    )
    [received] = smtp_plain.messages
    message = parse(received.content)
    assert message["Subject"] == subject
    text, attachment = message.iter_parts()
    assert crlf_free(payload(text)) == body.encode()  # (base64: as sent, LF newlines)
    assert payload(attachment) == blob
    assert attachment.get_filename() == "blob ü.bin"


# --------------------------------------------------------------------------- memory


def test_big_attachment_end_to_end_in_bounded_memory(smtp_subprocess, tmp_path: Path) -> None:
    """16 MB attachment, base64-encoded while sent; the server (another process) hashes it."""
    size = 16 * 1024 * 1024
    path = tmp_path / "big.bin"
    with open(path, "wb") as file:
        for n in range(size // (1 << 20)):
            file.write(hashlib.sha256(bytes([n])).digest() * (1 << 15))
    headers = ["Date: Wed, 3 Jan 2001 00:00:00 +0000", "Message-ID: <big@example.test>"]
    seed_boundaries(7)
    letter = build_letter(FROM, TO, "see attachment", headers=headers, attachments=path)
    expected = hashlib.sha256()
    expected_size = 0
    for chunk in letter.chunks():
        wire = chunk.replace(b"\n", b"\r\n")
        expected.update(wire)
        expected_size += len(wire)
    seed_boundaries(7)
    tracemalloc.start()
    try:
        send_letter(
            ("127.0.0.1", smtp_subprocess.port),
            FROM,
            TO,
            "see attachment",
            headers=headers,
            attachments=path,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [record] = smtp_subprocess.records()
    assert record.size == expected_size
    assert record.sha256 == expected.hexdigest()
    print(f"peak traced memory {peak} bytes")
    assert peak < 4 * 1024 * 1024, f"peak traced memory {peak} bytes"


# --------------------------------------------------------------------------- the keyword set


def test_letter_options_are_the_keywords_of_every_send_letter() -> None:
    """LetterOptions is the one definition of send-letter's letter keywords."""
    import dataclasses
    import inspect

    from post_office import SmtpSession
    from post_office.message.letter import LetterOptions

    names = [field.name for field in dataclasses.fields(LetterOptions)]
    assert names == ["cc", "bcc", "subject", "reply_to", "headers", "attachments"]
    for function in (send_letter, SmtpSession.send_letter):
        parameters = inspect.signature(function).parameters
        for name in names:
            assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, (function, name)
            assert parameters[name].default is None, (function, name)


def test_build_letter_takes_options_or_keywords_not_both() -> None:
    from post_office.message.letter import LetterOptions

    options = LetterOptions(cc=["c@example.test"], bcc="b@example.test", subject="s")
    assert options.keywords()["cc"] == ["c@example.test"]
    letter = build_letter(FROM, TO, "x", options)
    assert letter.recipients == (TO, "c@example.test", "b@example.test")
    assert letter.bcc == ("b@example.test",)
    assert b"Cc: c@example.test\n" in letter.header and b"b@example" not in letter.header
    same = build_letter(FROM, TO, "x", **options.keywords())
    assert same.recipients == letter.recipients
    with pytest.raises(TypeError):
        build_letter(FROM, TO, "x", options, subject="t")
    with pytest.raises(TypeError):
        build_letter(FROM, TO, "x", sujet="t")


def test_an_attachment_that_is_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(MimeError, match=r"attachments\[0\]: file: .* is a directory, not a file"):
        send_letter(("127.0.0.1", 1), FROM, TO, "hi", attachments=[str(tmp_path)])
