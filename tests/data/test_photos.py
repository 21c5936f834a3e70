import csv
import random

import numpy as np
import pytest
import torch
from PIL import Image

from rawvision.data import (
    DataError,
    find_photos,
    imagenet_wnids,
    load_rgb,
    patch_origins,
    read_label_csv,
    split_photos,
)
from rawvision.data.images import open_rgb
from rawvision.data.photos import LabelRow, Photo, read_labels
from rawvision.data.split import split_by_group, split_train_val_test
from rawvision.tasks.classification import PatchDataset, PhotoPatchDataModule, RandomCropDataset


def _write(path, h, w, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3) if mode == "RGB" else (h, w), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path)
    return arr


@pytest.mark.parametrize("h,w", [(256, 256), (375, 500), (600, 800), (513, 1025), (255, 900), (1000, 257)])
def test_patch_origins_even_non_overlapping_inside(h, w):
    o = patch_origins(h, w, 256)
    assert len(o) == (h // 256) * (w // 256)
    for y, x in o:
        assert y % 2 == 0 and x % 2 == 0
        assert 0 <= y and y + 256 <= h and 0 <= x and x + 256 <= w
    for i, a in enumerate(o):
        for b in o[i + 1 :]:
            assert abs(a[0] - b[0]) >= 256 or abs(a[1] - b[1]) >= 256


def test_patches_keep_cfa_phase_of_the_full_image():
    from rawvision.raw import mosaic

    img = torch.randint(0, 256, (3, 600, 801), dtype=torch.uint8)
    ds = PatchDataset([img], [3])
    full_raw = mosaic(img[None].float(), "RGGB")
    for i, (y, x) in enumerate(patch_origins(600, 801)):
        item = ds[i]
        assert item["label"] == 3 and item["rgb"].shape == (3, 256, 256)
        assert torch.equal(mosaic(item["rgb"][None].float(), "RGGB"), full_raw[..., y : y + 256, x : x + 256])


def test_random_crops_even_offsets_and_flips():
    img = torch.arange(300 * 420, dtype=torch.int32).view(1, 300, 420).expand(3, -1, -1)
    ds = RandomCropDataset([img], [5], length=50)
    flips = 0
    for i in range(len(ds)):
        c = ds[i]["rgb"][0]
        v = int(c[0, 0]) if int(c[0, 1]) > int(c[0, 0]) else int(c[0, -1])
        flips += int(c[0, 1]) < int(c[0, 0])
        y, x = divmod(v, 420)
        assert y % 2 == 0 and x % 2 == 0
    assert 5 < flips < 45
    with pytest.raises(DataError, match="at least 256x256"):
        RandomCropDataset([torch.zeros(3, 100, 100)], [0], 4)


def test_split_by_photo_seeded():
    photos = [Photo(f"p{i}.jpg") for i in range(50)]
    tr, te = split_photos(photos, 0.2, seed=1)
    assert len(te) == 10 and len(tr) == 40 and not set(tr) & set(te)
    assert split_photos(photos, 0.2, seed=1) == (tr, te)
    assert split_photos(photos, 0.2, seed=2)[1] != te


def _split_photos_before(photos, test_fraction, seed):
    """split_photos as it was before split_by_group (the classification benchmark's split)."""
    order = list(photos)
    random.Random(seed).shuffle(order)
    n_test = round(test_fraction * len(order))
    if test_fraction > 0 and len(order) >= 2:
        n_test = max(n_test, 1)
    return order[n_test:], order[:n_test]


@pytest.mark.parametrize("n", [2, 3, 5, 10, 37, 200])
def test_split_photos_is_the_split_it_always_was(n):
    photos = [Photo(f"p{i:03d}.jpg", i % 7) for i in range(n)][::-1]  # input order matters, not sorted order
    for seed in (0, 1, 7, 12345):
        for f in (0.0, 0.05, 0.1, 0.2, 0.25, 0.3, 0.34, 0.5, 0.7, 0.8):
            old = _split_photos_before(photos, f, seed)
            if not old[0]:
                continue  # the old split could leave train empty (2 photos at 0.8); now train keeps one
            assert split_photos(photos, f, seed) == old, (n, seed, f)
    old_train, old_test = _split_photos_before(photos[:2], 0.8, 0)
    assert old_train == [] and split_photos(photos[:2], 0.8, 0) == (old_test[1:], old_test[:1])


def test_split_by_group_rule():
    items = [f"{g}{j}" for g in "abcdefghij" for j in range(3)]  # 10 groups of 3
    for seed in range(5):
        train, test = split_by_group(items, 0.3, seed, group=lambda s: s[0])
        assert len({s[0] for s in test}) == 3 and len(train) + len(test) == 30
        assert not {s[0] for s in train} & {s[0] for s in test}
        # a group's items stay together, in input order, groups in the shuffled order
        assert all(test[i][0] == test[i + 1][0] or test[i + 1][1] == "0" for i in range(len(test) - 1))
        kept = split_by_group(items, 0.3, seed, group=lambda s: s[0], keep_order=True)
        assert kept == ([s for s in items if s in train], [s for s in items if s in test])
    # sort_groups: the split does not depend on the input order
    a = split_by_group(items, 0.3, 3, group=lambda s: s[0], sort_groups=True, keep_order=True)
    b = split_by_group(items[::-1], 0.3, 3, group=lambda s: s[0], sort_groups=True, keep_order=True)
    assert sorted(a[1]) == sorted(b[1])
    assert split_by_group(items, 0.0, 0) == (split_by_group(items, 0.0, 0)[0], [])
    assert len(split_by_group(list(range(3)), 0.01, 0)[1]) == 1  # at least one test group
    assert len(split_by_group(list(range(3)), 0.9, 0)[0]) == 1  # at least one train group
    assert split_by_group("xy", 0.5, "0:str seed") == split_by_group("xy", 0.5, "0:str seed")
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(DataError, match=r"fraction must be in \[0, 1\)"):
            split_by_group(items, bad, 0)
    with pytest.raises(DataError, match="1 group\\(s\\): a train/test split needs at least 2"):
        split_by_group(["a1", "a2"], 0.2, 0, group=lambda s: s[0])
    with pytest.raises(DataError, match="0 photo"):
        split_photos([], 0.2, 0)
    assert split_by_group([], 0.0, 0) == ([], [])


def test_split_train_val_test_keeps_the_test_split():
    items = [(g, j) for g in range(20) for j in range(2)]
    for seed in range(4):
        _, test0 = split_by_group(items, 0.2, seed, group=lambda t: t[0])
        for vf in (0.0, 0.05, 0.1, 0.3, 0.5):
            train, val, test = split_train_val_test(items, 0.2, vf, seed, group=lambda t: t[0])
            assert test == test0
            groups = [{t[0] for t in part} for part in (train, val, test)]
            assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]
            assert len(train) + len(val) + len(test) == len(items) and train
            assert len(groups[1]) == (max(1, round(vf * 20)) if vf else 0)
    assert split_train_val_test(list(range(3)), 0.3, 0.3, 0) is not None
    with pytest.raises(DataError, match="must be < 1"):
        split_train_val_test(items, 0.5, 0.5, 0)
    with pytest.raises(DataError, match="validation fraction must be in"):
        split_train_val_test(items, 0.2, -0.1, 0)
    with pytest.raises(DataError, match="train/validation split needs at least 2"):
        split_train_val_test([1, 2], 0.3, 0.3, 0)


