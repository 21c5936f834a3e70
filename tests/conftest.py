import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rawvision  # noqa: F401  (torchvision compatibility before lightning/timm/torchmetrics)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _shared(sub: str) -> Path:
    p = SHARED / sub
    if not p.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{p} is missing: CI must run with ../shared beside the checkout")
        pytest.skip(f"{p} is absent (the shared data folder beside the checkout); test skipped")
    return p


@pytest.fixture(scope="session")
def shared_photos() -> Path:
    """../shared/data/photos (real labelled ImageNet photos)."""
    return _shared("data/photos")


@pytest.fixture(scope="session")
def shared_raw() -> Path:
    """../shared/data/raw (real camera RAW files: tiles/ and originals/, see its README.md)."""
    return _shared("data/raw")


def _random_photos(root, n, height, width, high=256, seed=0):
    """``n`` random-texture PNG photos ``p0.png``... of ``height`` x ``width`` in a new folder ``root``."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, high, (height, width, 3), dtype=np.uint8)).save(root / f"p{i}.png")
    return root


@pytest.fixture
def random_photos():
    """``random_photos(root, n, height, width, high=256, seed=0)`` writes a folder of random photos, returns it."""
    return _random_photos


@pytest.fixture(scope="session")
def lite0():
    from rawvision.models import build_classifier

    return build_classifier("efficientnet_lite0")


def _tiny_coco(root, n_train=4, n_val=3, size=64):
    """A COCO folder of random-texture images, two categories, one or two boxes per image."""
    from rawvision.data.coco import write_coco

    rng = np.random.default_rng(0)
    cats = [{"id": 3, "name": "cube"}, {"id": 7, "name": "ball"}]
    for split, n in (("train", n_train), ("val", n_val)):
        (root / split).mkdir(parents=True)
        images, anns = [], []
        for i in range(n):
            arr = rng.integers(40, 220, (size, size, 3), dtype=np.uint8)
            name = f"{split}/{i:03d}.png"
            Image.fromarray(arr).save(root / name)
            iid = 100 * (split == "val") + i + 1
            images.append({"id": iid, "file_name": name, "width": size, "height": size})
            anns.append({"id": 10 * iid + 1, "image_id": iid, "category_id": 3, "bbox": [4, 6, 20, 24],
                         "area": 480, "iscrowd": 0})
            if i % 2:
                anns.append({"id": 10 * iid + 2, "image_id": iid, "category_id": 7, "bbox": [30, 30, 30, 20],
                             "area": 600, "iscrowd": 0})
        write_coco(root / f"{split}.json", images, anns, cats)
    return root


@pytest.fixture
def tiny_coco():
    """``tiny_coco(root, n_train=4, n_val=3, size=64)`` writes a small COCO folder (train/val) and returns root."""
    return _tiny_coco


def _tiny_segmentation(root, n_train=4, n_val=2, height=64, width=96, classes=("sky", "road", "car"), void=3):
    """A generic segmentation folder: ``train/`` and ``val/`` with ``images/`` (PNG, random texture over a few
    flat class regions) and ``labels/`` (single-channel PNG: sky on top, road below, a car box; void stripe), and
    ``classes.txt``."""
    root.mkdir(parents=True)
    (root / "classes.txt").write_text("\n".join(classes) + "\n")
    rng = np.random.default_rng(0)
    colors = np.array([[120, 160, 230], [90, 90, 90], [200, 30, 30]], dtype=np.int64)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for i in range(n):
            lab = np.zeros((height, width), dtype=np.uint8)
            lab[height // 2:] = 1
            y, x = rng.integers(height // 2, height - 12), rng.integers(0, width - 20)
            lab[y:y + 10, x:x + 20] = 2
            lab[:, :2] = void
            img = colors[np.minimum(lab, 2)] + rng.integers(-20, 21, (height, width, 3))
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / split / "images" / f"f{i}.png")
            Image.fromarray(lab, mode="L").save(root / split / "labels" / f"f{i}.png")
    return root


@pytest.fixture(scope="session")
def tiny_segmentation():
    """``tiny_segmentation(root, ...)`` writes a small generic segmentation folder (3 classes, void 3)."""
    return _tiny_segmentation


@pytest.fixture(scope="session")
def shared_camvid() -> Path:
    """../shared/data/camvid (CamVid 11-class frames and labels, SegNet's split)."""
    return _shared("data/camvid")
