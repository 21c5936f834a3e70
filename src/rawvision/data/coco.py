"""COCO detection files: a validated reader (:func:`load_coco`), an atomic writer and a torch ``Dataset``.

A COCO detection JSON holds ``images`` (``id``, ``file_name``, ``width``, ``height``), ``annotations`` (``id``,
``image_id``, ``category_id``, ``bbox = [x, y, w, h]`` in pixels with (x, y) the top-left corner, optional
``iscrowd`` and ``area``) and ``categories`` (``id``, ``name``). :func:`load_coco` checks every field and reports the
first problem as a :class:`~rawvision.data.photos.DataError` with one line naming the file and the annotation.

Labels: torchvision's detectors reserve label 0 for the background, so the sorted COCO category ids are mapped to
contiguous labels 1..C (:meth:`CocoSet.label_of`, :meth:`CocoSet.category_of`).

Source: the COCO data format, https://cocodataset.org/#format-data ("Object Detection" section).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.ops import box_convert
from torchvision.transforms.v2 import functional as TF

from rawvision.data.errors import DataError
from rawvision.data.images import load_rgb

__all__ = [
    "BOX_TOLERANCE",
    "CocoAnnotation",
    "CocoDetection",
    "CocoImage",
    "CocoSet",
    "hflip_detection",
    "load_coco",
    "write_coco",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
]

#: How far (pixels) a box may extend past its image border before :func:`load_coco` rejects it (rounding slack).
BOX_TOLERANCE = 0.5


@dataclass(frozen=True)
class CocoImage:
    """One ``images`` entry: id, file name (relative to the image root), width and height in pixels."""

    id: int
    file_name: str
    width: int
    height: int


@dataclass(frozen=True)
class CocoAnnotation:
    """One ``annotations`` entry: ``bbox = (x, y, w, h)`` in pixels (top-left corner, size), ``iscrowd`` 0 or 1."""

    id: int
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    area: float
    iscrowd: int = 0


@dataclass
class CocoSet:
    """A validated COCO detection file (see :func:`load_coco`).

    Attributes:
        path: the JSON file.
        image_root: the folder that ``file_name`` is relative to.
        images: the images, in file order.
        annotations: every annotation, crowd ones included, in file order.
        categories: ``{category id: name}``.
        info: the file's other top-level entries (``info``, ``licenses``, ...), as read.
    """

    path: Path
    image_root: Path
    images: list[CocoImage]
    annotations: list[CocoAnnotation]
    categories: dict[int, str]
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.category_ids: list[int] = sorted(self.categories)
        self._label = {c: i + 1 for i, c in enumerate(self.category_ids)}
        self._by_image: dict[int, list[CocoAnnotation]] = {im.id: [] for im in self.images}
        for a in self.annotations:
            self._by_image[a.image_id].append(a)
        self._image = {im.id: im for im in self.images}

    @property
    def num_classes(self) -> int:
        """C, the number of categories (labels run 1..C; 0 is the background)."""
        return len(self.category_ids)

    def label_of(self, category_id: int) -> int:
        """Contiguous label 1..C of a COCO category id (the ids sorted ascending). Raises KeyError if unknown."""
        return self._label[int(category_id)]

    def category_of(self, label: int) -> int:
        """COCO category id of a contiguous label 1..C. Raises KeyError outside 1..C."""
        if not 1 <= int(label) <= len(self.category_ids):
            raise KeyError(f"label {label} is outside 1..{len(self.category_ids)}")
        return self.category_ids[int(label) - 1]

    @property
    def label_names(self) -> list[str]:
        """Category names in label order: ``label_names[l - 1]`` is the name of label l."""
        return [self.categories[c] for c in self.category_ids]

    def image(self, image_id: int) -> CocoImage:
        """The image with this id. Raises KeyError if unknown."""
        return self._image[int(image_id)]

    def annotations_of(self, image_id: int, crowd: bool | None = False) -> list[CocoAnnotation]:
        """Annotations of one image: non-crowd ones (``crowd=False``), crowd ones (True) or all (None)."""
        anns = self._by_image[int(image_id)]
        return anns if crowd is None else [a for a in anns if bool(a.iscrowd) == crowd]

    def image_path(self, image: CocoImage | int) -> Path:
        """Path of an image file: ``image_root / file_name``."""
        im = image if isinstance(image, CocoImage) else self.image(image)
        return self.image_root / im.file_name

    def counts(self) -> dict[str, int]:
        """Number of non-crowd annotations per category name."""
        out = {self.categories[c]: 0 for c in self.category_ids}
        for a in self.annotations:
            if not a.iscrowd:
                out[self.categories[a.category_id]] += 1
        return out


def _check_boxes(boxes: torch.Tensor, fmt: str) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) {fmt}, got {tuple(boxes.shape)}")


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """COCO ``[x, y, w, h]`` boxes to ``[x1, y1, x2, y2]`` (torchvision's format), by ``torchvision.ops.box_convert``.

    Args:
        boxes: (N, 4) float boxes in pixels, (x, y) the top-left corner.

    Returns:
        (N, 4) boxes ``(x, y, x + w, y + h)``, same dtype and device.

    Raises:
        ValueError: ``boxes`` is not (N, 4).

    Example:
        >>> xywh_to_xyxy(torch.tensor([[10.0, 20.0, 5.0, 5.0]]))
        tensor([[10., 20., 15., 25.]])
    """
    _check_boxes(boxes, "[x, y, w, h]")
    return box_convert(boxes, "xywh", "xyxy")


def xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """``[x1, y1, x2, y2]`` boxes to COCO ``[x, y, w, h]``, by ``torchvision.ops.box_convert``.

    Args:
        boxes: (N, 4) float boxes in pixels.

    Returns:
        (N, 4) boxes ``(x1, y1, x2 - x1, y2 - y1)``, same dtype and device.

    Raises:
        ValueError: ``boxes`` is not (N, 4).

    Example:
        >>> xyxy_to_xywh(torch.tensor([[10.0, 20.0, 15.0, 25.0]]))
        tensor([[10., 20.,  5.,  5.]])
    """
    _check_boxes(boxes, "[x1, y1, x2, y2]")
    return box_convert(boxes, "xyxy", "xywh")


def hflip_detection(image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
    """Mirror an image and its boxes left-right, with torchvision's v2 ``horizontal_flip``.

    The image is wrapped as a ``tv_tensors.Image`` and each box tensor as ``tv_tensors.BoundingBoxes`` (format
    XYXY, ``canvas_size`` = (H, W) of the image), so the flip is torchvision's: x -> W - x for every corner, i.e.
    ``[x1, y1, x2, y2]`` becomes ``[W - x2, y1, W - x1, y2]``.

    Args:
        image: (C, H, W) tensor of any dtype.
        target: dict with ``boxes`` (N, 4) float ``[x1, y1, x2, y2]`` pixels (and optionally ``crowd_boxes``, same
            form; N may be 0); other keys are kept as they are.

    Returns:
        ``(image, target)`` flipped, as plain tensors (not tv_tensors); a new dict, the input is not modified.

    Example:
        >>> img = torch.arange(6).view(1, 2, 3)
        >>> out, t = hflip_detection(img, {"boxes": torch.tensor([[0.0, 0.0, 1.0, 2.0]]), "labels": torch.tensor([4])})
        >>> out[0].tolist(), t["boxes"].tolist(), t["labels"].tolist()
        ([[2, 1, 0], [5, 4, 3]], [[2.0, 0.0, 3.0, 2.0]], [4])
    """
    canvas = tuple(image.shape[-2:])
    out = dict(target)
    for key in ("boxes", "crowd_boxes"):
        if key in target:
            b = tv_tensors.BoundingBoxes(target[key], format=tv_tensors.BoundingBoxFormat.XYXY, canvas_size=canvas)
            out[key] = TF.horizontal_flip(b).as_subclass(torch.Tensor)
    return TF.horizontal_flip(tv_tensors.Image(image)).as_subclass(torch.Tensor), out


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt_box(b) -> str:
    return "[" + ", ".join(f"{float(v):g}" for v in b) + "]"


def _read_json(p: Path) -> dict:
    """The parsed top level of a COCO file, with ``images``, ``annotations`` and ``categories`` lists."""
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{p}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read it ({e.__class__.__name__}: {str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise DataError(f"{p}: expected a JSON object with images, annotations and categories, got a "
                        f"{type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{p}: missing key {key!r} (a COCO detection file has images, annotations and categories)")
        if not isinstance(data[key], list):
            raise DataError(f"{p}: {key!r} must be a list, got a {type(data[key]).__name__}")
    return data


def _parse_categories(p: Path, entries: list) -> dict[int, str]:
    """``{category id: name}`` of the ``categories`` list (unique int ids, at least one)."""
    categories: dict[int, str] = {}
    for i, c in enumerate(entries):
        if not isinstance(c, dict) or "id" not in c:
            raise DataError(f"{p}: category #{i} lacks key 'id'")
        if not _is_int(c["id"]):
            raise DataError(f"{p}: category #{i} has id {c['id']!r}, expected an integer")
        if c["id"] in categories:
            raise DataError(f"{p}: category id {c['id']} occurs twice")
        categories[c["id"]] = str(c.get("name", c["id"]))
    if not categories:
        raise DataError(f"{p}: 'categories' is empty")
    return categories


def _parse_images(p: Path, entries: list) -> list[CocoImage]:
    """The ``images`` list (unique int ids, a file name, positive int width and height), in file order."""
    images: list[CocoImage] = []
    seen: set[int] = set()
    for i, im in enumerate(entries):
        if not isinstance(im, dict):
            raise DataError(f"{p}: image #{i} is a {type(im).__name__}, expected an object")
        for key in ("id", "file_name", "width", "height"):
            if key not in im:
                name = f"image {im['id']}" if "id" in im else f"image #{i}"
                raise DataError(f"{p}: {name} lacks key {key!r}")
        if not _is_int(im["id"]):
            raise DataError(f"{p}: image #{i} has id {im['id']!r}, expected an integer")
        if im["id"] in seen:
            raise DataError(f"{p}: image id {im['id']} occurs twice")
        w, h = im["width"], im["height"]
        if not (_is_int(w) and _is_int(h) and w > 0 and h > 0):
            raise DataError(f"{p}: image {im['id']} ({im['file_name']!r}) has width {w!r} and height {h!r}, expected "
                            f"positive integers")
        images.append(CocoImage(im["id"], str(im["file_name"]), w, h))
        seen.add(im["id"])
    return images


def _parse_annotation(p: Path, i: int, a, images: dict[int, CocoImage], categories: dict[int, str],
                      seen: set[int]) -> CocoAnnotation:
    """Annotation ``#i``, checked against the images and categories; its id is added to ``seen``."""
    if not isinstance(a, dict):
        raise DataError(f"{p}: annotation #{i} is a {type(a).__name__}, expected an object")
    name = f"annotation {a['id']}" if "id" in a else f"annotation #{i}"
    for key in ("id", "image_id", "category_id", "bbox"):
        if key not in a:
            raise DataError(f"{p}: {name} lacks key {key!r}")
    if not _is_int(a["id"]):
        raise DataError(f"{p}: annotation #{i} has id {a['id']!r}, expected an integer")
    if a["id"] in seen:
        raise DataError(f"{p}: annotation id {a['id']} occurs twice")
    seen.add(a["id"])
    if not _is_int(a["image_id"]) or a["image_id"] not in images:
        raise DataError(f"{p}: {name} has image_id {a['image_id']!r}, not among the {len(images)} images' ids")
    im = images[a["image_id"]]
    where = f"{name} (image {im.id}, {im.file_name!r})"
    if not _is_int(a["category_id"]) or a["category_id"] not in categories:
        cat_list = sorted(categories)
        shown = ", ".join(str(c) for c in cat_list[:20]) + (", ..." if len(cat_list) > 20 else "")
        raise DataError(f"{p}: {name} has category_id {a['category_id']!r}, not among the categories [{shown}]")
    b = a["bbox"]
    if not (isinstance(b, list) and len(b) == 4 and all(_is_num(v) for v in b)):
        raise DataError(f"{p}: {where}: bbox {b!r} is not 4 finite numbers [x, y, w, h]")
    x, y, w, h = (float(v) for v in b)
    if w <= 0 or h <= 0:
        raise DataError(f"{p}: {where}: box {_fmt_box(b)} has a non-positive width or height")
    t = BOX_TOLERANCE
    if x < -t or y < -t or x + w > im.width + t or y + h > im.height + t:
        raise DataError(f"{p}: {where}: box {_fmt_box(b)} lies outside the {im.width}x{im.height} image")
    crowd = a.get("iscrowd", 0)
    if crowd not in (0, 1) or isinstance(crowd, float):
        raise DataError(f"{p}: {where}: iscrowd is {crowd!r}, expected 0 or 1")
    area = a.get("area", w * h)
    if not _is_num(area) or area < 0:
        raise DataError(f"{p}: {where}: area {area!r} is not a finite number >= 0")
    return CocoAnnotation(a["id"], im.id, a["category_id"], (x, y, w, h), float(area), int(crowd))


def load_coco(json_path: str | Path, image_root: str | Path | None = None) -> CocoSet:
    """Read and validate a COCO detection JSON file.

    Checks, each failure a one-line :class:`DataError` naming the file and the entry: the file is readable JSON;
    the top level has ``images``, ``annotations`` and ``categories`` lists; every image has an int ``id`` (unique),
    a ``file_name`` and positive int ``width``/``height``; every category an int ``id`` (unique); every annotation
    an int ``id`` (unique), an ``image_id`` among the images, a ``category_id`` among the categories, a ``bbox`` of
    4 finite numbers with ``w > 0`` and ``h > 0`` lying inside its image (``x >= 0``, ``y >= 0``,
    ``x + w <= width``, ``y + h <= height``, with :data:`BOX_TOLERANCE` = 0.5 px of slack), ``iscrowd`` 0/1.
    Image files are not opened here (:class:`CocoDetection` checks their size when it reads them).

    Args:
        json_path: the COCO JSON file.
        image_root: folder that the images' ``file_name`` is relative to; default: the JSON file's folder.

    Returns:
        A :class:`CocoSet`.

    Raises:
        DataError: for the first invalid entry, e.g. ``instances.json: annotation 17 (image 3, 'a.jpg'): box [630,
            10, 20, 20] lies outside the 640x480 image``.

    Source: the COCO data format, https://cocodataset.org/#format-data.

    Example:
        >>> coco = load_coco("out/train.json")          # doctest: +SKIP
        >>> coco.num_classes, len(coco.images)          # doctest: +SKIP
        (6, 240)
    """
    p = Path(json_path)
    data = _read_json(p)
    categories = _parse_categories(p, data["categories"])
    images = _parse_images(p, data["images"])
    by_id = {im.id: im for im in images}
    seen: set[int] = set()
    annotations = [_parse_annotation(p, i, a, by_id, categories, seen) for i, a in enumerate(data["annotations"])]
    root = Path(image_root) if image_root is not None else p.parent
    info = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    return CocoSet(p, root, images, annotations, categories, info)


def write_coco(path: str | Path, images: list[dict], annotations: list[dict], categories: list[dict],
               **extra) -> Path:
    """Write a COCO detection JSON atomically (temporary file in the same folder, then ``os.replace``).

    Args:
        path: output ``.json`` file (its folder must exist).
        images, annotations, categories: the COCO lists, as plain dicts (see :func:`load_coco` for the fields).
        **extra: other top-level entries (``info``, ``licenses``, ...).

    Returns:
        The path written.

    Raises:
        OSError: the folder does not exist or is not writable.

    Example:
        >>> write_coco("t.json", [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
        ...            [], [{"id": 1, "name": "cat"}])   # doctest: +SKIP
    """
    path = Path(path)
    body = {**extra, "images": images, "annotations": annotations, "categories": categories}
    from rawvision._atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=1)
    return path


