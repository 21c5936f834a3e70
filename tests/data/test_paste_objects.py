import csv
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rawvision.data.coco import CocoDetection, load_coco
from rawvision.data.paste_objects import (
    DEFAULT_PASTE_CATEGORIES,
    _read_photos,
    _split_photos,
    build_paste_set,
)
from rawvision.data.photos import DataError

# two object classes with 3 photos each (one flat colour per photo), 6 background photos of other classes
OBJECTS = {
    "n01443537": ("goldfish", 1, [(250, 0, 0), (200, 0, 0), (150, 0, 0)]),
    "n02391049": ("zebra", 340, [(0, 0, 250), (0, 0, 200), (0, 0, 150)]),
}
BACKGROUND_WNIDS = ["n01440764", "n01484850", "n01491361"]


def _fake_photos(root):
    rows = []
    for wnid, (name, idx, colours) in OBJECTS.items():
        (root / wnid).mkdir(parents=True)
        for j, c in enumerate(colours):
            f = f"{wnid}_{j}_{name}.jpg" if j else f"{wnid}_{name}.JPEG"
            arr = np.zeros((60 + 10 * j, 80, 3), np.uint8)
            arr[:] = c
            Image.fromarray(arr).save(root / wnid / f, quality=100)
            rows.append([f, wnid, idx, name, 80, 60 + 10 * j, "RGB", "copied", "0"])
    rng = np.random.default_rng(1)
    for k, wnid in enumerate(BACKGROUND_WNIDS):
        (root / wnid).mkdir()
        for j in range(2):
            f = f"{wnid}_{j}_bg.png"
            arr = np.zeros((50 + 30 * j, 90, 3), np.uint8)
            arr[..., 1] = rng.integers(100, 256, arr.shape[:2])  # green: never an object colour
            mode = "RGB"
            if k == 2 and j == 1:  # one greyscale background photo
                arr, mode = arr[..., 1], "L"
            Image.fromarray(arr, mode).save(root / wnid / f)
            rows.append([f, wnid, 10 + k, f"bg{k}", 90, 50 + 30 * j, mode, "copied", "0"])
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "wnid", "imagenet_index", "class_name", "width", "height", "mode", "processing",
                    "sha256"])
        w.writerows(rows)
    return root


KW = dict(n_images=12, size=(64, 96), categories=tuple(OBJECTS), objects_per_image=(1, 3), object_side=(12, 28))


def _iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def test_fake_folder_build(tmp_path):
    photos = _fake_photos(tmp_path / "photos")
    out = tmp_path / "set"
    summary = build_paste_set(photos, out, seed=3, **KW)
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "train", "train.json", "val", "val.json"]
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert [c["name"] for c in summary["categories"]] == ["goldfish", "zebra"]
    assert [c["imagenet_index"] for c in summary["categories"]] == [1, 340]
    sources, backgrounds = {}, {}
    colour_of = {f"{w}_{j}_{n}.jpg" if j else f"{w}_{n}.JPEG": (cid + 1, np.array(c))
                 for cid, (w, (n, _, cs)) in enumerate(OBJECTS.items()) for j, c in enumerate(cs)}
    for split, n in (("train", 8), ("val", 4)):  # val gets round(12 / 3) images
        coco = load_coco(out / f"{split}.json")
        raw = json.loads((out / f"{split}.json").read_text())
        assert len(coco.images) == n == summary["splits"][split]["images"]
        assert len(list((out / split).glob("*.png"))) == n
        assert coco.counts() == summary["splits"][split]["per_category"]
        assert sum(coco.counts().values()) == summary["splits"][split]["objects"] == len(coco.annotations)
        ds = CocoDetection(coco)
        for i, im in enumerate(coco.images):
            anns = coco.annotations_of(im.id)
            assert 1 <= len(anns) <= 3
            image, _ = ds[i]
            assert image.shape == (3, 64, 96)
            pix = image.permute(1, 2, 0).numpy().astype(int)
            for a in anns:
                x, y, w, h = (int(v) for v in a.bbox)
                assert 0 <= x and 0 <= y and x + w <= 96 and y + h <= 64
                assert 12 <= max(w, h) <= 28
                cat, colour = colour_of[raw["annotations"][a.id - 1]["source"]]
                assert a.category_id == cat
                # the pasted rectangle shows its object photo's colour (at most 30% covered by a later paste)
                match = (np.abs(pix[y:y + h, x:x + w] - colour).max(-1) <= 6).mean()
                assert match >= 0.65
            for j, a in enumerate(anns):
                for b in anns[j + 1:]:
                    assert _iou(a.bbox, b.bbox) < 0.1
        sources[split] = {a["source"] for a in raw["annotations"]}
        backgrounds[split] = {im["background"] for im in raw["images"]}
        assert all(im["background_wnid"] in BACKGROUND_WNIDS for im in raw["images"])
    # split by source photo: no object photo and no background photo in both splits
    assert not sources["train"] & sources["val"]
    assert not backgrounds["train"] & backgrounds["val"]
    assert all(summary["splits"]["val"]["object_photos_available"][n] == 1 for n in ("goldfish", "zebra"))


