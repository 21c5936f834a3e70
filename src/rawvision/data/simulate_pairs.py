"""Write simulated RAW/RGB pairs to disk: the engine of ``rawvision simulate``.

Each RGB photo becomes ``NAME.dng`` (or ``NAME.npy`` + ``NAME.json``) beside ``NAME.png``: the folder is a pair
folder that :func:`rawvision.data.pairs.pairs_from_folder` reads back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rawvision._atomic import atomic_path
from rawvision.data.photos import DataError, find_photos, load_rgb
from rawvision.raw.cfa import check_pattern
from rawvision.raw.noise import check_sigma
from rawvision.raw.simulate import NOISE_MODELS, RawSimulation, simulate_raw
from rawvision.raw.unprocess import SRGB_TO_XYZ

__all__ = ["SimulationOptions", "simulate_pair", "simulation_of", "write_pair_folder"]


@dataclass
class SimulationOptions:
    """How RGB becomes RAW.

    Attributes:
        pattern: Bayer pattern.
        unprocess: Brooks et al. 2019 unprocessing (random camera CCM and gains) if True; a plain mosaic of the
            sRGB values (ISP Distillation Table I) if False.
        noise: ``none``, ``gaussian`` (``sigma``, fraction of the white level) or ``shot-read`` (Brooks' sampled
            heteroscedastic levels).
        sigma: Gaussian noise std.
        exposure_ratio: k > 1 simulates a short exposure (signal / k, shot-read noise at the higher gain whatever
            ``noise`` says, quantised at the file's bit depth, brightened by k); 1 = off.
        black_level, white_level: the digital numbers the DNG stores for 0 and 1 (``white_level`` sets the bit
            depth of the file).
        seed: photo i uses ``seed + i`` for its camera parameters and noise.
    """

    pattern: str = "RGGB"
    unprocess: bool = True
    noise: str = "shot-read"
    sigma: float = 0.1
    exposure_ratio: float = 1.0
    black_level: int = 256
    white_level: int = 16383
    seed: int = 0

    def check(self) -> "SimulationOptions":
        """Validate every field; raises ValueError (one line) naming the bad value."""
        self.pattern = check_pattern(self.pattern)
        if self.noise not in NOISE_MODELS:
            raise ValueError(f"unknown noise model {self.noise!r}: expected one of {', '.join(NOISE_MODELS)}")
        check_sigma(self.sigma)
        if not float(self.exposure_ratio) >= 1:
            raise ValueError(f"exposure ratio must be >= 1, got {self.exposure_ratio}")
        if not 0 <= self.black_level < self.white_level <= 65535:
            raise ValueError(
                f"need 0 <= black level < white level <= 65535 (16-bit DNG), got {self.black_level} / {self.white_level}"
            )
        return self


def simulation_of(options: SimulationOptions) -> RawSimulation:
    """The :class:`~rawvision.raw.simulate.RawSimulation` of a pair folder's options.

    Noise is clipped to the sensor's range (a file stores [0, 1]); a short exposure (k > 1) always has shot/read
    noise (``options.noise`` is then not used), is quantised at the bits of ``white_level - black_level`` and
    brightened by k.
    """
    k = float(options.exposure_ratio)
    return RawSimulation(
        options.pattern,
        unprocess=bool(options.unprocess),
        noise="shot-read" if k > 1 else options.noise,
        sigma=options.sigma,
        clip=True,
        exposure_ratio=k,
        brighten=True,
        bit_depth=int(np.ceil(np.log2(options.white_level - options.black_level + 1))),
    )


def simulate_pair(rgb: torch.Tensor, options: SimulationOptions, seed: int) -> tuple[torch.Tensor, dict]:
    """One photo -> its simulated RAW, by :func:`rawvision.raw.simulate.simulate_raw` (in float64).

    Args:
        rgb: (1, 3, H, W) float sRGB in [0, 1].
        options: :class:`SimulationOptions` (checked).
        seed: seeds the camera parameters and the noise (a CPU ``torch.Generator``; draw order: camera, noise
            levels, noise).

    Returns:
        ``(raw, meta)``: raw (1, 1, H, W) float32 in [0, 1] (1 = white level; noise is clipped to the sensor's range,
        as a file stores it); meta with ``wb_gains`` (R, G, B), ``xyz_to_cam`` (3, 3) (None for a plain mosaic) and
        the noise levels used.
    """
    g = torch.Generator().manual_seed(seed)
    sim = simulation_of(options)
    out = simulate_raw(rgb.double(), sim, g)
    meta: dict = {"pattern": options.pattern, "seed": seed, "wb_gains": None, "xyz_to_cam": None}
    p = out.unprocess_params
    if p is not None:
        meta["wb_gains"] = p.wb_gains[0].tolist()
        # rgb2cam = normalise_rows(xyz2cam @ srgb2xyz): any xyz2cam with these rows gives it back; DNG wants xyz2cam.
        meta["xyz_to_cam"] = (p.rgb2cam[0] @ torch.linalg.inv(SRGB_TO_XYZ.double())).tolist()
    if out.shot is not None:
        meta.update(shot_noise=float(out.shot), read_noise_variance=float(out.read))
    if sim.short_exposure:
        meta["exposure_ratio"] = options.exposure_ratio
    elif sim.noise == "gaussian":
        meta["sigma"] = options.sigma
    return out.raw.float(), meta


def _atomic(path: Path, write) -> None:
    with atomic_path(path, suffix=path.suffix) as tmp:
        write(tmp)


def write_pair_folder(
    src: str | Path, out: str | Path, options: SimulationOptions, fmt: str = "dng", max_photos: int | None = None,
    progress=None,
) -> list[Path]:
    """Simulate every photo of ``src`` and write the pair folder ``out``.

    Files per photo (each written to a temporary name, then renamed: nothing is left half-written): ``NAME.png``
    (the RGB), and ``NAME.dng`` (16-bit CFA DNG: ``black_level + raw * (white_level - black_level)``, rounded, with
    the pattern, levels, white-balance gains and colour matrix) or ``NAME.npy`` ((H, W) float32 in [0, 1]) with
    ``NAME.json`` (the metadata).

    Returns:
        The RAW files written.

    Raises:
        DataError: ``src`` has no photo or an unreadable one; ValueError: bad options or format.
    """
    options.check()
    if fmt not in ("dng", "npy"):
        raise ValueError(f"format must be 'dng' or 'npy', got {fmt!r}")
    photos = find_photos(src, labels=None, max_photos=max_photos)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stems = [p.path.stem for p in photos]
    if len(set(stems)) != len(stems):
        raise DataError(f"{src}: two photos share a file name; pair files are named by stem and would overwrite")
    written = []
    for i, ph in enumerate(photos):
        img = load_rgb(ph.path)
        h, w = img.shape[1] & ~1, img.shape[2] & ~1  # whole 2x2 CFA blocks
        img = img[:, :h, :w]
        raw, meta = simulate_pair(img[None].float() / 255, options, options.seed + i)
        stem = ph.path.stem
        _atomic(out / f"{stem}.png", lambda t: Image.fromarray(img.permute(1, 2, 0).numpy()).save(t, format="PNG"))
        if fmt == "dng":
            from rawvision.raw.files import write_dng

            dn = options.black_level + raw[0, 0].double().numpy() * (options.white_level - options.black_level)
            cfa = np.rint(dn).clip(0, 65535).astype(np.uint16)
            target = out / f"{stem}.dng"
            write_dng(target, cfa, options.pattern, black_level=options.black_level, white_level=options.white_level,
                      wb_gains=meta["wb_gains"], xyz_to_cam=meta["xyz_to_cam"], make="rawvision",
                      model="simulated", description=f"rawvision simulate of {ph.path.name}: {json.dumps(meta)}")
        else:
            target = out / f"{stem}.npy"
            arr = raw[0, 0].numpy()

            def save_npy(t):
                with open(t, "wb") as fh:
                    np.save(fh, arr)

            _atomic(target, save_npy)
            _atomic(out / f"{stem}.json", lambda t: Path(t).write_text(json.dumps(meta, indent=2)))
        written.append(target)
        if progress:
            progress(i + 1, len(photos), target)
    return written
