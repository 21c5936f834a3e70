"""The LightningDataModule of the classification benchmark: photos -> patches -> simulated RAW on the fly."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from rawvision.data.photos import DataError, Photo, find_photos, load_rgb, patch_origins, split_photos
from rawvision.raw.normalize import CFAStatistics
from rawvision.raw.simulate import RawSimulator

__all__ = ["PatchDataset", "RandomCropDataset", "PhotoPatchDataModule", "SimulatingDataModule"]
log = logging.getLogger(__name__)


class PatchDataset(Dataset):
    """Non-overlapping ``size`` x ``size`` patches of photos, at even origins (see :func:`patch_origins`).

    Items are dicts: ``rgb`` (3, size, size) uint8, ``label`` int64 (-1 unlabelled), ``index`` int64 (the patch's
    position, used to seed its evaluation noise).
    """

    def __init__(self, images: list[torch.Tensor], labels: list[int], size: int = 256) -> None:
        self.items = []
        for img, label in zip(images, labels):
            for y, x in patch_origins(img.shape[1], img.shape[2], size):
                self.items.append((img[:, y : y + size, x : x + size].contiguous(), label))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        rgb, label = self.items[i]
        return {"rgb": rgb, "label": torch.tensor(label), "index": torch.tensor(i)}


class RandomCropDataset(Dataset):
    """Random ``size`` x ``size`` crops at even offsets, with random horizontal flips, of the training photos.

    An "epoch" is ``length`` crops, drawn anew each time (photos chosen uniformly; only photos that hold a full
    crop are used). Distillation needs no labels, so this draws more varied training views from few photos; the
    crops are taken on the RGB side, before the RAW simulation, and the teacher sees the same crop.
    """

    def __init__(self, images: list[torch.Tensor], labels: list[int], length: int, size: int = 256) -> None:
        keep = [(im, lb) for im, lb in zip(images, labels) if im.shape[1] >= size and im.shape[2] >= size]
        if not keep:
            raise DataError(f"no training photo is at least {size}x{size} pixels")
        self.images, self.labels = zip(*keep)
        self.length, self.size = int(length), size

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        k = int(torch.randint(len(self.images), ()))
        img, s = self.images[k], self.size
        y = 2 * int(torch.randint((img.shape[1] - s) // 2 + 1, ()))
        x = 2 * int(torch.randint((img.shape[2] - s) // 2 + 1, ()))
        crop = img[:, y : y + s, x : x + s]
        if bool(torch.rand(()) < 0.5):
            crop = crop.flip(-1)
        return {"rgb": crop.contiguous(), "label": torch.tensor(self.labels[k]), "index": torch.tensor(-1)}


class SimulatingDataModule(L.LightningDataModule):
    """What the patch datamodules share: evaluation loaders over ``test_patches``, the batch's RAW made on the
    device (``simulate(batch, training)``, defined by the subclass) and the per-CFA-site statistics of the training
    RAW. Subclasses set ``train_patches``, ``test_patches``, ``eval_batch_size``, ``num_workers`` and ``pattern``."""

    def _eval_loader(self, ds: Dataset) -> DataLoader:
        return DataLoader(ds, batch_size=self.eval_batch_size, shuffle=False, num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.test_patches)

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.test_patches)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        training = self.trainer is not None and self.trainer.training
        return self.simulate(batch, training)

    def cfa_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-CFA-site (R, G, B) mean and std of the training RAW (fixed patches, seeded evaluation noise)."""
        stats = CFAStatistics(self.pattern)
        for batch in self._eval_loader(self.train_patches):
            stats.update(self.simulate(batch, training=False)["raw"])
        return stats.compute()