def test_deterministic_with_seed(tmp_path):
    photos = _fake_photos(tmp_path / "photos")
    kw = dict(KW, n_images=4)
    build_paste_set(photos, tmp_path / "a", seed=5, **kw)
    build_paste_set(photos, tmp_path / "b", seed=5, **kw)
    build_paste_set(photos, tmp_path / "c", seed=6, **kw)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 4 + 3
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "train.json").read_bytes() != (tmp_path / "c" / "train.json").read_bytes()
    assert not list((tmp_path / "a").rglob("*.tmp"))


def test_errors(tmp_path):
    photos = _fake_photos(tmp_path / "photos")
    with pytest.raises(DataError, match="no photo of category n09999999"):
        build_paste_set(photos, tmp_path / "o", categories=("n01443537", "n09999999"), n_images=2)
    lines = (photos / "labels.csv").read_text().splitlines()
    keep = [ln for ln in lines if "zebra" not in ln or ln.startswith("n02391049_zebra.JPEG")]
    (photos / "labels.csv").write_text("\n".join(keep) + "\n")
    with pytest.raises(DataError, match=r"1 photo\(s\) of category n02391049: a train/test split needs at least 2"):
        build_paste_set(photos, tmp_path / "o", **KW)
    (photos / "labels.csv").write_text("\n".join(lines + ["missing.jpg,n01443537,1,goldfish,1,1,RGB,x,0"]) + "\n")
    with pytest.raises(DataError, match="photo missing.jpg not found"):
        build_paste_set(photos, tmp_path / "o", **KW)
    (photos / "labels.csv").unlink()
    with pytest.raises(DataError, match="labels.csv: cannot read it"):
        build_paste_set(photos, tmp_path / "o", **KW)
    with pytest.raises(ValueError, match="objects_per_image"):
        build_paste_set(photos, tmp_path / "o", objects_per_image=(0, 2))


def _digest(out: Path, pixels: bool = True) -> str:
    """sha256 of a paste set's JSON contents (``photos_dir`` left out) and, with ``pixels``, its decoded images."""
    h = hashlib.sha256()
    for f in sorted(p for p in out.rglob("*") if p.is_file() and (pixels or p.suffix == ".json")):
        h.update(f.relative_to(out).as_posix().encode())
        if f.suffix == ".json":
            d = json.loads(f.read_text())
            d.pop("photos_dir", None)
            h.update(json.dumps(d, sort_keys=True).encode())
        else:
            with Image.open(f) as im:
                h.update(f"{im.mode}{im.size}".encode())
                h.update(np.asarray(im).tobytes())
    return h.hexdigest()


