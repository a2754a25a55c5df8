"""The type aliases the send path defines for type checkers only (``if TYPE_CHECKING:``,
so that sending mail does not load :mod:`typing`) are made at run time, on first use, by
the module's ``__getattr__``, from a second copy of their definition: this checks the
two copies say the same, and that every public alias can be imported."""

from __future__ import annotations

import ast
import importlib
import typing
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import post_office

PACKAGE = Path(post_office.__file__).resolve().parent


def _checked_only_aliases(tree: ast.Module) -> Iterator[Tuple[str, ast.expr, bool]]:
    """``(name, value, lazy)`` for each ``name = value`` in a module-level
    ``if TYPE_CHECKING:`` block; ``lazy``: the module makes them at run time (an ``else:``
    of such a block defines ``__getattr__``)."""
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    lazy = any(
        isinstance(other, ast.FunctionDef) and other.name == "__getattr__"
        for block in blocks
        for other in block.orelse
    )
    for block in blocks:
        for statement in block.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
                yield statement.targets[0].id, statement.value, lazy


def _aliases() -> List[Tuple[str, str, str, bool]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for name, value, lazy in _checked_only_aliases(tree):
            found.append((module, name, ast.unparse(value), lazy))
    return found


ALIASES = _aliases()
# the private ones (``_Phase``) exist for type checkers only
PUBLIC = [alias for alias in ALIASES if alias[3] and not alias[1].startswith("_")]


def test_the_send_path_s_public_aliases_are_all_found() -> None:
    names = {name for _, name, _, _ in PUBLIC}
    assert {"Recipients", "ServerArgument", "TransportArgument", "Credentials"} <= names
    assert {"FailureKind", "Action", "Verify", "StartTLSOutcome"} <= names
    assert {"StartTLS", "MtaSts", "OnReached", "BeforeAuth"} <= names


def test_a_module_that_makes_aliases_at_run_time_makes_every_one() -> None:
    # an alias left out of a lazy module's __getattr__ would be missing at run time
    assert [alias for alias in ALIASES if not alias[3] and not alias[1].startswith("_")] == []


@pytest.mark.parametrize(("module", "name", "source", "lazy"), PUBLIC, ids=lambda x: str(x))
def test_an_alias_made_at_run_time_is_the_one_type_checkers_see(
    module: str, name: str, source: str, lazy: bool
) -> None:
    loaded = importlib.import_module(module)
    made = getattr(loaded, name)
    names: Dict[str, Any] = {**vars(typing), **vars(loaded)}
    assert made == eval(source, names)  # our own source text
    exec(f"from {module} import {name}", {})  # an import, as a user writes it


@pytest.mark.parametrize("name", ["Recipients", "ServerArgument", "TransportArgument"])
def test_the_package_gives_the_public_aliases(name: str) -> None:
    assert getattr(post_office, name) is not None


def test_a_missing_name_is_still_an_attribute_error() -> None:
    from post_office.spec import mailserver

    with pytest.raises(AttributeError, match="has no attribute 'ServerArgumant'"):
        getattr(mailserver, "ServerArgumant")  # noqa: B009 - the lookup is the test
