"""RAW/RGB pairs: the data of ISP Distillation on real RAW (paper Sec. IV-B) and its synthetic stand-ins.

A :class:`RawPair` is one frame: the normalised Bayer mosaic the student reads and the RGB rendering of the same
frame the teacher reads, pixel-aligned. Four sources make them:

* :func:`pairs_from_raw_files` — real RAW files; the RGB is LibRaw's sRGB rendering of the same frame
  (:func:`rawvision.raw.render.render_libraw`). This is the main job on real camera RAW.
* :func:`pairs_from_folder` — a pair folder: ``NAME.<raw>`` beside ``NAME.png|jpg|tif`` (the RGB rendering).
* :func:`pairs_from_rgb_folder` — synthetic pairs: RGB photos unprocessed to RAW (Brooks et al. 2019) or mosaiced.
* :func:`pairs_from_hdrplus` — the HDR+ burst layout (Hasinoff et al. 2016): ``merged.dng`` or the aligned
  short-exposure frame -> ``final.jpg``.

Patches are cut at even origins, so every patch keeps its frame's Bayer pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rawvision.data.errors import DataError
from rawvision.data.images import load_rgb
from rawvision.data.photos import patch_origins
from rawvision.data.split import split_by_group

__all__ = [
    "RAW_SUFFIXES",
    "RGB_SUFFIXES",
    "RawPair",
    "pairs_from_raw_files",
    "pairs_from_folder",
    "pairs_from_rgb_folder",
    "pairs_from_hdrplus",
    "find_raw_files",
    "split_groups",
    "source_frame",
]

RAW_SUFFIXES = (".dng", ".crw", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw", ".kdc",
                ".dcr", ".mrw", ".3fr", ".erf", ".raw", ".rwl", ".iiq", ".x3f", ".nrw", ".sr2", ".srf")
RGB_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_CROP_DESC = re.compile(r"Crop of real camera raw: (.+?) raw_image")


@dataclass(eq=False)
class RawPair:
    """One pixel-aligned RAW/RGB frame.

    Attributes:
        raw: (1, H, W) float32 mosaic, black level subtracted and divided by (white - black): linear [0, 1].
        rgb: (3, H, W) uint8 rendering of the same frame (what the teacher sees).
        pattern: Bayer pattern of ``raw``'s top-left 2x2 block.
        name: a display name (file stem or burst folder).
        group: what the train/test split keeps together (the source frame: overlapping crops share one).
        meta: file metadata (black/white level, white-balance gains, camera, ...), informative only.
    """

    raw: torch.Tensor
    rgb: torch.Tensor
    pattern: str
    name: str
    group: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.raw.ndim != 3 or self.raw.shape[0] != 1:
            raise DataError(f"pair {self.name}: RAW must be (1, H, W), got {tuple(self.raw.shape)}")
        if self.rgb.ndim != 3 or self.rgb.shape[0] != 3:
            raise DataError(f"pair {self.name}: RGB must be (3, H, W), got {tuple(self.rgb.shape)}")
        if self.raw.shape[1:] != self.rgb.shape[1:]:
            (h, w), (rh, rw) = self.raw.shape[1:], self.rgb.shape[1:]
            raise DataError(f"pair {self.name}: RGB is {rw}x{rh} px but its RAW is {w}x{h}: they must be pixel-aligned")

    def patches(self, size: int = 256) -> list[tuple[int, int]]:
        """Even origins (y, x) of the non-overlapping ``size`` patches (see :func:`patch_origins`)."""
        return patch_origins(self.raw.shape[1], self.raw.shape[2], size)


def find_raw_files(path: str | Path) -> list[Path]:
    """RAW files in a folder (by suffix, sorted), or the file itself. Raises DataError if there are none."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DataError(f"RAW data {p} not found: expected a RAW file or a folder of them")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in RAW_SUFFIXES and f.is_file())
    if not files:
        raise DataError(f"RAW data folder {p} holds no RAW file (expected one of {', '.join(RAW_SUFFIXES[:6])}, ...)")
    return files


def source_frame(path: str | Path) -> str:
    """The source frame a RAW file was cropped from, or the file's stem.

    The shared tiles (``../shared/data/raw/tiles``) name their source in the DNG ImageDescription tag
    ("Crop of real camera raw: <source> raw_image_visible[...]"); tiles of one frame overlap, so they must fall on
    the same side of a train/test split.
    """
    p = Path(path)
    if p.suffix.lower() == ".dng":
        try:
            import tifffile

            with tifffile.TiffFile(p) as tif:
                tag = tif.pages[0].tags.get("ImageDescription")
                m = _CROP_DESC.search(str(tag.value)) if tag is not None else None
                if m:
                    return m.group(1)
        except Exception:  # noqa: BLE001 - a file tifffile cannot parse still has a stem
            pass
    return p.stem


def _raw_tensor(img) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.normalized(clip=True), dtype=np.float32))[None]


