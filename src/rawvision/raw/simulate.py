"""RGB -> simulated RAW, as an ``nn.Module`` for the data pipeline (ISP Distillation, Sec. IV-A)."""

from __future__ import annotations

import torch
from torch import nn

from rawvision.raw.cfa import check_pattern, mosaic
from rawvision.raw.noise import add_gaussian_noise, check_sigma

__all__ = ["RawSimulator"]


class RawSimulator(nn.Module):
    """Bayer mosaic + additive Gaussian noise: the RAW that the paper's Table I student sees.

    Args:
        pattern: Bayer pattern (RGGB, BGGR, GRBG, GBRG).
        sigma: Gaussian noise std in units of the white level (paper: 0.1); 0 for a clean mosaic.
        clip: clip the noisy RAW to [0, 1] (default False: see :func:`add_gaussian_noise`).

    Raises:
        ValueError: for an unknown pattern or a negative sigma (at construction).

    Example:
        >>> sim = RawSimulator("RGGB", sigma=0.1)
        >>> raw = sim(torch.rand(2, 3, 32, 32), generator=torch.Generator().manual_seed(0))  # (2, 1, 32, 32)
    """

    def __init__(self, pattern: str = "RGGB", sigma: float = 0.1, clip: bool = False) -> None:
        super().__init__()
        self.pattern = check_pattern(pattern)
        self.sigma = check_sigma(sigma)
        self.clip = bool(clip)

    def forward(self, rgb: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) noisy mosaic (same dtype and device)."""
        return add_gaussian_noise(mosaic(rgb, self.pattern), self.sigma, generator=generator, clip=self.clip)

    def extra_repr(self) -> str:
        return f"pattern={self.pattern!r}, sigma={self.sigma}, clip={self.clip}"
