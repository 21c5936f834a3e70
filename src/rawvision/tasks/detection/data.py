"""The detection task's LightningDataModule: a COCO set of sRGB images -> simulated RAW on the device.

Images and boxes come from COCO JSON files (:func:`rawvision.data.coco.load_coco`), by default the paste-object set
of :func:`rawvision.data.paste_objects.build_paste_set` (built from ``../shared/data/photos`` by ``prepare_data``,
on rank 0 only, when ``root`` holds no ``train.json``). Training batches are turned into RAW after they reach the
device by :func:`rawvision.raw.simulate_raw` (Brooks et al. unprocessing + shot/read noise, or an 8x shorter,
unbrightened exposure for low light; one generator per step seeded by ``(seed, step, rank)``) and demosaiced
bilinearly: the 3-channel RAW a TA-ISP front end reads. Flips are drawn from ``(seed, epoch, index)``. The
validation RAW is simulated once, at ``setup``, image by image from a generator seeded by ``(seed, image id)``, so
every model and every epoch is evaluated on the same RAW, whatever the batching or the number of ranks.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from rawvision.data.coco import CocoDetection, hflip_detection
from rawvision.data.photos import DataError
from rawvision.data.sampling import seeded_generator, split_index
from rawvision.raw.demosaic import demosaic
from rawvision.raw.simulate import RawSimulation, simulate_raw
from rawvision.tasks.base import RawDataModule

__all__ = ["DETECTION_INPUTS", "RawDetectionDataModule", "detection_collate"]

#: What the detector (or its front end) reads: the demosaiced RAW, or the sRGB images themselves (a reference
#: row: the detector on the photos the RAW was simulated from).
DETECTION_INPUTS = ("raw", "rgb")


def detection_collate(batch: list[tuple[torch.Tensor, dict]]) -> tuple[list[torch.Tensor], list[dict]]:
    """``[(image, target), ...]`` -> ``([image, ...], [target, ...])`` (images may differ in size)."""
    images, targets = zip(*batch)
    return list(images), list(targets)


class _FlippedTrainSet(Dataset):
    """Training items of a :class:`CocoDetection`, mirrored left-right with p = 0.5 drawn from
    ``(seed, epoch, index)`` (before the RAW simulation: a mirrored mosaic would have another Bayer pattern)."""

    def __init__(self, base: CocoDetection, seed: int, flip: bool) -> None:
        self.base, self.seed, self.flip = base, int(seed), bool(flip)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, item):
        epoch, i = split_index(item)
        image, target = self.base[i]
        if self.flip and bool(torch.rand((), generator=seeded_generator(self.seed, -1 if epoch is None else epoch, i)) < 0.5):
            image, target = hflip_detection(image, target)
        return image, target


class _ValSet(Dataset):
    """Validation items with their RAW mosaic, simulated once (``raws[i]``: (1, H, W) float32), or the sRGB."""

    def __init__(self, base: CocoDetection, raws: list[torch.Tensor] | None) -> None:
        self.base, self.raws = base, raws

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        image, target = self.base[i]
        return (image if self.raws is None else self.raws[i]), target


class RawDetectionDataModule(RawDataModule):
    """COCO detection images simulated to RAW (normal or low light), for torchvision detectors.

    Batches, after :meth:`on_after_batch_transfer`: ``(images, targets)``; ``images`` a list of (3, H, W) float32
    tensors in [0, 1] on the device (``input="raw"``: the bilinear demosaic of the simulated Bayer mosaic, camera
    RGB, 0 = black level, 1 = white level; ``input="rgb"``: the sRGB images / 255), ``targets`` a list of dicts
    (``boxes`` (N, 4) float ``[x1, y1, x2, y2]`` pixels, ``labels`` (N,) int64 in 1..C, ``image_id``, crowd boxes).

    Args:
        root: folder with ``train.json`` and ``val.json`` (COCO; ``file_name`` relative to ``root``).
        photos: a labelled photo folder (``../shared/data/photos``) to build the paste-object set into ``root``
            with :func:`build_paste_set` when ``root/train.json`` is missing; None: the files must exist.
        input: ``"raw"`` or ``"rgb"`` (see above).
        low_light: simulate the 8x shorter, unbrightened exposure.
        pattern: Bayer pattern of the simulated sensor.
        batch_size, eval_batch_size: images per training / evaluation batch.
        seed: seeds the RAW draws, flips and the training order.
        flip: random horizontal flips of the training images (p = 0.5, before the RAW simulation).
        num_workers: DataLoader workers (images are decoded with Pillow).
        max_train_images, max_val_images: use only the first N images of each split (quick runs, tests).
        build_kwargs: passed to :func:`build_paste_set` (e.g. ``n_images``, ``size``).

    Raises:
        DataError: a missing or malformed COCO file or image (one line naming it), ``input`` not in
            :data:`DETECTION_INPUTS`.
        ValueError: an unknown Bayer pattern.
    """

    collate_fn = staticmethod(detection_collate)

    def __init__(self, root: str = "runs/paste_set", photos: str | None = "../shared/data/photos", input: str = "raw",
                 low_light: bool = False, pattern: str = "RGGB", batch_size: int = 8, eval_batch_size: int = 16,
                 seed: int = 0, flip: bool = True, num_workers: int = 0, max_train_images: int | None = None,
                 max_val_images: int | None = None, build_kwargs: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        if input not in DETECTION_INPUTS:
            raise DataError(f"unknown detection input {input!r}: expected one of {', '.join(DETECTION_INPUTS)}")
        self.root = Path(root)
        self.photos = None if photos is None else Path(photos)
        self.input, self.low_light = input, bool(low_light)
        self.simulation = RawSimulation(pattern=pattern, unprocess=True, noise="shot-read", clip=True,
                                        exposure_ratio=8.0 if low_light else 1.0, brighten=False, bit_depth=10)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.seed, self.flip, self.num_workers = int(seed), bool(flip), int(num_workers)
        self.max_train_images, self.max_val_images = max_train_images, max_val_images
        self.build_kwargs = dict(build_kwargs or {})
        self.train_set: CocoDetection | None = None
        self.val_set: CocoDetection | None = None

    @property
    def pattern(self) -> str:
        return self.simulation.pattern

    def _have_files(self) -> bool:
        return (self.root / "train.json").is_file() and (self.root / "val.json").is_file()

    def prepare_data(self) -> None:
        """Build the paste-object set into ``root`` if it is not there (Lightning runs this on rank 0 only)."""
        if self._have_files():
            return
        if self.photos is None:
            raise DataError(f"{self.root} has no train.json/val.json and no photo folder was given to build the "
                            f"paste-object set from")
        from rawvision.data.paste_objects import build_paste_set

        build_paste_set(self.photos, self.root, **self.build_kwargs)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if not self._have_files():
            if getattr(self, "trainer", None) is not None:  # the Trainer ran prepare_data on rank 0 already
                raise DataError(f"{self.root} has no train.json/val.json")
            self.prepare_data()  # used outside a Trainer (a single process)
        self.train_set = CocoDetection(self.root / "train.json")
        self.val_set = CocoDetection(self.root / "val.json")
        for ds, n in ((self.train_set, self.max_train_images), (self.val_set, self.max_val_images)):
            if n is not None:
                ds.coco.images = ds.coco.images[: int(n)]
        if self.train_set.category_ids != self.val_set.category_ids:
            raise DataError(f"{self.root}: train.json and val.json have different categories "
                            f"({self.train_set.category_ids} vs {self.val_set.category_ids})")
        self._val_raws = self._simulate_val() if self.input == "raw" else None

    def _simulate_val(self) -> list[torch.Tensor]:
        """Each validation image's mosaic (1, H, W), from a generator seeded by ``(seed, image id)`` (a loop over
        the images once per set, at setup)."""
        out = []
        for i in range(len(self.val_set)):
            image, target = self.val_set[i]
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(target["image_id"]))
            out.append(simulate_raw(image[None].float() / 255.0, self.simulation, g).raw[0])
        return out

    @property
    def num_classes(self) -> int:
        """C, the number of object categories (labels 1..C)."""
        self.setup()
        return self.train_set.num_classes

    def summary(self) -> str:
        self.setup()
        # boxes of the images in use (max_*_images may cut the sets)
        tr, va = (sum(len(ds.coco.annotations_of(im.id)) for im in ds.coco.images)
                  for ds in (self.train_set, self.val_set))
        light = "low light (1/8 exposure, not brightened)" if self.low_light else "normal light"
        what = f"RAW ({self.pattern}, {light}, bilinear demosaic)" if self.input == "raw" else "sRGB (no RAW)"
        return (f"{self.root}: {self.num_classes} classes, train {len(self.train_set)} images / "
                f"{tr} boxes, val {len(self.val_set)} images / {va} boxes; input {what}")

    def train_dataloader(self):
        return self.train_loader(_FlippedTrainSet(self.train_set, self.seed, self.flip))

    def val_dataloader(self):
        return self.eval_loader(_ValSet(self.val_set, self._val_raws))

    def test_dataloader(self):
        return self.val_dataloader()

    def _by_shape(self, images: list[torch.Tensor], fn) -> list[torch.Tensor]:
        """``fn`` applied to each stack of equal-size images (one batched call per size), results in list order."""
        out: list[torch.Tensor | None] = [None] * len(images)
        groups: dict[tuple, list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(tuple(im.shape), []).append(i)
        for idx in groups.values():
            for i, r in zip(idx, fn(torch.stack([images[i] for i in idx])).unbind(0)):
                out[i] = r
        return out

    def _demosaic(self, mosaics: torch.Tensor) -> torch.Tensor:
        return demosaic(mosaics, self.pattern, "bilinear").clamp_(0.0, 1.0)

    def simulate_train(self, batch, generator: torch.Generator):
        """uint8 (3, H, W) sRGB images -> (3, H, W) float32 detector inputs in [0, 1]; images of equal size are
        simulated as one batch, in list order."""
        images, targets = batch
        if self.input == "rgb":
            return [im.float() / 255.0 for im in images], targets
        sim = lambda x: self._demosaic(simulate_raw(x.float() / 255.0, self.simulation, generator).raw)  # noqa: E731
        return self._by_shape(images, sim), targets

    def prepare_eval(self, batch):
        """Evaluation batches hold the mosaics simulated at setup: demosaic them (batched per size)."""
        images, targets = batch
        if self.input == "rgb":
            return [im.float() / 255.0 for im in images], targets
        return self._by_shape(images, self._demosaic), targets
