import pytest
import torch

from rawvision.data.pairs import RawPair, split_groups
from rawvision.data.photos import DataError
from rawvision.tasks.classification import PatchDataset, RandomCropDataset, RawPairDataModule
from rawvision.raw import mosaic


def _pair(i: int, group: str, h: int = 64, w: int = 96, pattern: str = "RGGB") -> RawPair:
    g = torch.Generator().manual_seed(i)
    rgb = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)
    raw = mosaic(rgb[None].float() / 255, pattern)[0]
    return RawPair(raw, rgb, pattern, f"f{i}", group)


def test_pair_rejects_misaligned_rgb():
    with pytest.raises(DataError, match="RGB is 30x20 px but its RAW is 32x20"):
        RawPair(torch.zeros(1, 20, 32), torch.zeros(3, 20, 30, dtype=torch.uint8), "RGGB", "x", "x")


def test_split_keeps_source_frames_together():
    pairs = [_pair(i, f"frame{i // 2}") for i in range(10)]  # 5 frames of 2 overlapping crops
    for seed in range(5):
        train, test = split_groups(pairs, 0.4, seed)
        assert {p.group for p in train}.isdisjoint({p.group for p in test})
        assert len({p.group for p in test}) == 2 and len(train) + len(test) == 10
    test_sets = {tuple(sorted({p.group for p in split_groups(pairs, 0.4, seed)[1]})) for seed in range(5)}
    assert len(test_sets) > 1  # the seed changes which frames are held out
    with pytest.raises(DataError, match="at least 2"):
        split_groups([_pair(0, "a"), _pair(1, "a")], 0.3, 0)


def test_patches_are_aligned_crops_at_even_origins():
    p = _pair(0, "a", 70, 100)
    ds = PatchDataset([p.rgb], [-1], 32, raws=[p.raw])
    assert len(ds) == 2 * 3
    for i in range(len(ds)):
        item = ds[i]
        _, y, x = ds.items[i]  # (source, y, x)
        assert y % 2 == 0 and x % 2 == 0
        torch.testing.assert_close(item["raw"], mosaic(item["rgb"][None].float() / 255, "RGGB")[0])
    crops = RandomCropDataset([p.rgb], [-1], 20, 32, seed=0, raws=[p.raw])
    for i in range(20):
        item = crops[(0, i)]  # a crop keeps the CFA phase: its RAW is the mosaic of its RGB with the frame's pattern
        torch.testing.assert_close(item["raw"], mosaic(item["rgb"][None].float() / 255, "RGGB")[0])


def test_datamodule_batches_and_statistics():
    pairs = [_pair(i, f"frame{i}") for i in range(6)]
    dm = RawPairDataModule(pairs=pairs, patch_size=32, test_fraction=0.34, split_seed=1, batch_size=4)
    dm.setup()
    s = dm.summary()
    assert s["train_frames"] == 4 and s["test_frames"] == 2 and s["test_patches_n"] == 2 * 6
    batch = dm.prepare_eval(next(iter(dm.test_dataloader())))
    assert batch["rgb"].dtype == torch.float32 and batch["rgb"].max() <= 1 and batch["raw"].shape[1] == 1
    assert torch.all(batch["label"] == -1)
    mean, std = dm.cfa_statistics()
    assert mean.shape == (3,) and torch.all(std > 0)


def test_datamodule_rejects_mixed_patterns_and_bad_ratio():
    with pytest.raises(DataError, match="different Bayer patterns"):
        RawPairDataModule(pairs=[_pair(0, "a"), _pair(1, "b", pattern="GRBG")], patch_size=32).setup()
    with pytest.raises(DataError, match="exposure ratio must be >= 1"):
        RawPairDataModule(pairs=[_pair(0, "a")], exposure_ratio=0.5)


def test_short_exposure_eval_raw_is_fixed_per_patch_and_train_raw_per_step():
    pairs = [_pair(i, f"frame{i}") for i in range(6)]
    kw = dict(pairs=pairs, patch_size=32, test_fraction=0.34, split_seed=1, exposure_ratio=8.0)
    a, b = RawPairDataModule(eval_batch_size=5, **kw), RawPairDataModule(eval_batch_size=2, **kw)
    ra = torch.cat([a.prepare_eval(x)["raw"] for x in (a.setup() or a.test_dataloader())])
    rb = torch.cat([b.prepare_eval(x)["raw"] for x in (b.setup() or b.test_dataloader())])
    assert torch.equal(ra, rb)  # simulated once at setup, patch i from noise_seed + i: batching does not matter
    clean = RawPairDataModule(pairs=pairs, patch_size=32, test_fraction=0.34, split_seed=1)
    clean.setup()
    rc = torch.cat([x["raw"] for x in clean.test_dataloader()])
    assert ra.shape == rc.shape and not torch.equal(ra, rc)  # the short exposure is noisy and quantised
    assert float((ra * 8 * 1023 / 8).frac().abs().max()) < 1e-3 * 8  # a 10-bit grid, brightened by k
