"""The MIME part itself: :class:`MimePart`, Allegro's accessors, and boundaries (README "Letters
and attachments").

A :class:`MimePart` is immutable and describes a part; its text is produced only when
it is streamed (:mod:`post_office.mime.render`).  Boundaries are ``----------=_``
followed by 32 random hex digits.  ``=_`` cannot occur in base64 or quoted-printable
text, and a boundary is checked against every 7bit/8bit text held in memory (and
regenerated on a collision), so it never collides with content.
:func:`seed_boundaries` makes the sequence deterministic for golden tests.

Pure: no I/O.
"""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import dataclass, replace
from typing import Any, FrozenSet, Generator, Iterable, Iterator, Optional, Sequence, Tuple

from .._checks import show
from ..errors import MimeError
from .render import encode_quoted_printable, render

__all__ = [
    "BOUNDARY_PREFIX",
    "MAX_DEPTH",
    "MimePart",
    "append_subparts",
    "check_part",
    "collides",
    "fresh_boundary",
    "mime_get_header",
    "mime_part_boundary",
    "mime_part_constructed_p",
    "mime_part_description",
    "mime_part_encoding",
    "mime_part_headers",
    "mime_part_id",
    "mime_part_p",
    "mime_part_parameters",
    "mime_part_parts",
    "mime_part_subtype",
    "mime_part_type",
    "seed_boundaries",
]

#: Every generated boundary starts with this; "=_" keeps it out of base64 and QP text.
BOUNDARY_PREFIX = "----------=_"

#: How deep parts may nest (a multipart in a multipart ... in a part): real mail nests a
#: few levels; the limit keeps a deep tree from exhausting the stack when it is streamed.
MAX_DEPTH = 100

_rng: Optional[random.Random] = None
_rng_lock = threading.Lock()


# --------------------------------------------------------------------------- the part


@dataclass(frozen=True, eq=False, repr=False)
class MimePart:
    """A constructed MIME part (Allegro's ``mime-part-constructed``), made by
    :func:`make_mime_part`.  Immutable; the attributes mirror Allegro's accessors.

    ``parameters`` and ``headers`` are tuples of ``(name, value)`` pairs (Allegro's
    alists); ``parts`` the subparts of a multipart; ``boundary`` is None unless the part
    is a multipart.  Stream it with :func:`with_mime_part_constructed_stream`, or pass it
    straight to ``send_smtp`` as a message argument.
    """

    type: str
    subtype: str
    parameters: Tuple[Tuple[str, str], ...]
    id: Optional[str]
    description: Optional[str]
    encoding: Optional[str]
    headers: Tuple[Tuple[str, str], ...]
    parts: Tuple[MimePart, ...]
    boundary: Optional[str]
    disposition: Optional[str]
    """``"attachment"``, ``"inline"`` or None (no Content-Disposition)."""
    disposition_name: Optional[str]
    """The file name written as Content-Disposition's ``filename``."""
    source_kind: str
    """``"bytes"`` (text in memory), ``"file"`` (a path, opened when streamed),
    ``"stream"`` (read from where it stands when streamed, never closed) or ``"none"``."""
    source: Any
    codec: str
    """The Python codec of the part's ``external_format`` (for str read from streams)."""
    depth: int = 1
    """How many levels of parts this one holds, itself included (at most MAX_DEPTH)."""
    omitted_headers: FrozenSet[str] = frozenset()
    """Lower-case names of headers this part does not write because the letter's own
    header lines carry them (send_letter's ``headers``, README "Letters")."""

    @property
    def content_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def multipart(self) -> bool:
        return self.type.lower() == "multipart"

    def __repr__(self) -> str:
        extra = ""
        if self.multipart:
            extra = f", {len(self.parts)} parts"
        elif self.source_kind == "bytes":
            extra = f", {len(self.source)} bytes"
        elif self.source_kind == "file":
            extra = f", file {self.source!r}"
        elif self.source_kind == "stream":
            extra = f", stream {type(self.source).__name__}"
        return f"<MimePart {self.content_type}, {self.encoding}{extra}>"

    def __post_office_chunks__(self) -> Generator[bytes, None, None]:
        """The part's text, generated lazily, for ``send_smtp`` (see ``wire.py``)."""
        return render(self, top_level=True)


# --------------------------------------------------------------------------- accessors


def mime_part_p(thing: object) -> bool:
    """Allegro's ``mime-part-p``: is ``thing`` a MIME part."""
    return isinstance(thing, MimePart)


def mime_part_constructed_p(thing: object) -> bool:
    """Allegro's ``mime-part-constructed-p``: was ``thing`` made by make_mime_part."""
    return isinstance(thing, MimePart)


def check_part(part: object, accessor: str) -> MimePart:
    """``part`` if it is a MimePart, else a MimeError naming ``accessor``."""
    if not isinstance(part, MimePart):
        raise MimeError(
            f"{accessor}: expected a MimePart made by make_mime_part, got "
            f"{type(part).__name__} {show(part)}"
        )
    return part


def mime_part_type(part: MimePart) -> str:
    """Allegro's ``mime-part-type``: ``"text"`` of ``text/plain``."""
    return check_part(part, "mime_part_type").type


