"""Frozen dataclasses and NamedTuples without :mod:`dataclasses` and :mod:`typing`'s class
machinery on the send path.

Importing :mod:`dataclasses` loads :mod:`inspect` (and with it :mod:`ast`, :mod:`dis`,
:mod:`tokenize`, :mod:`linecache`), and each ``@dataclass`` compiles five or six methods
when its module is imported: together the largest start-up cost of a process that sends
one message (``bench/bench_process.py``).  The classes that path builds (``MailServer``,
``TlsSettings``, ``ConnectOptions``, ``Envelope``, ``Delivery``, ``MailProgram``) use
:func:`dataclass` from here instead, which type checkers see as the standard one::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from dataclasses import dataclass, field
    else:
        from .._record import dataclass, field

It makes what ``dataclasses.dataclass(frozen=True)`` makes, as far as any caller can
tell: the same ``__init__`` (signature, defaults, ``default_factory``, ``__post_init__``),
``__repr__``, ``__eq__``, ``__hash__``, ``__match_args__``, and assignments refused with
:class:`dataclasses.FrozenInstanceError`; and the class is a dataclass to
:mod:`dataclasses` itself (``is_dataclass``, ``fields``, ``asdict``, ``replace``): its
``__dataclass_fields__`` and ``__dataclass_params__`` are made by the real decorator, on
a stand-in class, the first time something asks for them.  Only what those classes use
is supported: frozen classes, no inheritance between them, no ``ClassVar``/``InitVar``.

:class:`NamedTuple` is ``typing.NamedTuple`` (same class: a :func:`collections.namedtuple`
with the body's defaults, methods and docstring) except that ``__annotations__`` keeps the
annotations as the strings they are under ``from __future__ import annotations``, where
``typing`` compiles a ``ForwardRef`` for each (``typing.get_type_hints`` reads either).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Tuple, TypeVar

    _T = TypeVar("_T")

__all__ = ["NamedTuple", "dataclass", "field"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


class _Factory:
    """The default ``__init__`` shows for a ``default_factory`` field (as dataclasses)."""

    def __repr__(self) -> str:
        return "<factory>"


MISSING: Any = _Missing()
_FACTORY: Any = _Factory()


class Field:
    """What :func:`field` returns: read once by :func:`dataclass`, then dropped."""

    __slots__ = ("default", "default_factory", "kwargs")

    def __init__(self, default: Any, default_factory: Any, kwargs: Dict[str, Any]) -> None:
        self.default = default
        self.default_factory = default_factory
        self.kwargs = kwargs


def field(*, default: Any = MISSING, default_factory: Any = MISSING, **kwargs: Any) -> Any:
    """``dataclasses.field``: ``default``, ``default_factory``, and ``compare=True`` (the
    only other argument the records here pass, and dataclasses' default)."""
    if set(kwargs) - {"compare"} or not kwargs.get("compare", True):
        raise TypeError(f"post_office._record.field does not support {sorted(kwargs)}")
    return Field(default, default_factory, kwargs)


class _LazyDataclassAttribute:
    """``__dataclass_fields__`` / ``__dataclass_params__``: made by :mod:`dataclasses` on a
    stand-in class with the same fields and options when first read, then stored on the
    class in place of this descriptor."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type) -> Any:
        import dataclasses

        # the record itself, also when asked through a subclass (which inherits its fields)
        owner = next(cls for cls in owner.__mro__ if "_record_spec" in vars(cls))
        spec: Tuple[List[Tuple[str, str, Any]], Dict[str, Any]] = vars(owner)["_record_spec"]
        items, options = spec
        namespace: Dict[str, Any] = {"__annotations__": {}, "__module__": owner.__module__}
        for name, annotation, value in items:
            namespace["__annotations__"][name] = annotation
            if isinstance(value, Field):
                namespace[name] = dataclasses.field(
                    default=value.default if value.default is not MISSING else dataclasses.MISSING,
                    default_factory=value.default_factory
                    if value.default_factory is not MISSING
                    else dataclasses.MISSING,
                    **value.kwargs,
                )
            elif value is not MISSING:
                namespace[name] = value
        stand_in: type = dataclasses.dataclass(**options)(type(owner.__name__, (), namespace))
        for attribute in ("__dataclass_fields__", "__dataclass_params__"):
            setattr(owner, attribute, getattr(stand_in, attribute))
        return getattr(owner, self.name)


def _frozen(cls: type, names: Tuple[str, ...]) -> Tuple[Any, Any]:
    """``__setattr__`` and ``__delattr__`` as dataclasses writes them for a frozen class:
    refused on the class's own instances and for its fields; a subclass's other attributes
    are set as usual."""

    def __setattr__(self: Any, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            import dataclasses

            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)  # what super() is: records derive from object

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            import dataclasses

            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    return __setattr__, __delattr__


def _replace(self: Any, /, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(self, **changes)


def _make_init(cls: type, items: List[Tuple[str, str, Any]]) -> Callable[..., None]:
    """``__init__`` compiled once, as dataclasses writes it (same signature, same body)."""
    params: List[str] = []
    lines: List[str] = []
    scope: Dict[str, Any] = {"__setattr__": object.__setattr__, "_FACTORY": _FACTORY}
    for number, (name, annotation, value) in enumerate(items):
        scope[f"_type_{name}"] = annotation
        if isinstance(value, Field) and value.default_factory is not MISSING:
            scope[f"_factory_{number}"] = value.default_factory
            params.append(f"{name}: _type_{name} = _FACTORY")
            lines.append(
                f"    __setattr__(self, {name!r}, "
                f"_factory_{number}() if {name} is _FACTORY else {name})"
            )
            continue
        default = value.default if isinstance(value, Field) else value
        if default is MISSING:
            params.append(f"{name}: _type_{name}")
        else:
            scope[f"_default_{number}"] = default
            params.append(f"{name}: _type_{name} = _default_{number}")
        lines.append(f"    __setattr__(self, {name!r}, {name})")
    if "__post_init__" in cls.__dict__:
        lines.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(
        lines or ["    pass"]
    )
    # our own text, as dataclasses does; dont_inherit: this module's ``annotations`` future
    # import would turn the annotations into the strings "_type_host", ...
    exec(compile(source, f"<{cls.__qualname__}.__init__>", "exec", dont_inherit=True), scope)
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def dataclass(*, frozen: bool = True, repr: bool = True) -> Callable[[_T], _T]:
    """``dataclasses.dataclass(frozen=True)`` (``repr=False`` keeps the class's own)."""
    if not frozen:
        raise TypeError("post_office._record.dataclass makes frozen classes only")

    def wrap(cls: _T) -> _T:
        assert isinstance(cls, type)
        if cls.__bases__ != (object,):  # no fields to inherit, and object is super()
            raise TypeError("post_office._record.dataclass makes classes without bases only")
        annotations: Dict[str, str] = vars(cls).get("__annotations__", {})
        items: List[Tuple[str, str, Any]] = []
        for name, annotation in annotations.items():
            value = cls.__dict__.get(name, MISSING)
            if items and items[-1][2] is not MISSING and value is MISSING:
                raise TypeError(f"non-default argument {name!r} follows default argument")
            items.append((name, annotation, value))
            if isinstance(value, Field):
                if value.default is MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value.default)
        names = tuple(name for name, _, _ in items)

        def __eq__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return tuple(getattr(self, n) for n in names) == tuple(
                    getattr(other, n) for n in names
                )
            return NotImplemented

        def __hash__(self: Any) -> int:
            return hash(tuple(getattr(self, n) for n in names))

        def __repr__(self: Any) -> str:
            shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
            return f"{self.__class__.__qualname__}({shown})"

        setter, deleter = _frozen(cls, names)
        methods: Dict[str, Any] = {
            "__init__": _make_init(cls, items),
            "__eq__": __eq__,
            "__hash__": __hash__,
            "__setattr__": setter,
            "__delattr__": deleter,
        }
        if repr:
            methods["__repr__"] = __repr__
        if sys.version_info >= (3, 13):  # copy.replace(), as dataclasses gives it from 3.13
            methods["__replace__"] = _replace
        for name, method in methods.items():
            if name in cls.__dict__:  # dataclasses keeps a class's own; none of ours has one
                raise TypeError(f"{cls.__name__} defines {name}, which dataclass makes")
            if name != "__init__":
                method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, method)
        attributes: Dict[str, Any] = {
            "_record_spec": (items, {"frozen": True, "repr": repr}),
            "__dataclass_fields__": _LazyDataclassAttribute("__dataclass_fields__"),
            "__dataclass_params__": _LazyDataclassAttribute("__dataclass_params__"),
        }
        if sys.version_info >= (3, 10):  # as dataclasses, from the version that has match
            attributes["__match_args__"] = names
        for name, value in attributes.items():
            setattr(cls, name, value)
        return cls

    return wrap


