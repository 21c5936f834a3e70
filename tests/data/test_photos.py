import csv

import numpy as np
import pytest
import torch
from PIL import Image

from rawvision.data import (
    DataError,
    PatchDataset,
    PhotoPatchDataModule,
    RandomCropDataset,
    find_photos,
    imagenet_wnids,
    load_rgb,
    patch_origins,
    read_label_csv,
    split_photos,
)


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
    torch.manual_seed(0)
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
    from rawvision.data import Photo

    photos = [Photo(f"p{i}.jpg") for i in range(50)]
    tr, te = split_photos(photos, 0.2, seed=1)
    assert len(te) == 10 and len(tr) == 40 and not set(tr) & set(te)
    assert split_photos(photos, 0.2, seed=1) == (tr, te)
    assert split_photos(photos, 0.2, seed=2)[1] != te


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


def test_datamodule_simulates_raw_and_seeds_eval_noise(tmp_path):
    for i in range(6):
        _write(tmp_path / f"p{i}.png", 300, 560, seed=i)
    dm = PhotoPatchDataModule(tmp_path, labels=None, sigma=0.1, test_fraction=0.34, eval_batch_size=3)
    dm.setup()
    s = dm.summary()
    assert s["train_photos"] == 4 and s["test_photos"] == 2 and s["test_patches"] == 4 and s["train_patches"] == 8
    b1 = dm.simulate(next(iter(dm.test_dataloader())), training=False)
    assert b1["rgb"].dtype == torch.float32 and b1["rgb"].max() <= 1 and b1["raw"].shape == (3, 1, 256, 256)
    # evaluation noise is a function of the patch, not of the batch composition
    one = dm.simulate(next(iter(torch.utils.data.DataLoader(dm.test_patches, batch_size=1))), training=False)
    torch.testing.assert_close(one["raw"][0], b1["raw"][0])
    mean, std = dm.cfa_statistics()
    assert mean.shape == (3,) and (std > 0.1).all()  # noise sigma 0.1 is part of the statistics
