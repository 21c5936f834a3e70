"""Sensor noise models applied to RAW mosaics."""

from __future__ import annotations

import torch

__all__ = ["add_gaussian_noise", "check_sigma"]


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
    """
    sigma = check_sigma(sigma)
    if sigma == 0:
        return raw.clamp(0, 1) if clip else raw
    noise = torch.randn(raw.shape, generator=generator, device=raw.device, dtype=raw.dtype)
    out = raw + sigma * noise
    return out.clamp(0, 1) if clip else out
