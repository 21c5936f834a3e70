"""The LightningDataModule of RAW object detection: a COCO set of sRGB images -> simulated RAW on the device.

Images and boxes come from COCO JSON files (:func:`rawvision.data.coco.load_coco`), by default the paste-object set
of :func:`rawvision.data.paste_objects.build_paste_set` (built from ``../shared/data/photos`` when ``root`` holds no
``train.json``). Each batch is turned into RAW after it reaches the device, by
:func:`rawvision.data.paste_objects.simulate_detection_raw` (Brooks et al. unprocessing + shot/read noise, or an 8x
shorter, unbrightened exposure for low light), and demosaiced bilinearly: the 3-channel RAW a TA-ISP front end
reads. Each validation image's RAW is drawn from a generator seeded by ``(seed, image id)``, so every model and
every epoch is evaluated on the same RAW, whatever the batching; the training RAW comes from one generator seeded
by ``seed`` (the same draws for every model trained with the same seed and batch order).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from rawvision.data.coco import CocoDetection
from rawvision.data.photos import DataError

__all__ = ["DETECTION_INPUTS", "RawDetectionDataModule", "detection_collate", "hflip_detection"]

#: What the detector (or its front end) reads: the demosaiced RAW, or the sRGB images themselves (a reference
#: row: the detector on the photos the RAW was simulated from).
DETECTION_INPUTS = ("raw", "rgb")


def hflip_detection(image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
    """Mirror an image and its boxes left-right.

    Args:
        image: (C, H, W) tensor of any dtype.
        target: dict with ``boxes`` (N, 4) float ``[x1, y1, x2, y2]`` pixels (and optionally ``crowd_boxes``);
            other keys are kept.

    Returns:
        ``(image, target)`` flipped: x -> W - x for every box corner, so ``[x1, y1, x2, y2]`` becomes
        ``[W - x2, y1, W - x1, y2]``.
    """
    w = image.shape[-1]
    out = dict(target)
    for key in ("boxes", "crowd_boxes"):
        if key in target:
            b = target[key]
            out[key] = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1) if b.numel() else b
    return image.flip(-1), out


class _RandomHFlip:
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, image, target):
        return hflip_detection(image, target) if bool(torch.rand(()) < self.p) else (image, target)


def detection_collate(batch: list[tuple[torch.Tensor, dict]]) -> tuple[list[torch.Tensor], list[dict]]:
    """``[(image, target), ...]`` -> ``([image, ...], [target, ...])`` (images may differ in size)."""
    images, targets = zip(*batch)
    return list(images), list(targets)


class RawDetectionDataModule(L.LightningDataModule):
    """COCO detection images simulated to RAW on the fly (normal or low light), for torchvision detectors.

    Batches, after :meth:`on_after_batch_transfer`: ``(images, targets)``; ``images`` a list of (3, H, W) float32
    tensors in [0, 1] on the device (``input="raw"``: the bilinear demosaic of the simulated Bayer mosaic, camera
    RGB, 0 = black level, 1 = white level; ``input="rgb"``: the sRGB images / 255), ``targets`` a list of dicts
    (``boxes`` (N, 4) float ``[x1, y1, x2, y2]`` pixels, ``labels`` (N,) int64 in 1..C, ``image_id``, crowd boxes).

    Args:
        root: folder with ``train.json`` and ``val.json`` (COCO; ``file_name`` relative to ``root``).
        photos: a labelled photo folder (``../shared/data/photos``) to build the paste-object set into ``root``
            with :func:`build_paste_set` when ``root/train.json`` is missing; None: the files must exist.
        input: ``"raw"`` or ``"rgb"`` (see above).
        low_light: simulate the 8x shorter, unbrightened exposure (:func:`simulate_detection_raw`).
        pattern: Bayer pattern of the simulated sensor.
        batch_size, eval_batch_size: images per training / evaluation batch.
        seed: seeds the RAW draws and the training order.
        flip: random horizontal flips of the training images (p = 0.5, before the RAW simulation).
        num_workers: DataLoader workers (images are decoded with Pillow).
        max_train_images, max_val_images: use only the first N images of each split (quick runs, tests).
        build_kwargs: passed to :func:`build_paste_set` (e.g. ``n_images``, ``size``).

    Raises:
        DataError: a missing or malformed COCO file or image (one line naming it), ``input`` not in
            :data:`DETECTION_INPUTS`.
        ValueError: an unknown Bayer pattern.
    """

    def __init__(self, root: str | Path, photos: str | Path | None = None, input: str = "raw",
                 low_light: bool = False, pattern: str = "RGGB", batch_size: int = 8, eval_batch_size: int = 16,
                 seed: int = 0, flip: bool = True, num_workers: int = 0, max_train_images: int | None = None,
                 max_val_images: int | None = None, build_kwargs: dict | None = None) -> None:
        super().__init__()
        if input not in DETECTION_INPUTS:
            raise DataError(f"unknown detection input {input!r}: expected one of {', '.join(DETECTION_INPUTS)}")
        self.root = Path(root)
        self.photos = None if photos is None else Path(photos)
        from rawvision.raw.cfa import check_pattern

        self.input, self.low_light, self.pattern = input, bool(low_light), check_pattern(pattern)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.seed, self.flip, self.num_workers = int(seed), bool(flip), int(num_workers)
        self.max_train_images, self.max_val_images = max_train_images, max_val_images
        self.build_kwargs = dict(build_kwargs or {})
        self.train_set: CocoDetection | None = None
        self.val_set: CocoDetection | None = None
        self._train_gen: torch.Generator | None = None

    def prepare_data(self) -> None:
        """Build the paste-object set into ``root`` if it is not there and ``photos`` is given."""
        if (self.root / "train.json").is_file() and (self.root / "val.json").is_file():
            return
        if self.photos is None:
            raise DataError(f"{self.root} has no train.json/val.json and no photo folder was given to build the "
                            f"paste-object set from")
        from rawvision.data.paste_objects import build_paste_set

        build_paste_set(self.photos, self.root, **self.build_kwargs)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.prepare_data()
        self.train_set = CocoDetection(self.root / "train.json", transform=_RandomHFlip() if self.flip else None)
        self.val_set = CocoDetection(self.root / "val.json")
        for ds, n in ((self.train_set, self.max_train_images), (self.val_set, self.max_val_images)):
            if n is not None:
                ds.coco.images = ds.coco.images[: int(n)]
        if self.train_set.category_ids != self.val_set.category_ids:
            raise DataError(f"{self.root}: train.json and val.json have different categories "
                            f"({self.train_set.category_ids} vs {self.val_set.category_ids})")

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

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, generator=g, drop_last=True,
                          num_workers=self.num_workers, collate_fn=detection_collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.eval_batch_size, shuffle=False,
                          num_workers=self.num_workers, collate_fn=detection_collate)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def simulate(self, images: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        """uint8 (3, H, W) sRGB images -> (3, H, W) float32 in [0, 1] detector inputs (see the class docstring).

        Images of equal size are simulated as one batch; the draws follow the list order."""
        if self.input == "rgb":
            return [im.float() / 255.0 for im in images]
        from rawvision.data.paste_objects import simulate_detection_raw

        out: list[torch.Tensor | None] = [None] * len(images)
        by_shape: dict[tuple, list[int]] = {}
        for i, im in enumerate(images):
            by_shape.setdefault(tuple(im.shape), []).append(i)
        for idx in by_shape.values():
            _, raw3 = simulate_detection_raw(torch.stack([images[i] for i in idx]), self.pattern,
                                             low_light=self.low_light, generator=generator)
            for i, r in zip(idx, raw3.unbind(0)):
                out[i] = r
        return out

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, targets = batch
        device = images[0].device
        trainer = getattr(self, "trainer", None)
        training = bool(trainer is not None and trainer.training)
        if training:
            if self._train_gen is None or self._train_gen.device != device:
                self._train_gen = torch.Generator(device=device).manual_seed(self.seed)
            gen = self._train_gen
            return self.simulate(images, gen), targets
        out = []  # evaluation: each image's RAW from its own generator, the same whatever the batching
        for im, t in zip(images, targets):
            gen = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + int(t["image_id"]))
            out.extend(self.simulate([im], gen))
        return out, targets
