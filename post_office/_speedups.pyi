"""Type stub for the optional C encoder (post_office/_speedups.c)."""

from typing import Tuple, Union

def encode_chunk(
    data: Union[bytes, bytearray, memoryview], state: int, portable: bool = False, /
) -> Tuple[bytes, int]:
    """Wire bytes for one chunk of content, and the state for the next chunk."""