def mime_part_subtype(part: MimePart) -> str:
    """Allegro's ``mime-part-subtype``: ``"plain"`` of ``text/plain``."""
    return check_part(part, "mime_part_subtype").subtype


def mime_part_parameters(part: MimePart) -> Tuple[Tuple[str, str], ...]:
    """Allegro's ``mime-part-parameters``: Content-Type parameters, boundary and charset first."""
    return check_part(part, "mime_part_parameters").parameters


def mime_part_id(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-id``: the Content-Id, or None."""
    return check_part(part, "mime_part_id").id


def mime_part_description(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-description``: the Content-Description, or None."""
    return check_part(part, "mime_part_description").description


def mime_part_encoding(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-encoding``: the Content-Transfer-Encoding, or None."""
    return check_part(part, "mime_part_encoding").encoding


def mime_part_headers(part: MimePart) -> Tuple[Tuple[str, str], ...]:
    """Allegro's ``mime-part-headers``: the caller's (name, value) header pairs."""
    return check_part(part, "mime_part_headers").headers


def mime_part_parts(part: MimePart) -> Tuple[MimePart, ...]:
    """Allegro's ``mime-part-parts``: the subparts of a multipart (empty otherwise)."""
    return check_part(part, "mime_part_parts").parts


def mime_part_boundary(part: MimePart) -> Optional[str]:
    """Allegro's ``mime-part-boundary``: the boundary of a multipart, else None."""
    return check_part(part, "mime_part_boundary").boundary


def mime_get_header(header: str, part: MimePart) -> Optional[str]:
    """Allegro's ``mime-get-header``: the value of the caller's header ``header``
    (case-insensitive), or None."""
    wanted = header.lower()
    for name, value in check_part(part, "mime_get_header").headers:
        if name.lower() == wanted:
            return value
    return None


# --------------------------------------------------------------------------- boundaries


def seed_boundaries(seed: Optional[int]) -> None:
    """Make generated boundaries a deterministic sequence (for golden tests).

    After ``seed_boundaries(42)`` every process generates the same boundaries in the same
    order; ``seed_boundaries(None)`` goes back to unpredictable ones from :mod:`secrets`
    (the default).  Python only; Allegro uses ``random``.
    """
    global _rng
    with _rng_lock:
        _rng = None if seed is None else random.Random(seed)


def _new_boundary() -> str:
    with _rng_lock:
        if _rng is None:
            return BOUNDARY_PREFIX + secrets.token_hex(16)
        return BOUNDARY_PREFIX + format(_rng.getrandbits(128), "032x")


def _descendants(parts: Iterable[MimePart]) -> Iterator[MimePart]:
    for part in parts:
        yield part
        yield from _descendants(part.parts)


def collides(boundary: str, parts: Iterable[MimePart]) -> Optional[str]:
    """Why ``boundary`` could be mistaken inside ``parts``, or None when it cannot.

    Base64 text has no ``-`` at all; quoted-printable text never has ``=_`` (``=`` is
    always followed by hex digits or a newline), so a boundary containing ``=_`` is safe
    there; raw text held in memory is searched.  A nested multipart's boundary must not
    start with ours nor ours with it.  Raw text streamed from a file is not read ahead:
    a random 128-bit boundary cannot be guessed by whoever wrote the file.
    """
    marker = ("--" + boundary).encode("utf-8")
    for part in _descendants(parts):
        if part.boundary is not None:
            if part.boundary.startswith(boundary) or boundary.startswith(part.boundary):
                return f"a nested multipart's boundary {show(part.boundary)} overlaps it"
            continue
        if part.source_kind != "bytes" or part.encoding == "base64":
            continue
        data: bytes = part.source
        if part.encoding == "quoted-printable":
            if "=_" in boundary:
                continue
            data = b"".join(encode_quoted_printable(iter([data])))
        if marker in data:
            return f"the text of a {part.content_type} subpart contains '--{boundary}'"
    return None


def fresh_boundary(parts: Sequence[MimePart]) -> str:
    """A new random (or seeded) boundary that collides with nothing in ``parts``."""
    while True:
        boundary = _new_boundary()
        if collides(boundary, parts) is None:
            return boundary


def append_subparts(part: MimePart, extra: Sequence[MimePart]) -> MimePart:
    """A copy of the multipart ``part`` with ``extra`` appended to its subparts.

    The caller's part is left as it was (send-letter's attachments; Allegro modifies the
    part for the duration of the call).  The boundary is kept unless the new subparts
    contain it, in which case the copy gets a fresh one.
    """
    parts = part.parts + tuple(extra)
    assert part.boundary is not None
    depth = max([part.depth, *(1 + sub.depth for sub in extra)])
    if depth > MAX_DEPTH:
        raise MimeError(f"attachments: parts nested {depth} deep; at most {MAX_DEPTH} levels")
    if collides(part.boundary, extra) is None:
        return replace(part, parts=parts, depth=depth)
    boundary = fresh_boundary(parts)
    parameters = tuple(
        ("boundary", boundary) if name == "boundary" else (name, value)
        for name, value in part.parameters
    )
    return replace(part, parts=parts, boundary=boundary, parameters=parameters, depth=depth)
