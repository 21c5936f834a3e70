"""The segmentation task's data: frames + per-pixel label maps -> RAW simulated on the batch's device.

:class:`SegmentationDataModule` reads CamVid's layout (``../shared/data/camvid``: ``train/`` and ``val/`` with
``images/`` and ``labels/``) or any folder of that layout with a class list. Training draws random crops at even
offsets with horizontal flips (and an optional rescale), identical on the frame and its labels, from
``(seed, epoch, index)``; the RAW is simulated after the batch reaches its device (one generator per step seeded
by ``(seed, step, rank)``). Evaluation scores full frames; their RAW is simulated once, at ``setup``, frame i from
a generator seeded ``noise_seed + i``, so every method, batch size, device and rank count sees the same RAW.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.data import Dataset

from rawvision.data.errors import DataError
from rawvision.data.sampling import seeded_generator, split_index
from rawvision.data.segmentation import ClassList, find_frames, load_class_list, load_frames, random_crop_flip
from rawvision.raw.normalize import CFAStatistics
from rawvision.raw.simulate import RawSimulation, simulate_raw
from rawvision.tasks.base import RawDataModule

__all__ = ["SegmentationCropDataset", "SegmentationDataModule", "SegmentationFrameDataset"]
log = logging.getLogger(__name__)


class SegmentationCropDataset(Dataset):
    """Random crops of training frames, ``length`` per epoch (default: one per frame); item ``(epoch, i)`` is the
    crop of frame ``i mod N`` drawn from ``(seed, epoch, i)`` by :func:`random_crop_flip`.

    Items: ``rgb`` (3, h, w) uint8, ``label`` (h, w) uint8 (void as the class list's void index), ``index`` -1.
    """

    def __init__(self, images: list[torch.Tensor], labels: list[torch.Tensor], crop_size: tuple[int, int],
                 seed: int = 0, flip: bool = True, scale_range: tuple[float, float] = (1.0, 1.0),
                 void_index: int = 255, length: int | None = None) -> None:
        self.images, self.labels = images, labels
        self.crop_size, self.seed, self.flip = tuple(int(v) for v in crop_size), int(seed), bool(flip)
        self.scale_range, self.void_index = tuple(float(v) for v in scale_range), int(void_index)
        self.length = len(images) if length is None else int(length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item) -> dict:
        epoch, i = split_index(item)
        g = seeded_generator(self.seed, -1 if epoch is None else epoch, i)
        k = i % len(self.images)
        img, lab = random_crop_flip(self.images[k], self.labels[k], self.crop_size, g, flip=self.flip,
                                    scale_range=self.scale_range, void_index=self.void_index)
        return {"rgb": img, "label": lab, "index": torch.tensor(-1)}


class SegmentationFrameDataset(Dataset):
    """Full frames with their labels and, once :meth:`set_raw` was called, their (1, H, W) float32 RAW."""

    def __init__(self, images: list[torch.Tensor], labels: list[torch.Tensor]) -> None:
        self.images, self.labels = images, labels
        self.raws: list[torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def set_raw(self, raws: list[torch.Tensor]) -> None:
        if len(raws) != len(self.images):
            raise ValueError(f"{len(raws)} RAW frames for {len(self.images)} frames")
        self.raws = raws

    def __getitem__(self, item) -> dict:
        _, i = split_index(item)
        out = {"rgb": self.images[i], "label": self.labels[i], "index": torch.tensor(i)}
        if self.raws is not None:
            out["raw"] = self.raws[i]
        return out


class SegmentationDataModule(RawDataModule):
    """Frames + label maps -> crops (training) / full frames (evaluation) -> RAW on the device.

    Batches after transfer: ``rgb`` (B, 3, H, W) float in [0, 1] (the teacher's clean input), ``raw``
    (B, 1, H, W) float (0 = black, 1 = white level; Gaussian noise can leave the range), ``label`` (B, H, W) int64
    (class indices, the void index where unlabelled).

    RAW: :func:`rawvision.raw.simulate_raw` with ``RawSimulation(pattern, sigma, clip, unprocess, noise,
    exposure_ratio)``: by default the paper's Table I setting (RGGB mosaic of the sRGB values + Gaussian sigma
    0.1); the short exposure is ``unprocess=True, noise="shot-read", exposure_ratio=8`` (Brooks et al.'s
    unprocessing with a random camera, shot/read noise of an 8x shorter exposure, 10-bit ADC, brightened back).

    Args:
        data: root folder with ``train/`` and the evaluation split's folder, each with ``images/`` + ``labels/``.
        classes: ``"camvid"`` or a text file of class names; void_index: the label value to ignore (default: the
            number of classes, CamVid's 11).
        train_split, eval_split: sub-folders of ``data`` (CamVid: ``train``, ``val``). ``eval_split="all"`` scores
            the frames of ``data`` itself (a folder with ``images/`` + ``labels/``, for ``rawvision evaluate``).
        crop_size: (h, w) of the training crops, both even; scale_range: random rescale before the crop (1, 1:
            none); flip: random horizontal flips.
        pattern, sigma, clip, unprocess, noise, exposure_ratio: the RAW simulation (:class:`RawSimulation`).
        batch_size, eval_batch_size, num_workers: loaders (frames of different sizes are evaluated one by one).
        max_frames: use only the first N frames of each split (quick runs and tests).
        noise_seed: base seed of the evaluation noise; seed: training order, crops and noise.

    Raises:
        DataError: a missing folder, a frame without a label file, a label map of another size, out-of-range
            label values, an RGB label PNG, a bad option (one line naming the file or value).
    """

    def __init__(self, data: str = "../shared/data/camvid", classes: str = "camvid", void_index: int | None = None,
                 train_split: str = "train", eval_split: str = "val", crop_size: list[int] = (256, 256),
                 scale_range: list[float] = (1.0, 1.0), flip: bool = True, pattern: str = "RGGB",
                 sigma: float = 0.1, clip: bool = False, unprocess: bool = False, noise: str = "gaussian",
                 exposure_ratio: float = 1.0, batch_size: int = 8, eval_batch_size: int = 4, num_workers: int = 0,
                 max_frames: int | None = None, noise_seed: int = 12345, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.data, self.train_split, self.eval_split = str(data), train_split, eval_split
        self.class_list: ClassList = load_class_list(classes, void_index)
        self.simulation = RawSimulation(pattern=pattern, sigma=sigma, clip=clip, unprocess=unprocess, noise=noise,
                                        exposure_ratio=exposure_ratio)
        if len(crop_size) != 2 or any(int(v) <= 0 or int(v) % 2 for v in crop_size):
            raise DataError(f"crop_size must be two even positive sizes (h, w), got {list(crop_size)}")
        if len(scale_range) != 2 or not 0 < float(scale_range[0]) <= float(scale_range[1]):
            raise DataError(f"scale_range must be two sizes 0 < lo <= hi, got {list(scale_range)}")
        self.crop_size, self.scale_range, self.flip = tuple(map(int, crop_size)), tuple(map(float, scale_range)), flip
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.max_frames, self.noise_seed, self.seed = max_frames, noise_seed, seed
        self._ready = False

    # -- facts the module takes from the data ----------------------------------------------------------------
    @property
    def pattern(self) -> str:
        return self.simulation.pattern

    @property
    def num_classes(self) -> int:
        return self.class_list.num_classes

    @property
    def class_names(self) -> list[str]:
        return list(self.class_list.names)

    @property
    def void(self) -> int:
        return self.class_list.void_index

    # -- set-up ------------------------------------------------------------------------------------------------
    def _frames(self, split: str | None):
        if split is None:  # the folder itself holds images/ + labels/
            root, sub = Path(self.data).parent, Path(self.data).name
        else:
            root, sub = Path(self.data), split
        frames = find_frames(root, sub)[: self.max_frames]
        return frames, load_frames(frames, self.class_list)

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        if self.eval_split == "all":
            self.train_frames, (tr_img, tr_lab) = [], ([], [])
            self.eval_frames, (ev_img, ev_lab) = self._frames(None)
        else:
            self.train_frames, (tr_img, tr_lab) = self._frames(self.train_split)
            self.eval_frames, (ev_img, ev_lab) = self._frames(self.eval_split)
        self.train_images, self.train_labels = tr_img, tr_lab
        self.eval_set = SegmentationFrameDataset(ev_img, ev_lab)
        self.eval_set.set_raw(self._eval_raw(ev_img))
        self._ready = True
        log.info("%s", self.summary())

    def _eval_raw(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        """(1, H, W) float32 RAW of each frame, frame i's draws from ``noise_seed + i`` (once, at setup)."""
        out = []
        for i, img in enumerate(images):
            g = torch.Generator().manual_seed(self.noise_seed + i)
            out.append(simulate_raw(img[None].float().div_(255), self.simulation, g).raw[0])
        return out

    def summary(self) -> dict:
        """Frame counts, crop, the simulation and the classes (after :meth:`setup`)."""
        return {"train_frames": len(self.train_frames), "eval_frames": len(self.eval_frames),
                "eval_split": self.eval_split, "crop_size": list(self.crop_size),
                "simulation": self.simulation.to_dict(), "num_classes": self.num_classes, "void_index": self.void}

    # -- loaders -----------------------------------------------------------------------------------------------
    def train_dataset(self) -> SegmentationCropDataset:
        self.setup("fit")
        if not self.train_images:
            raise DataError(f"segmentation data {self.data}: no training frame (eval_split='all' scores a folder)")
        return SegmentationCropDataset(self.train_images, self.train_labels, self.crop_size, seed=self.seed,
                                       flip=self.flip, scale_range=self.scale_range, void_index=self.void)

    def train_dataloader(self):
        return self.train_loader(self.train_dataset())

    def _eval_loader(self):
        sizes = {tuple(im.shape) for im in self.eval_set.images}
        if len(sizes) > 1 and self.eval_batch_size > 1:
            self.eval_batch_size = 1  # frames of different sizes do not stack
        return self.eval_loader(self.eval_set)

    def test_dataloader(self):
        return self._eval_loader()

    def val_dataloader(self):
        return self._eval_loader()

    def has_labels(self) -> bool:
        return True

    def has_val(self) -> bool:
        """The evaluation split *is* the validation split here (CamVid's ``val``: the standard ``test`` split is
        not in the shared folder), so no second validation pass is run."""
        return False

    def cfa_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-CFA-site (R, G, B) mean and std of the training frames' RAW (full frames, seeded noise as for
        evaluation), computed once per datamodule."""
        if getattr(self, "_cfa_stats", None) is None:
            self.setup("fit")
            if not self.train_images:
                raise DataError(f"segmentation data {self.data}: no training frame for the per-CFA statistics "
                                f"(eval_split='all' only scores a folder)")
            stats = CFAStatistics(self.pattern)
            for i, img in enumerate(self.train_images):
                g = torch.Generator().manual_seed(self.noise_seed + 1_000_000 + i)
                stats.update(simulate_raw(img[None].float().div_(255), self.simulation, g).raw)
            self._cfa_stats = stats.compute()
        mean, std = self._cfa_stats
        return mean.clone(), std.clone()

    # -- RAW on the device -------------------------------------------------------------------------------------
    def simulate_train(self, batch: dict, generator: torch.Generator) -> dict:
        """uint8 RGB -> float RGB in [0, 1] and the RAW simulated from it; labels to int64."""
        rgb = batch["rgb"].float().div_(255)
        batch["rgb"], batch["raw"] = rgb, simulate_raw(rgb, self.simulation, generator).raw
        batch["label"] = batch["label"].long()
        return batch

    def prepare_eval(self, batch: dict) -> dict:
        batch["rgb"] = batch["rgb"].float().div_(255)
        batch["label"] = batch["label"].long()
        return batch
