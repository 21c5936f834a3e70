"""RGB -> simulated RAW: the one entry point of every datamodule's RAW simulation.

A simulation is two stages, configured by one frozen :class:`RawSimulation`:

1. **to mosaic** (:func:`simulate_raw` only): sRGB ``(B, 3, H, W)`` in [0, 1] -> clean ``(B, 1, H, W)`` Bayer mosaic,
   either a plain mosaic of the sRGB values (ISP Distillation, Sec. IV-A, Table I) or Brooks et al.'s unprocessing
   with a random camera (inverse tone curve, gamma, CCM, white balance and brightness: realistic linear RAW);
2. **capture** (:func:`capture`, also usable alone on a real RAW file's clean mosaic): sensor noise (none, additive
   Gaussian, or Brooks' heteroscedastic shot/read noise at random levels), optionally as a short exposure
   (signal / k, sensor clip, ``bit_depth``-bit ADC, optionally brightened by k again), optionally clipped to [0, 1].

Every random draw goes through one optional ``torch.Generator``, in a fixed order: camera parameters (unprocessing
only: CCM weights, then the gains), noise levels (shot/read noise only: ``(B,)`` uniforms, then ``(B,)`` normals),
noise (one ``randn`` of the mosaic's shape). Per-sample parameters are batched ``(B, ...)`` tensors (no loop over
samples).

Sources: T. Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019, Sec. 3 (unprocessing, shot
and read noise); E. Schwartz et al., "ISP Distillation", Sec. III (short exposures, Eqs. 5-6) and IV-A (Bayer mosaic
+ Gaussian noise, std 0.1).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from rawvision.raw.cfa import check_pattern, mosaic
from rawvision.raw.noise import (
    add_gaussian_noise,
    add_shot_read_noise,
    check_sigma,
    random_noise_levels,
    simulate_short_exposure,
)
from rawvision.raw.unprocess import UnprocessParams, unprocess

__all__ = ["NOISE_MODELS", "RawSimulation", "RawSimulator", "SimulatedRaw", "capture", "simulate_raw"]

NOISE_MODELS: tuple[str, ...] = ("none", "gaussian", "shot-read")
_BOOL_FIELDS = ("unprocess", "clip", "brighten")


@dataclass(frozen=True)
class RawSimulation:
    """How RGB becomes RAW: every setting of :func:`simulate_raw` and :func:`capture`, validated at construction.

    Attributes:
        pattern: Bayer pattern of the mosaic's top-left 2x2 block: RGGB, BGGR, GRBG or GBRG (stored upper-case).
        unprocess: True: Brooks et al. 2019 unprocessing with a random camera (linear camera RGB, white balance and
            brightness undone, then the mosaic); False: a plain mosaic of the sRGB values (ISP Distillation Table I).
        noise: ``"none"``; ``"gaussian"``: additive N(0, ``sigma``^2), signal-independent; ``"shot-read"``: Brooks'
            heteroscedastic noise, variance ``x * shot + read`` with ``(shot, read)`` drawn per sample from
            :func:`rawvision.raw.noise.random_noise_levels`.
        sigma: Gaussian std in units of the white level (1 = white), finite and >= 0 (paper: 0.1); used only with
            ``noise="gaussian"``.
        clip: clip the output RAW to [0, 1] (black to white level). Default False (the paper's additive model does
            not say it clips). A short exposure is always clipped at the sensor, before any brightening; ``clip``
            then also clips the brightened output.
        exposure_ratio: k >= 1 (long / short exposure time). k > 1 simulates a short exposure (needs
            ``noise="shot-read"``): signal / k, shot/read noise of that capture, sensor clip, ``bit_depth`` ADC.
        brighten: for k > 1, multiply the captured frame by k (same brightness as the long exposure, more noise;
            ISP Distillation's HDR+ frames). False returns the dark frame as captured (low-light detection).
        bit_depth: ADC bits of the short exposure, an int in 1..24, or None for no quantisation. Applies only to
            k > 1 (a normal exposure, k = 1, is not quantised).

    Raises:
        ValueError: one line naming the field and the expected values, e.g. an unknown pattern or noise model, a
            negative sigma, k < 1, k > 1 without ``noise="shot-read"``, a bit depth outside 1..24.

    Source: Brooks et al. 2019, Sec. 3 (unprocessing, shot/read noise levels); ISP Distillation, Sec. III
    (short exposures) and IV-A (mosaic + Gaussian noise, std 0.1).

    Example:
        >>> sim = RawSimulation("grbg", unprocess=True, noise="shot-read", exposure_ratio=8, brighten=False)
        >>> sim.to_dict()  # doctest: +NORMALIZE_WHITESPACE
        {'pattern': 'GRBG', 'unprocess': True, 'noise': 'shot-read', 'sigma': 0.1, 'clip': False,
         'exposure_ratio': 8.0, 'brighten': False, 'bit_depth': 10}
        >>> RawSimulation(noise="poisson")
        Traceback (most recent call last):
        ...
        ValueError: RawSimulation.noise: unknown noise model 'poisson': expected one of none, gaussian, shot-read
    """

    pattern: str = "RGGB"
    unprocess: bool = False
    noise: str = "gaussian"
    sigma: float = 0.1
    clip: bool = False
    exposure_ratio: float = 1.0
    brighten: bool = True
    bit_depth: int | None = 10

    def __post_init__(self) -> None:
        def put(name: str, value) -> None:
            object.__setattr__(self, name, value)

        try:
            put("pattern", check_pattern(self.pattern))
        except ValueError as e:
            raise ValueError(f"RawSimulation.pattern: {e}") from None
        for name in _BOOL_FIELDS:
            v = getattr(self, name)
            if type(v).__name__ not in ("bool", "bool_"):  # Python or NumPy bool
                raise ValueError(f"RawSimulation.{name} must be True or False, got {v!r}")
            put(name, bool(v))
        if self.noise not in NOISE_MODELS:
            raise ValueError(
                f"RawSimulation.noise: unknown noise model {self.noise!r}: expected one of {', '.join(NOISE_MODELS)}"
            )
        try:
            put("sigma", check_sigma(self.sigma))
        except (TypeError, ValueError) as e:
            raise ValueError(f"RawSimulation.sigma: {e}") from None
        try:
            k = float(self.exposure_ratio)
        except (TypeError, ValueError):
            k = float("nan")
        if isinstance(self.exposure_ratio, bool) or not (math.isfinite(k) and k >= 1):
            raise ValueError(
                f"RawSimulation.exposure_ratio must be a finite number >= 1 (long / short exposure time), "
                f"got {self.exposure_ratio!r}"
            )
        put("exposure_ratio", k)
        if k > 1 and self.noise != "shot-read":
            raise ValueError(
                f"RawSimulation.noise must be 'shot-read' for a short exposure (exposure_ratio {k:g} > 1), "
                f"got {self.noise!r}"
            )
        b = self.bit_depth
        if b is not None and (isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= 24):
            raise ValueError(f"RawSimulation.bit_depth must be None or an int in 1..24 (ADC bits), got {b!r}")

    @property
    def short_exposure(self) -> bool:
        """True when ``exposure_ratio > 1``."""
        return self.exposure_ratio > 1

    def to_dict(self) -> dict:
        """The settings as a plain dict (JSON/YAML-ready; ``RawSimulation(**d)`` rebuilds it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RawSimulation:
        """Build from a dict of fields (e.g. a config section). Raises ValueError for an unknown key."""
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise ValueError(
                f"RawSimulation: unknown field(s) {', '.join(bad)}: expected some of {', '.join(sorted(names))}"
            )
        return cls(**d)


@dataclass
class SimulatedRaw:
    """A simulated RAW batch and the parameters drawn for it.

    Attributes:
        raw: (B, 1, H, W) mosaic in the input's dtype and device; 0 = black level, 1 = white level. Range: [0, 1]
            with ``clip`` or an unbrightened short exposure; [0, k] for a brightened short exposure without
            ``clip``; otherwise unbounded (noise around [0, 1]).
        unprocess_params: the camera of each sample (:class:`~rawvision.raw.unprocess.UnprocessParams`, on the
            input's device and dtype) with ``sim.unprocess``; None otherwise. ``rawvision.raw.isp.process(raw,
            p.wb_gains, p.cam2rgb, pattern)`` renders the RAW back.
        shot, read: (B,) shot-noise gain and read-noise variance (units of the white level) with
            ``noise="shot-read"``, in the mosaic's dtype and device; None otherwise.
        sim: the :class:`RawSimulation` used.
    """

    raw: torch.Tensor
    unprocess_params: UnprocessParams | None
    shot: torch.Tensor | None
    read: torch.Tensor | None
    sim: RawSimulation


def _check_sim(sim) -> RawSimulation:
    if not isinstance(sim, RawSimulation):
        raise ValueError(f"sim must be a RawSimulation, got {type(sim).__name__}")
    return sim


def _check_float4d(x, channels: int, fn: str, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != channels:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{fn} expects {what} of shape (B, {channels}, H, W), got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{fn} expects a floating-point tensor in [0, 1], got {x.dtype}")


def capture(
    clean_mosaic: torch.Tensor, sim: RawSimulation = RawSimulation(), generator: torch.Generator | None = None
) -> SimulatedRaw:
    """The capture stage alone: sensor noise and exposure on an already clean Bayer mosaic.

    By ``sim.noise``: ``"none"`` keeps the mosaic; ``"gaussian"`` adds N(0, sigma^2)
    (:func:`~rawvision.raw.noise.add_gaussian_noise`); ``"shot-read"`` draws ``(shot, read)`` per sample
    (:func:`~rawvision.raw.noise.random_noise_levels`, float64 draw cast to the mosaic's dtype), then adds
    heteroscedastic noise of variance ``x * shot + read`` (:func:`~rawvision.raw.noise.add_shot_read_noise`) or,
    for ``exposure_ratio`` k > 1, captures a short exposure (:func:`~rawvision.raw.noise.simulate_short_exposure`:
    ``x / k`` + noise, sensor clip to [0, 1], ``bit_depth``-bit rounding, times k when ``brighten``). Finally
    ``sim.clip`` clips to [0, 1]. ``sim.pattern`` and ``sim.unprocess`` are not used here.

    Draw order with ``generator``: noise levels (shot/read only: B uniforms, then B normals), then the noise (one
    ``randn`` of the mosaic's shape). E.g. ``capture(raw, RawSimulation(noise="shot-read", exposure_ratio=k,
    bit_depth=b), g)`` is exactly ``shot, read = random_noise_levels(B, g, device=raw.device, dtype=raw.dtype)``
    then ``simulate_short_exposure(raw, k, shot, read, bit_depth=b, generator=g)``.

    Args:
        clean_mosaic: (B, 1, H, W) float clean RAW in [0, 1] (0 = black, 1 = white level; e.g. a RAW file's
            :meth:`~rawvision.raw.files.RawImage.to_tensor`), any device and float dtype.
        sim: the settings (:class:`RawSimulation`).
        generator: a ``torch.Generator`` on the mosaic's device (the noise levels are drawn on the generator's
            device, then moved); the global RNG if None.

    Returns:
        :class:`SimulatedRaw` with ``raw`` (B, 1, H, W) in the mosaic's dtype and device, ``shot`` / ``read``
        (B,) for shot/read noise, ``unprocess_params`` None.

    Raises:
        ValueError: ``clean_mosaic`` not a (B, 1, H, W) float tensor, ``sim`` not a :class:`RawSimulation`.

    Source: Brooks et al. 2019, Sec. 3 "Shot and Read Noise"; ISP Distillation, Sec. III (short exposures) and IV-A
    (Gaussian noise).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> out = capture(torch.full((2, 1, 4, 4), 0.5), RawSimulation(noise="shot-read", exposure_ratio=8), g)
        >>> out.raw.shape, out.shot.shape
        (torch.Size([2, 1, 4, 4]), torch.Size([2]))
        >>> levels = out.raw / 8 * 1023  # brightened by 8 from the 10-bit grid i / 1023
        >>> bool(torch.allclose(levels, levels.round(), atol=1e-3))
        True
        >>> capture(torch.full((1, 1, 2, 2), 0.5), RawSimulation(noise="none")).raw
        tensor([[[[0.5000, 0.5000],
                  [0.5000, 0.5000]]]])
    """
    _check_float4d(clean_mosaic, 1, "capture", "a clean RAW mosaic")
    sim = _check_sim(sim)
    x = clean_mosaic
    if sim.noise == "none":
        return SimulatedRaw(x.clamp(0.0, 1.0) if sim.clip else x, None, None, None, sim)
    if sim.noise == "gaussian":
        return SimulatedRaw(add_gaussian_noise(x, sim.sigma, generator=generator, clip=sim.clip), None, None, None, sim)
    shot, read = random_noise_levels(x.shape[0], generator, device=x.device, dtype=x.dtype)
    if sim.short_exposure:
        raw = simulate_short_exposure(
            x, sim.exposure_ratio, shot, read, bit_depth=sim.bit_depth, generator=generator, brighten=sim.brighten
        )
        if sim.clip:
            raw = raw.clamp(0.0, 1.0)
    else:
        raw = add_shot_read_noise(x, shot, read, generator, clip=sim.clip)
    return SimulatedRaw(raw, None, shot, read, sim)


def simulate_raw(
    rgb: torch.Tensor, sim: RawSimulation = RawSimulation(), generator: torch.Generator | None = None
) -> SimulatedRaw:
    """Simulate the RAW capture of sRGB images: to a clean mosaic, then :func:`capture`.

    The clean mosaic is ``mosaic(rgb, sim.pattern)`` (the sRGB values at each site) or, with ``sim.unprocess``,
    :func:`~rawvision.raw.unprocess.unprocess` with a random camera per sample (linear camera RGB in [0, 1]).

    Draw order with ``generator``: camera parameters (unprocessing only: CCM weights (B, 4), then the gains: (B,)
    normals, (B,) and (B,) uniforms), noise levels (shot/read only), noise. The same generator state gives the
    same RAW and parameters.

    Settings of the project's pipelines:

    * distillation (Table I): ``RawSimulation(pattern, sigma=0.1)`` (as :class:`RawSimulator`);
    * detection, normal light: ``RawSimulation(pattern, unprocess=True, noise="shot-read", clip=True)``;
    * detection, low light: the same with ``exposure_ratio=8, brighten=False, bit_depth=10`` (a dark frame), then
      ``demosaic_bilinear`` for the 3-channel RAW.

    Args:
        rgb: (B, 3, H, W) float sRGB in [0, 1] (e.g. uint8 / 255), float32 or float64, any device.
        sim: the settings (:class:`RawSimulation`).
        generator: a ``torch.Generator`` on ``rgb``'s device for reproducible draws (parameters are drawn on its
            device, then moved to ``rgb``'s); the global RNG if None.

    Returns:
        :class:`SimulatedRaw`: ``raw`` (B, 1, H, W) in ``rgb``'s dtype and device (range: see
        :class:`SimulatedRaw`), ``unprocess_params`` (with ``sim.unprocess``), ``shot`` / ``read`` (with shot/read
        noise), ``sim``.

    Raises:
        ValueError: ``rgb`` not a (B, 3, H, W) float tensor, ``sim`` not a :class:`RawSimulation`.

    Source: Brooks et al. 2019, Sec. 3 (unprocessing, shot and read noise); ISP Distillation (Schwartz et al.),
    Sec. IV-A (Bayer mosaic + Gaussian noise) and Sec. III (short exposures).

    Example:
        >>> rgb = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
        >>> simulate_raw(rgb, RawSimulation("RGGB", noise="none")).raw  # R G / G B sites
        tensor([[[[0.2000, 0.5000],
                  [0.5000, 0.8000]]]])
        >>> g = torch.Generator().manual_seed(0)
        >>> out = simulate_raw(torch.rand(2, 3, 8, 8), RawSimulation("GBRG", unprocess=True, noise="shot-read"), g)
        >>> out.raw.shape, out.unprocess_params.wb_gains.shape, out.read.shape
        (torch.Size([2, 1, 8, 8]), torch.Size([2, 3]), torch.Size([2]))
    """
    _check_float4d(rgb, 3, "simulate_raw", "an sRGB tensor")
    sim = _check_sim(sim)
    if sim.unprocess:
        clean, params = unprocess(rgb, sim.pattern, generator=generator)
    else:
        clean, params = mosaic(rgb, sim.pattern), None
    return replace(capture(clean, sim, generator), unprocess_params=params)


class RawSimulator(nn.Module):
    """Bayer mosaic + additive Gaussian noise: the RAW that the paper's Table I student sees.

    A thin module over :func:`simulate_raw` with ``RawSimulation(pattern, sigma=sigma, clip=clip)`` (plain mosaic,
    Gaussian noise); ``self.sim`` holds the settings.

    Args:
        pattern: Bayer pattern (RGGB, BGGR, GRBG, GBRG).
        sigma: Gaussian noise std in units of the white level (paper: 0.1); 0 for a clean mosaic.
        clip: clip the noisy RAW to [0, 1] (default False: see :func:`add_gaussian_noise`).

    Raises:
        ValueError: for an unknown pattern or a negative sigma (at construction).

    Source: ISP Distillation, Sec. IV-A.

    Example:
        >>> sim = RawSimulator("RGGB", sigma=0.1)
        >>> raw = sim(torch.rand(2, 3, 32, 32), generator=torch.Generator().manual_seed(0))
        >>> raw.shape
        torch.Size([2, 1, 32, 32])
        >>> RawSimulator("RGGB", sigma=0)(torch.full((1, 3, 2, 2), 0.25))
        tensor([[[[0.2500, 0.2500],
                  [0.2500, 0.2500]]]])
    """

    def __init__(self, pattern: str = "RGGB", sigma: float = 0.1, clip: bool = False) -> None:
        super().__init__()
        self.sim = RawSimulation(pattern, noise="gaussian", sigma=sigma, clip=bool(clip))

    @property
    def pattern(self) -> str:
        return self.sim.pattern

    @property
    def sigma(self) -> float:
        return self.sim.sigma

    @property
    def clip(self) -> bool:
        return self.sim.clip

    def forward(self, rgb: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) noisy mosaic (same dtype and device)."""
        return simulate_raw(rgb, self.sim, generator).raw

    def extra_repr(self) -> str:
        return f"pattern={self.pattern!r}, sigma={self.sigma}, clip={self.clip}"
