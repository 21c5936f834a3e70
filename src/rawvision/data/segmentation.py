"""Semantic segmentation sources: folders of frames with per-pixel label maps (CamVid's layout), class lists,
CamVid's colours, and the crop that keeps the CFA phase.

Layout: ``ROOT/<split>/images/NAME.jpg|png`` and ``ROOT/<split>/labels/NAME.png`` (CamVid's, as in
``../shared/data/camvid``), one single-channel PNG per frame holding one class index per pixel. Class lists:
``"camvid"`` (the 11 classes of SegNet's CamVid, void = 11) or a text file of class names, one per line (void =
the number of classes unless given). Frames of odd height or width are cropped to even (the bottom row / right
column dropped) so that every frame is a whole number of 2x2 Bayer cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from rawvision.data.errors import DataError
from rawvision.data.images import load_rgb
from rawvision.data.photos import IMAGE_EXTENSIONS

__all__ = ["CAMVID_CLASSES", "CAMVID_COLORS", "CAMVID_VOID", "ClassList", "SegFrame", "colorize", "find_frames",
           "load_class_list", "load_frames", "load_label_map", "random_crop_flip"]

CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
                  "Pedestrian", "Bicyclist")
CAMVID_VOID = 11
#: SegNet's ``camvid11.png`` colours (RGB), classes 0..10, then void (black).
CAMVID_COLORS = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
                 (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0))


@dataclass(frozen=True)
class ClassList:
    """Class names, the void index (ignored by losses and metrics) and a colour per class (void last, black)."""

    names: tuple[str, ...]
    void_index: int
    colors: tuple[tuple[int, int, int], ...]

    @property
    def num_classes(self) -> int:
        return len(self.names)


def load_class_list(classes: str = "camvid", void_index: int | None = None) -> ClassList:
    """``"camvid"`` or a text file of class names (one per line, blank lines skipped) -> :class:`ClassList`.

    The void index defaults to the number of classes (CamVid: 11). Colours: CamVid's, or a fixed palette.

    Raises:
        DataError: a missing or empty class file, a void index inside 0..K-1 (one line).

    Example:
        >>> cl = load_class_list("camvid")
        >>> cl.num_classes, cl.void_index, cl.names[3], cl.colors[3]
        (11, 11, 'Road', (128, 64, 128))
    """
    if str(classes).lower() == "camvid":
        names, colors = CAMVID_CLASSES, CAMVID_COLORS[:-1]
    else:
        p = Path(classes)
        if not p.is_file():
            raise DataError(f"class list {p} not found: expected 'camvid' or a text file of class names")
        names = tuple(line.strip() for line in p.read_text().splitlines() if line.strip())
        if not names:
            raise DataError(f"class list {p} holds no class name")
        g = np.random.default_rng(0)
        colors = tuple(tuple(int(c) for c in g.integers(32, 256, 3)) for _ in names)
    void = len(names) if void_index is None else int(void_index)
    if 0 <= void < len(names):
        raise DataError(f"void index {void} is a class index (0..{len(names) - 1}): expected an index outside them")
    return ClassList(tuple(names), void, tuple(colors) + ((0, 0, 0),))


@dataclass(frozen=True)
class SegFrame:
    """One frame file and its label-map file."""

    image: Path
    label: Path


def find_frames(root: str | Path, split: str) -> list[SegFrame]:
    """The frames of ``ROOT/split/images`` with their ``ROOT/split/labels/<stem>.png``, sorted by name.

    Raises:
        DataError: a missing folder, no frame, or a frame without its label file (one line naming it).
    """
    base = Path(root) / split
    img_dir, lab_dir = base / "images", base / "labels"
    for d in (img_dir, lab_dir):
        if not d.is_dir():
            raise DataError(f"segmentation data {root}: folder {d} not found (expected {split}/images and "
                            f"{split}/labels)")
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise DataError(f"segmentation data {root}: no image in {img_dir}")
    frames = []
    for p in images:
        lab = lab_dir / f"{p.stem}.png"
        if not lab.is_file():
            raise DataError(f"frame {p} has no label file {lab}")
        frames.append(SegFrame(p, lab))
    return frames


def load_label_map(path: str | Path, classes: ClassList, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A single-channel label PNG -> (H, W) uint8 tensor of class indices (0..K-1, or the void index).

    Args:
        path: the label file (mode ``L``, ``P`` or ``I``: one index per pixel).
        classes: the class list the indices refer to.
        size: (H, W) of its frame; the label map must have that size.

    Raises:
        DataError: an unreadable file, an RGB(A) label image (a colour-coded mask, not indices), a size other than
            the frame's, values outside 0..K-1 other than the void index (one line naming the file).
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            mode, bands = im.mode, len(im.getbands())
            arr = np.array(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"label map {path}: cannot decode it ({e.__class__.__name__})") from None
    if bands != 1:
        raise DataError(f"label map {path} has {bands} channels ({mode}): expected a single-channel PNG of class "
                        f"indices, not a colour-coded mask")
    if arr.ndim != 2:
        raise DataError(f"label map {path} has shape {arr.shape}: expected a single-channel (H, W) map")
    if size is not None and tuple(arr.shape) != tuple(size):
        raise DataError(f"label map {path} is {arr.shape[1]}x{arr.shape[0]} (WxH), its frame "
                        f"{size[1]}x{size[0]}: expected the same size")
    k, void = classes.num_classes, classes.void_index
    bad = (arr >= k) & (arr != void)
    if bad.any() or (arr < 0).any():
        vals = sorted(set(np.unique(arr[bad | (arr < 0)]).tolist()))[:5]
        raise DataError(f"label map {path} holds values {vals} outside 0..{k - 1} and the void index {void}")
    if void > 255:
        raise DataError(f"void index {void} does not fit the uint8 label maps")
    return torch.from_numpy(arr.astype(np.uint8))


def load_frames(frames: list[SegFrame], classes: ClassList) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Decode frames and labels: ``(images, labels)``, (3, H, W) and (H, W) uint8, cropped to even H and W.

    Raises:
        DataError: as :func:`load_label_map` and :func:`rawvision.data.images.load_rgb`.
    """
    images, labels = [], []
    for f in frames:
        img = load_rgb(f.image)
        lab = load_label_map(f.label, classes, tuple(img.shape[1:]))
        h, w = img.shape[1] // 2 * 2, img.shape[2] // 2 * 2
        if h < 2 or w < 2:
            raise DataError(f"frame {f.image} is {img.shape[2]}x{img.shape[1]}: too small for a 2x2 Bayer cell")
        images.append(img[:, :h, :w].contiguous())
        labels.append(lab[:h, :w].contiguous())
    return images, labels


