"""Warnings that point at the caller's line, never at a line of post_office."""

from __future__ import annotations

import os
import sys
import warnings

TYPE_CHECKING = False  # typing's own would load typing, which sending does not need
if TYPE_CHECKING:
    from typing import Type

__all__ = ["warn"]

#: This package's directory: frames from files under it are ours, whatever subpackage.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: Type[Warning] = UserWarning) -> None:
    """``warnings.warn`` pointing at the caller's line, outside this package, whichever
    entry point (and however many of our frames) led here."""
    frame = sys._getframe(1)
    level = 2  # stacklevel 1 would be this function itself
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, category, stacklevel=level)
