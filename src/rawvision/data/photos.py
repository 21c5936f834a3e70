"""Photo folders -> labelled RGB photos -> non-overlapping 256x256 patches (ISP Distillation, Sec. IV-B).

Label CSVs are read by :func:`read_labels` (the one reader; :func:`read_label_csv` is its ``{file: index}`` view),
images decoded by :func:`rawvision.data.images.load_rgb`, photos split by :func:`rawvision.data.split.split_by_group`
(:func:`split_photos`); ``load_rgb``, ``open_rgb`` and ``DataError`` are re-exported here.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from rawvision.data.errors import DataError
from rawvision.data.images import load_rgb, open_rgb
from rawvision.data.split import split_by_group

__all__ = [
    "IMAGE_EXTENSIONS",
    "DataError",
    "LabelRow",
    "Photo",
    "find_photos",
    "imagenet_wnids",
    "load_rgb",
    "open_rgb",
    "patch_origins",
    "read_label_csv",
    "read_labels",
    "split_photos",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_WNID = re.compile(r"^n\d{8}$")
#: Header names accepted for the file-name column and for the ImageNet class-index column of a label CSV.
_FILE_COLUMNS = ("filename", "file", "path", "image")
_INDEX_COLUMNS = ("imagenet_index", "label", "class_index", "target")
_OPTIONAL_COLUMNS = ("wnid", "class_name")


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


@dataclass(frozen=True)
class LabelRow:
    """One row of a label CSV (see :func:`read_labels`).

    Attributes:
        filename: the photo's file name as written (a base name or a path relative to the photo folder).
        imagenet_index: ImageNet-1k class index 0..999 (the WNID's position among the 1000 sorted WNIDs), -1 when
            the file has no index column or the cell is empty.
        wnid: WordNet ID (``n01440764``), ``""`` when absent.
        class_name: class name (``tench``), ``""`` when absent.
        line: the row's line number in the file (1-based), for messages.
    """

    filename: str
    imagenet_index: int = -1
    wnid: str = ""
    class_name: str = ""
    line: int = 0


def _label_columns(path: Path, header: list[str]) -> tuple[dict[str, int], bool]:
    """Column index of each known field in a label CSV's first row, and whether that row is a header."""
    head = [c.strip().lower() for c in header]
    cols = {}
    for field, names in (("filename", _FILE_COLUMNS), ("imagenet_index", _INDEX_COLUMNS)):
        hit = next((head.index(n) for n in names if n in head), None)
        if hit is not None:
            cols[field] = hit
    if not cols:  # no header: two columns, file name and class index
        return {"filename": 0, "imagenet_index": 1}, False
    if "filename" not in cols:
        raise DataError(f"label file {path}: expected a file-name column ({', '.join(_FILE_COLUMNS)}), got {header}")
    cols.update({f: head.index(f) for f in _OPTIONAL_COLUMNS if f in head})
    return cols, True


def _label_row(path: Path, line: int, row: list[str], cols: dict[str, int], require: tuple[str, ...]) -> LabelRow:
    """One CSV row as a :class:`LabelRow`, checked (a file name; the required fields non-empty; index 0..999)."""
    cell = {f: (row[i].strip() if i < len(row) else "") for f, i in cols.items()}
    if not cell["filename"]:
        raise DataError(f"label file {path}, line {line}: empty file name in {row}")
    for f in require:
        if not cell.get(f):
            raise DataError(f"label file {path}, line {line}: empty {f} in {row}")
    idx = -1
    if cell.get("imagenet_index"):
        try:
            idx = int(cell["imagenet_index"])
        except ValueError:
            raise DataError(f"label file {path}, line {line}: expected a class index, got {row}") from None
        if not 0 <= idx < 1000:
            raise DataError(f"label file {path}, line {line}: class index {idx} is outside 0..999")
    return LabelRow(cell["filename"], idx, cell.get("wnid", ""), cell.get("class_name", ""), line)


def read_labels(path: str | Path, require: tuple[str, ...] = ("imagenet_index",)) -> list[LabelRow]:
    """Read a label CSV: the one reader of photo label files (the shared photos' ``labels.csv`` and others).

    Accepted forms: a header naming a file column (``filename``/``file``/``path``/``image``), optionally an index
    column (``imagenet_index``/``label``/``class_index``/``target``) and ``wnid``/``class_name`` columns (others
    ignored); or, when the first row names neither a file nor an index column, two columns without header (file
    name, class index). The shared ``../shared/data/photos/labels.csv`` has the header ``filename, wnid,
    imagenet_index, class_name, width, height, mode, processing, sha256``. UTF-8 (a BOM is skipped); blank lines
    are skipped; cells are stripped.

    Args:
        path: the CSV file.
        require: fields (``imagenet_index``, ``wnid``, ``class_name``) that every row must have, non-empty.

    Returns:
        The rows in file order, as :class:`LabelRow` (``imagenet_index`` -1, ``wnid``/``class_name`` ``""`` where
        absent and not required).

    Raises:
        DataError: an unreadable file, no file-name column, a missing required column or an empty required cell,
            an index that is not an integer in 0..999 (one line naming the file and line).

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "labels.csv")
        >>> _ = open(f, "w").write("filename,wnid,imagenet_index,class_name\\na.JPEG,n01440764,0,tench\\n")
        >>> read_labels(f)
        [LabelRow(filename='a.JPEG', imagenet_index=0, wnid='n01440764', class_name='tench', line=2)]
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"label file {path}: cannot read it ({e.__class__.__name__})") from None
    reader = csv.reader(text.splitlines())
    rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"label file {path} is empty")
    cols, has_header = _label_columns(path, rows[0][1])
    missing = [f for f in require if f not in cols]
    if missing:
        raise DataError(f"label file {path}: missing column(s) {', '.join(missing)} (header {rows[0][1]})")
    return [_label_row(path, line, r, cols, tuple(require)) for line, r in rows[has_header:]]


def read_label_csv(path: str | Path) -> dict[str, int]:
    """Read a CSV mapping file names to ImageNet class indices (:func:`read_labels` with a required index).

    Returns:
        ``{file name: class index 0..999}``; the file name as written (relative path or base name); a name listed
        twice keeps its last index.

    Raises:
        DataError: unreadable file, missing columns, an empty cell, or an index outside 0..999.
    """
    return {r.filename: r.imagenet_index for r in read_labels(path, require=("imagenet_index",))}


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

    Returns:
        One :class:`Photo` per image file (suffix in :data:`IMAGE_EXTENSIONS`, any case), sorted by path (a list
        ``root``: in its order); ``label`` the ImageNet-1k index 0..999 or -1. Images are not opened here.

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


def patch_origins(height: int, width: int, size: int = 256) -> list[tuple[int, int]]:
    """Origins (y, x) of the non-overlapping ``size`` x ``size`` patches that fit in an image, as a centred grid.

    Every origin is at an even pixel position, so a patch keeps the CFA phase of the image's mosaic (a RAW crop at
    these origins has the image's Bayer pattern). Empty if the image is smaller than ``size`` in either dimension.

    Raises:
        ValueError: ``size`` is not a positive even number.

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
    """Split photos (never patches) into train and test with a seeded shuffle: :func:`split_by_group` with each
    photo its own group, in input order.

    Returns:
        ``(train, test)``, each in the shuffled order; test has ``round(test_fraction * N)`` photos (at least 1
        when the fraction is > 0, at most N - 1). The same photos, fraction and seed give the same split.

    Raises:
        DataError: ``test_fraction`` outside [0, 1), or fewer than 2 photos with a nonzero fraction.

    Example:
        >>> tr, te = split_photos([Photo(Path(f"p{i}.jpg")) for i in range(5)], 0.4, seed=0)
        >>> [p.path.name for p in te], len(tr)
        (['p2.jpg', 'p1.jpg'], 3)
    """
    return split_by_group(photos, test_fraction, seed, what="photo(s)")
