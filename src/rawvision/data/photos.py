"""Photo folders -> labelled RGB photos -> non-overlapping 256x256 patches (ISP Distillation, Sec. IV-B)."""

from __future__ import annotations

import csv
import functools
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = [
    "IMAGE_EXTENSIONS",
    "DataError",
    "Photo",
    "find_photos",
    "imagenet_wnids",
    "load_rgb",
    "patch_origins",
    "read_label_csv",
    "split_photos",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_WNID = re.compile(r"^n\d{8}$")


class DataError(ValueError):
    """Bad input data: an unreadable image, an empty folder, a malformed label file. The message is one line."""


@dataclass(frozen=True)
class Photo:
    """A photo file and its ImageNet-1k class index (-1 when unlabelled)."""

    path: Path
    label: int = -1


@functools.lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 WordNet IDs in class-index order (sorted ascending), from timm's bundled list."""
    import importlib.resources

    text = (importlib.resources.files("timm.data") / "_info" / "imagenet_synsets.txt").read_text()
    wnids = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(wnids) != 1000 or list(wnids) != sorted(wnids):
        raise RuntimeError("timm's imagenet_synsets.txt is not the sorted list of 1000 ImageNet WNIDs")
    return wnids


def read_label_csv(path: str | Path) -> dict[str, int]:
    """Read a CSV mapping file names to ImageNet class indices.

    Accepted forms: a header with a file column (``filename``/``file``/``path``) and an index column
    (``imagenet_index``/``label``/``class_index``/``target``), or two columns without header.

    Returns:
        ``{file name: class index}``; the file name as written (relative path or base name).

    Raises:
        DataError: unreadable file, missing columns, or an index outside 0..999.
    """
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"label file {path}: cannot read it ({e.__class__.__name__})") from None
    rows = [r for r in rows if r]
    if not rows:
        raise DataError(f"label file {path} is empty")
    head = [c.strip().lower() for c in rows[0]]
    fcol = next((head.index(c) for c in ("filename", "file", "path", "image") if c in head), None)
    lcol = next((head.index(c) for c in ("imagenet_index", "label", "class_index", "target") if c in head), None)
    if fcol is None and lcol is None:
        fcol, lcol, body = 0, 1, rows
    elif fcol is None or lcol is None:
        raise DataError(f"label file {path}: expected a file-name column and a class-index column, got {rows[0]}")
    else:
        body = rows[1:]
    out = {}
    for i, r in enumerate(body, start=2 if body is not rows else 1):
        try:
            idx = int(r[lcol])
        except (ValueError, IndexError):
            raise DataError(f"label file {path}, line {i}: expected a class index, got {r}") from None
        if not 0 <= idx < 1000:
            raise DataError(f"label file {path}, line {i}: class index {idx} is outside 0..999")
        out[r[fcol].strip()] = idx
    return out


def find_photos(
    root: str | Path | list, labels: str | Path | None = "auto", max_photos: int | None = None
) -> list[Photo]:
    """List the photos under ``root`` (recursively), with labels where known.

    ``root`` may also be a list of image files (unlabelled unless ``labels`` names a CSV).

    Labels come from, in order: ``labels`` (a CSV, see :func:`read_label_csv`; ``"auto"`` uses ``root/labels.csv``
    if present), else an ImageFolder layout whose folder names are ImageNet WNIDs (``n01440764/...``), else -1.

    Args:
        root: folder of JPEG/PNG/... photos of any size.
        labels: CSV path, ``"auto"``, or None for no labels.
        max_photos: keep only the first N photos in sorted order (for quick runs).

    Raises:
        DataError: ``root`` is not a folder or holds no image file; a label CSV is malformed.
    """
    if isinstance(root, (list, tuple)):
        files = [Path(f) for f in root]
        missing = [f for f in files if not f.is_file()]
        if not files or missing:
            raise DataError(f"image file {missing[0]} not found" if missing else "empty list of image files")
        table = read_label_csv(labels) if labels not in (None, "auto") else {}
        return [Photo(f, table.get(f.name, -1)) for f in files[: max_photos or None]]
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise DataError(f"data folder {root} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
    if max_photos:
        files = files[: int(max_photos)]
    table: dict[str, int] = {}
    if labels == "auto":
        labels = root / "labels.csv" if (root / "labels.csv").is_file() else None
    if labels is not None:
        table = read_label_csv(labels)
    wnid_index = {w: i for i, w in enumerate(imagenet_wnids())}
    photos = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        if rel in table or f.name in table:
            label = table.get(rel, table.get(f.name))
        elif _WNID.match(f.parent.name) and f.parent.name in wnid_index:
            label = wnid_index[f.parent.name]
        else:
            label = -1
        photos.append(Photo(f, int(label)))
    return photos


def load_rgb(path: str | Path) -> torch.Tensor:
    """Decode an image file with Pillow to a (3, H, W) uint8 tensor (greyscale and RGBA converted to RGB).

    Raises:
        DataError: the file cannot be read or decoded as an image.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.draft("RGB", im.size)  # JPEG: decode at full size (no reduction), RGB colour space
            arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"image {path}: cannot decode it ({e.__class__.__name__}: {str(e).splitlines()[0]})") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def patch_origins(height: int, width: int, size: int = 256) -> list[tuple[int, int]]:
    """Origins (y, x) of the non-overlapping ``size`` x ``size`` patches that fit in an image, as a centred grid.

    Every origin is at an even pixel position, so a patch keeps the CFA phase of the image's mosaic (a RAW crop at
    these origins has the image's Bayer pattern). Empty if the image is smaller than ``size`` in either dimension.

    Example:
        >>> patch_origins(375, 500)
        [(58, 122)]
    """
    if size <= 0 or size % 2:
        raise ValueError(f"patch size must be a positive even number, got {size}")
    ny, nx = height // size, width // size
    oy, ox = ((height - ny * size) // 2) & ~1, ((width - nx * size) // 2) & ~1
    return [(oy + i * size, ox + j * size) for i in range(ny) for j in range(nx)]


def split_photos(photos: list[Photo], test_fraction: float = 0.2, seed: int = 0) -> tuple[list[Photo], list[Photo]]:
    """Split photos (never patches) into train and test with a seeded shuffle.

    Returns:
        ``(train, test)``; test has ``round(test_fraction * N)`` photos (at least 1 when N >= 2 and fraction > 0).

    Raises:
        ValueError: ``test_fraction`` outside [0, 1).
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test fraction must be in [0, 1), got {test_fraction}")
    order = list(photos)
    random.Random(seed).shuffle(order)
    n_test = round(test_fraction * len(order))
    if test_fraction > 0 and len(order) >= 2:
        n_test = max(n_test, 1)
    return order[n_test:], order[:n_test]
