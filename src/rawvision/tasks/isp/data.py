"""The learned-ISP task's data: RAW/sRGB pairs simulated from photos by Brooks et al.'s unprocessing.

:class:`IspPairDataModule` is the classification task's photo datamodule (same folder, same split by photo, so
its test photos are the classification benchmark's test photos and a learned ISP trained here never saw them),
with ISP defaults: RAW by full unprocessing with a random camera and shot/read noise, training on random
``crop_size`` crops (even offsets, horizontal flips) of the training photos plus unlabelled extra photos (CamVid's
training frames by default), evaluation on the fixed ``patch_size`` patches of the held-out photos. Each
evaluation patch also carries the camera it was simulated with (``wb_gains``, ``cam2rgb``), which the classical
ISP's oracle row uses. Labels are not used.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from rawvision.data.errors import DataError
from rawvision.raw.simulate import simulate_raw
from rawvision.tasks.classification.data import PatchDataset, PhotoPatchDataModule, RandomCropDataset

__all__ = ["IspPairDataModule", "CAMVID_TRAIN_IMAGES"]

#: CamVid's training frames (road scenes; 480x360), extra unlabelled RGB for the ISP (never its test set).
CAMVID_TRAIN_IMAGES = "../shared/data/camvid/train/images"


class _WithCamera(Dataset):
    """Evaluation patches of a :class:`PatchDataset` with the (3,) white-balance gains and (3, 3) CCM of the
    simulated camera of each patch."""

    def __init__(self, ds: PatchDataset, wb_gains: torch.Tensor, cam2rgb: torch.Tensor) -> None:
        self.ds, self.wb_gains, self.cam2rgb = ds, wb_gains, cam2rgb

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, item) -> dict:
        out = self.ds[item]
        i = int(out["index"])
        out["wb_gains"], out["cam2rgb"] = self.wb_gains[i], self.cam2rgb[i]
        return out


class IspPairDataModule(PhotoPatchDataModule):
    """Photos (+ unlabelled extra photos) -> RAW/sRGB pairs for a learned ISP.

    Batches after transfer: ``rgb`` (B, 3, H, W) float sRGB in [0, 1] (the target), ``raw`` (B, 1, H, W) float
    mosaic of ``pattern`` (0 = black, 1 = white level; noise can leave [0, 1]); evaluation batches also hold
    ``wb_gains`` (B, 3) and ``cam2rgb`` (B, 3, 3) of the simulated camera (identity gains and CCM without
    unprocessing). Training crops are ``crop_size`` (default 128: 4x the images per second of 256 crops on a CPU),
    evaluation patches ``patch_size`` (256, the classification benchmark's).

    Args:
        data, test_fraction, val_fraction, split_seed: the photo folder and its split by photo (defaults: the
            classification benchmark's test split; 10 % of the photos for validation).
        extra_data: folders of extra unlabelled training photos (default: CamVid's training frames); photos
            smaller than ``patch_size`` are skipped.
        crop_size: side of the random training crops, even and at most ``patch_size``.
        pattern, unprocess, noise, sigma, clip, exposure_ratio: the RAW simulation (default: Brooks et al.'s
            unprocessing with a random camera and shot/read noise).
        Others: as :class:`~rawvision.tasks.classification.data.PhotoPatchDataModule`.

    Raises:
        DataError: as the photo datamodule; a crop size that is odd or larger than the patch size.
    """

    def __init__(self, data: str | Path | list = "../shared/data/photos", extra_data: list[str] | None = None,
                 crop_size: int = 128, patch_size: int = 256, pattern: str = "RGGB", unprocess: bool = True,
                 noise: str = "shot-read", sigma: float = 0.1, clip: bool = False, exposure_ratio: float = 1.0,
                 test_fraction: float = 0.2, val_fraction: float = 0.1, split_seed: int = 0,
                 eval_split: str = "test", batch_size: int = 16, eval_batch_size: int = 16, num_workers: int = 0,
                 max_photos: int | None = None, noise_seed: int = 12345, seed: int = 0,
                 use_camvid: bool = True) -> None:
        extra = list(extra_data or [])
        if use_camvid and not extra and Path(CAMVID_TRAIN_IMAGES).is_dir():
            extra = [CAMVID_TRAIN_IMAGES]
        super().__init__(data=data, labels=None, pattern=pattern, sigma=sigma, clip=clip, patch_size=patch_size,
                         test_fraction=test_fraction, split_seed=split_seed, eval_split=eval_split,
                         train_draw="random_crops", batch_size=batch_size, eval_batch_size=eval_batch_size,
                         num_workers=num_workers, max_photos=max_photos, noise_seed=noise_seed, seed=seed,
                         val_fraction=val_fraction, extra_data=extra, unprocess=unprocess, noise=noise,
                         exposure_ratio=exposure_ratio)
        self.save_hyperparameters()
        if crop_size <= 0 or crop_size % 2 or crop_size > patch_size:
            raise DataError(f"crop_size must be even, positive and at most patch_size {patch_size}, got {crop_size}")
        self.crop_size = int(crop_size)
        self._cameras: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _eval_raw(self, ds: PatchDataset, rgb_to_raw) -> torch.Tensor:
        """(N, 1, s, s) RAW of every patch (patch i from a generator seeded ``noise_seed + i``, as the
        classification task), keeping each patch's camera for the oracle ISP."""
        raws, wb, ccm = [], [], []
        for i in range(len(ds)):
            g = torch.Generator().manual_seed(self.noise_seed + i)
            sim = simulate_raw(ds[i]["rgb"][None].float().div_(255), self.simulation, g)
            raws.append(sim.raw)
            p = sim.unprocess_params
            wb.append(p.wb_gains if p is not None else torch.ones(1, 3))
            ccm.append(p.cam2rgb if p is not None else torch.eye(3)[None])
        s = self.patch_size
        if not raws:
            self._cameras[id(ds)] = (torch.ones(0, 3), torch.zeros(0, 3, 3))
            return torch.zeros(0, 1, s, s)
        self._cameras[id(ds)] = (torch.cat(wb).float(), torch.cat(ccm).float())
        return torch.cat(raws)

    def train_dataset(self) -> Dataset:
        self.setup("fit")
        ds = self.train_set
        return RandomCropDataset(ds.images, ds.labels, len(ds), self.crop_size, seed=self.seed)

    def with_camera(self, ds: PatchDataset) -> Dataset:
        """``ds`` (the test or validation patches, after :meth:`setup`) with each patch's simulated camera."""
        return _WithCamera(ds, *self._cameras[id(ds)])

    def test_dataloader(self):
        return self.eval_loader(self.with_camera(self.test_set))

    def val_dataloader(self):
        return self.eval_loader(self.with_camera(self.val_set))

    def has_labels(self) -> bool:
        return False

    def summary(self) -> dict:
        return {**super().summary(), "crop_size": self.crop_size, "simulation": self.simulation.to_dict()}

    def simulate_train(self, batch: dict, generator: torch.Generator) -> dict:
        """uint8 RGB crops -> float sRGB in [0, 1] (the target) and the RAW simulated from it on the device."""
        rgb = batch["rgb"].float().div_(255)
        batch["rgb"], batch["raw"] = rgb, simulate_raw(rgb, self.simulation, generator).raw
        return batch
