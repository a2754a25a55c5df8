"""README's retry rule ("Reliability": every SMTP error carries its stage) runs as written."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]


def readme_rule() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("The retry rule, as code:", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    return "\n".join(line[2:] if line.startswith("  ") else line for line in block.splitlines())


def run_rule(server: object) -> List[str]:
    calls: List[str] = []
    scope: Dict[str, Any] = {
        "server": server,
        "sender": "me@example.test",
        "recipients": ["you@example.test"],
        "message": "Subject: retry\n\nbody\n",
        "schedule_retry": lambda: calls.append("retry"),
        "report_possible_duplicate": lambda: calls.append("duplicate"),
    }
    try:
        exec(compile(readme_rule(), "README.md", "exec"), scope)
    except Exception as exc:
        calls.append(f"raised {type(exc).__name__}")
    return calls


def test_a_refused_connection_is_retried() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert run_rule(("127.0.0.1", ":port", port)) == ["retry"]


def test_a_refused_recipient_is_not_retried(smtp_plain: Any) -> None:
    smtp_plain.handler.refuse_recipients = {"you@example.test"}
    assert run_rule(("127.0.0.1", ":port", smtp_plain.port)) == ["raised RecipientRefusedError"]


def test_a_refused_sender_before_mail_is_retried(smtp_plain: Any) -> None:
    smtp_plain.handler.refuse_senders = {"me@example.test"}
    assert run_rule(("127.0.0.1", ":port", smtp_plain.port)) == ["retry"]


def test_the_rule_sends_once_when_all_is_well(smtp_plain: Any) -> None:
    assert run_rule(("127.0.0.1", ":port", smtp_plain.port)) == []
    assert len(smtp_plain.messages) == 1
