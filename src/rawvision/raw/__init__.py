"""The RAW sensor model: CFA mosaicing, noise, demosaicing and per-CFA-site statistics."""

from rawvision.raw.cfa import BAYER_PATTERNS, cfa_masks, check_pattern, mosaic, shift_pattern
from rawvision.raw.demosaic import demosaic_bilinear
from rawvision.raw.noise import add_gaussian_noise
from rawvision.raw.normalize import CFAStatistics, cfa_site_statistics
from rawvision.raw.simulate import RawSimulator

__all__ = [
    "BAYER_PATTERNS",
    "CFAStatistics",
    "RawSimulator",
    "add_gaussian_noise",
    "cfa_masks",
    "cfa_site_statistics",
    "check_pattern",
    "demosaic_bilinear",
    "mosaic",
    "shift_pattern",
]
