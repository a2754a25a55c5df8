"""post_office._record: the frozen dataclasses of the send path behave as the ones
:mod:`dataclasses` makes (same signature, repr, equality, hash, frozenness, and
:mod:`dataclasses`' own functions work on them)."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any, List, Optional, Tuple

import pytest

from post_office import Delivery, MailServer, TlsSettings, parse_mail_server
from post_office._record import dataclass as record
from post_office._record import field as record_field
from post_office.client.delivery import Envelope
from post_office.spec.mailserver import MailProgram
from post_office.spec.options import ConnectOptions

RECORDS = [MailServer, TlsSettings, ConnectOptions, Envelope, Delivery, MailProgram]


def _twins() -> Tuple[type, type]:
    """The same class made by dataclasses and by _record."""

    def body() -> Any:
        class Point:
            """A point."""

            x: int
            y: int = 2
            tags: List[str] = dataclasses.field(default_factory=list)
            note: Optional[str] = dataclasses.field(default=None, compare=True)

            def __post_init__(self) -> None:
                object.__setattr__(self, "y", self.y * 10)

        return Point

    real = dataclasses.dataclass(frozen=True)(body())
    ours_body = body()
    ours_body.tags = record_field(default_factory=list)
    ours_body.note = record_field(default=None, compare=True)
    ours = record(frozen=True)(ours_body)
    return real, ours


def test_a_record_is_what_dataclasses_makes() -> None:
    real, ours = _twins()
    assert str(inspect.signature(ours)) == str(inspect.signature(real))
    for cls in (real, ours):
        a, b = cls(1), cls(1, 2, ["t"], "n")
        assert (a.x, a.y, a.tags, a.note) == (1, 20, [], None)
        assert repr(b).split("(", 1)[1] == "x=1, y=20, tags=['t'], note='n')"
        assert a == cls(1) and a != b and a != (1, 20, [], None)
        assert hash(cls(1, 2, (), "n")) == hash(cls(1, 2, (), "n"))
        assert cls.__match_args__ == ("x", "y", "tags", "note")  # type: ignore[attr-defined]
        assert cls(1).tags is not cls(1).tags
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
            a.x = 5
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'x'"):
            del a.x
        with pytest.raises(TypeError):
            cls()
        assert dataclasses.is_dataclass(cls) and dataclasses.is_dataclass(a)
        assert [f.name for f in dataclasses.fields(a)] == ["x", "y", "tags", "note"]
        assert dataclasses.asdict(b) == {"x": 1, "y": 20, "tags": ["t"], "note": "n"}
        assert dataclasses.replace(b, x=3).x == 3
        assert (vars(cls)["y"], vars(cls)["note"], "tags" in vars(cls)) == (2, None, False)
    assert ours.__dataclass_params__.frozen  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_the_send_path_records_are_dataclasses(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert "_record_spec" in vars(cls)
    assert inspect.signature(cls).return_annotation is None


def test_a_mail_server_round_trips() -> None:
    server = parse_mail_server(("mail.corp", ":port", 587, ":starttls", True, ":ca-file", "/c"))
    assert pickle.loads(pickle.dumps(server)) == server
    assert dataclasses.replace(server, port=25) == parse_mail_server(
        ("mail.corp", ":starttls", True, ":ca-file", "/c")
    )
    assert len({server, parse_mail_server(server.to_lisp())}) == 1
