"""The classification task's data: photos or RAW/RGB pairs -> patches -> RAW on the batch's device.

:class:`PhotoPatchDataModule` (paper Sec. IV-A, Table I): RGB photos, the RAW simulated from them.
:class:`RawPairDataModule` (Sec. IV-B, Table II): real RAW files with their RGB rendering, optionally made a short
exposure. Both are :class:`~rawvision.tasks.base.RawDataModule`: training draws are seeded by
``(seed, epoch, index)`` and ``(seed, step, rank)``; the evaluation RAW is simulated once, at ``setup``, with each
patch's noise seeded by ``noise_seed + index`` (the same RAW for every method, batch size, device and rank count).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.data import Dataset

from rawvision.data.pairs import RawPair, pairs_from_folder, pairs_from_hdrplus, pairs_from_raw_files
from rawvision.data.pairs import pairs_from_rgb_folder, split_groups
from rawvision.data.mixing import MIXINGS, mix_batch
from rawvision.data.photos import DataError, Photo, find_photos, load_rgb, patch_origins
from rawvision.data.sampling import seeded_generator, split_index
from rawvision.data.split import split_train_val_test
from rawvision.raw.cfa import check_pattern
from rawvision.raw.normalize import CFAStatistics
from rawvision.raw.simulate import RawSimulation, capture, simulate_raw
from rawvision.tasks.base import RawDataModule

__all__ = ["EVAL_SPLITS", "PAIR_SOURCES", "PatchDataset", "RandomCropDataset", "PhotoPatchDataModule",
           "RawPairDataModule", "load_pairs"]
log = logging.getLogger(__name__)

#: What evaluation scores: the held-out photos of the split (``test``) or every photo of the folder (``all``).
EVAL_SPLITS = ("test", "all")
TRAIN_DRAWS = ("patches", "random_crops")
PAIR_SOURCES = ("raw", "pairs", "hdrplus-merged", "hdrplus-short", "rgb-unprocess", "rgb-mosaic")


class PatchDataset(Dataset):
    """Fixed crops ``(source, y, x)`` of a list of (C, H, W) tensors, with optional (1, size, size) RAW per patch.

    Items are dicts: ``rgb`` (3, size, size) uint8, ``label`` int64 (-1 unlabelled), ``index`` int64 (the patch's
    position: it seeds its evaluation noise) and, once :meth:`set_raw` was called, ``raw`` (1, size, size) float32.
    Accepts an index or an ``(epoch, index)`` pair (training samplers yield those; fixed patches ignore the epoch).
    """

    def __init__(self, images: list[torch.Tensor], labels: list[int], size: int = 256,
                 raws: list[torch.Tensor] | None = None) -> None:
        self.images, self.labels, self.size, self.raws = images, labels, size, raws
        self.items = [(k, y, x) for k, img in enumerate(images) for y, x in patch_origins(img.shape[1], img.shape[2], size)]
        self.raw: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.items)

    def crop(self, i: int, t: torch.Tensor) -> torch.Tensor:
        k, y, x = self.items[i]
        return t[:, y : y + self.size, x : x + self.size].contiguous()

    def set_raw(self, raw: torch.Tensor) -> None:
        """Attach the (N, 1, size, size) evaluation RAW of all N patches."""
        if raw.shape[0] != len(self):
            raise ValueError(f"{raw.shape[0]} RAW patches for {len(self)} patches")
        self.raw = raw

    def __getitem__(self, item) -> dict:
        _, i = split_index(item)
        k = self.items[i][0]
        out = {"rgb": self.crop(i, self.images[k]), "label": torch.tensor(self.labels[k]), "index": torch.tensor(i)}
        if self.raws is not None:  # real RAW frames (pairs)
            out["raw"] = self.crop(i, self.raws[k])
        if self.raw is not None:
            out["raw"] = self.raw[i]
        return out


class RandomCropDataset(Dataset):
    """Random ``size`` x ``size`` crops at even offsets of the training images (RGB, and the RAW frames if given),
    ``length`` per epoch; crop and (for RGB sources) horizontal flip drawn from ``(seed, epoch, index)``.

    No flips with RAW frames: a mirrored mosaic has another Bayer pattern. Crops are taken before the RAW
    simulation, so the teacher sees the same crop as the student.
    """

    def __init__(self, images: list[torch.Tensor], labels: list[int], length: int, size: int = 256, seed: int = 0,
                 raws: list[torch.Tensor] | None = None) -> None:
        keep = [k for k, im in enumerate(images) if im.shape[1] >= size and im.shape[2] >= size]
        if not keep:
            raise DataError(f"no training image is at least {size}x{size} pixels")
        self.images, self.labels = [images[k] for k in keep], [labels[k] for k in keep]
        self.raws = [raws[k] for k in keep] if raws is not None else None
        self.length, self.size, self.seed = int(length), size, int(seed)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item) -> dict:
        epoch, i = split_index(item)
        g = seeded_generator(self.seed, -1 if epoch is None else epoch, i)
        k = int(torch.randint(len(self.images), (), generator=g))
        img, s = self.images[k], self.size
        y = 2 * int(torch.randint((img.shape[1] - s) // 2 + 1, (), generator=g))
        x = 2 * int(torch.randint((img.shape[2] - s) // 2 + 1, (), generator=g))
        flip = bool(torch.rand((), generator=g) < 0.5) and self.raws is None
        out = {"rgb": img[:, y : y + s, x : x + s], "label": torch.tensor(self.labels[k]), "index": torch.tensor(-1)}
        if self.raws is not None:
            out["raw"] = self.raws[k][:, y : y + s, x : x + s].contiguous()
        if flip:
            out["rgb"] = out["rgb"].flip(-1)
        out["rgb"] = out["rgb"].contiguous()
        return out


class _PatchDataModule(RawDataModule):
    """What the two classification datamodules share: train draws, evaluation RAW made once, CFA statistics."""

    train_set: PatchDataset
    test_set: PatchDataset

    def _check_common(self) -> None:
        if self.train_draw not in TRAIN_DRAWS:
            raise DataError(f"train_draw must be one of {', '.join(TRAIN_DRAWS)}, got {self.train_draw!r}")
        if self.eval_split not in EVAL_SPLITS:
            raise DataError(f"eval_split must be one of {', '.join(EVAL_SPLITS)}, got {self.eval_split!r}")

    def train_dataset(self) -> Dataset:
        if self.train_draw == "patches":
            return self.train_set
        ds = self.train_set
        return RandomCropDataset(ds.images, ds.labels, len(ds), self.patch_size, seed=self.seed, raws=ds.raws)

    def train_dataloader(self):
        return self.train_loader(self.train_dataset())

    def test_dataloader(self):
        return self.eval_loader(self.test_set)

    def val_dataloader(self):
        """The validation split (carved out of the training photos; empty unless ``val_fraction`` > 0): settings are
        chosen on it, never on the test set."""
        return self.eval_loader(self.val_set)

    def has_val(self) -> bool:
        self.setup("fit")
        return len(self.val_set) > 0

    def _eval_raw(self, ds: PatchDataset, rgb_to_raw) -> torch.Tensor:
        """(N, 1, s, s) RAW of every patch of ``ds``, patch i's draws from a generator seeded ``noise_seed + i``
        (a loop over patches, once per set at setup, never in a step)."""
        out = []
        for i in range(len(ds)):
            item = ds[i]
            g = torch.Generator().manual_seed(self.noise_seed + i)
            out.append(rgb_to_raw(item, g))
        s = self.patch_size
        return torch.cat(out) if out else torch.zeros(0, 1, s, s)

    def cfa_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-CFA-site (R, G, B) mean and std of the training RAW (fixed patches, seeded noise as evaluation);
        computed once per datamodule (every method a benchmark trains on it reuses them)."""
        if getattr(self, "_cfa_stats", None) is None:
            self.setup("fit")
            stats = CFAStatistics(self.pattern)
            stats.update(self._eval_raw(self.train_set, self._patch_raw))
            self._cfa_stats = stats.compute()
        mean, std = self._cfa_stats
        return mean.clone(), std.clone()

    def prepare_eval(self, batch: dict) -> dict:
        batch["rgb"] = batch["rgb"].float().div_(255)
        return batch


