"""Colour filter arrays (CFA): Bayer patterns, site masks and mosaicing.

Conventions (as colour-demosaicing and Brooks et al. 2019): a Bayer pattern is named by its top-left 2x2 block read
row by row, e.g. ``"RGGB"`` = R at (0, 0), G at (0, 1) and (1, 0), B at (1, 1). Channel indices are 0 = R, 1 = G,
2 = B. Tensors are ``(B, C, H, W)``; a RAW mosaic is ``(B, 1, H, W)``.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["BAYER_PATTERNS", "BayerPattern", "check_pattern", "cfa_masks", "mosaic", "shift_pattern"]

BayerPattern = Literal["RGGB", "BGGR", "GRBG", "GBRG"]
BAYER_PATTERNS: tuple[str, ...] = ("RGGB", "BGGR", "GRBG", "GBRG")
_CHANNEL = {"R": 0, "G": 1, "B": 2}


def check_pattern(pattern: str) -> str:
    """Return ``pattern`` upper-cased if it is a Bayer pattern.

    Raises:
        ValueError: if ``pattern`` is not one of RGGB, BGGR, GRBG, GBRG.
    """
    p = str(pattern).upper()
    if p not in BAYER_PATTERNS:
        raise ValueError(f"unknown CFA pattern {pattern!r}: expected one of {', '.join(BAYER_PATTERNS)}")
    return p


def shift_pattern(pattern: str, dy: int, dx: int) -> str:
    """The Bayer pattern seen by a crop whose origin is offset by ``(dy, dx)`` pixels.

    Example:
        >>> shift_pattern("RGGB", 0, 1)
        'GRBG'
    """
    p = check_pattern(pattern)
    grid = [[p[0], p[1]], [p[2], p[3]]]
    return "".join(grid[(y + dy) % 2][(x + dx) % 2] for y in (0, 1) for x in (0, 1))


def cfa_masks(
    pattern: str, height: int, width: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """One-hot CFA site masks.

    Args:
        pattern: Bayer pattern, one of RGGB, BGGR, GRBG, GBRG.
        height, width: mask size in pixels (any size; the 2x2 tile is repeated and cropped).

    Returns:
        (3, H, W) tensor of 0/1 in ``dtype``: channel c is 1 where the sensor site records colour c (R, G, B).
        The masks sum to 1 at every pixel.

    Raises:
        ValueError: for an unknown pattern.
    """
    p = check_pattern(pattern)
    tile = torch.zeros(3, 2, 2, dtype=dtype, device=device)
    for i, ch in enumerate(p):
        tile[_CHANNEL[ch], i // 2, i % 2] = 1
    reps_h, reps_w = (height + 1) // 2, (width + 1) // 2
    return tile.repeat(1, reps_h, reps_w)[:, :height, :width]


def mosaic(rgb: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Sample an RGB image with a Bayer CFA: keep at each pixel only the colour its sensor site records.

    Args:
        rgb: (B, 3, H, W) float image, linear or gamma-encoded, any range (usually [0, 1]).
        pattern: Bayer pattern of the top-left 2x2 block.

    Returns:
        (B, 1, H, W) mosaic in the dtype, device and range of ``rgb``.

    Raises:
        ValueError: for a wrong shape or an unknown pattern.

    Source: ISP Distillation (Schwartz et al.), Sec. IV-A: "RGB images subsampled according to a Bayer pattern".

    Example:
        >>> raw = mosaic(torch.rand(2, 3, 8, 8), "RGGB")
        >>> raw.shape
        torch.Size([2, 1, 8, 8])
    """
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"mosaic expects an RGB tensor of shape (B, 3, H, W), got {tuple(rgb.shape)}")
    p = check_pattern(pattern)
    out = rgb.new_empty(rgb.shape[0], 1, rgb.shape[-2], rgb.shape[-1])
    for i, ch in enumerate(p):  # four strided copies: each site takes its colour's value (exact, NaN/inf kept)
        dy, dx = divmod(i, 2)
        out[:, 0, dy::2, dx::2] = rgb[:, _CHANNEL[ch], dy::2, dx::2]
    return out
