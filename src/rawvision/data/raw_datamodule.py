"""The LightningDataModule of ISP Distillation on real RAW (paper Sec. IV-B, Table II): RAW/RGB pairs -> patches.

The student reads the RAW patch (optionally made a short exposure on the fly), the teacher the RGB rendering of the
same pixels. There are no human labels: the metrics are agreement with the teacher on the RGB (``label`` = -1).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from rawvision.data.pairs import (
    RawPair,
    pairs_from_folder,
    pairs_from_hdrplus,
    pairs_from_raw_files,
    pairs_from_rgb_folder,
    split_groups,
)
from rawvision.data.datamodule import SimulatingDataModule
from rawvision.data.photos import DataError

__all__ = ["PAIR_SOURCES", "PairPatchDataset", "PairRandomCropDataset", "RawPairDataModule", "load_pairs"]
log = logging.getLogger(__name__)

PAIR_SOURCES = ("raw", "pairs", "hdrplus-merged", "hdrplus-short", "rgb-unprocess", "rgb-mosaic")


def load_pairs(data: str | Path, source: str = "raw") -> list[RawPair]:
    """Pairs from ``data`` read as ``source``:

    ``raw`` RAW files + LibRaw's rendering; ``pairs`` a pair folder; ``hdrplus-merged`` / ``hdrplus-short`` the
    HDR+ burst layout; ``rgb-unprocess`` / ``rgb-mosaic`` synthetic pairs from RGB photos.

    Raises:
        DataError: an unknown source, or what the source's reader raises (one line naming the file).
    """
    if source == "raw":
        return pairs_from_raw_files(data)
    if source == "pairs":
        return pairs_from_folder(data)
    if source in ("hdrplus-merged", "hdrplus-short"):
        return pairs_from_hdrplus(data, frame=source.split("-")[1])
    if source in ("rgb-unprocess", "rgb-mosaic"):
        return pairs_from_rgb_folder(data, unprocess=source == "rgb-unprocess")
    raise DataError(f"unknown pair source {source!r}: expected one of {', '.join(PAIR_SOURCES)}")


class PairPatchDataset(Dataset):
    """Non-overlapping ``size`` x ``size`` patches at even origins of RAW/RGB pairs.

    Items: ``raw`` (1, size, size) float32 in [0, 1], ``rgb`` (3, size, size) uint8, ``label`` -1, ``index`` (the
    patch's position: it seeds the patch's evaluation noise).
    """

    def __init__(self, pairs: list[RawPair], size: int = 256) -> None:
        self.items = [(p, y, x) for p in pairs for y, x in p.patches(size)]
        self.size = size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        p, y, x = self.items[i]
        s = self.size
        return {
            "raw": p.raw[:, y : y + s, x : x + s].contiguous(),
            "rgb": p.rgb[:, y : y + s, x : x + s].contiguous(),
            "label": torch.tensor(-1),
            "index": torch.tensor(i),
        }


class PairRandomCropDataset(Dataset):
    """Random ``size`` crops at even offsets (the CFA phase is kept) of the training pairs; ``length`` per epoch.

    No flips: a mirrored mosaic has another Bayer pattern.
    """

    def __init__(self, pairs: list[RawPair], length: int, size: int = 256) -> None:
        self.pairs = [p for p in pairs if min(p.raw.shape[1:]) >= size]
        if not self.pairs:
            raise DataError(f"no training frame is at least {size}x{size} pixels")
        self.length, self.size = int(length), size

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        p = self.pairs[int(torch.randint(len(self.pairs), ()))]
        s = self.size
        y = 2 * int(torch.randint((p.raw.shape[1] - s) // 2 + 1, ()))
        x = 2 * int(torch.randint((p.raw.shape[2] - s) // 2 + 1, ()))
        return {
            "raw": p.raw[:, y : y + s, x : x + s].contiguous(),
            "rgb": p.rgb[:, y : y + s, x : x + s].contiguous(),
            "label": torch.tensor(-1),
            "index": torch.tensor(-1),
        }


class RawPairDataModule(SimulatingDataModule):
    """RAW/RGB pairs split by source frame, cut into patches; optional short-exposure simulation on the fly.

    Args:
        data: what :func:`load_pairs` reads (ignored when ``pairs`` is given).
        source: one of :data:`PAIR_SOURCES`.
        pairs: pairs already loaded (the benchmark loads the frames once and shares them across seeds).
        patch_size: patch side in pixels (even; paper 256).
        test_fraction: fraction of source frames held out for testing.
        split_seed: seeds the frame split.
        train_draw: ``"patches"`` (the fixed grid) or ``"random_crops"`` (as many random even-offset crops per
            epoch as the grid has patches).
        exposure_ratio: None for the RAW as it is; k > 1 for a short exposure simulated from it
            (:func:`rawvision.raw.noise.simulate_short_exposure`): the signal / k, shot and read noise drawn by
            Brooks et al.'s sampling, quantised at ``bit_depth`` bits, brightened by k again.
        bit_depth: quantisation of the short exposure (bits of the sensor's white level).
        noise_seed: seeds each test patch's short-exposure noise and noise levels (``noise_seed + index``).

    Raises:
        DataError: no frame, frames with different Bayer patterns, no patch in a split.
    """

    def __init__(
        self,
        data: str | Path | None = None,
        source: str = "raw",
        pairs: list[RawPair] | None = None,
        patch_size: int = 256,
        test_fraction: float = 0.3,
        split_seed: int = 0,
        train_draw: str = "patches",
        exposure_ratio: float | None = None,
        bit_depth: int = 10,
        batch_size: int = 16,
        eval_batch_size: int = 32,
        num_workers: int = 0,
        noise_seed: int = 12345,
    ) -> None:
        super().__init__()
        if train_draw not in ("patches", "random_crops"):
            raise DataError(f"train_draw must be 'patches' or 'random_crops', got {train_draw!r}")
        if exposure_ratio is not None and not float(exposure_ratio) >= 1:
            raise DataError(f"exposure ratio must be >= 1 (long / short exposure), got {exposure_ratio}")
        if pairs is None and data is None:
            raise DataError("RawPairDataModule needs data (a path) or pairs")
        self.data, self.source, self._pairs = data, source, pairs
        self.patch_size, self.test_fraction, self.split_seed = patch_size, test_fraction, split_seed
        self.train_draw, self.exposure_ratio, self.bit_depth = train_draw, exposure_ratio, bit_depth
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.noise_seed = noise_seed
        self._ready = False

    @property
    def pattern(self) -> str:
        pats = {p.pattern for p in self._load()}
        if len(pats) != 1:
            raise DataError(f"frames have different Bayer patterns {sorted(pats)}: one student reads one pattern")
        return pats.pop()

    def _load(self) -> list[RawPair]:
        if self._pairs is None:
            self._pairs = load_pairs(self.data, self.source)
        if not self._pairs:
            raise DataError(f"{self.data}: no RAW/RGB pair")
        return self._pairs

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        pairs = self._load()
        _ = self.pattern
        self.train_pairs, self.test_pairs = split_groups(pairs, self.test_fraction, self.split_seed)
        self.train_patches = PairPatchDataset(self.train_pairs, self.patch_size)
        self.test_patches = PairPatchDataset(self.test_pairs, self.patch_size)
        if len(self.train_patches) == 0 or (self.test_fraction > 0 and len(self.test_patches) == 0):
            raise DataError(
                f"{len(pairs)} frames give {len(self.train_patches)} train and {len(self.test_patches)} test patches "
                f"of {self.patch_size}px; need at least one each"
            )
        self._ready = True
        log.info("%s", self.summary())

    def summary(self) -> dict:
        """Counts of frames and patches of the split, and the simulation (after :meth:`setup`)."""
        return {
            "train_frames": len({p.group for p in self.train_pairs}),
            "test_frames": len({p.group for p in self.test_pairs}),
            "train_patches_n": len(self.train_patches),
            "test_patches_n": len(self.test_patches),
            "test_groups": sorted({p.group.split("/")[-1] for p in self.test_pairs}),
            "exposure_ratio": self.exposure_ratio,
        }

    def train_dataset(self) -> Dataset:
        if self.train_draw == "patches":
            return self.train_patches
        return PairRandomCropDataset(self.train_pairs, len(self.train_patches), self.patch_size)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_dataset(), batch_size=self.batch_size, shuffle=True,
                          num_workers=self.num_workers, drop_last=len(self.train_patches) > self.batch_size)

    def simulate(self, batch: dict, training: bool) -> dict:
        """uint8 RGB -> float [0, 1]; RAW -> its short exposure when ``exposure_ratio`` is set (in place)."""
        batch["rgb"] = batch["rgb"].float().div_(255)
        if self.exposure_ratio is None:
            return batch
        from rawvision.raw.noise import random_noise_levels, simulate_short_exposure

        raw = batch["raw"]
        if training:
            shot, read = random_noise_levels(raw.shape[0], device=raw.device)
            batch["raw"] = simulate_short_exposure(raw, self.exposure_ratio, shot, read, bit_depth=self.bit_depth)
        else:  # per-patch seeded levels and noise: identical test RAW for every method and batch size
            outs = []
            for i in range(raw.shape[0]):
                g = torch.Generator(raw.device).manual_seed(self.noise_seed + int(batch["index"][i]))
                shot, read = random_noise_levels(1, generator=g, device=raw.device)
                outs.append(simulate_short_exposure(raw[i : i + 1], self.exposure_ratio, shot, read,
                                                    bit_depth=self.bit_depth, generator=g))
            batch["raw"] = torch.cat(outs)
        return batch