def _meta(img) -> dict:
    keys = ("black_level", "white_level", "wb_gains", "xyz_to_cam", "make", "model", "iso", "exposure_time")
    out = {}
    for k in keys:
        v = getattr(img, k, None)
        out[k] = v.tolist() if isinstance(v, np.ndarray) else v
    return out


def pairs_from_raw_files(
    paths: str | Path | list[str | Path], *, render_kwargs: dict | None = None
) -> list[RawPair]:
    """Real RAW frames paired with LibRaw's sRGB rendering of the same frame (the teacher's input).

    Args:
        paths: a RAW file, a folder of RAW files, or a list of files.
        render_kwargs: options for :func:`rawvision.raw.render.render_libraw` (default: as-shot white balance,
            sRGB, 8 bit, LibRaw's default brightness).

    Returns:
        One :class:`RawPair` per file, ``group`` = :func:`source_frame`.

    Raises:
        DataError / RawFileError: a missing folder, a file that is not a Bayer RAW file (one line naming it).
    """
    from rawvision.raw.files import read_raw
    from rawvision.raw.render import render_libraw

    files = paths if isinstance(paths, list) else find_raw_files(paths)
    pairs = []
    for f in map(Path, files):
        img = read_raw(f)
        rgb = render_libraw(f, **(render_kwargs or {}))
        pairs.append(RawPair(_raw_tensor(img), torch.from_numpy(rgb).permute(2, 0, 1).contiguous(), img.pattern,
                             f.stem, source_frame(f), _meta(img)))
    return pairs


def pairs_from_folder(folder: str | Path) -> list[RawPair]:
    """A pair folder: each RAW file ``NAME.<raw suffix>`` with its RGB rendering ``NAME.png|jpg|jpeg|tif|tiff``.

    The RGB must have the RAW's visible size (H x W), pixel-aligned; RAW files without an RGB partner are an error
    (a silently dropped frame would change the benchmark).

    Returns:
        One :class:`RawPair` per RAW file, in sorted order: ``raw`` (1, H, W) float32 in [0, 1], ``rgb`` the file's
        (3, H, W) uint8 decode, ``group`` = :func:`source_frame`.

    Raises:
        DataError: no RAW file, a RAW without an RGB, an RGB whose size differs from its RAW (one line each).
    """
    from rawvision.raw.files import read_raw

    pairs = []
    for f in find_raw_files(folder):
        partners = [f.with_suffix(s) for s in RGB_SUFFIXES] + [f.with_suffix(s.upper()) for s in RGB_SUFFIXES]
        rgb_file = next((p for p in partners if p.is_file()), None)
        if rgb_file is None:
            raise DataError(f"pair folder {folder}: RAW file {f.name} has no RGB rendering {f.stem}.png/.jpg/.tif")
        img = read_raw(f)
        rgb = load_rgb(rgb_file)
        if tuple(rgb.shape[1:]) != tuple(img.cfa.shape):
            raise DataError(
                f"pair {f.name}: RGB {rgb_file.name} is {rgb.shape[2]}x{rgb.shape[1]} px but the RAW is "
                f"{img.cfa.shape[1]}x{img.cfa.shape[0]}: a pair must be pixel-aligned"
            )
        pairs.append(RawPair(_raw_tensor(img), rgb, img.pattern, f.stem, source_frame(f), _meta(img)))
    return pairs


def pairs_from_rgb_folder(
    folder: str | Path, *, pattern: str = "RGGB", unprocess: bool = True, seed: int = 0, max_photos: int | None = None
) -> list[RawPair]:
    """Synthetic pairs from an RGB folder: each photo -> its RAW by unprocessing (Brooks et al. 2019) or by mosaicing.

    Noise is not added here: the datamodule adds it on the fly (fresh in training, seeded per patch in testing).

    Args:
        folder: a folder of RGB photos (any depth) or a text file listing them.
        pattern: Bayer pattern of the simulated mosaic.
        unprocess: True for Brooks' unprocessing (random camera CCM and gains, seeded per photo); False for a
            plain mosaic of the sRGB values (the ISP Distillation Table I setting).
        seed: seeds each photo's camera parameters (photo i uses ``seed + i``).
        max_photos: keep only the first N photos (sorted order).

    Returns:
        One :class:`RawPair` per photo: ``raw`` (1, H, W) float32 in [0, 1] (noise-free), ``rgb`` the photo as
        (3, H, W) uint8, ``group`` the photo's path; ``meta`` holds the simulated white-balance gains and cam2rgb.

    Raises:
        DataError: an empty folder or an unreadable image.
    """
    from rawvision.data.photos import find_photos
    from rawvision.raw.simulate import RawSimulation, simulate_raw

    photos = find_photos(folder, labels=None, max_photos=max_photos)
    pairs = []
    for i, ph in enumerate(photos):
        rgb = load_rgb(ph.path)
        x = rgb[None].float() / 255
        meta: dict = {"simulation": "unprocess" if unprocess else "mosaic"}
        sim = simulate_raw(x, RawSimulation(pattern, unprocess=unprocess, noise="none"),
                           torch.Generator().manual_seed(seed + i))
        raw = sim.raw
        if sim.unprocess_params is not None:
            meta["wb_gains"] = sim.unprocess_params.wb_gains[0].tolist()
            meta["cam2rgb"] = sim.unprocess_params.cam2rgb[0].tolist()
        pairs.append(RawPair(raw[0].float(), rgb, pattern, ph.path.stem, str(ph.path), meta))
    return pairs


