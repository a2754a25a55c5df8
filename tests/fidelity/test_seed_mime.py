"""The seed page's MIME examples (seeds/allegro-send-smtp.txt), translated to Python.

    (setf p1 (make-mime-part :text "This is a test message"
                             :headers '(("From" . "Test User <[email protected]>")
                                        ("To" . "Recipient <[email protected]>")
                                        ("Subject" . "This is a test email"))))
    (with-mime-part-constructed-stream (s p1)
      (send-smtp mail-server "[email protected]" "[email protected]" s))

and the "ssl with authentication" and "with starttls negotiation" variants.  Each runs
against a real loopback server; what it received is parsed back with the email package.
"""

from __future__ import annotations

import email
import email.message
import email.policy

from post_office import (
    make_mime_part,
    send_smtp,
    send_smtp_auth,
    with_mime_part_constructed_stream,
)

SMTP_USER = "user@example.test"
RECIPIENT = "recipient@example.test"
HEADERS = [
    ("From", "Test User <user@example.test>"),
    ("To", "Recipient <recipient@example.test>"),
    ("Subject", "This is a test email"),
]


def parse(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def check(content: bytes, text: str) -> None:
    message = parse(content)
    assert message["From"] == "Test User <user@example.test>"
    assert message["To"] == "Recipient <recipient@example.test>"
    assert message["Subject"] == "This is a test email"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == text


def test_mime_part_through_the_constructed_stream(smtp_plain) -> None:
    p1 = make_mime_part(text="This is a test message", headers=HEADERS)
    mail_server = (smtp_plain.host, smtp_plain.port)
    with with_mime_part_constructed_stream(p1) as s:
        send_smtp(mail_server, SMTP_USER, RECIPIENT, s)
    [message] = smtp_plain.messages
    assert message.rcpt_tos == [RECIPIENT]
    check(message.content, "This is a test message\r\n")


def test_ssl_with_authentication(smtp_tls) -> None:
    # (send-smtp-auth (list *smtp-host* :ssl t :method :sslv3+) *smtp-user*
    #                 "recipient@example.com" *smtp-user* *smtp-password* s)
    text = "This is a test message sent via Secure smtp server with authentication."
    part = make_mime_part(text=text, headers=HEADERS)
    smtp_host = [smtp_tls.host, ":port", smtp_tls.port, ":ca-file", smtp_tls.ca_file]
    with with_mime_part_constructed_stream(part) as s:
        send_smtp_auth(
            [*smtp_host, ":ssl", True, ":method", ":sslv3+"],
            SMTP_USER,
            RECIPIENT,
            smtp_tls.user,
            smtp_tls.password,
            s,
        )
    [message] = smtp_tls.messages
    assert message.tls and message.auth_login == smtp_tls.user
    check(message.content, text + "\r\n")


def test_with_starttls_negotiation(smtp_starttls) -> None:
    # (send-smtp (list *smtp-host* :starttls t) *smtp-user* "recipient@example.com" s)
    text = "This is a test message sent possibly via a TLSv1 encrypted channel."
    part = make_mime_part(text=text, headers=HEADERS)
    lisp = (
        f'("{smtp_starttls.host}" :port {smtp_starttls.port} :starttls t '
        f':ca-file "{smtp_starttls.ca_file}")'
    )
    with with_mime_part_constructed_stream(part) as s:
        send_smtp(lisp, SMTP_USER, RECIPIENT, s)
    [message] = smtp_starttls.messages
    assert message.tls
    check(message.content, text + "\r\n")


def test_a_mime_part_may_be_passed_straight_to_send_smtp(smtp_plain) -> None:
    """Allegro needs the stream; we also take the part itself, with the same result."""
    part = make_mime_part(
        subparts=[
            make_mime_part(text="Body text.\n"),
            make_mime_part(text=bytes(range(256)) * 40, attachmentp=True, name="bytes.bin"),
        ],
        headers=HEADERS,
    )
    server = (smtp_plain.host, smtp_plain.port)
    send_smtp(server, SMTP_USER, RECIPIENT, part)
    with with_mime_part_constructed_stream(part) as s:
        send_smtp(server, SMTP_USER, RECIPIENT, s)
    first, second = smtp_plain.messages
    assert first.content == second.content
    message = parse(first.content)
    assert message["Subject"] == "This is a test email"
    text, attachment = message.iter_parts()
    assert text.get_content() == "Body text.\r\n"
    assert attachment.get_payload(decode=True) == bytes(range(256)) * 40
    assert attachment.get_filename() == "bytes.bin"
    # The content is not known to be 7-bit without reading it, so 8BITMIME is claimed.
    assert "BODY=8BITMIME" in first.mail_options


def test_header_in_a_text_message_part_and_a_following_argument(smtp_plain) -> None:
    """A MIME part is one message argument among others: concatenated in order."""
    part = make_mime_part(text="part text\n", headers=HEADERS)
    send_smtp((smtp_plain.host, smtp_plain.port), SMTP_USER, RECIPIENT, "X-First: 1\n", part)
    [message] = smtp_plain.messages
    assert message.content.startswith(b"X-First: 1\r\nMIME-Version: 1.0\r\nFrom: Test User")
    assert parse(message.content)["X-First"] == "1"
