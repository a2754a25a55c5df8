"""The ported programs of README's "Porting notes" run as written, against a test server.

Each Python block of the README section "Ported programs" is executed with
``MAIL_SERVER`` bound to the spec of an aiosmtpd server on 127.0.0.1 (and the few names
the examples leave to their surroundings); what the server received is checked.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, Dict, List

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks() -> List[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Ported programs", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


BLOCKS = _blocks()


def _run(block: str, server: Any, tmp_path: Path) -> Dict[str, Any]:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    calls: Dict[str, Any] = {"retries": 0, "failures": []}
    namespace: Dict[str, Any] = {
        "MAIL_SERVER": (server.host, server.port),
        "LOGO_FILE": str(logo),
        "schedule_retry": lambda: calls.__setitem__("retries", calls["retries"] + 1),
        "log_failure": calls["failures"].append,
    }
    exec(compile(block, "README.md", "exec"), namespace)
    return calls


def _received(server: Any) -> Message:
    [message] = server.messages
    return message_from_bytes(message.content)


def test_the_section_has_the_three_programs() -> None:
    assert len(BLOCKS) == 3


def test_the_monitoring_alert(smtp_plain: Any, tmp_path: Path) -> None:
    _run(BLOCKS[0], smtp_plain, tmp_path)
    [message] = smtp_plain.messages
    assert message.rcpt_tos == ["ops@corp.example", "oncall@corp.example"]
    parsed = _received(smtp_plain)
    assert parsed["Subject"] == "disk alert"
    assert parsed["Cc"] == "oncall@corp.example"
    assert parsed.get_payload().strip() == "Disk /var is 93% full"


def test_the_html_mail_with_an_inline_logo(smtp_plain: Any, tmp_path: Path) -> None:
    _run(BLOCKS[1], smtp_plain, tmp_path)
    parsed = _received(smtp_plain)
    assert parsed.get_content_type() == "multipart/related"
    html, logo = parsed.get_payload()
    assert html.get_content_type() == "text/html"
    assert logo["Content-Id"] == "<logo@corp>"
    # nil means nil: an inline image, not an attachment, and no file name
    assert logo["Content-Disposition"] is None or "attachment" not in logo["Content-Disposition"]
    assert logo.get_filename() is None
    assert logo.get_payload(decode=True).startswith(b"\x89PNG")


def test_the_mailer_and_its_handlers(smtp_plain: Any, tmp_path: Path) -> None:
    calls = _run(BLOCKS[2], smtp_plain, tmp_path)
    assert calls == {"retries": 0, "failures": []}
    parsed = _received(smtp_plain)
    assert parsed["Subject"] == "your order"


def test_the_handlers_tell_the_network_from_a_refusal(smtp_plain: Any, tmp_path: Path) -> None:
    smtp_plain.handler.refuse_recipients.add("user@corp.example")
    calls = _run(BLOCKS[2], smtp_plain, tmp_path)
    assert calls["retries"] == 0 and len(calls["failures"]) == 1
    assert calls["failures"][0].code == 550
    smtp_plain.stop()  # nobody listens any more: a socket error, retried
    calls = _run(BLOCKS[2], smtp_plain, tmp_path)
    assert calls == {"retries": 1, "failures": []}


@pytest.mark.parametrize("block", BLOCKS)
def test_each_block_is_valid_python(block: str) -> None:
    compile(block, "README.md", "exec")
