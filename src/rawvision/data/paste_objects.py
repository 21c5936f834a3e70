"""A small real-photo detection set built by pasting labelled ImageNet objects onto real backgrounds, and its RAW.

:func:`build_paste_set` makes a COCO-format set from a labelled photo folder (``../shared/data/photos``): each
image is a random crop of a photo of some *other* ImageNet class (the background), with 1-3 objects pasted on it;
an object is the centre crop of a photo of one of the chosen classes (:data:`DEFAULT_PASTE_CATEGORIES`), resized
to a random size, and its box is the pasted rectangle. Photos are split between train and val before anything is
drawn, so no object photo and no background photo appears in both splits.

The detection datamodule (:mod:`rawvision.tasks.detection`) turns such RGB images into RAW on the device with
:func:`rawvision.raw.simulate_raw` (normal light: Brooks et al.'s unprocessing and shot/read noise; low light: also an
8x shorter exposure, 10-bit ADC, no brightening) and demosaics it: the 3-channel RAW that TA-ISP reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from rawvision._atomic import atomic_path
from rawvision.data.coco import write_coco
from rawvision.data.errors import DataError
from rawvision.data.images import open_rgb
from rawvision.data.photos import LabelRow, read_labels
from rawvision.data.split import split_by_group

__all__ = ["DEFAULT_PASTE_CATEGORIES", "build_paste_set"]

#: The object classes of the paste set, by ImageNet WNID: six visually distinct classes with 6 photos each in
#: ``../shared/data/photos`` (labels from its labels.csv): goldfish (ImageNet index 1), zebra (340), giant_panda
#: (388), soccer_ball (805), violin (889), strawberry (949). Category ids 1..6 follow this (sorted WNID) order.
DEFAULT_PASTE_CATEGORIES = ("n01443537", "n02391049", "n02510455", "n04254680", "n04536866", "n07745940")

_SPLITS = ("train", "val")


@dataclass(frozen=True)
class _Options:
    """The checked arguments of :func:`build_paste_set` (sizes in pixels, ranges inclusive)."""

    height: int
    width: int
    n_images: int
    objects: tuple[int, int]
    side: tuple[int, int]
    categories: tuple[str, ...]
    seed: int
    val_fraction: float
    object_crop: float
    background_scale: float
    max_iou: float
    max_covered: float
    max_tries: int


@dataclass(frozen=True)
class _Photo:
    """A row of the photo folder's labels.csv and the file it names."""

    path: Path
    label: LabelRow

    @property
    def filename(self) -> str:
        return self.label.filename

    @property
    def wnid(self) -> str:
        return self.label.wnid


