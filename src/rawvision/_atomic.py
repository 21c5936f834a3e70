"""Atomic file writes: write to a temporary file in the target's folder, then rename (nothing half-written)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_atomic"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error delete it.

    ``suffix`` lets writers that choose a format by extension (Pillow, tifffile) see the right one. The folder of
    ``path`` is created if missing.

    Example:
        >>> with atomic_path("out/x.png", suffix=".png") as tmp:   # doctest: +SKIP
        ...     image.save(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