class CocoDetection(Dataset):
    """A COCO detection set as a torch ``Dataset`` for torchvision's detectors.

    Item ``i`` is ``(image, target)``:

    - ``image``: (3, H, W) uint8 RGB decoded with Pillow (greyscale converted to RGB);
    - ``target["boxes"]``: (N, 4) float32 ``[x1, y1, x2, y2]`` in pixels of the non-crowd annotations;
    - ``target["labels"]``: (N,) int64 contiguous labels 1..C (:meth:`CocoSet.label_of`; 0 is the background);
    - ``target["image_id"]``: int, the COCO image id;
    - ``target["crowd_boxes"]`` (M, 4) float32 and ``target["crowd_labels"]`` (M,) int64: the ``iscrowd``
      annotations, kept out of the training targets (torchvision's losses ignore these keys) but known, so that the
      evaluation can ignore detections on them (:func:`rawvision.metrics.detection.coco_ap` reads them).

    Args:
        coco: a :class:`CocoSet` or a JSON path (read with :func:`load_coco`).
        image_root: for a path, the folder of the images (default: the JSON's folder).
        transform: optional callable ``(image, target) -> (image, target)`` applied last.

    Raises:
        DataError: (when an item is read) an unreadable image or one whose size differs from the JSON's.

    Example:
        >>> ds = CocoDetection("out/train.json")      # doctest: +SKIP
        >>> image, target = ds[0]                      # doctest: +SKIP
    """

    def __init__(self, coco: CocoSet | str | Path, image_root: str | Path | None = None, transform=None) -> None:
        self.coco = coco if isinstance(coco, CocoSet) else load_coco(coco, image_root)
        self.transform = transform

    @property
    def num_classes(self) -> int:
        """C, the number of categories (labels 1..C)."""
        return self.coco.num_classes

    @property
    def category_ids(self) -> list[int]:
        """COCO category ids in label order: ``category_ids[l - 1]`` is the id of label l."""
        return list(self.coco.category_ids)

    def label_of(self, category_id: int) -> int:
        """Contiguous label 1..C of a COCO category id."""
        return self.coco.label_of(category_id)

    def category_of(self, label: int) -> int:
        """COCO category id of a contiguous label 1..C."""
        return self.coco.category_of(label)

    def __len__(self) -> int:
        return len(self.coco.images)

    def _boxes(self, anns: list[CocoAnnotation]) -> tuple[torch.Tensor, torch.Tensor]:
        if not anns:
            return torch.zeros(0, 4, dtype=torch.float32), torch.zeros(0, dtype=torch.int64)
        xywh = torch.tensor([a.bbox for a in anns], dtype=torch.float32)
        labels = torch.tensor([self.coco.label_of(a.category_id) for a in anns], dtype=torch.int64)
        return xywh_to_xyxy(xywh), labels

    def target(self, index: int) -> dict:
        """The target dict of item ``index`` without decoding its image (for evaluation)."""
        im = self.coco.images[index]
        boxes, labels = self._boxes(self.coco.annotations_of(im.id, crowd=False))
        cboxes, clabels = self._boxes(self.coco.annotations_of(im.id, crowd=True))
        return {"boxes": boxes, "labels": labels, "image_id": im.id, "crowd_boxes": cboxes, "crowd_labels": clabels}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        im = self.coco.images[index]
        path = self.coco.image_path(im)
        image = load_rgb(path)
        if tuple(image.shape[1:]) != (im.height, im.width):
            raise DataError(f"{self.coco.path}: image {im.id} ({path}) is {image.shape[2]}x{image.shape[1]} on disk, "
                            f"the JSON says {im.width}x{im.height}")
        target = self.target(index)
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target