def _check_options(size, n_images, objects_per_image, object_side, categories, seed, val_fraction, object_crop,
                   background_scale, max_iou, max_covered, max_tries) -> _Options:
    """Check the arguments of :func:`build_paste_set`. Raises ValueError naming the bad one."""
    H, W = (int(v) for v in size)
    if H < 16 or W < 16:
        raise ValueError(f"size must be (height, width) >= 16 pixels, got {size}")
    if not isinstance(n_images, int) or n_images < 2:
        raise ValueError(f"n_images must be an int >= 2 (one train and one val image at least), got {n_images!r}")
    lo, hi = (int(v) for v in objects_per_image)
    if not 1 <= lo <= hi:
        raise ValueError(f"objects_per_image must be (min, max) with 1 <= min <= max, got {objects_per_image}")
    smin, smax = (int(v) for v in object_side)
    if not 4 <= smin <= smax:
        raise ValueError(f"object_side must be (min, max) pixels with 4 <= min <= max, got {object_side}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if not 0 < object_crop <= 1 or not 0 < background_scale <= 1:
        raise ValueError(f"object_crop and background_scale must be in (0, 1], got {object_crop}, {background_scale}")
    cats = tuple(categories)
    if not cats or len(set(cats)) != len(cats):
        raise ValueError(f"categories must be distinct WNIDs, got {categories}")
    return _Options(H, W, n_images, (lo, hi), (smin, smax), cats, seed, val_fraction, object_crop, background_scale,
                    max_iou, max_covered, max_tries)


def _read_photos(photos_dir: Path) -> list[_Photo]:
    """The rows of ``photos_dir/labels.csv`` (``filename``, ``wnid``, ``class_name`` required) with their files.

    A photo lies in ``photos_dir/<wnid>/<filename>`` or ``photos_dir/<filename>``.

    Raises:
        DataError: a missing or malformed labels.csv, or a listed photo found in neither place.
    """
    path = photos_dir / "labels.csv"
    out = []
    for row in read_labels(path, require=("wnid", "class_name")):
        f = photos_dir / row.wnid / row.filename
        if not f.is_file():
            f = photos_dir / row.filename
        if not f.is_file():
            raise DataError(f"label file {path}, line {row.line}: photo {row.filename} not found in "
                            f"{photos_dir / row.wnid} or {photos_dir}")
        out.append(_Photo(f, row))
    return out


def _category_info(photos: list[_Photo], cats: tuple[str, ...], labels_path: Path) -> list[dict]:
    """COCO categories 1..C of the WNIDs ``cats`` (name and ImageNet index from the last labels.csv row of each).

    Raises:
        DataError: a category with no photo in labels.csv.
    """
    known = {p.wnid: p.label for p in photos}
    absent = [c for c in cats if c not in known]
    if absent:
        raise DataError(f"label file {labels_path}: no photo of categor{'y' if len(absent) == 1 else 'ies'}"
                        f" {', '.join(absent)}")
    return [{"id": i + 1, "wnid": c, "name": known[c].class_name, "imagenet_index": known[c].imagenet_index,
             "supercategory": "imagenet"} for i, c in enumerate(cats)]


def _split_photos(photos: list[_Photo], val_fraction: float, seed: int, what: str) -> tuple[list, list]:
    """Photos -> (train, val) by photo: :func:`split_by_group` on the photos sorted by (wnid, filename), seeded by
    ``"{seed}:{what}"`` (``what`` = ``"category <wnid>"`` or ``"background photos"``: one independent draw each).

    Raises:
        DataError: fewer than 2 photos (one on each side is needed).
    """
    noun = f"photo(s) of {what}" if what.startswith("category ") else "background photo(s)"
    return split_by_group(photos, val_fraction, f"{seed}:{what}", group=lambda p: (p.wnid, p.filename),
                          sort_groups=True, what=noun)


def _centre_crop(im: Image.Image, fraction: float) -> Image.Image:
    """The central ``fraction`` of each side of ``im`` (at least 1 px)."""
    w, h = im.size
    cw, ch = max(1, round(w * fraction)), max(1, round(h * fraction))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return im.crop((x0, y0, x0 + cw, y0 + ch))


def _background(im: Image.Image, size: tuple[int, int], rng: np.random.Generator, min_scale: float) -> Image.Image:
    """A random crop with the output's aspect ratio, side min_scale..1 of the largest such crop, resized."""
    H, W = size
    pw, ph = im.size
    aspect = W / H
    mw, mh = (ph * aspect, ph) if pw / ph > aspect else (pw, pw / aspect)
    s = rng.uniform(min_scale, 1.0)
    cw, ch = max(1, min(pw, round(mw * s))), max(1, min(ph, round(mh * s)))
    x0, y0 = int(rng.integers(0, pw - cw + 1)), int(rng.integers(0, ph - ch + 1))
    return im.crop((x0, y0, x0 + cw, y0 + ch)).resize((W, H), Image.BICUBIC)


def _iou_cover(a, b) -> tuple[float, float]:
    """IoU of boxes a, b ([x, y, w, h]) and the fraction of a's area that b covers."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union, inter / (a[2] * a[3])


def _fits(box: list[int], boxes: list[list[int]], max_iou: float, max_covered: float) -> bool:
    """Whether ``box`` has IoU < ``max_iou`` with every earlier box and neither covers > ``max_covered`` of the
    other's area (boxes ``[x, y, w, h]``)."""
    for b in boxes:
        iou, cov_b = _iou_cover(b, box)
        _, cov_new = _iou_cover(box, b)
        if iou >= max_iou or cov_b > max_covered or cov_new > max_covered:
            return False
    return True


def _box_size(obj_size: tuple[int, int], side: int, opt: _Options) -> tuple[int, int]:
    """(width, height) of an object of Pillow size ``obj_size`` resized so its longer side is ``side`` px."""
    ow, oh = obj_size
    if ow >= oh:
        return side, max(4, min(opt.height, round(side * oh / ow)))
    return max(4, min(opt.width, round(side * ow / oh))), side


def _place(rng: np.random.Generator, bw: int, bh: int, boxes: list[list[int]], opt: _Options) -> list[int] | None:
    """A random position for a ``bw`` x ``bh`` box that :func:`_fits` (``opt.max_tries`` draws), or None."""
    for _try in range(opt.max_tries):
        x, y = int(rng.integers(0, opt.width - bw + 1)), int(rng.integers(0, opt.height - bh + 1))
        box = [x, y, bw, bh]
        if _fits(box, boxes, opt.max_iou, opt.max_covered):
            return box
    return None


class _ObjectCrops:
    """The centre crops of the object photos, decoded once per build."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction
        self._cache: dict[Path, Image.Image] = {}

    def __call__(self, photo: _Photo) -> Image.Image:
        if photo.path not in self._cache:
            self._cache[photo.path] = _centre_crop(open_rgb(photo.path), self.fraction)
        return self._cache[photo.path]


def _compose(canvas: Image.Image, rng: np.random.Generator, pools: list[list[_Photo]], crops: _ObjectCrops,
             opt: _Options) -> list[tuple[int, _Photo, list[int]]]:
    """Paste ``opt.objects`` (drawn count) objects onto ``canvas`` in place.

    Per object, in draw order: its category (uniform), its photo in that category's ``pools`` entry, its longer
    side (uniform in ``opt.side``, clipped to the image), its position (:func:`_place`; dropped if none fits).

    Returns:
        ``(category index 0..C-1, object photo, box [x, y, w, h])`` of each pasted object, in paste order.
    """
    lo, hi = opt.objects
    placed: list[tuple[int, _Photo, list[int]]] = []
    for _ in range(int(rng.integers(lo, hi + 1))):
        c = int(rng.integers(len(pools)))
        photo = pools[c][int(rng.integers(len(pools[c])))]
        obj = crops(photo)
        side = min(int(rng.integers(opt.side[0], opt.side[1] + 1)), opt.height, opt.width)
        bw, bh = _box_size(obj.size, side, opt)
        box = _place(rng, bw, bh, [b for _, _, b in placed], opt)
        if box is None:
            continue
        canvas.paste(obj.resize((bw, bh), Image.BICUBIC), (box[0], box[1]))
        placed.append((c, photo, box))
    return placed


def _build_split(out_dir: Path, s_idx: int, n: int, bg_pool: list[_Photo], pools: list[list[_Photo]],
                 crops: _ObjectCrops, cat_info: list[dict], opt: _Options) -> dict:
    """Draw, write and summarise the ``n`` images of split ``_SPLITS[s_idx]``.

    Image ``i`` draws from ``np.random.default_rng([seed, s_idx, i])``: its background photo, the background crop
    (:func:`_background`), then its objects (:func:`_compose`). Writes ``out_dir/<split>/NNNNNN.png`` and
    ``out_dir/<split>.json``.

    Returns:
        The split's entry of the summary (see :func:`build_paste_set`).
    """
    split = _SPLITS[s_idx]
    (out_dir / split).mkdir(exist_ok=True)
    images, anns = [], []
    per_cat = {c["name"]: 0 for c in cat_info}
    obj_used: dict[str, set] = {c["name"]: set() for c in cat_info}
    bg_used: set = set()
    for i in range(n):
        rng = np.random.default_rng([opt.seed, s_idx, i])
        bg = bg_pool[int(rng.integers(len(bg_pool)))]
        canvas = _background(open_rgb(bg.path), (opt.height, opt.width), rng, opt.background_scale)
        bg_used.add(str(bg.path))
        placed = _compose(canvas, rng, pools, crops, opt)
        if not placed:  # cannot happen with the first object on an empty canvas; kept as a guard
            raise RuntimeError(f"image {split}/{i}: no object could be placed")
        for c, photo, box in placed:
            name = cat_info[c]["name"]
            per_cat[name] += 1
            obj_used[name].add(photo.filename)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c + 1, "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0, "source": photo.filename})
        file_name = f"{split}/{i:06d}.png"
        with atomic_path(out_dir / file_name, suffix=".png") as tmp:
            canvas.save(tmp, format="PNG")
        images.append({"id": i + 1, "file_name": file_name, "width": opt.width, "height": opt.height,
                       "background": bg.filename, "background_wnid": bg.wnid})
    write_coco(out_dir / f"{split}.json", images, anns, cat_info,
               info={"description": f"rawvision paste set, {split} split", "seed": opt.seed})
    return {
        "images": len(images), "objects": len(anns), "per_category": per_cat,
        "object_photos": {k: len(v) for k, v in obj_used.items()}, "background_photos": len(bg_used),
        "object_photos_available": {c["name"]: len(pool) for c, pool in zip(cat_info, pools)},
        "background_photos_available": len(bg_pool),
    }


def build_paste_set(
    photos_dir: str | Path,
    out_dir: str | Path,
    n_images: int = 600,
    size: tuple[int, int] = (320, 320),
    categories: tuple[str, ...] = DEFAULT_PASTE_CATEGORIES,
    seed: int = 0,
    objects_per_image: tuple[int, int] = (1, 3),
    *,
    val_fraction: float = 1 / 3,
    object_side: tuple[int, int] = (64, 160),
    object_crop: float = 0.8,
    background_scale: float = 0.6,
    max_iou: float = 0.1,
    max_covered: float = 0.3,
    max_tries: int = 50,
) -> dict:
    """Build a small detection set from real labelled photos: ImageNet objects pasted onto real backgrounds.

    Procedure (all draws from ``seed``):

    1. read ``photos_dir/labels.csv`` (columns ``filename, wnid, imagenet_index, class_name, ...``; a photo lies in
       ``photos_dir/<wnid>/<filename>`` or ``photos_dir/<filename>``); object photos = those of ``categories``,
       background photos = all photos of other classes;
    2. split the photos of each category, and the background photos, into train/val (``val_fraction``, at least
       one each; :func:`rawvision.data.split.split_by_group` by photo) before drawing anything: a photo is used in
       one split only;
    3. per image: a background = random crop (output aspect, ``background_scale``..1 of the largest crop) of a
       random background photo of the split, resized to ``size`` (bicubic); ``objects_per_image`` (inclusive range)
       objects, each of a uniformly drawn category and a random photo of it in the split: the central
       ``object_crop`` fraction of each side of the photo, resized (bicubic, aspect kept) so its longer side is
       uniform in ``object_side`` pixels, pasted (opaque) at a random position where its IoU with every earlier box
       is < ``max_iou`` and neither box has more than ``max_covered`` of its area covered by the other (an object
       that finds no place in ``max_tries`` draws is dropped; every image keeps at least one object);
    4. the box is the pasted rectangle ``[x, y, w, h]`` (integer pixels), the category the object photo's class.

    Writes ``out_dir/{train,val}/NNNNNN.png``, ``out_dir/{train,val}.json`` (COCO; ``file_name`` relative to
    ``out_dir``, so ``load_coco(out_dir / "train.json")`` finds the images; each image records its background
    photo, each annotation its object photo) and ``out_dir/summary.json``, all atomically.
    Earlier files in ``out_dir`` are overwritten, never deleted.

    Args:
        photos_dir: labelled photo folder (e.g. ``../shared/data/photos``).
        out_dir: output folder (created).
        n_images: total images; val gets ``max(1, round(val_fraction * n_images))``, train the rest (>= 1 each).
        size: (height, width) of every image in pixels.
        categories: object classes by WNID (default :data:`DEFAULT_PASTE_CATEGORIES`); COCO category ids 1..C in
            this order, names from labels.csv.
        seed: random seed; the same arguments and photos give byte-identical files.
        objects_per_image: (min, max) objects per image, inclusive, min >= 1.
        val_fraction: fraction of images and of each class's photos in val, in (0, 1).
        object_side: (min, max) longer side of a pasted object in pixels (clipped to the image size).
        object_crop: fraction of each side of an object photo kept by its centre crop, in (0, 1].
        background_scale: smallest background crop, as a fraction of the largest crop, in (0, 1].
        max_iou, max_covered: placement limits (see above).
        max_tries: placement draws per object.

    Returns:
        A summary dict: ``categories`` (id, wnid, name, imagenet_index), ``splits`` -> ``train``/``val`` ->
        ``images``, ``objects``, ``per_category`` {name: count}, ``object_photos`` {name: count},
        ``background_photos``; and the arguments. The same dict is written to ``out_dir/summary.json``.

    Raises:
        DataError: a missing or malformed labels.csv, a listed photo missing or undecodable, a category with fewer
            than 2 photos or fewer than 2 background photos.
        ValueError: a bad argument (n_images < 2, bad size, ranges, fractions).

    Source: the cut-and-paste construction of Dwibedi et al., "Cut, Paste and Learn: Surprisingly Easy Synthesis
    for Instance Detection", ICCV 2017 (here with rectangular crops, no blending).

    Example:
        >>> s = build_paste_set("../shared/data/photos", "runs/paste", n_images=100)   # doctest: +SKIP
        >>> s["splits"]["val"]["images"]                                              # doctest: +SKIP
        33
    """
    opt = _check_options(size, n_images, objects_per_image, object_side, categories, seed, val_fraction,
                         object_crop, background_scale, max_iou, max_covered, max_tries)
    photos_dir, out_dir = Path(photos_dir), Path(out_dir)
    photos = _read_photos(photos_dir)
    cat_info = _category_info(photos, opt.categories, photos_dir / "labels.csv")
    obj_split = [_split_photos([p for p in photos if p.wnid == c], val_fraction, seed, f"category {c}")
                 for c in opt.categories]
    bg_split = _split_photos([p for p in photos if p.wnid not in opt.categories], val_fraction, seed,
                             "background photos")
    n_val = max(1, round(val_fraction * n_images))
    summary = {
        "seed": seed, "size": [opt.height, opt.width], "n_images": n_images, "objects_per_image": list(opt.objects),
        "object_side": list(opt.side), "val_fraction": val_fraction, "photos_dir": str(photos_dir),
        "categories": cat_info, "splits": {},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    crops = _ObjectCrops(object_crop)
    for s_idx, (split, n) in enumerate(zip(_SPLITS, (n_images - n_val, n_val))):
        summary["splits"][split] = _build_split(out_dir, s_idx, n, bg_split[s_idx], [o[s_idx] for o in obj_split],
                                                crops, cat_info, opt)
    with atomic_path(out_dir / "summary.json") as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return summary
