"""The public surface is typed from one table (README "Architecture"): a misspelt name
fails ``mypy``, and the usage file a user would write (``tests/type_usage.py``) passes
``mypy --strict`` (also run by ``.ci/run``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("mypy")


def mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_misspelt_name_fails_mypy(tmp_path: Path) -> None:
    typo = tmp_path / "typo.py"
    typo.write_text("import post_office\n\npost_office.send_smpt('h', 'a@b', 'c@d', 'x')\n")
    result = mypy(typo)
    assert result.returncode == 1, result.stdout
    assert 'Module has no attribute "send_smpt"' in result.stdout


def test_dir_lists_only_the_public_names() -> None:
    import post_office

    names = dir(post_office)
    assert "Stage" in names and "Delivery" in names and "smtp_debug" in names
    assert not {"Any", "List", "TYPE_CHECKING", "sys", "types"} & set(names)
    assert sorted(post_office.__all__, key=str.lower) == sorted(
        (name for name in names if name != "__version__"), key=str.lower
    )
