"""A ``:program`` that stops reading is never a success, and a ``sendmail`` without ``-i``
never gets a letter it would cut at a lone "." line (README "Reliability" and
"Differences from Allegro").  The programs are small Python scripts, one of them a fake
``sendmail`` that, like the real one without ``-i``, stops at a "." line and then
"delivers" what it read by writing it to a file."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import List

import pytest

from post_office import ProgramError, send_letter

FROM = "me@example.test"
TO = "you@example.test"

READ_AND_EXIT = "import os, sys; os.read(0, int(sys.argv[1])); sys.exit(int(sys.argv[2]))"

FAKE_SENDMAIL = """#!{python}
# Like sendmail: without -i a line holding only "." ends the input; at the end of its
# input it "delivers" (writes) what it read.
import sys
ignore_dots = any(arg in ("-i", "-oi", "-ti", "-it") for arg in sys.argv[1:])
kept = []
for line in sys.stdin.buffer:
    if not ignore_dots and line.rstrip(b"\\r\\n") == b".":
        break
    kept.append(line)
with open({out!r}, "wb") as out:
    out.write(b"".join(kept))
"""


def program(script: str, *args: object) -> List[str]:
    return [sys.executable, "-c", script, *map(str, args)]


def test_a_program_that_reads_200_bytes_of_a_big_letter_and_exits_0() -> None:
    # As `head -c 200`: the letter (280 KB) is bigger than the pipe, the feeder blocks.
    with pytest.raises(ProgramError) as caught:
        send_letter((":program", program(READ_AND_EXIT, 200, 0)), FROM, TO, "x" * 280_000)
    error = caught.value
    assert error.returncode == 0 and error.read == 200
    assert not error.letter_complete
    assert "after reading 200 of more than" in str(error)
    assert "did not read the whole letter" in str(error) and "-t -i" in str(error)


def test_a_program_that_reads_part_of_a_small_letter_and_exits_0() -> None:
    # The whole letter fits in the pipe: it was written and ended, and still not read.
    with pytest.raises(ProgramError) as caught:
        send_letter((":program", program(READ_AND_EXIT, 100, 0)), FROM, TO, "y" * 5_000)
    error = caught.value
    assert error.read == 100 and error.letter_complete
    assert error.letter is not None and error.letter > 5_000
    assert f"after reading 100 of {error.letter:,} bytes" in str(error)


def test_a_program_that_fails_part_way_says_how_much_it_read() -> None:
    with pytest.raises(ProgramError) as caught:
        send_letter((":program", program(READ_AND_EXIT, 50, 3)), FROM, TO, "z" * 200_000)
    assert caught.value.returncode == 3 and caught.value.read == 50


def test_a_program_that_reads_everything_is_still_success(tmp_path: Path) -> None:
    out = tmp_path / "letter.eml"
    copy = "import sys; open(sys.argv[1], 'wb').write(sys.stdin.buffer.read())"
    body = ("w" * 70 + "\n") * 4000  # 284 KB: more than a pipe holds
    assert send_letter((":program", program(copy, out)), FROM, TO, body) is True
    assert out.read_bytes().endswith(body.encode())


@pytest.fixture
def fake_sendmail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``sendmail`` on PATH that writes what it "delivers" to ``delivered.eml``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "sendmail"
    out = tmp_path / "delivered.eml"
    script.write_text(FAKE_SENDMAIL.format(python=sys.executable, out=str(out)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return out


LETTER = "First part.\n.\nSecond part, after a line holding only a dot.\n"


@pytest.mark.skipif(os.name != "posix", reason="a #! script on PATH")
@pytest.mark.parametrize("command", ["sendmail -t", ["sendmail", "-t"], "exec sendmail -t"])
def test_sendmail_without_i_never_gets_a_letter_it_would_cut(
    fake_sendmail: Path, command: object
) -> None:
    with pytest.raises(ProgramError) as caught:
        send_letter((":program", command), FROM, TO, LETTER, subject="dots")
    error = caught.value
    assert error.lone_dot_line is not None and error.lone_dot_line > 1
    assert "add -i" in str(error) and "'sendmail -t -i'" in str(error)
    assert not fake_sendmail.exists()  # killed before the dot and before its EOF


@pytest.mark.skipif(os.name != "posix", reason="a #! script on PATH")
def test_the_dot_line_is_refused_in_any_chunk_of_a_big_letter(fake_sendmail: Path) -> None:
    letter = ("x" * 70 + "\n") * 3000 + ".\n" + ("y" * 70 + "\n") * 10  # the dot after 213 KB
    with pytest.raises(ProgramError, match="add -i"):
        send_letter((":program", "sendmail -t"), FROM, TO, letter)
    assert not fake_sendmail.exists()


@pytest.mark.skipif(os.name != "posix", reason="a #! script on PATH")
@pytest.mark.parametrize("command", ["sendmail -t -i", "sendmail -ti", "sendmail -oi -t"])
def test_sendmail_with_i_gets_the_letter_whole(fake_sendmail: Path, command: str) -> None:
    assert send_letter((":program", command), FROM, TO, LETTER, subject="dots") is True
    assert b"\n.\nSecond part" in fake_sendmail.read_bytes()


@pytest.mark.skipif(os.name != "posix", reason="a #! script on PATH")
def test_sendmail_without_i_and_without_a_lone_dot_is_unchanged(fake_sendmail: Path) -> None:
    letter = "A line.\n.. two dots\n.x\nend\n"
    assert send_letter((":program", "sendmail -t"), FROM, TO, letter) is True
    assert b"\n.. two dots\n.x\nend\n" in fake_sendmail.read_bytes()