# digests of the sets built by build_paste_set before it was split into named steps (commit b909248)
KW2 = dict(KW, n_images=9, val_fraction=0.5, objects_per_image=(2, 4), max_iou=0.05, max_covered=0.2, max_tries=5,
           object_crop=0.6, background_scale=0.9)
BEFORE = {
    ("fake", 0): "503eae0c6bb3812f6ad685709ae599a83b8ed784aa9e995f470ca81461b63e60",
    ("fake", 3): "872070d434c049a75e32beb6c16f8c9ed98473eca34ac8b1127d6819dbb49ac3",
    ("fake", 5): "630dd7b3a1445572c21e8fcc24b24bdc5cf026e087e345e0c83f38e5a50a77c6",
    ("fake_kw2", 1): "5689e0dd5d6094ec605bdad668581404e88a3159b174dcca884da15ba41c3e0b",
    ("real_json", 0): "25c3c455e71d665c52824ab9edb0317224e2110554acb27e5effbdeedc6490ef",
}


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_same_set_as_before_the_refactor(tmp_path, seed):
    photos = _fake_photos(tmp_path / "photos")
    build_paste_set(photos, tmp_path / "set", seed=seed, **KW)
    assert _digest(tmp_path / "set") == BEFORE[("fake", seed)]
    if seed == 0:
        build_paste_set(photos, tmp_path / "kw2", seed=1, **KW2)
        assert _digest(tmp_path / "kw2") == BEFORE[("fake_kw2", 1)]


def test_real_photos_same_set_as_before_the_refactor(shared_photos, tmp_path):
    build_paste_set(shared_photos, tmp_path, n_images=12, seed=0)
    assert _digest(tmp_path, pixels=False) == BEFORE[("real_json", 0)]


def _split_before(items, val_fraction, seed, what):
    """The paste set's photo split before split_by_group."""
    order = sorted(items, key=lambda r: (r.wnid, r.filename))
    random.Random(f"{seed}:{what}").shuffle(order)
    n_val = min(len(order) - 1, max(1, round(val_fraction * len(order))))
    return order[n_val:], order[:n_val]


def test_photo_split_is_the_split_it_always_was(shared_photos):
    photos = _read_photos(shared_photos)
    pools = {"background photos": [p for p in photos if p.wnid not in DEFAULT_PASTE_CATEGORIES][::-1]}
    pools.update({f"category {c}": [p for p in photos if p.wnid == c] for c in DEFAULT_PASTE_CATEGORIES})
    pools.update({f"category {c}": [p for p in photos if p.wnid == c] for c in ("n01582220", "n01534433")})  # 2, 3
    for what, pool in pools.items():
        for seed in (0, 1, 9):
            for f in (0.1, 1 / 3, 0.5, 0.9):
                assert _split_photos(pool, f, seed, what) == _split_before(pool, f, seed, what), (what, seed, f)


def test_real_photos_build(shared_photos, tmp_path):
    summary = build_paste_set(shared_photos, tmp_path, n_images=10, seed=0)
    names = [c["name"] for c in summary["categories"]]
    assert names == ["goldfish", "zebra", "giant_panda", "soccer_ball", "violin", "strawberry"]
    assert [c["wnid"] for c in summary["categories"]] == list(DEFAULT_PASTE_CATEGORIES)
    n = 0
    for split in ("train", "val"):
        coco = load_coco(tmp_path / f"{split}.json")
        n += len(coco.images)
        for a in coco.annotations:
            im = coco.image(a.image_id)
            x, y, w, h = a.bbox
            assert x >= 0 and y >= 0 and x + w <= im.width and y + h <= im.height
            assert 64 <= max(w, h) <= 160
        image, target = CocoDetection(coco)[0]
        assert image.shape == (3, 320, 320) and target["labels"].min() >= 1 and target["labels"].max() <= 6
        # every category has photos in both splits (6 photos each: 4 train, 2 val)
        assert set(summary["splits"][split]["object_photos_available"].values()) == {4 if split == "train" else 2}
    assert n == 10