def random_crop_flip(image: torch.Tensor, label: torch.Tensor, size: tuple[int, int], generator: torch.Generator,
                     flip: bool = True, scale_range: tuple[float, float] = (1.0, 1.0),
                     void_index: int = 255) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random crop (at even offsets: the CFA phase of the later mosaic is kept), optional rescale and
    horizontal flip of a frame and its label map.

    Draw order from ``generator``: scale (if the range is not (1, 1)), y, x, flip. A frame smaller than the crop
    (after scaling) is padded at the bottom/right (image 0, labels ``void_index``).

    Args:
        image: (3, H, W) uint8; label: (H, W) uint8.
        size: (h, w) of the crop, both even.
        scale_range: frame and labels are resized by s ~ U(lo, hi) first (image bilinear, labels nearest).

    Returns:
        ``(image (3, h, w), label (h, w))``, uint8, contiguous.

    Raises:
        ValueError: an odd crop size.

    Example:
        >>> img = torch.arange(2 * 6 * 8, dtype=torch.uint8).view(2, 6, 8)[:1].expand(3, 6, 8)
        >>> im, lab = random_crop_flip(img, img[0], (2, 4), torch.Generator().manual_seed(0), flip=False)
        >>> torch.equal(im[0], lab), (int(im[0, 0, 0]) // 8) % 2, (int(im[0, 0, 0]) % 8) % 2  # even offsets
        (True, 0, 0)
    """
    h, w = int(size[0]), int(size[1])
    if h % 2 or w % 2:
        raise ValueError(f"crop size {h}x{w} must be even (whole 2x2 Bayer cells)")
    lo, hi = float(scale_range[0]), float(scale_range[1])
    if (lo, hi) != (1.0, 1.0):
        s = lo + (hi - lo) * float(torch.rand((), generator=generator))
        nh, nw = max(2, round(image.shape[1] * s / 2) * 2), max(2, round(image.shape[2] * s / 2) * 2)
        image = F.interpolate(image[None].float(), size=(nh, nw), mode="bilinear", align_corners=False,
                              antialias=s < 1).round_().clamp_(0, 255).to(torch.uint8)[0]
        label = F.interpolate(label[None, None].float(), size=(nh, nw), mode="nearest")[0, 0].to(torch.uint8)
    H, W = image.shape[1], image.shape[2]
    if H < h or W < w:
        ph, pw = max(0, h - H), max(0, w - W)
        image = F.pad(image, (0, pw, 0, ph), value=0)
        label = F.pad(label, (0, pw, 0, ph), value=void_index)
        H, W = image.shape[1], image.shape[2]
    y = 2 * int(torch.randint((H - h) // 2 + 1, (), generator=generator))
    x = 2 * int(torch.randint((W - w) // 2 + 1, (), generator=generator))
    image, label = image[:, y:y + h, x:x + w], label[y:y + h, x:x + w]
    if flip and bool(torch.rand((), generator=generator) < 0.5):
        image, label = image.flip(-1), label.flip(-1)
    return image.contiguous(), label.contiguous()


def colorize(label: torch.Tensor, classes: ClassList) -> np.ndarray:
    """(H, W) class indices (void included) -> (H, W, 3) uint8 RGB in the class list's colours (void black)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for i, c in enumerate(classes.colors[:-1]):
        palette[i] = c
    palette[classes.void_index % 256] = classes.colors[-1]
    return palette[label.cpu().numpy().astype(np.int64) % 256]
