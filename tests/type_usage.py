"""The public API as a user writes it, checked by ``mypy --strict`` in CI (``.ci/run``), as
aiosmtplib's ``tests/type_usage.py``.  Nothing here runs: pytest collects no test from it
(no function starts with ``test``), and no function is called."""

from __future__ import annotations

import io
from typing import List, Optional

import post_office
from post_office import (
    Delivery,
    LetterOptions,
    MailServer,
    MimePart,
    OAuth2Token,
    ProgramError,
    Recipients,
    ServerArgument,
    SMTPError,
    Stage,
    make_mime_part,
    parse_mail_server,
    send_letter,
    send_smtp,
    send_smtp_auth,
    smtp_session,
    test_email_address,
)


def sending(server: ServerArgument, to: Recipients) -> None:
    send_smtp(server, "me@example.org", to, "Subject: hi\n\nbody\n")
    send_smtp(("mail.corp", ":port", 587, ":starttls", True), "me@example.org", to, b"x", timeout=5)
    send_smtp_auth("mail.corp", "me@example.org", to, "me", "secret", io.BytesIO(b"x"))
    send_smtp_auth("mail.corp", "me@example.org", to, "me", OAuth2Token("token"), "x")
    sent: bool = send_letter(server, "me@example.org", to, "Hello", subject="hi", cc=["c@x.org"])
    assert sent
    valid: bool = test_email_address("someone@example.org")
    assert valid


def session(server: ServerArgument) -> None:
    with smtp_session(server, login="me", password="secret", timeout=30) as s:
        s.send_smtp("me@example.org", ["you@example.org"], "x")
        s.send_letter("me@example.org", "you@example.org", "Hello", subject="hi")
    with smtp_session(server, connections=4) as s:
        for result in s.send_many([("me@example.org", "you@example.org", "x")], total_timeout=60):
            if isinstance(result, SMTPError):
                failed: Optional[Stage] = result.stage
                assert failed is None or not failed.may_have_delivered
            else:
                accepted: int = result.code
                assert accepted


def the_retry_rule(server: ServerArgument) -> str:
    try:
        send_smtp(server, "me@example.org", "you@example.org", "x")
    except SMTPError as error:
        code: Optional[int] = error.code
        stage: Optional[Stage] = error.stage
        if stage is Stage.BEFORE_MAIL:
            return f"retry ({code})"
        if stage is not None and stage.may_have_delivered:
            return "never resend"
        raise
    except ProgramError as error:
        return f"program exited {error.returncode}"
    return "sent"


def values(delivery: Delivery) -> List[str]:
    parsed: MailServer = parse_mail_server('("mail.corp" :port 587 :starttls t)')
    part: MimePart = make_mime_part(text="hello")
    options = LetterOptions(subject="hi")
    post_office.smtp_debug = True
    post_office.dns_mode = ":clib"
    post_office.mx_address_limit = 3
    reply = delivery.reply
    return [parsed.host, str(part), str(options.subject), reply.text if reply else ""]
