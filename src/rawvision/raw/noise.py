"""Sensor noise models applied to RAW mosaics."""

from __future__ import annotations

import math

import torch

__all__ = [
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_shot_read_noise",
    "check_sigma",
    "random_noise_levels",
    "simulate_short_exposure",
]


def check_sigma(sigma: float) -> float:
    """Return ``sigma`` as a float if it is a finite number >= 0. Raises ValueError (one line) otherwise."""
    sigma = float(sigma)
    if not (sigma >= 0 and sigma != float("inf")):
        raise ValueError(f"noise sigma must be a finite number >= 0, got {sigma}")
    return sigma


def add_gaussian_noise(
    raw: torch.Tensor,
    sigma: float = 0.1,
    *,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Add zero-mean, signal-independent Gaussian noise of standard deviation ``sigma``.

    Args:
        raw: (B, 1, H, W) (or any shape) float RAW in [0, 1] (1 = white level).
        sigma: noise standard deviation in the same units (fraction of the white level); 0 returns ``raw``
            unchanged. The paper's setting is 0.1.
        generator: a ``torch.Generator`` on ``raw``'s device for reproducible noise; the global RNG if None.
        clip: if True, clip the result to [0, 1] (a sensor's range). The default False keeps negative values and
            values above 1, as the paper's additive model does not say it clips.

    Returns:
        Tensor of the shape, dtype and device of ``raw``.

    Raises:
        ValueError: if ``sigma`` is negative or not finite.

    Source: ISP Distillation, Sec. IV-A ("added synthetic Gaussian noise with STD = 0.1, pixel values in [0, 1]").

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> noisy = add_gaussian_noise(torch.zeros(1, 1, 4, 4), 0.1, generator=g)
        >>> noisy.shape, bool(noisy.min() < 0)  # not clipped by default
        (torch.Size([1, 1, 4, 4]), True)
        >>> add_gaussian_noise(torch.zeros(1, 1, 4, 4), 0.1, generator=g, clip=True).min()
        tensor(0.)
    """
    sigma = check_sigma(sigma)
    if sigma == 0:
        return raw.clamp(0, 1) if clip else raw
    noise = torch.randn(raw.shape, generator=generator, device=raw.device, dtype=raw.dtype)
    out = noise.mul_(sigma).add_(raw)  # = raw + sigma * noise, without a third buffer
    return out.clamp_(0, 1) if clip else out


# --------------------------------------------------------------------------------------------------------------------
# Heteroscedastic sensor noise (Brooks et al. 2019) and short exposures (ISP Distillation, Sec. III and IV-B).
# --------------------------------------------------------------------------------------------------------------------

# Brooks et al.'s noise-level distribution (unprocess.py ``random_noise_levels``; NOTES.md Sec. A).
_LOG_SHOT_RANGE = (math.log(1e-4), math.log(1.2e-2))
_READ_LINE = (2.18, 1.20)  # log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26^2)
_READ_LINE_STD = 0.26


def _check_raw4d(raw: torch.Tensor, fn: str) -> None:
    if not isinstance(raw, torch.Tensor) or raw.ndim != 4:
        shape = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
        raise ValueError(f"{fn} expects a RAW tensor of shape (B, C, H, W), got {shape}")
    if not raw.is_floating_point():
        raise ValueError(f"{fn} expects a floating-point RAW tensor, got {raw.dtype}")


def _per_sample(value, name: str, raw: torch.Tensor, *, minimum: float = 0.0) -> torch.Tensor:
    """A number or a 0-d / (1,) / (B,) tensor -> (B, 1, 1, 1) in ``raw``'s dtype and device; finite and >= minimum
    (checked on the CPU only: on an accelerator the check would be a host sync in every training step)."""
    v = torch.as_tensor(value, device=raw.device).to(raw.dtype)
    if v.ndim == 0:
        v = v.reshape(1)
    b = raw.shape[0]
    if v.ndim != 1 or v.shape[0] not in (1, b):
        raise ValueError(f"{name} must be a number or a ({b},) tensor (one per sample), got shape {tuple(v.shape)}")
    if v.device.type == "cpu":  # checked where it is free; on an accelerator a check would sync the host every step
        bad = ~torch.isfinite(v) | (v < minimum)
        if bool(bad.any()):
            raise ValueError(f"{name} must be finite and >= {minimum:g}, got {v.detach().cpu().tolist()}")
    return v.expand(b).view(b, 1, 1, 1)


def _safe_sqrt(var: torch.Tensor) -> torch.Tensor:
    """sqrt with a zero (not infinite) gradient where var == 0."""
    pos = var > 0
    return torch.where(pos, torch.where(pos, var, torch.ones_like(var)).sqrt(), torch.zeros_like(var))


def random_noise_levels(
    batch: int,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random shot and read noise levels, Brooks et al.'s log-log distribution fitted to real cameras.

    ``log(shot) ~ U(log 1e-4, log 1.2e-2)``; ``log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26^2)``. Drawn in float64,
    in this order (uniforms for all samples, then normals).

    Args:
        batch: number of samples B >= 1.
        generator: a ``torch.Generator`` for reproducible draws (the draw runs on its device); global RNG if None.
        device: device of the result (default: the generator's, else CPU).
        dtype: dtype of the result.

    Returns:
        ``(shot, read)``, each (B,) > 0, in units of the white level: the noise variance of a RAW value x in [0, 1]
        is ``x * shot + read`` (``read`` is a variance; its std is ``sqrt(read)``).

    Raises:
        ValueError: ``batch`` is not an int >= 1.

    Source: Brooks et al. 2019, Sec. 4 (noise levels sampled from the shot/read relation of real sensors' noise
    profiles); unprocess.py ``random_noise_levels``; NOTES.md Sec. A (low-light variant of RAW-Adapter).

    Example:
        >>> shot, read = random_noise_levels(4, torch.Generator().manual_seed(0))
        >>> shot.shape, bool(((shot >= 1e-4) & (shot <= 1.2e-2)).all()), bool((read > 0).all())
        (torch.Size([4]), True, True)
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an int >= 1, got {batch!r}")
    sdev = generator.device if generator is not None else torch.device(device if device is not None else "cpu")
    kw = {"generator": generator, "device": sdev, "dtype": torch.float64}
    lo, hi = _LOG_SHOT_RANGE
    log_shot = torch.rand((batch,), **kw) * (hi - lo) + lo
    log_read = _READ_LINE[0] * log_shot + _READ_LINE[1] + torch.randn((batch,), **kw) * _READ_LINE_STD
    out = torch.device(device) if device is not None else sdev
    return log_shot.exp().to(device=out, dtype=dtype), log_read.exp().to(device=out, dtype=dtype)


def add_shot_read_noise(
    raw: torch.Tensor,
    shot: torch.Tensor | float,
    read: torch.Tensor | float,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Add heteroscedastic Gaussian noise, the Gaussian approximation of Poisson (shot) + Gaussian (read) noise.

    ``out = raw + sqrt(max(raw, 0) * shot + read) * N(0, 1)``, per pixel, with per-sample levels. (Brooks uses
    ``raw * shot + read``; the ``max(raw, 0)`` only differs for negative inputs, where the variance would be invalid.)
    Differentiable in ``raw`` (the noise std depends on it; zero-variance pixels get a finite gradient).

    Args:
        raw: (B, C, H, W) float RAW, clean, in [0, 1] (black level 0, 1 = white level); C is usually 1.
        shot: number or (B,) tensor >= 0: shot-noise variance per unit signal (gain of the white-level units per
            photo-electron: a value x holds x / shot electrons).
        read: number or (B,) tensor >= 0: signal-independent read-noise variance.
        generator: a ``torch.Generator`` on ``raw``'s device; the global RNG if None.
        clip: clip the result to [0, 1] (default False, as Brooks).

    Returns:
        Tensor of ``raw``'s shape, dtype and device.

    Raises:
        ValueError: wrong shape, a level with a wrong shape, negative or not finite.

    Source: Brooks et al. 2019, Sec. 3 "Shot and Read Noise" (``y ~ N(x, lambda_read + lambda_shot x)``);
    unprocess.py ``add_noise``.

    Example:
        >>> noisy = add_shot_read_noise(torch.full((2, 1, 8, 8), 0.5), 0.01, 0.0005, torch.Generator().manual_seed(0))
        >>> round(float(noisy.mean()), 2), round((0.5 * 0.01 + 0.0005) ** 0.5, 3)  # mean 0.5, std sqrt(x shot + read)
        (0.5, 0.074)
    """
    _check_raw4d(raw, "add_shot_read_noise")
    shot_ = _per_sample(shot, "shot", raw)
    read_ = _per_sample(read, "read", raw)
    std = _safe_sqrt(raw.clamp(min=0) * shot_ + read_)
    out = raw + std * torch.randn(raw.shape, generator=generator, device=raw.device, dtype=raw.dtype)
    return out.clamp(0, 1) if clip else out


def add_poisson_gaussian_noise(
    raw: torch.Tensor,
    shot: torch.Tensor | float,
    read: torch.Tensor | float,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Add true Poisson shot noise and Gaussian read noise: ``shot * Poisson(max(raw, 0) / shot) + sqrt(read) N(0,1)``.

    Same parametrisation as :func:`add_shot_read_noise` (mean ``raw``, variance ``raw * shot + read``), but the
    photo-electron count ``raw / shot`` (``1 / shot`` = photo-electrons per unit of white level) is drawn from a
    Poisson law, so the output of a dark pixel is discrete and skewed as on a real sensor. ``shot = 0`` means no
    shot noise. ``torch.poisson`` accepts a generator (checked on torch 2.13), so the draw is reproducible.
    Gradient: straight-through, ``d out / d raw = 1`` (the noise is treated as additive; ``torch.poisson`` itself
    has a zero gradient).

    Args:
        raw: (B, C, H, W) float RAW, clean, in [0, 1] (black level 0, 1 = white level).
        shot: number or (B,) tensor >= 0: white-level units per photo-electron.
        read: number or (B,) tensor >= 0: read-noise variance.
        generator: a ``torch.Generator`` on ``raw``'s device (used for the Poisson then the Gaussian draw).
        clip: clip the result to [0, 1].

    Returns:
        Tensor of ``raw``'s shape, dtype and device (Poisson drawn in float32, or float64 for float64 input).

    Raises:
        ValueError: wrong shape, a level with a wrong shape, negative or not finite.

    Source: Brooks et al. 2019, Sec. 3 "Shot and Read Noise" (the Poisson-Gaussian model it approximates).

    Example:
        >>> noisy = add_poisson_gaussian_noise(torch.full((1, 1, 8, 8), 0.5), 1e-3, 1e-5, torch.Generator())
        >>> noisy.shape, round(float(noisy.mean()), 1)
        (torch.Size([1, 1, 8, 8]), 0.5)
    """
    _check_raw4d(raw, "add_poisson_gaussian_noise")
    shot_ = _per_sample(shot, "shot", raw)
    read_ = _per_sample(read, "read", raw)
    work = torch.float64 if raw.dtype == torch.float64 else torch.float32
    x = raw.detach().clamp(min=0).to(work)
    s = shot_.to(work)
    has_shot = s > 0
    rate = torch.where(has_shot, x / torch.where(has_shot, s, torch.ones_like(s)), torch.zeros_like(x))
    electrons = torch.poisson(rate, generator=generator)
    signal = torch.where(has_shot, electrons * s, x).to(raw.dtype)
    noise = _safe_sqrt(read_) * torch.randn(raw.shape, generator=generator, device=raw.device, dtype=raw.dtype)
    out = signal + (raw - raw.detach()) + noise  # value: Poisson signal + read noise; gradient: identity in raw
    return out.clamp(0, 1) if clip else out


def _check_bit_depth(bit_depth) -> int | None:
    if bit_depth is None:
        return None
    if isinstance(bit_depth, bool) or not isinstance(bit_depth, int) or not 1 <= bit_depth <= 24:
        raise ValueError(f"bit_depth must be None or an int in [1, 24] (bits of the sensor's ADC), got {bit_depth!r}")
    return bit_depth


def simulate_short_exposure(
    raw: torch.Tensor,
    ratio: torch.Tensor | float,
    shot: torch.Tensor | float,
    read: torch.Tensor | float,
    bit_depth: int | None = None,
    generator: torch.Generator | None = None,
    *,
    brighten: bool = True,
    clip: bool = True,
    poisson: bool = False,
) -> torch.Tensor:
    """Simulate a short-exposure capture of a clean RAW: 1/k of the light, sensor noise, ADC, optional brightening.

    Physical model, for exposure ratio ``k = ratio`` (long / short exposure time) and a clean long-exposure RAW ``x``:

    1. the sensor collects 1/k of the photons: signal ``x / k``;
    2. shot and read noise of the short capture, with the levels ``shot`` and ``read`` of that capture (in units of
       its white level, as a DNG noise profile or :func:`random_noise_levels` give them): variance
       ``(x / k) * shot + read`` (Gaussian approximation, or a true Poisson draw with ``poisson=True``);
    3. the sensor saturates: clip to [0, 1] (black to white level) when ``clip``;
    4. the ADC: rounding to ``2**bit_depth - 1`` levels of the white level when ``bit_depth`` is set;
    5. ``brighten=True``: multiply by k (a digital gain), so the output has the long exposure's brightness
       (mean ``x`` where nothing clips) with more noise. ``brighten=False`` returns the dark frame as captured.

    Hence the variance of the brightened output (unclipped, unquantised) is ``k * x * shot + k**2 * read`` (k times
    the shot term, k squared times the read term of a capture at the same levels), plus ``k**2 / (12 L**2)`` from
    quantisation at ``L = 2**bit_depth - 1`` levels; its values lie on the grid ``k * i / L``. Brightened values can
    exceed 1 (noise on bright pixels; the clip is at the sensor, before the gain).

    Which frame the student sees: ISP Distillation (Sec. III, Eqs. 5-6) trains ``M_RAW(RAW_short)`` against the
    teacher's prediction on ``ISP(RAW_long)``; on HDR+ (Sec. IV-B) ``RAW_short`` is one frame of the burst, whose
    exposure matches the merged RAW's (the merge averages aligned frames), i.e. the same brightness with more noise:
    ``brighten=True`` (default) is that setting. The paper gives no exposure ratio, noise levels or bit depth; the
    noise model is Brooks et al.'s.

    Args:
        raw: (B, C, H, W) float clean long-exposure RAW in [0, 1] (black level 0, 1 = white level).
        ratio: exposure ratio k >= 1, a number or a (B,) tensor (1 = same exposure, noise only).
        shot, read: numbers or (B,) tensors >= 0, noise levels of the short capture (see :func:`add_shot_read_noise`).
        bit_depth: None (no quantisation) or the ADC's bits, 1..24 (e.g. 10, 12, 14).
        generator: a ``torch.Generator`` on ``raw``'s device; the global RNG if None.
        brighten: multiply the captured frame by k (default True) or return it dark (False).
        clip: clip the captured frame to [0, 1] (default True).
        poisson: draw the shot noise from a Poisson law (:func:`add_poisson_gaussian_noise`) instead of its Gaussian
            approximation (:func:`add_shot_read_noise`).

    Returns:
        Tensor of ``raw``'s shape, dtype and device: in [0, k] when brightened and clipped, [0, 1] when not brightened.
        Differentiable in ``raw`` (the rounding passes the gradient straight through).

    Raises:
        ValueError: wrong shapes, ``ratio`` < 1 or not finite, negative or non-finite noise levels, bad ``bit_depth``.

    Source: ISP Distillation (Schwartz et al.), Sec. III (Eqs. 5-6) and IV-B (HDR+ short-exposure frames); Brooks et
    al. 2019, Sec. 3 "Shot and Read Noise".

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> shot, read = random_noise_levels(2, g)
        >>> short = simulate_short_exposure(torch.rand(2, 1, 16, 16), 8.0, shot, read, bit_depth=12, generator=g)
        >>> levels = short / 8 * 4095  # brightened by 8 from the 12-bit grid i / 4095
        >>> short.shape, bool(torch.allclose(levels, levels.round(), atol=1e-3)), bool(short.max() <= 8)
        (torch.Size([2, 1, 16, 16]), True, True)
    """
    _check_raw4d(raw, "simulate_short_exposure")
    k = torch.as_tensor(ratio, device=raw.device)
    if k.ndim == 0:
        k = k.reshape(1)
    if k.ndim != 1 or k.shape[0] not in (1, raw.shape[0]):
        raise ValueError(f"ratio must be a number or a ({raw.shape[0]},) tensor, got shape {tuple(k.shape)}")
    if not bool((torch.isfinite(k) & (k >= 1)).all()):
        raise ValueError(f"exposure ratio must be finite and >= 1 (long / short exposure time), got {k.tolist()}")
    k = k.to(raw.dtype).expand(raw.shape[0]).view(-1, 1, 1, 1)
    bits = _check_bit_depth(bit_depth)
    add = add_poisson_gaussian_noise if poisson else add_shot_read_noise
    x = add(raw / k, shot, read, generator)
    if clip:
        x = x.clamp(0.0, 1.0)
    if bits is not None:
        levels = float(2**bits - 1)
        q = torch.round(x.detach() * levels) / levels
        x = q + (x - x.detach())  # exact grid values; straight-through gradient
    return x * k if brighten else x
