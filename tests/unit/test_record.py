"""post_office._record: the frozen dataclasses of the send path behave as the ones
:mod:`dataclasses` makes (same signature, repr, equality, hash, frozenness, and
:mod:`dataclasses`' own functions work on them)."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import sys
import typing
from typing import Any, List, Optional, Tuple

import pytest

from post_office import Delivery, MailServer, TlsSettings, parse_mail_server
from post_office._record import NamedTuple as record_named_tuple
from post_office._record import dataclass as record
from post_office._record import field as record_field
from post_office.client.delivery import Envelope
from post_office.spec.options import ConnectOptions
from post_office.spec.transport import MailProgram

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
        if sys.version_info >= (3, 10):
            assert cls.__match_args__ == ("x", "y", "tags", "note")  # type: ignore[attr-defined]
        assert ("__replace__" in vars(cls)) is (sys.version_info >= (3, 13))
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
    assert set(vars(ours)) - set(vars(real)) == {"_record_spec"}
    assert set(vars(real)) <= set(vars(ours))


def test_a_subclass_of_a_record_is_a_dataclass_as_one_of_a_dataclass_is() -> None:
    real, ours = _twins()
    for cls in (real, ours):
        sub: Any = type("Sub", (cls,), {})
        one = sub(1)
        one.extra = "set"  # not a field: a subclass may
        assert one.extra == "set" and dataclasses.is_dataclass(sub)
        assert [f.name for f in dataclasses.fields(sub)] == ["x", "y", "tags", "note"]
        with pytest.raises(dataclasses.FrozenInstanceError):
            one.x = 2


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


def _pair_of_named_tuples() -> Tuple[Any, Any]:
    made = []
    for base in (typing.NamedTuple, record_named_tuple):

        class Pair(base):  # type: ignore[misc, valid-type]
            """Two things."""

            first: int
            second: Optional[str] = None

            @property
            def both(self) -> str:
                return f"{self.first}{self.second}"

        made.append(Pair)
    return made[0], made[1]


def test_a_record_named_tuple_is_what_typing_makes() -> None:
    real, ours = _pair_of_named_tuples()
    for cls in (real, ours):
        pair: Any = cls(1)
        assert isinstance(cls(1), tuple) and cls.__mro__[1:] == (tuple, object)
        assert (pair, pair.both, cls(1, "x")) == ((1, None), "1None", (1, "x"))
        assert repr(cls(2, "y")) == "Pair(first=2, second='y')"
        assert cls._fields == ("first", "second") and cls._field_defaults == {"second": None}
        assert cls.__doc__ == "Two things." and pair._replace(first=5) == (5, None)
        assert typing.get_type_hints(cls) == {"first": int, "second": Optional[str]}
        parameters = inspect.signature(cls).parameters
        assert [(p.name, p.default) for p in parameters.values()] == [
            ("first", inspect.Parameter.empty),
            ("second", None),
        ]
    with pytest.raises(TypeError, match="Non-default namedtuple field"):

        class Bad(record_named_tuple):  # type: ignore[misc, valid-type]
            first: int = 1
            second: int

    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _make"):

        class Worse(record_named_tuple):  # type: ignore[misc, valid-type]
            first: int

            def _make(self) -> None: ...


def test_reply_target_and_facts_are_named_tuples() -> None:
    from post_office.client.targets import Target
    from post_office.protocol.conversation import Facts
    from post_office.protocol.replies import Reply

    reply = Reply(250, ("ok", "fine"))
    assert tuple(reply) == (250, ("ok", "fine")) and pickle.loads(pickle.dumps(reply)) == reply
    assert repr(reply) == "Reply(250, ('ok', 'fine'))" and reply.text == "ok\nfine"
    assert Target("a", "b") == ("a", "b", None) and Facts().used_helo is False
