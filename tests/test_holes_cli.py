"""Holes in the command line and the sink tools (issue 20 item 5, issue 23 item 9).

- What a server sends (greeting, replies, ``--debug``'s transcript, ``--json``) reaches
  the terminal escaped, through the one escaper the sink tools use, which now also
  escapes U+061C and reads back one way only.
- ``sink-list`` / ``sink-show`` take the envelope from the lines the sink wrote first,
  never from headers the sender wrote.
- ``make_throwaway_certificate`` creates its key file anew, mode 0600, through no link.
- ``send --json`` prints its failure object for every failure, usage errors included,
  with the reply's code, enhanced status code, the stage and the server reached.

In this process (``main(argv)``) wherever no process of its own is needed.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from test_cli import ROOT, Cli, cli, cli_env  # noqa: F401

from post_office import make_throwaway_certificate

#: What no line printed to a terminal may hold: C0 but for the line end, DEL, C1, and
#: Unicode's bidirectional controls (UAX #9) and line separators.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
#: Hostile server text: a terminal title, a screen clear, a bell, a C1 CSI, an
#: Arabic letter mark and a right-to-left override.
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u061c\u202eevil"

# --------------------------------------------------------------------------- 3 key file

METHODS = ["cryptography", "openssl"]


@pytest.mark.parametrize("method", METHODS)
def test_an_existing_readable_key_file_is_replaced_by_a_private_one(
    tmp_path: Path, method: str
) -> None:
    key = tmp_path / "key.pem"
    key.write_text("old key\n")
    key.chmod(0o644)
    made = make_throwaway_certificate(tmp_path, method=method)
    assert made.key_file == key and key.read_text() != "old key\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    made.server_context()  # the key and certificate belong together


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
@pytest.mark.parametrize("method", METHODS)
def test_planted_links_are_replaced_not_written_through(tmp_path: Path, method: str) -> None:
    victims = tmp_path / "victims"
    victims.mkdir()
    target = tmp_path / "tls"
    target.mkdir()
    for name in ("key.pem", "cert.pem"):
        (victims / name).write_text("someone else's file\n")
        (victims / name).chmod(0o644)
        (target / name).symlink_to(victims / name)
    made = make_throwaway_certificate(target, method=method)
    for name in ("key.pem", "cert.pem"):
        assert (victims / name).read_text() == "someone else's file\n"
        assert stat.S_IMODE((victims / name).stat().st_mode) == 0o644
        assert not (target / name).is_symlink()
    assert stat.S_IMODE(made.key_file.stat().st_mode) == 0o600
    assert sorted(path.name for path in target.iterdir()) == ["cert.pem", "key.pem"]
    made.server_context()