# ``typing.NamedTuple``'s rules: these names cannot be defined in the body, these are not
# copied from it.
_PROHIBITED = frozenset(
    {
        "__new__",
        "__init__",
        "__slots__",
        "__getnewargs__",
        "_fields",
        "_field_defaults",
        "_make",
        "_replace",
        "_asdict",
        "_source",
    }
)
_SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})


class _NamedTupleMeta(type):
    def __new__(cls, typename: str, bases: Tuple[type, ...], namespace: Dict[str, Any]) -> Any:
        import collections

        if bases != (_NamedTupleBase,):
            raise TypeError("can only inherit from a NamedTuple type")
        annotations: Dict[str, Any] = namespace.get("__annotations__", {})
        default_names: List[str] = []
        for name in annotations:
            if name in namespace:
                default_names.append(name)
            elif default_names:
                raise TypeError(
                    f"Non-default namedtuple field {name} cannot follow default field"
                    f"{'s' if len(default_names) > 1 else ''} {', '.join(default_names)}"
                )
        factory: Any = collections.namedtuple  # (mypy checks only literal calls)
        made: Any = factory(
            typename,
            list(annotations),
            defaults=[namespace[name] for name in default_names],
            module=namespace["__module__"],
        )
        made.__annotations__ = made.__new__.__annotations__ = dict(annotations)
        for key, value in namespace.items():
            if key in _PROHIBITED:
                raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
            if key not in _SPECIAL and key not in made._fields:
                setattr(made, key, value)
        return made


_NamedTupleBase = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})


def NamedTuple(typename: str, fields: Any = None, /, **kwargs: Any) -> Any:
    """Only as a base class here (``class Reply(NamedTuple): ...``)."""
    raise TypeError("post_office._record.NamedTuple is for class statements only")


def _mro_entries(bases: Tuple[Any, ...]) -> Tuple[type, ...]:
    return (_NamedTupleBase,)


NamedTuple.__mro_entries__ = _mro_entries  # type: ignore[attr-defined]
