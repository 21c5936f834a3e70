"""A small real-photo detection set built by pasting labelled ImageNet objects onto real backgrounds, and its RAW.

:func:`build_paste_set` makes a COCO-format set from a labelled photo folder (``../shared/data/photos``): each
image is a random crop of a photo of some *other* ImageNet class (the background), with 1-3 objects pasted on it;
an object is the centre crop of a photo of one of the chosen classes (:data:`DEFAULT_PASTE_CATEGORIES`), resized
to a random size, and its box is the pasted rectangle. Photos are split between train and val before anything is
drawn, so no object photo and no background photo appears in both splits.

:func:`simulate_detection_raw` turns such RGB images into RAW at load time (normal light: Brooks et al.'s
unprocessing and shot/read noise; low light: also an 8x shorter exposure, 10-bit ADC, no brightening), returning
the Bayer mosaic and its bilinear demosaic, the 3-channel RAW that TA-ISP reads.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from rawvision._atomic import atomic_path
from rawvision.data.coco import write_coco
from rawvision.data.photos import DataError

__all__ = ["DEFAULT_PASTE_CATEGORIES", "build_paste_set", "simulate_detection_raw"]

#: The object classes of the paste set, by ImageNet WNID: six visually distinct classes with 6 photos each in
#: ``../shared/data/photos`` (labels from its labels.csv): goldfish (ImageNet index 1), zebra (340), giant_panda
#: (388), soccer_ball (805), violin (889), strawberry (949). Category ids 1..6 follow this (sorted WNID) order.
DEFAULT_PASTE_CATEGORIES = ("n01443537", "n02391049", "n02510455", "n04254680", "n04536866", "n07745940")

_SPLITS = ("train", "val")


def _read_labels(photos_dir: Path) -> list[dict]:
    path = photos_dir / "labels.csv"
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"label file {path}: cannot read it ({e.__class__.__name__})") from None
    if not rows:
        raise DataError(f"label file {path} has no rows")
    missing = [c for c in ("filename", "wnid", "class_name") if c not in rows[0]]
    if missing:
        raise DataError(f"label file {path}: missing column(s) {', '.join(missing)} (expected filename, wnid, "
                        f"imagenet_index, class_name, ...)")
    out = []
    for i, r in enumerate(rows, start=2):
        name, wnid = (r["filename"] or "").strip(), (r["wnid"] or "").strip()
        if not name or not wnid:
            raise DataError(f"label file {path}, line {i}: empty filename or wnid")
        f = photos_dir / wnid / name
        if not f.is_file():
            f = photos_dir / name
        if not f.is_file():
            raise DataError(f"label file {path}, line {i}: photo {name} not found in {photos_dir / wnid} or "
                            f"{photos_dir}")
        idx = r.get("imagenet_index")
        out.append({"path": f, "filename": name, "wnid": wnid, "class_name": (r["class_name"] or "").strip(),
                    "imagenet_index": int(idx) if idx not in (None, "") else -1})
    return out


def _split(items: list, val_fraction: float, seed: int, what: str) -> tuple[list, list]:
    if len(items) < 2:
        raise DataError(f"{what}: {len(items)} photo(s), need at least 2 to put one in each of train and val")
    order = sorted(items, key=lambda r: (r["wnid"], r["filename"]))
    random.Random(f"{seed}:{what}").shuffle(order)
    n_val = min(len(order) - 1, max(1, round(val_fraction * len(order))))
    return order[n_val:], order[:n_val]


def _open_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im.draft("RGB", im.size)
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"image {path}: cannot decode it ({e.__class__.__name__}: {str(e).splitlines()[0]})") from None


def _centre_crop(im: Image.Image, fraction: float) -> Image.Image:
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


def _atomic_png(im: Image.Image, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        im.save(tmp, format="PNG")


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
       one each) before drawing anything: a photo is used in one split only;
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
        20
    """
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

    photos_dir, out_dir = Path(photos_dir), Path(out_dir)
    rows = _read_labels(photos_dir)
    known = {r["wnid"]: r for r in rows}
    absent = [c for c in cats if c not in known]
    if absent:
        raise DataError(f"label file {photos_dir / 'labels.csv'}: no photo of categor{'y' if len(absent) == 1 else 'ies'}"
                        f" {', '.join(absent)}")
    cat_info = [{"id": i + 1, "wnid": c, "name": known[c]["class_name"] or c,
                 "imagenet_index": known[c]["imagenet_index"], "supercategory": "imagenet"} for i, c in enumerate(cats)]
    obj_split = {c: _split([r for r in rows if r["wnid"] == c], val_fraction, seed, f"category {c}") for c in cats}
    bg_split = _split([r for r in rows if r["wnid"] not in cats], val_fraction, seed, "background photos")

    n_val = max(1, round(val_fraction * n_images))
    n_per = {"train": n_images - n_val, "val": n_val}
    summary = {
        "seed": seed, "size": [H, W], "n_images": n_images, "objects_per_image": [lo, hi],
        "object_side": [smin, smax], "val_fraction": val_fraction, "photos_dir": str(photos_dir),
        "categories": cat_info, "splits": {},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    cache: dict[Path, Image.Image] = {}

    def object_crop_of(r) -> Image.Image:
        if r["path"] not in cache:
            cache[r["path"]] = _centre_crop(_open_rgb(r["path"]), object_crop)
        return cache[r["path"]]

    for s_idx, split in enumerate(_SPLITS):
        (out_dir / split).mkdir(exist_ok=True)
        bg_pool = bg_split[s_idx]
        images, anns = [], []
        per_cat = {c["name"]: 0 for c in cat_info}
        obj_used: dict[str, set] = {c["name"]: set() for c in cat_info}
        bg_used: set = set()
        for i in range(n_per[split]):
            rng = np.random.default_rng([seed, s_idx, i])
            bg_row = bg_pool[int(rng.integers(len(bg_pool)))]
            canvas = _background(_open_rgb(bg_row["path"]), (H, W), rng, background_scale)
            bg_used.add(str(bg_row["path"]))
            boxes: list[list[int]] = []
            for _ in range(int(rng.integers(lo, hi + 1))):
                c = int(rng.integers(len(cats)))
                pool = obj_split[cats[c]][s_idx]
                r = pool[int(rng.integers(len(pool)))]
                obj = object_crop_of(r)
                side = min(int(rng.integers(smin, smax + 1)), H, W)
                ow, oh = obj.size
                if ow >= oh:
                    bw, bh = side, max(4, min(H, round(side * oh / ow)))
                else:
                    bw, bh = max(4, min(W, round(side * ow / oh))), side
                placed = None
                for _try in range(max_tries):
                    x, y = int(rng.integers(0, W - bw + 1)), int(rng.integers(0, H - bh + 1))
                    box = [x, y, bw, bh]
                    ok = True
                    for b in boxes:
                        iou, cov_b = _iou_cover(b, box)
                        _, cov_new = _iou_cover(box, b)
                        if iou >= max_iou or cov_b > max_covered or cov_new > max_covered:
                            ok = False
                            break
                    if ok:
                        placed = box
                        break
                if placed is None:
                    continue
                canvas.paste(obj.resize((bw, bh), Image.BICUBIC), (placed[0], placed[1]))
                boxes.append(placed)
                name = cat_info[c]["name"]
                per_cat[name] += 1
                obj_used[name].add(r["filename"])
                anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c + 1, "bbox": placed,
                             "area": placed[2] * placed[3], "iscrowd": 0, "source": r["filename"]})
            if not boxes:  # cannot happen with the first object on an empty canvas; kept as a guard
                raise RuntimeError(f"image {split}/{i}: no object could be placed")
            file_name = f"{split}/{i:06d}.png"
            _atomic_png(canvas, out_dir / file_name)
            images.append({"id": i + 1, "file_name": file_name, "width": W, "height": H,
                           "background": bg_row["filename"], "background_wnid": bg_row["wnid"]})
        write_coco(out_dir / f"{split}.json", images, anns, cat_info,
                   info={"description": f"rawvision paste set, {split} split", "seed": seed})
        summary["splits"][split] = {
            "images": len(images), "objects": len(anns), "per_category": per_cat,
            "object_photos": {k: len(v) for k, v in obj_used.items()}, "background_photos": len(bg_used),
            "object_photos_available": {cat_info[j]["name"]: len(obj_split[c][s_idx]) for j, c in enumerate(cats)},
            "background_photos_available": len(bg_pool),
        }
    with atomic_path(out_dir / "summary.json") as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return summary