def _resize_to(rgb: torch.Tensor, h: int, w: int, name: str) -> torch.Tensor:
    rh, rw = rgb.shape[1:]
    if (rh, rw) == (h, w):
        return rgb
    if abs(rw / rh - w / h) > 0.01 * (w / h):
        raise DataError(f"burst {name}: final.jpg is {rw}x{rh} px, the RAW {w}x{h}: different aspect ratio, not aligned")
    out = F.interpolate(rgb[None].float(), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return out[0].round().clamp(0, 255).to(torch.uint8)


def pairs_from_hdrplus(root: str | Path, frame: str = "merged") -> list[RawPair]:
    """Pairs from the HDR+ burst layout: one folder per burst holding ``merged.dng``, ``final.jpg`` and
    ``payload_N000.dng``, ``payload_N001.dng``, ...

    Args:
        root: the folder of burst folders.
        frame: ``"merged"`` — merged RAW -> final RGB (paper Sec. IV-B, first experiment); ``"short"`` — the
            single short-exposure frame the merge is aligned to -> final RGB (second experiment). That frame is
            ``payload_N<k>.dng`` with k from ``reference_frame.txt`` when the burst has one, else ``payload_N000``.

    Alignment assumed (as the paper, "the short-exposure RAW that is pixel-aligned with the merged RAW"): the
    reference frame and ``merged.dng`` share the sensor grid, and ``final.jpg`` covers the same field of view as
    ``merged.dng``; when its size differs with the same aspect ratio (within 1 %), it is resized to the RAW's size.
    Finishing steps of the HDR+ pipeline that move pixels (lens-distortion correction, crops) are not undone.

    Returns:
        One :class:`RawPair` per burst (sorted by folder name), ``group`` = the burst folder's name.

    Raises:
        DataError: no burst folder, a burst missing ``merged.dng``/``final.jpg``/its frame, a different aspect ratio.
    """
    from rawvision.raw.files import read_raw

    if frame not in ("merged", "short"):
        raise DataError(f"HDR+ frame must be 'merged' or 'short', got {frame!r}")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"HDR+ folder {root} not found")
    bursts = sorted(d for d in root.iterdir() if d.is_dir())
    if not bursts:
        raise DataError(f"HDR+ folder {root} holds no burst folder (expected one folder per burst)")
    pairs = []
    for b in bursts:
        final = b / "final.jpg"
        if frame == "merged":
            raw_file = b / "merged.dng"
        else:
            ref = b / "reference_frame.txt"
            k = int(ref.read_text().strip()) if ref.is_file() else 0
            raw_file = b / f"payload_N{k:03d}.dng"
        for need in (raw_file, final):
            if not need.is_file():
                raise DataError(f"burst {b.name}: {need.name} is missing (HDR+ layout: merged.dng, final.jpg, payload_N*.dng)")
        img = read_raw(raw_file)
        h, w = img.cfa.shape
        rgb = _resize_to(load_rgb(final), h, w, b.name)
        pairs.append(RawPair(_raw_tensor(img), rgb, img.pattern, f"{b.name}/{raw_file.name}", b.name, _meta(img)))
    return pairs


def split_groups(
    pairs: list[RawPair], test_fraction: float = 0.3, seed: int = 0
) -> tuple[list[RawPair], list[RawPair]]:
    """Split pairs by ``group`` (source frame) with a seeded shuffle, so overlapping crops never straddle the split.

    :func:`rawvision.data.split.split_by_group` on the sorted source frames (a split independent of the pairs'
    order), each side in input order.

    Returns:
        ``(train, test)``: test holds ``round(test_fraction * n_groups)`` groups (at least 1 when the fraction is
        > 0, at most ``n_groups - 1``).

    Raises:
        DataError: ``test_fraction`` outside [0, 1), or a single group with a nonzero test fraction.

    Example:
        >>> import torch
        >>> pairs = [RawPair(torch.zeros(1, 2, 2), torch.zeros(3, 2, 2, dtype=torch.uint8), "RGGB", f"crop{i}", g)
        ...          for i, g in enumerate("aabcd")]
        >>> train, test = split_groups(pairs, 0.25, seed=0)
        >>> [p.name for p in train], [p.name for p in test]
        (['crop0', 'crop1', 'crop2', 'crop4'], ['crop3'])
    """
    return split_by_group(pairs, test_fraction, seed, group=lambda p: p.group, sort_groups=True, keep_order=True,
                          what="source frame(s)")