def test_read_labels_fields_and_forms(tmp_path, shared_photos):
    rows = read_labels(shared_photos / "labels.csv", require=("wnid", "class_name"))
    assert len(rows) == 1636 and rows[0] == LabelRow("n01440764_tench.JPEG", 0, "n01440764", "tench", 2)
    assert read_label_csv(shared_photos / "labels.csv") == {r.filename: r.imagenet_index for r in rows}
    (tmp_path / "plain.csv").write_text("a.jpg, 3\n\nb.jpg,999\n")
    assert read_label_csv(tmp_path / "plain.csv") == {"a.jpg": 3, "b.jpg": 999}
    (tmp_path / "bom.csv").write_text("\ufefffile,label\nc.png,5\n", encoding="utf-8")
    assert read_labels(tmp_path / "bom.csv") == [LabelRow("c.png", 5, line=2)]
    (tmp_path / "noidx.csv").write_text("filename,wnid,class_name\nd.jpg,n01440764,tench\n")
    assert read_labels(tmp_path / "noidx.csv", require=("wnid",))[0].imagenet_index == -1
    with pytest.raises(DataError, match="missing column.s. imagenet_index"):
        read_label_csv(tmp_path / "noidx.csv")
    (tmp_path / "emptywnid.csv").write_text("filename,wnid,class_name\nd.jpg,,tench\n")
    with pytest.raises(DataError, match="line 2: empty wnid"):
        read_labels(tmp_path / "emptywnid.csv", require=("wnid",))
    (tmp_path / "badidx.csv").write_text("filename,imagenet_index\nd.jpg,x\n")
    with pytest.raises(DataError, match="line 2: expected a class index"):
        read_labels(tmp_path / "badidx.csv")
    (tmp_path / "nofile.csv").write_text("wnid,label\nn0,1\n")
    with pytest.raises(DataError, match="expected a file-name column"):
        read_labels(tmp_path / "nofile.csv")
    with pytest.raises(DataError, match="cannot read it"):
        read_labels(tmp_path / "missing.csv")


