"""The one error type of the data readers (re-exported by :mod:`rawvision.data.photos` and :mod:`rawvision.data`)."""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """Bad input data: an unreadable image, an empty folder, a malformed label file. The message is one line."""
