"""Per-CFA-site input statistics and normalisation (ISP Distillation, Sec. III)."""

from __future__ import annotations

import torch

from rawvision.raw.cfa import cfa_masks

__all__ = ["CFAStatistics", "cfa_site_statistics"]


class CFAStatistics:
    """Running mean and standard deviation of a RAW mosaic, separately over its R, G and B sites.

    Accumulates in float64, so it can stream over a whole training set batch by batch.

    Example:
        >>> stats = CFAStatistics("RGGB")
        >>> stats.update(torch.rand(4, 1, 16, 16))
        >>> mean, std = stats.compute()  # each (3,) float32: R, G, B
        >>> mean.shape, mean.dtype
        (torch.Size([3]), torch.float32)
    """

    def __init__(self, pattern: str = "RGGB") -> None:
        self.pattern = pattern
        self.count = torch.zeros(3, dtype=torch.float64)
        self.sum = torch.zeros(3, dtype=torch.float64)
        self.sum_sq = torch.zeros(3, dtype=torch.float64)

    def update(self, raw: torch.Tensor) -> None:
        """Add a (B, 1, H, W) mosaic (any range) to the statistics."""
        if raw.ndim != 4 or raw.shape[1] != 1:
            raise ValueError(f"CFA statistics need a RAW mosaic of shape (B, 1, H, W), got {tuple(raw.shape)}")
        masks = cfa_masks(self.pattern, raw.shape[-2], raw.shape[-1], device=raw.device, dtype=torch.float64)
        x = raw.detach().to(torch.float64)
        self.count += (masks.sum(dim=(1, 2)) * raw.shape[0]).cpu()
        self.sum += (x * masks).sum(dim=(0, 2, 3)).cpu()
        self.sum_sq += (x * x * masks).sum(dim=(0, 2, 3)).cpu()

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mean, std)``, each (3,) float32 in R, G, B order (population std).

        Raises:
            ValueError: if a colour has no sample yet.
        """
        if bool((self.count == 0).any()):
            raise ValueError("CFA statistics are empty: update() them with at least one mosaic first")
        mean = self.sum / self.count
        var = (self.sum_sq / self.count - mean * mean).clamp(min=0)
        return mean.float(), var.sqrt().float()


def cfa_site_statistics(raw: torch.Tensor, pattern: str = "RGGB") -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of a (B, 1, H, W) mosaic over its R, G and B sites: two (3,) float32 tensors (R, G, B).

    Source: ISP Distillation, Sec. III: "the mean and STD are calculated separately for R, G, and B pixels in the
    Bayer pattern".
    """
    stats = CFAStatistics(pattern)
    stats.update(raw)
    return stats.compute()
