"""Input adapters that let an RGB classifier read a RAW mosaic (ISP Distillation, Sec. III)."""

from __future__ import annotations

import torch
from torch import nn

from rawvision.raw.cfa import check_pattern
from rawvision.raw.demosaic import demosaic_bilinear

__all__ = ["BilinearDemosaic", "RawInputAdapter"]


class BilinearDemosaic(nn.Module):
    """``nn.Module`` form of :func:`rawvision.raw.demosaic_bilinear`: (B, 1, H, W) -> (B, 3, H, W).

    Args:
        pattern: Bayer pattern (RGGB, BGGR, GRBG, GBRG; case-insensitive). Raises ValueError for any other.

    Shapes: (B, 1, H, W) float mosaic (any range; rawvision uses [0, 1]), H and W even -> (B, 3, H, W) of the same
    dtype; recorded sites keep their values, the others are averages of their same-colour neighbours.

    Example:
        >>> BilinearDemosaic("rggb")(torch.full((1, 1, 4, 4), 0.25)).unique().tolist()  # flat grey stays flat
        [0.25]
    """

    def __init__(self, pattern: str = "RGGB") -> None:
        super().__init__()
        self.pattern = check_pattern(pattern)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) mosaic -> (B, 3, H, W) RGB (see :func:`rawvision.raw.demosaic_bilinear`)."""
        return demosaic_bilinear(raw, self.pattern)

    def extra_repr(self) -> str:
        return f"pattern={self.pattern!r}"


class RawInputAdapter(nn.Module):
    """The student's input: bilinear demosaic, then normalisation with per-CFA-site statistics.

    ``y_c = (demosaic(raw)_c - mean_c) / std_c * target_std_c + target_mean_c`` for c in R, G, B, where
    ``mean``/``std`` are computed over the R, G and B sites of the training mosaics
    (:class:`rawvision.raw.CFAStatistics`). Bilinear demosaicing interpolates each colour from its own sites
    only, so this equals normalising each site and then demosaicing.

    ``target_mean``/``target_std`` place the standardised input where the pretrained network expects its input
    (the ImageNet RGB statistics in the network's input space). For a torchvision model normalised with the ImageNet
    mean/std they are 0 and 1, i.e. exactly the paper's zero-mean, unit-std input; for EfficientNet-Lite's TF-Lite
    preprocessing ``(255 x - 127) / 128`` they are about (-0.03, 0.46): a fixed per-channel affine map that keeps
    the student's first layer, initialised from the teacher, in its trained range.

    The statistics are buffers: they are saved in the checkpoint and used at evaluation.

    Args:
        pattern: Bayer pattern of the input mosaics.
        mean, std: (3,) per-CFA-site statistics (R, G, B) of the training RAW; defaults 0 and 1 until set.
        target_mean, target_std: (3,) values; default 0 and 1.

    Shapes: (B, 1, H, W) float RAW -> (B, 3, H, W) float.

    Source: Schwartz, Bronstein, Giryes, "ISP Distillation" (arXiv 2101.10203), Sec. III: the student reads the RAW
    mosaic, demosaiced and standardised per CFA site.

    Example:
        >>> ad = RawInputAdapter("RGGB", mean=[0.2, 0.4, 0.3], std=[0.1, 0.2, 0.1])
        >>> raw = torch.tensor([[0.2, 0.4], [0.4, 0.3]]).repeat(2, 2)[None, None]  # each site at its mean
        >>> ad(raw).abs().max().item()  # standardised: 0 everywhere (target mean 0, std 1)
        0.0
    """

    def __init__(self, pattern: str = "RGGB", mean=None, std=None, target_mean=None, target_std=None) -> None:
        super().__init__()
        self.demosaic = BilinearDemosaic(pattern)

        def vec(v, default):
            return torch.full((3,), float(default)) if v is None else torch.as_tensor(v, dtype=torch.float32).view(3)

        self.register_buffer("mean", vec(mean, 0.0))
        self.register_buffer("std", vec(std, 1.0))
        self.register_buffer("target_mean", vec(target_mean, 0.0))
        self.register_buffer("target_std", vec(target_std, 1.0))

    @property
    def pattern(self) -> str:
        """The Bayer pattern of the input mosaics (upper case)."""
        return self.demosaic.pattern

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the per-CFA-site (R, G, B) mean and std: (3,) each, in the mosaic's units.

        Raises:
            ValueError: a std that is not > 0.
        """
        std = torch.as_tensor(std, dtype=torch.float32).view(3)
        if bool((std <= 0).any()):
            raise ValueError(f"per-CFA-site std must be > 0, got {std.tolist()}")
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32).view(3))
        self.std.copy_(std)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) float RAW -> (B, 3, H, W) standardised, then placed at ``target_mean``/``target_std``."""
        rgb = self.demosaic(raw)
        scale = (self.target_std / self.std).view(1, 3, 1, 1).to(rgb.dtype)
        shift = (self.target_mean - self.mean * self.target_std / self.std).view(1, 3, 1, 1).to(rgb.dtype)
        return rgb * scale + shift
