"""Type stub for the optional C encoder (post_office/_speedups.c)."""

from typing import Tuple, Union

def encode_into(
    data: Union[bytes, bytearray, memoryview],
    state: int,
    out: Union[bytearray, memoryview],
    portable: bool = False,
    /,
) -> Tuple[int, int]:
    """Write the wire bytes for one chunk into ``out``; (bytes written, next state)."""