class PhotoPatchDataModule(SimulatingDataModule):
    """Photos -> split by photo -> 256x256 RGB patches -> RAW simulated on the fly on the batch's device.

    The test set is all non-overlapping patches of the test photos (paper Table I protocol; the confidence filter
    of Table II is applied by the metrics). Training draws either the fixed patches of the training photos
    (``train_draw="patches"``) or random even-offset crops with flips (``"random_crops"``, as many per epoch as
    there are training patches). Photos are decoded once and kept in memory as uint8.

    The RAW is simulated in :meth:`on_after_batch_transfer`: a Bayer mosaic with Gaussian noise
    (:class:`~rawvision.raw.RawSimulator`). Training noise is drawn from the global RNG (seed it with
    ``lightning.seed_everything``); evaluation noise is seeded per patch (``noise_seed + index``), so every method
    is evaluated on the very same noisy RAW.

    Batches after transfer: ``rgb`` (B, 3, H, W) float in [0, 1], ``raw`` (B, 1, H, W) float, ``label`` (B,) int64.

    Args:
        data_dir: folder of photos (see :func:`~rawvision.data.find_photos`).
        labels: label CSV, ``"auto"`` or None.
        pattern, sigma, clip: the RAW simulation.
        patch_size: patch side in pixels (even).
        test_fraction, split_seed: the split by photo.
        train_draw: ``"patches"`` or ``"random_crops"``.
        batch_size, eval_batch_size, num_workers: loaders.
        max_photos: use only the first N photos (quick runs and tests).
        noise_seed: base seed of the evaluation noise.

    Raises:
        DataError: unreadable image, empty folder, no patch in the train or test split.
    """

    def __init__(
        self,
        data_dir: str | Path,
        labels: str | Path | None = "auto",
        pattern: str = "RGGB",
        sigma: float = 0.1,
        clip: bool = False,
        patch_size: int = 256,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        train_draw: str = "patches",
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 0,
        max_photos: int | None = None,
        noise_seed: int = 12345,
    ) -> None:
        super().__init__()
        if train_draw not in ("patches", "random_crops"):
            raise ValueError(f"train_draw must be 'patches' or 'random_crops', got {train_draw!r}")
        self.data_dir, self.labels = data_dir, labels
        self.simulator = RawSimulator(pattern, sigma, clip)
        self.patch_size, self.test_fraction, self.split_seed = patch_size, test_fraction, split_seed
        self.train_draw, self.batch_size, self.eval_batch_size = train_draw, batch_size, eval_batch_size
        self.num_workers, self.max_photos, self.noise_seed = num_workers, max_photos, noise_seed
        self._images: dict[Path, torch.Tensor] | None = None
        self.train_photos: list[Photo] = []
        self.test_photos: list[Photo] = []

    @property
    def pattern(self) -> str:
        return self.simulator.pattern

    def setup(self, stage: str | None = None) -> None:
        if self._images is not None:
            return
        photos = find_photos(self.data_dir, self.labels, self.max_photos)
        self._images = {p.path: load_rgb(p.path) for p in photos}
        s = self.patch_size
        small = [p for p in photos if min(self._images[p.path].shape[1:]) < s]
        usable = [p for p in photos if p not in small]
        self.train_photos, self.test_photos = split_photos(usable, self.test_fraction, self.split_seed)
        self.n_small_photos = len(small)
        self.train_patches = self._patches(self.train_photos)
        self.test_patches = self._patches(self.test_photos)
        if len(self.train_patches) == 0 or (self.test_fraction > 0 and len(self.test_patches) == 0):
            raise DataError(
                f"data folder {self.data_dir}: {len(usable)} photos of at least {s}x{s} px give "
                f"{len(self.train_patches)} train and {len(self.test_patches)} test patches; need at least one each"
            )
        log.info(
            "%d photos (%d smaller than %dpx skipped): %d train photos / %d patches, %d test photos / %d patches",
            len(photos), len(small), s, len(self.train_photos), len(self.train_patches), len(self.test_photos),
            len(self.test_patches),
        )

    def _patches(self, photos: list[Photo]) -> PatchDataset:
        return PatchDataset([self._images[p.path] for p in photos], [p.label for p in photos], self.patch_size)

    def summary(self) -> dict:
        """Counts of photos and patches of the split (after :meth:`setup`)."""
        return {
            "train_photos": len(self.train_photos),
            "train_patches": len(self.train_patches),
            "test_photos": len(self.test_photos),
            "test_patches": len(self.test_patches),
            "skipped_small_photos": self.n_small_photos,
            "train_draw": self.train_draw,
        }

    def train_dataset(self) -> Dataset:
        if self.train_draw == "patches":
            return self.train_patches
        imgs = [self._images[p.path] for p in self.train_photos]
        return RandomCropDataset(imgs, [p.label for p in self.train_photos], len(self.train_patches), self.patch_size)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_dataset(), batch_size=self.batch_size, shuffle=True, drop_last=True,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
        )

    def simulate(self, batch: dict, training: bool) -> dict:
        """uint8 RGB -> float RGB in [0, 1] and its simulated RAW (in place on the batch dict)."""
        rgb = batch["rgb"].float().div_(255)
        if training:
            raw = self.simulator(rgb)
        else:  # per-patch seeded noise: identical RAW for every method, batch size and device order
            raw = torch.cat(
                [
                    self.simulator(
                        rgb[i : i + 1],
                        generator=torch.Generator(rgb.device).manual_seed(self.noise_seed + int(batch["index"][i])),
                    )
                    for i in range(rgb.shape[0])
                ]
            )
        batch["rgb"], batch["raw"] = rgb, raw
        return batch