def simulate_detection_raw(
    rgb_uint8: torch.Tensor,
    pattern: str = "RGGB",
    low_light: bool = False,
    generator: torch.Generator | None = None,
    *,
    ratio: float = 8.0,
    bit_depth: int = 10,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulate the RAW capture of sRGB detection images, in normal light or low light.

    Normal light: Brooks et al.'s unprocessing (random camera CCM and white-balance/brightness gains, inverse tone
    curve and gamma) to a noise-free mosaic, then heteroscedastic shot/read noise at levels drawn from Brooks'
    distribution, clipped to [0, 1] (the sensor's black to white level).
    Low light: the same clean mosaic captured with an exposure ``ratio`` times shorter (signal / ratio, shot/read
    noise of that capture, clip, ``bit_depth``-bit ADC) and *not* brightened: a dark frame, as LOD's low-light
    images are. Then both are demosaiced bilinearly: the 3-channel RAW that TA-ISP reads. Bounding boxes are
    unchanged (no geometric change).

    Draw order with ``generator``: camera parameters, noise levels, noise.

    Args:
        rgb_uint8: (B, 3, H, W) uint8 sRGB images (H, W even, >= 2), CPU or GPU.
        pattern: Bayer pattern of the mosaic (RGGB, BGGR, GRBG, GBRG).
        low_light: simulate the short exposure (True) or a normal one (False).
        generator: ``torch.Generator`` on the images' device for reproducible draws; the global RNG if None.
        ratio: exposure ratio of the low-light capture (long / short time), >= 1; ignored in normal light.
        bit_depth: ADC bits of the low-light capture (1..24); ignored in normal light.

    Returns:
        ``(mosaic, rgb_raw)``: mosaic (B, 1, H, W) float32 in [0, 1] (0 = black level, 1 = white level; low light
        mostly below ``1 / ratio``) and its bilinear demosaic (B, 3, H, W) float32 in [0, 1], camera RGB (not
        white-balanced, not colour-corrected), on the input's device.

    Raises:
        ValueError: a non-uint8 or non-(B, 3, H, W) input, an unknown pattern, a bad ratio or bit depth.

    Source: Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019, Sec. 3 (unprocessing, shot
    and read noise); short exposure as in :func:`rawvision.raw.noise.simulate_short_exposure` (SID-style dark
    frames); bilinear demosaic :func:`rawvision.raw.demosaic.demosaic`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> mos, raw3 = simulate_detection_raw(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8), "RGGB",
        ...                                    low_light=True, generator=g)
        >>> mos.shape, raw3.shape
        (torch.Size([2, 1, 32, 32]), torch.Size([2, 3, 32, 32]))
    """
    from rawvision.raw.demosaic import demosaic
    from rawvision.raw.noise import add_shot_read_noise, random_noise_levels, simulate_short_exposure
    from rawvision.raw.unprocess import unprocess

    if not isinstance(rgb_uint8, torch.Tensor) or rgb_uint8.dtype != torch.uint8 or rgb_uint8.ndim != 4 \
            or rgb_uint8.shape[1] != 3:
        got = f"{rgb_uint8.dtype} {tuple(rgb_uint8.shape)}" if isinstance(rgb_uint8, torch.Tensor) else type(rgb_uint8)
        raise ValueError(f"simulate_detection_raw expects (B, 3, H, W) uint8 sRGB images, got {got}")
    x = rgb_uint8.float() / 255.0
    raw, _ = unprocess(x, pattern, generator=generator)
    shot, read = random_noise_levels(x.shape[0], generator, device=x.device, dtype=x.dtype)
    if low_light:
        mos = simulate_short_exposure(raw, ratio, shot, read, bit_depth=bit_depth, generator=generator,
                                      brighten=False)
    else:
        mos = add_shot_read_noise(raw, shot, read, generator, clip=True)
    return mos, demosaic(mos, pattern, "bilinear").clamp(0.0, 1.0)
