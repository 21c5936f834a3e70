"""Demosaicing: reconstruct (B, 3, H, W) RGB from a (B, 1, H, W) Bayer mosaic, as batched convolutions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rawvision.raw.cfa import cfa_masks

__all__ = ["demosaic_bilinear"]

# Bilinear interpolation kernels (colour-demosaicing's ``demosaicing_CFA_Bayer_bilinear``): R and B sites lie on a
# 2x2 lattice, G on a quincunx.
_K_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4
_K_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4


def demosaic_bilinear(raw: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Bilinear demosaicing: fill each colour's missing sites with the mean of its nearest recorded neighbours.

    Recorded values are kept exactly. Borders use reflection padding (``F.pad(mode="reflect")``), which keeps the
    CFA phase, so border pixels are interpolated from real same-colour neighbours. The operation is linear and
    differentiable.

    Args:
        raw: (B, 1, H, W) float mosaic, H and W >= 2, any range.
        pattern: Bayer pattern of the top-left 2x2 block (RGGB, BGGR, GRBG, GBRG).

    Returns:
        (B, 3, H, W) RGB in the dtype, device and range of ``raw``.

    Raises:
        ValueError: for a wrong shape or an unknown pattern.

    Source: the bilinear input adapter of ISP Distillation (Sec. III, "filling the missing values using a bilinear
    interpolation"); kernels as colour-demosaicing's bilinear method (Losson et al. 2010).

    Example:
        >>> rgb = demosaic_bilinear(torch.rand(2, 1, 8, 8), "GRBG")
        >>> rgb.shape
        torch.Size([2, 3, 8, 8])
    """
    if raw.ndim != 4 or raw.shape[1] != 1:
        raise ValueError(f"demosaic expects a RAW mosaic of shape (B, 1, H, W), got {tuple(raw.shape)}")
    if raw.shape[-1] < 2 or raw.shape[-2] < 2:
        raise ValueError(f"demosaic needs H, W >= 2, got {tuple(raw.shape[-2:])}")
    masks = cfa_masks(pattern, raw.shape[-2], raw.shape[-1], device=raw.device, dtype=raw.dtype)
    sparse = raw * masks  # (B, 3, H, W)
    weight = torch.stack([_K_RB, _K_G, _K_RB]).to(device=raw.device, dtype=raw.dtype).unsqueeze(1)
    return F.conv2d(F.pad(sparse, (1, 1, 1, 1), mode="reflect"), weight, groups=3)
