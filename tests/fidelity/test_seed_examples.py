"""Every example of the seed page (seeds/allegro-send-smtp.txt), translated to Python.

The variants that build the message with make-mime-part are in test_seed_mime.py; here the
same header is written by hand, as send-smtp users without MIME do.
"""

from __future__ import annotations

from post_office import send_smtp, send_smtp_auth

SMTP_USER = "user@example.test"
HEADER = (
    "From: Test User <user@example.test>\n"
    "To: Recipient <recipient@example.test>\n"
    "Subject: This is a test email\n"
    "\n"
)


def test_cons_form_host_dot_port(smtp_plain) -> None:
    # '("smtp.example.com" . 99)
    send_smtp(
        f'("{smtp_plain.host}" . {smtp_plain.port})',
        SMTP_USER,
        "recipient@example.test",
        HEADER,
        "cons form\n",
    )
    send_smtp(
        (smtp_plain.host, smtp_plain.port),
        SMTP_USER,
        "recipient@example.test",
        HEADER,
        "cons form\n",
    )
    assert len(smtp_plain.messages) == 2


def test_host_colon_port_form(smtp_plain) -> None:
    # "smtp.example.com:99"
    send_smtp(
        f"{smtp_plain.host}:{smtp_plain.port}",
        SMTP_USER,
        "recipient@example.test",
        HEADER,
        "host:port form\n",
    )
    assert smtp_plain.messages[0].content.endswith(b"host:port form\r\n")


def test_ssl_with_authentication(smtp_tls) -> None:
    # (send-smtp-auth (list *smtp-host* :ssl t :method :sslv3+) *smtp-user*
    #                 "recipient@example.com" *smtp-user* *smtp-password* s)
    smtp_host = [smtp_tls.host, ":port", smtp_tls.port, ":ca-file", smtp_tls.ca_file]
    send_smtp_auth(
        [*smtp_host, ":ssl", True, ":method", ":sslv3+"],
        SMTP_USER,
        "recipient@example.test",
        smtp_tls.user,
        smtp_tls.password,
        HEADER,
        "This is a test message sent via Secure smtp server with authentication.",
    )
    [message] = smtp_tls.messages
    assert message.tls and message.auth_login == smtp_tls.user
    assert message.rcpt_tos == ["recipient@example.test"]


def test_with_starttls_negotiation(smtp_starttls) -> None:
    # (send-smtp (list *smtp-host* :starttls t) *smtp-user* "recipient@example.com" s)
    smtp_host = [smtp_starttls.host, ":port", smtp_starttls.port, ":ca-file", smtp_starttls.ca_file]
    send_smtp(
        [*smtp_host, ":starttls", True],
        SMTP_USER,
        "recipient@example.test",
        HEADER,
        "This is a test message sent possibly via a TLSv1 encrypted channel.",
    )
    [message] = smtp_starttls.messages
    assert message.tls
    assert b"Subject: This is a test email\r\n\r\n" in message.content


def test_starttls_and_auth_together_negotiate_tls_first(smtp_auth) -> None:
    # "If the server supports both auth and starttls, starttls will be negotiated before
    # attempting authentication."
    send_smtp_auth(
        [smtp_auth.host, ":port", smtp_auth.port, ":starttls", True, ":ca-file", smtp_auth.ca_file],
        SMTP_USER,
        "recipient@example.test",
        smtp_auth.user,
        smtp_auth.password,
        HEADER,
        "both\n",
    )
    [message] = smtp_auth.messages
    assert message.tls and message.auth_login == smtp_auth.user


def test_ssl_and_starttls_both_true_is_not_an_error(smtp_tls) -> None:
    # "No error is signalled if both ssl and starttls are non-nil."
    send_smtp(
        [
            smtp_tls.host,
            ":port",
            smtp_tls.port,
            ":ssl",
            True,
            ":starttls",
            True,
            ":ca-file",
            smtp_tls.ca_file,
        ],
        SMTP_USER,
        "recipient@example.test",
        HEADER,
        "x\n",
    )
    assert smtp_tls.messages[0].tls
