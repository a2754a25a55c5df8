"""Issue 23: what a newcomer reads first (README quick start, examples, contents; metadata)."""

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_quick_start_works_without_python_command_or_system_pip() -> None:
    # PEP 668 systems have no `python` and refuse `pip install` into the system Python.
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in _code_blocks_in(section) if line.strip()]
    assert len(commands) == 2
    for command in commands:
        assert command.startswith("python3 -m venv .venv && .venv/bin/python -m pip install")
        assert not re.search(r"(^|&& )python ", command)
    assert "post-office demo" in commands[0]
    assert "-m pytest" in commands[1]
    assert "repository" in section


def _code_blocks_in(section: str) -> list[str]:
    return "".join(re.findall(r"```sh\n(.*?)```", section, re.S)).splitlines()


def test_examples_leave_no_file_open() -> None:
    # `open(...)` as an argument is never closed: ResourceWarning under -W error.
    for block in _code_blocks("python"):
        for line in block.splitlines():
            if "open(" in line and "session" not in line:
                assert line.lstrip().startswith("with open("), line


def test_contents_lists_every_section_with_working_anchor() -> None:
    contents = README.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\[(.*?)\]\(#(.*?)\)", contents)
    outside = re.sub(r"```.*?```", "", README, flags=re.S)
    headings = [h for h in re.findall(r"^##+ (.*)$", outside, re.M) if h != "Contents"]
    level23 = [h for h in re.findall(r"^###? (.*)$", outside, re.M) if h != "Contents"]
    assert [title for title, _ in listed] == level23
    assert set(level23) <= set(headings)
    for title, anchor in listed:
        assert anchor == re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def test_progress_threshold_as_readme_says() -> None:
    from post_office.cli.progress import PROGRESS_THRESHOLD

    assert PROGRESS_THRESHOLD == 4 * 1024 * 1024
    assert "4 MiB (4,194,304 bytes)" in README


def test_metadata_spdx_licence_and_pytest_framework() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    meta = cfg["metadata"]
    assert meta["license_expression"] == "MIT"
    assert "license" not in meta
    classifiers = meta["classifiers"].split()
    assert "License" not in classifiers  # deprecated by PEP 639 in favour of the expression
    assert "Framework :: Pytest" in meta["classifiers"]
    assert 'setuptools>=77"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