def test_load_rgb_is_open_rgb_as_a_tensor(tmp_path, shared_photos):
    _write(tmp_path / "a.png", 7, 9, mode="L")
    for f in (tmp_path / "a.png", next((shared_photos / "n01440764").iterdir())):
        t = load_rgb(f)
        assert t.dtype == torch.uint8 and t.shape[0] == 3 and t.is_contiguous()
        assert torch.equal(t, torch.from_numpy(np.asarray(open_rgb(f))).permute(2, 0, 1))


def test_labels_from_csv_and_wnid_folders(tmp_path):
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and wnids[0] == "n01440764" and wnids[-1] == "n15075141"
    _write(tmp_path / "a" / wnids[7] / "x.jpg", 300, 300)
    _write(tmp_path / "a" / "other" / "y.png", 300, 300)
    photos = find_photos(tmp_path / "a")
    assert {p.path.name: p.label for p in photos} == {"x.jpg": 7, "y.png": -1}
    with open(tmp_path / "a" / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([["filename", "wnid", "imagenet_index"], ["y.png", "n0", "42"]])
    assert {p.path.name: p.label for p in find_photos(tmp_path / "a")}["y.png"] == 42
    (tmp_path / "bad.csv").write_text("filename,imagenet_index\ny.png,1000\n")
    with pytest.raises(DataError, match="outside 0..999"):
        read_label_csv(tmp_path / "bad.csv")


def test_shared_labels_csv_matches_wnid_folders(shared_photos):
    table = read_label_csv(shared_photos / "labels.csv")
    wnid_index = {w: i for i, w in enumerate(imagenet_wnids())}
    photos = find_photos(shared_photos, labels=None)
    assert len(photos) == 1636
    for p in photos[::50]:
        assert table[p.path.name] == wnid_index[p.path.parent.name] == p.label


def test_greyscale_and_rgba_become_rgb(tmp_path):
    arr = _write(tmp_path / "g.png", 20, 30, mode="L")
    rgb = load_rgb(tmp_path / "g.png")
    assert rgb.shape == (3, 20, 30) and rgb.dtype == torch.uint8
    assert torch.equal(rgb[0], torch.from_numpy(arr)) and torch.equal(rgb[1], rgb[2])


def test_unreadable_image_is_one_clear_error(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated nonsense")
    with pytest.raises(DataError, match=f"image {bad}: cannot decode it") as e:
        load_rgb(bad)
    assert "\n" not in str(e.value)


def test_empty_folder_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=f"data folder {tmp_path} holds no image"):
        find_photos(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        find_photos(tmp_path / "missing")


def test_datamodule_splits_by_photo_and_seeds_eval_noise(tmp_path):
    for i in range(6):
        _write(tmp_path / f"p{i}.png", 300, 560, seed=i)
    dm = PhotoPatchDataModule(tmp_path, labels=None, sigma=0.1, test_fraction=0.34, eval_batch_size=3)
    dm.setup()
    s = dm.summary()
    assert s["train_photos"] == 4 and s["test_photos"] == 2 and s["test_patches"] == 4 and s["train_patches"] == 8
    assert dm.test_photos == split_photos(find_photos(tmp_path, labels=None), 0.34, 0)[1]
    b1 = dm.prepare_eval(next(iter(dm.test_dataloader())))
    assert b1["rgb"].dtype == torch.float32 and b1["rgb"].max() <= 1 and b1["raw"].shape == (3, 1, 256, 256)
    # evaluation noise is a function of the patch, not of the batch composition
    one = next(iter(torch.utils.data.DataLoader(dm.test_set, batch_size=1)))
    torch.testing.assert_close(one["raw"][0], b1["raw"][0])
    mean, std = dm.cfa_statistics()
    assert mean.shape == (3,) and (std > 0.1).all()  # noise sigma 0.1 is part of the statistics