class PhotoPatchDataModule(_PatchDataModule):
    """Photos -> split by photo -> ``patch_size`` RGB patches -> RAW simulated on the device (paper Sec. IV-A).

    The test set is all non-overlapping patches of the test photos (Table I protocol; the confidence filter of
    Table II is the metrics'). Training draws the fixed patches of the training photos (``train_draw="patches"``)
    or random even-offset crops with flips (``"random_crops"``, as many per epoch as there are training patches).
    Photos are decoded once and kept in memory as uint8.

    RAW: :func:`rawvision.raw.simulate_raw` with ``RawSimulation(pattern, sigma=sigma, clip=clip)`` (Bayer mosaic +
    Gaussian noise). Training noise: one generator per step seeded by ``(seed, step, rank)``; evaluation noise:
    simulated once at setup, patch i from ``noise_seed + i``.

    Batches after transfer: ``rgb`` (B, 3, H, W) float in [0, 1], ``raw`` (B, 1, H, W) float, ``label`` (B,) int64.

    Args:
        data: folder of photos, or a list of photo files (see :func:`~rawvision.data.find_photos`).
        labels: label CSV, ``"auto"`` or None.
        pattern, sigma, clip: the RAW simulation (paper: RGGB, 0.1, not clipped).
        patch_size: patch side in pixels (even).
        test_fraction, split_seed: the split by photo.
        val_fraction: the share of all photos carved out of the training photos as a validation split (never
            overlapping the test photos; the test split is the same for any ``val_fraction``).
        eval_split: ``"test"`` (the split's held-out photos) or ``"all"`` (every photo: scoring a whole folder).
        train_draw: ``"patches"`` or ``"random_crops"``.
        batch_size, eval_batch_size, num_workers: loaders.
        max_photos: use only the first N photos (quick runs and tests).
        noise_seed: base seed of the evaluation noise.
        seed: seeds the training order, crops, mixing and noise.
        mixing, mixing_alpha: mix each training batch of RGB (``none``, ``mixup``, ``cutmix``; Beta(a, a)) *before*
            the RAW simulation, so the teacher reads the mixed RGB and the student its RAW (function matching,
            Beyer et al. 2022). Labels of a mixed image: the image with the larger share.
        extra_data: folders of unlabelled photos added to the *training* photos only (more distillation data).
        test_data: photo files or folders held out as the test set *in place of* a random split of ``data``
            (labels as ``labels`` says, for folders; files are unlabelled). ``data`` then gives the training and
            validation photos, and ``test_fraction`` is not used. A photo in both raises :class:`DataError`.
        unprocess, noise, exposure_ratio: the RAW simulation beyond the paper's Table I (:class:`RawSimulation`):
            Brooks et al.'s unprocessing with a random camera, ``gaussian`` / ``shot-read`` / ``none`` noise, a
            short exposure k (brightened back). Default: the paper's mosaic of the sRGB values + Gaussian sigma.

    Raises:
        DataError: unreadable image, empty folder, no patch in the train or test split, a bad option value.
    """

    def __init__(self, data: str | Path | list = "../shared/data/photos", labels: str | None = "auto",
                 pattern: str = "RGGB", sigma: float = 0.1, clip: bool = False, patch_size: int = 256,
                 test_fraction: float = 0.2, split_seed: int = 0, eval_split: str = "test",
                 train_draw: str = "patches", batch_size: int = 32, eval_batch_size: int = 64, num_workers: int = 0,
                 max_photos: int | None = None, noise_seed: int = 12345, seed: int = 0, val_fraction: float = 0.0,
                 mixing: str = "none", mixing_alpha: float = 1.0, extra_data: list[str] | None = None,
                 unprocess: bool = False, noise: str = "gaussian", exposure_ratio: float = 1.0,
                 test_data: list[str] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.data, self.labels = data, labels
        self.test_data = [str(t) for t in (test_data or [])]
        self.simulation = RawSimulation(pattern=pattern, sigma=sigma, clip=clip, unprocess=unprocess, noise=noise,
                                        exposure_ratio=exposure_ratio)
        if mixing not in MIXINGS:
            raise DataError(f"mixing must be one of {', '.join(MIXINGS)}, got {mixing!r}")
        self.val_fraction, self.mixing, self.mixing_alpha = float(val_fraction), mixing, float(mixing_alpha)
        self.extra_data = list(extra_data or [])
        self.patch_size, self.test_fraction, self.split_seed = patch_size, test_fraction, split_seed
        self.eval_split, self.train_draw = eval_split, train_draw
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.max_photos, self.noise_seed, self.seed = max_photos, noise_seed, seed
        self._check_common()
        self._ready = False
        self.train_photos: list[Photo] = []
        self.val_photos: list[Photo] = []
        self.test_photos: list[Photo] = []
        self.extra_photos: list[Photo] = []

    @property
    def pattern(self) -> str:
        return self.simulation.pattern

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        photos = find_photos(self.data, self.labels, self.max_photos)
        images = {p.path: load_rgb(p.path) for p in photos}
        s = self.patch_size
        usable = [p for p in photos if min(images[p.path].shape[1:]) >= s]
        self.n_small_photos = len(photos) - len(usable)
        if self.eval_split == "all":
            self.train_photos, self.val_photos, self.test_photos = [], [], usable
        elif self.test_data:
            held_out = self._test_data_photos()
            both = {Path(p.path).resolve() for p in usable} & {Path(p.path).resolve() for p in held_out}
            if both:
                raise DataError(f"photo {sorted(both)[0]} is in both data and test_data: a test photo must be held "
                                f"out of training")
            self.train_photos, self.val_photos, _ = split_train_val_test(
                usable, 0.0, self.val_fraction, self.split_seed, what="photo(s)")
            self.test_photos = self._decoded(held_out, images)
        else:
            self.train_photos, self.val_photos, self.test_photos = split_train_val_test(
                usable, self.test_fraction, self.val_fraction, self.split_seed, what="photo(s)")
        self.extra_photos = self._extra_photos(images) if self.eval_split != "all" else []
        train = self.train_photos + self.extra_photos
        self.train_set, self.val_set, self.test_set = (
            PatchDataset([images[p.path] for p in ps], [p.label for p in ps], s)
            for ps in (train, self.val_photos, self.test_photos))
        need_train = self.eval_split != "all"
        want_test = self.test_fraction > 0 or bool(self.test_data)
        if (need_train and len(self.train_set) == 0) or (want_test and len(self.test_set) == 0):
            raise DataError(
                f"data folder {self.data}: {len(usable)} photos of at least {s}x{s} px give "
                f"{len(self.train_set)} train and {len(self.test_set)} test patches; need at least one each")
        self.test_set.set_raw(self._eval_raw(self.test_set, self._patch_raw))
        self.val_set.set_raw(self._eval_raw(self.val_set, self._patch_raw))
        self._ready = True
        log.info("%s", self.summary())

    def _decoded(self, photos: list[Photo], images: dict) -> list[Photo]:
        """Decode ``photos`` into ``images`` (path -> uint8 (3, H, W)); those at least ``patch_size`` on each side."""
        for p in photos:
            images[p.path] = load_rgb(p.path)
        return [p for p in photos if min(images[p.path].shape[1:]) >= self.patch_size]

    def _test_data_photos(self) -> list[Photo]:
        """The photos of ``test_data`` (files: unlabelled; folders: labels as ``labels``), not decoded."""
        files = [t for t in self.test_data if not Path(t).is_dir()]
        photos = find_photos(files, labels=None) if files else []
        for folder in (t for t in self.test_data if Path(t).is_dir()):
            photos += find_photos(folder, self.labels)
        return photos

    def _extra_photos(self, images: dict) -> list[Photo]:
        """The photos of ``extra_data`` (unlabelled, at least ``patch_size`` on each side), decoded into ``images``."""
        return self._decoded([Photo(p.path, -1) for folder in self.extra_data
                              for p in find_photos(folder, labels=None)], images)

    def _patch_raw(self, item: dict, g: torch.Generator) -> torch.Tensor:
        return simulate_raw(item["rgb"][None].float().div_(255), self.simulation, g).raw

    def has_labels(self) -> bool:
        self.setup("fit")
        return any(p.label >= 0 for p in self.train_photos)

    def summary(self) -> dict:
        """Counts of photos and patches of the split (after :meth:`setup`)."""
        return {
            "train_photos": len(self.train_photos), "train_patches": len(self.train_set),
            "extra_photos": len(self.extra_photos), "val_photos": len(self.val_photos),
            "val_patches": len(self.val_set),
            "test_photos": len(self.test_photos), "test_patches": len(self.test_set),
            "skipped_small_photos": self.n_small_photos, "train_draw": self.train_draw,
            "eval_split": self.eval_split,
        }

    def simulate_train(self, batch: dict, generator: torch.Generator) -> dict:
        """uint8 RGB -> float RGB in [0, 1], mixed (``mixing``), and the RAW simulated from that very RGB."""
        rgb = batch["rgb"].float().div_(255)
        if self.mixing != "none" and rgb.shape[0] > 1:
            rgb, w = mix_batch(rgb, self.mixing, self.mixing_alpha, seed=int(generator.initial_seed()) ^ 0x5EED)
            batch["label"] = batch["label"][w.argmax(dim=1)]
        batch["rgb"], batch["raw"] = rgb, simulate_raw(rgb, self.simulation, generator).raw
        return batch


def load_pairs(data: str | Path, source: str = "raw") -> list[RawPair]:
    """Pairs from ``data`` read as ``source``: ``raw`` RAW files + LibRaw's rendering; ``pairs`` a pair folder;
    ``hdrplus-merged`` / ``hdrplus-short`` the HDR+ burst layout; ``rgb-unprocess`` / ``rgb-mosaic`` synthetic pairs
    from RGB photos.

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


class RawPairDataModule(_PatchDataModule):
    """RAW/RGB pairs split by source frame, cut into patches; optional short exposure on the fly (Sec. IV-B).

    The student reads the RAW patch, the teacher the RGB rendering of the same pixels; there are no human labels
    (``label`` = -1), the metrics are agreement with the teacher.

    Args:
        data: what :func:`load_pairs` reads (ignored when ``pairs`` is given).
        source: one of :data:`PAIR_SOURCES`.
        pairs: pairs already loaded (the benchmark loads the frames once and shares them across seeds).
        patch_size: patch side in pixels (even; paper 256).
        test_fraction, split_seed: fraction of source frames held out, and the seed of that split.
        eval_split: ``"test"`` or ``"all"`` (every frame).
        train_draw: ``"patches"`` or ``"random_crops"`` (even offsets, no flips).
        exposure_ratio: None for the RAW as it is; k > 1 for a short exposure simulated from it
            (:func:`rawvision.raw.capture` with shot/read noise, quantised at ``bit_depth`` bits, brightened by k).
        bit_depth: quantisation of the short exposure.
        noise_seed: seeds each test patch's short-exposure noise and levels (``noise_seed + index``).
        seed: seeds the training order, crops and noise.

    Raises:
        DataError: no frame, frames with different Bayer patterns, no patch in a split, a bad option value.
    """

    def __init__(self, data: str | None = None, source: str = "raw", pairs: list[RawPair] | None = None,
                 patch_size: int = 256, test_fraction: float = 0.3, split_seed: int = 0, eval_split: str = "test",
                 train_draw: str = "patches", exposure_ratio: float | None = None, bit_depth: int = 10,
                 batch_size: int = 16, eval_batch_size: int = 32, num_workers: int = 0, noise_seed: int = 12345,
                 seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["pairs"])
        if exposure_ratio is not None and not float(exposure_ratio) >= 1:
            raise DataError(f"exposure ratio must be >= 1 (long / short exposure), got {exposure_ratio}")
        if pairs is None and data is None:
            raise DataError("RawPairDataModule needs data (a path) or pairs")
        self.data, self.source, self._pairs = data, source, pairs
        self.patch_size, self.test_fraction, self.split_seed = patch_size, test_fraction, split_seed
        self.eval_split, self.train_draw, self.exposure_ratio = eval_split, train_draw, exposure_ratio
        self.bit_depth, self.noise_seed, self.seed = bit_depth, noise_seed, seed
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self._check_common()
        self._ready = False

    def _load(self) -> list[RawPair]:
        if self._pairs is None:
            self._pairs = load_pairs(self.data, self.source)
        if not self._pairs:
            raise DataError(f"{self.data}: no RAW/RGB pair")
        return self._pairs

    @property
    def pattern(self) -> str:
        pats = {p.pattern for p in self._load()}
        if len(pats) != 1:
            raise DataError(f"frames have different Bayer patterns {sorted(pats)}: one student reads one pattern")
        return check_pattern(pats.pop())

    @property
    def simulation(self) -> RawSimulation | None:
        if self.exposure_ratio is None:
            return None
        return RawSimulation(pattern=self.pattern, noise="shot-read", exposure_ratio=float(self.exposure_ratio),
                             bit_depth=self.bit_depth)

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        pairs = self._load()
        _ = self.pattern
        if self.eval_split == "all":
            self.train_pairs, self.test_pairs = [], list(pairs)
        else:
            self.train_pairs, self.test_pairs = split_groups(pairs, self.test_fraction, self.split_seed)
        self.train_set, self.test_set = (
            PatchDataset([p.rgb for p in ps], [-1] * len(ps), self.patch_size, raws=[p.raw for p in ps])
            for ps in (self.train_pairs, self.test_pairs))
        self.val_set = PatchDataset([], [], self.patch_size)
        need_train = self.eval_split != "all"
        if (need_train and len(self.train_set) == 0) or (self.test_fraction > 0 and len(self.test_set) == 0):
            raise DataError(f"{len(pairs)} frames give {len(self.train_set)} train and {len(self.test_set)} test "
                            f"patches of {self.patch_size}px; need at least one each")
        if self.simulation is not None:
            self.test_set.set_raw(self._eval_raw(self.test_set, self._patch_raw))
        self._ready = True
        log.info("%s", self.summary())

    def _patch_raw(self, item: dict, g: torch.Generator) -> torch.Tensor:
        if self.simulation is None:
            return item["raw"][None]
        return capture(item["raw"][None], self.simulation, g).raw

    def summary(self) -> dict:
        """Counts of frames and patches of the split, and the simulation (after :meth:`setup`)."""
        return {
            "train_frames": len({p.group for p in self.train_pairs}),
            "test_frames": len({p.group for p in self.test_pairs}),
            "train_patches_n": len(self.train_set), "test_patches_n": len(self.test_set),
            "test_groups": sorted({p.group.split("/")[-1] for p in self.test_pairs}),
            "exposure_ratio": self.exposure_ratio,
        }

    def simulate_train(self, batch: dict, generator: torch.Generator) -> dict:
        batch["rgb"] = batch["rgb"].float().div_(255)
        if self.simulation is not None:
            batch["raw"] = capture(batch["raw"], self.simulation, generator).raw
        return batch
