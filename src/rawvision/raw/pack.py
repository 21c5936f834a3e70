"""Packed RAW: a Bayer mosaic (B, 1, H, W) <-> four half-resolution colour planes (B, 4, H/2, W/2).

Channel order of the packed tensor is the same for every Bayer pattern: **R, Gr, Gb, B**, where Gr is the green
site on the red rows and Gb the green site on the blue rows. A network that reads packed RAW therefore sees the
same colour in the same channel whatever the sensor's pattern (the pattern only decides where each site sits in
the 2x2 block). This is the "packed RAW" input of Chen et al. (CVPR 2018, "Learning to See in the Dark", Fig. 2)
and Brooks et al. (CVPR 2019), with the channel order fixed by colour rather than by position.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rawvision.raw.cfa import check_pattern

__all__ = ["PACKED_CHANNELS", "pack_bayer", "packed_site_order", "unpack_bayer"]

PACKED_CHANNELS: tuple[str, ...] = ("R", "Gr", "Gb", "B")


def packed_site_order(pattern: str) -> list[int]:
    """Position (0..3, row-major in the 2x2 block) of the R, Gr, Gb and B sites for ``pattern``.

    Example:
        >>> packed_site_order("GRBG")   # G R / B G: R at 1, Gr at 0 (red row), Gb at 3, B at 2
        [1, 0, 3, 2]

    Raises:
        ValueError: for an unknown pattern.
    """
    p = check_pattern(pattern)
    r, b = p.index("R"), p.index("B")
    greens = [i for i, c in enumerate(p) if c == "G"]
    # A green is "Gr" when it shares its row (i // 2) with the red site.
    gr = next(i for i in greens if i // 2 == r // 2)
    gb = next(i for i in greens if i != gr)
    return [r, gr, gb, b]


def pack_bayer(raw: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Pack a Bayer mosaic into four half-resolution planes in the order R, Gr, Gb, B.

    Args:
        raw: (B, 1, H, W) mosaic, any dtype and range; H and W even.
        pattern: Bayer pattern of the top-left 2x2 block (RGGB, BGGR, GRBG, GBRG).

    Returns:
        (B, 4, H/2, W/2) tensor, same dtype and device; values are moved, not changed. Differentiable.

    Raises:
        ValueError: for a wrong shape, odd H or W, or an unknown pattern.

    Source: Chen et al., CVPR 2018, Fig. 2 (packing); channel order by colour as documented in this module.

    Example:
        >>> packed = pack_bayer(torch.rand(2, 1, 8, 6), "BGGR")
        >>> packed.shape
        torch.Size([2, 4, 4, 3])
    """
    if raw.ndim != 4 or raw.shape[1] != 1:
        raise ValueError(f"pack_bayer expects a mosaic of shape (B, 1, H, W), got {tuple(raw.shape)}")
    if raw.shape[-2] % 2 or raw.shape[-1] % 2:
        raise ValueError(f"pack_bayer needs even H and W to keep whole 2x2 CFA blocks, got {tuple(raw.shape[-2:])}")
    planes = F.pixel_unshuffle(raw, 2)  # (B, 4, H/2, W/2), channel = 2x2 position, row-major
    return planes[:, packed_site_order(pattern)]


def unpack_bayer(packed: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Inverse of :func:`pack_bayer`: (B, 4, H/2, W/2) planes R, Gr, Gb, B -> (B, 1, H, W) mosaic of ``pattern``.

    Raises:
        ValueError: for a wrong shape or an unknown pattern.

    Example:
        >>> raw = torch.rand(1, 1, 4, 4)
        >>> torch.equal(unpack_bayer(pack_bayer(raw, "GBRG"), "GBRG"), raw)
        True
    """
    if packed.ndim != 4 or packed.shape[1] != 4:
        raise ValueError(f"unpack_bayer expects packed RAW of shape (B, 4, H/2, W/2), got {tuple(packed.shape)}")
    order = packed_site_order(pattern)
    inverse = [order.index(pos) for pos in range(4)]
    return F.pixel_shuffle(packed[:, inverse], 2)
