import pytest
import torch

from rawvision.data.pairs import RawPair, split_groups
from rawvision.data.photos import DataError
from rawvision.data.raw_datamodule import PairPatchDataset, PairRandomCropDataset, RawPairDataModule
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
    ds = PairPatchDataset([p], 32)
    assert len(ds) == 2 * 3
    for i in range(len(ds)):
        item = ds[i]
        _, y, x = ds.items[i]
        assert y % 2 == 0 and x % 2 == 0
        torch.testing.assert_close(item["raw"], mosaic(item["rgb"][None].float() / 255, "RGGB")[0])
    crops = PairRandomCropDataset([p], 20, 32)
    for i in range(20):
        item = crops[i]  # a crop keeps the CFA phase: its RAW is the mosaic of its RGB with the frame's pattern
        torch.testing.assert_close(item["raw"], mosaic(item["rgb"][None].float() / 255, "RGGB")[0])


def test_datamodule_batches_and_statistics():
    pairs = [_pair(i, f"frame{i}") for i in range(6)]
    dm = RawPairDataModule(pairs=pairs, patch_size=32, test_fraction=0.34, split_seed=1, batch_size=4)
    dm.setup()
    s = dm.summary()
    assert s["train_frames"] == 4 and s["test_frames"] == 2 and s["test_patches_n"] == 2 * 6
    batch = dm.simulate(next(iter(dm.test_dataloader())), training=False)
    assert batch["rgb"].dtype == torch.float32 and batch["rgb"].max() <= 1 and batch["raw"].shape[1] == 1
    assert torch.all(batch["label"] == -1)
    mean, std = dm.cfa_statistics()
    assert mean.shape == (3,) and torch.all(std > 0)


def test_datamodule_rejects_mixed_patterns_and_bad_ratio():
    with pytest.raises(DataError, match="different Bayer patterns"):
        RawPairDataModule(pairs=[_pair(0, "a"), _pair(1, "b", pattern="GRBG")], patch_size=32).setup()
    with pytest.raises(DataError, match="exposure ratio must be >= 1"):
        RawPairDataModule(pairs=[_pair(0, "a")], exposure_ratio=0.5)
