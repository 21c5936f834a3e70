"""Tile-by-tile processing of large mosaics (a 60-megapixel RAW) in bounded memory, with results equal to the
whole-image ones.

A tile is processed together with a halo of real neighbours (clipped at the image border; its origin rounded down
to an even row and column, so every tile has the image's Bayer pattern and each pixel keeps its CFA phase, hence
the same filter taps in the same order). A local filter of radius ``r <= halo`` with reflect padding then gives, on
the tile's core, exactly the whole-image result: inside the image the halo supplies the real neighbours, and a tile
touching an image border is padded by the filter at that real border, as the whole image is.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from rawvision.raw.cfa import check_pattern
from rawvision.raw.demosaic import _RADIUS, _check_method, demosaic
from rawvision.raw.noise import check_sigma
from rawvision.raw.simulate import RawSimulation, simulate_raw

__all__ = ["demosaic_tiled", "map_tiles", "simulate_raw_tiled"]

TileFn = Callable[[torch.Tensor, str], torch.Tensor]
_NUMPY_WORK = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


class _Source:
    """Reads regions of a torch tensor or NumPy array (memmaps included) as (B, C, h, w) float tensors."""

    def __init__(self, src, work_dtype: torch.dtype, device, black_level: float, white_level: float | None) -> None:
        if work_dtype not in _NUMPY_WORK:
            raise ValueError(f"work_dtype must be torch.float16, float32 or float64, got {work_dtype}")
        if isinstance(src, torch.Tensor):
            if src.ndim == 2:
                src = src[None, None]
            if src.ndim != 4:
                raise ValueError(f"a tensor source must be (B, C, H, W) or (H, W), got shape {tuple(src.shape)}")
            self.shape = tuple(src.shape)
            self.layout = "torch"
            self.device = torch.device(device) if device is not None else src.device
        elif isinstance(src, np.ndarray):
            if src.ndim == 2:
                self.shape, self.layout = (1, 1, *src.shape), "hw"
            elif src.ndim == 3:
                self.shape, self.layout = (1, src.shape[2], src.shape[0], src.shape[1]), "hwc"
            elif src.ndim == 4:
                self.shape, self.layout = tuple(src.shape), "bchw"
            else:
                raise ValueError(f"an array source must be (H, W), (H, W, C) or (B, C, H, W), got shape {src.shape}")
            if not (np.issubdtype(src.dtype, np.integer) or np.issubdtype(src.dtype, np.floating)):
                raise ValueError(f"an array source must hold integers or floats, got dtype {src.dtype}")
            self.device = torch.device(device) if device is not None else torch.device("cpu")
        else:
            raise ValueError(f"source must be a torch.Tensor or a numpy.ndarray, got {type(src).__name__}")
        if white_level is not None and not float(white_level) > float(black_level):
            raise ValueError(f"white_level ({white_level}) must be above black_level ({black_level})")
        self.src, self.work_dtype = src, work_dtype
        self.black = float(black_level)
        self.range = float(white_level) - self.black if white_level is not None else None

    def read(self, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        if self.layout == "torch":
            t = self.src[:, :, y0:y1, x0:x1].to(device=self.device, dtype=self.work_dtype)
        else:
            if self.layout == "bchw":
                region = self.src[:, :, y0:y1, x0:x1]
            elif self.layout == "hwc":
                region = self.src[y0:y1, x0:x1].transpose(2, 0, 1)[None]
            else:
                region = self.src[y0:y1, x0:x1][None, None]
            a = np.empty(region.shape, dtype=_NUMPY_WORK[self.work_dtype])
            a[...] = region  # one converting copy: C-contiguous and writable, even from a read-only memmap
            t = torch.from_numpy(a).to(self.device)
        if self.black != 0.0:
            t = t - self.black  # out of place: ``t`` may be the caller's tensor
        if self.range is not None:
            t = t / self.range
        return t


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def map_tiles(
    fn: TileFn,
    src: torch.Tensor | np.ndarray,
    pattern: str = "RGGB",
    tile: int = 1024,
    halo: int = 4,
    out_channels: int = 3,
    *,
    out: torch.Tensor | None = None,
    out_dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    work_dtype: torch.dtype = torch.float32,
    black_level: float = 0.0,
    white_level: float | None = None,
) -> torch.Tensor:
    """Apply a local per-pixel operation to a large image tile by tile, into one preallocated output.

    For each ``tile x tile`` core (row-major order) the region grown by ``halo`` pixels on each side, clipped to the
    image and with its origin rounded down to even coordinates (so the tile's Bayer pattern is the image's), is read,
    converted to ``work_dtype`` on ``device``, normalised to ``(x - black_level) / (white_level - black_level)``
    (only ``x - black_level`` when ``white_level`` is None), passed to ``fn(x, pattern)`` and the core of the result
    is written to ``out``. The result equals ``fn`` on the whole image when ``fn`` is a local filter of radius
    <= ``halo`` that pads at the tile's border (reflect, replicate or zero: see the module docstring), e.g.
    demosaicing; pointwise ``fn`` (mosaicing, noise) need ``halo = 0``. Memory: the source, the output and a few
    tile-sized temporaries.

    Args:
        fn: ``fn(x, pattern) -> y``: ``x`` (B, C, h, w) float tile (``work_dtype``, on ``device``; it may be a view
            of a tensor source, so ``fn`` must not modify it in place), ``pattern`` the Bayer pattern of its top-left
            2x2 block (the image's, as tile origins are even); ``y`` (B, out_channels, h, w).
        src: the image: a torch tensor (B, C, H, W) or (H, W); or a NumPy array or memmap (H, W), (H, W, C)
            (channels last, as images are stored) or (B, C, H, W), of any integer or float dtype (e.g. uint16 RAW
            values in DN, uint8 RGB).
        pattern: Bayer pattern of the image's top-left 2x2 block (RGGB, BGGR, GRBG, GBRG).
        tile: core size in pixels, >= 1 (default 1024: 1 megapixel per tile).
        halo: neighbours read around each core, >= 0 (>= the radius of ``fn``'s filter).
        out_channels: channels of ``fn``'s result.
        out: preallocated (B, out_channels, H, W) tensor of any dtype and device (e.g. ``torch.from_numpy`` of a
            NumPy memmap); a new CPU tensor of ``out_dtype`` if None.
        out_dtype: dtype of a new ``out``: float32 (default; exactly the whole-image float32 result, 4 bytes per
            value: 720 MB for a 60-megapixel RGB) or float16 (half that, relative precision 2**-11, values up to
            65504: normalise DN values with ``white_level``).
        device: where ``fn`` runs (default: the source tensor's device, CPU for an array).
        work_dtype: float dtype of the tiles given to ``fn`` (float16, float32 or float64).
        black_level, white_level: the normalisation above, in the source's units (e.g. DN of a RAW file).

    Returns:
        ``out``, filled: (B, out_channels, H, W).

    Raises:
        ValueError: bad source shape or dtype, bad ``tile`` / ``halo`` / ``out_channels``, ``white_level`` not above
            ``black_level``, a wrong ``out`` shape, or ``fn`` returning a wrong shape.

    Example:
        >>> raw = torch.rand(1, 1, 300, 400)
        >>> rgb = map_tiles(lambda x, p: demosaic(x, p, "malvar"), raw, "RGGB", tile=128, halo=2)
        >>> rgb.shape, bool(torch.allclose(rgb, demosaic(raw, "RGGB", "malvar"), atol=1e-6))  # as in one piece
        (torch.Size([1, 3, 300, 400]), True)
    """
    pattern = check_pattern(pattern)
    tile = _check_int(tile, "tile", 1)
    halo = _check_int(halo, "halo", 0)
    out_channels = _check_int(out_channels, "out_channels", 1)
    source = _Source(src, work_dtype, device, black_level, white_level)
    b, _, height, width = source.shape
    if out is None:
        if not out_dtype.is_floating_point:
            raise ValueError(f"out_dtype must be a floating-point dtype, got {out_dtype}")
        out = torch.empty((b, out_channels, height, width), dtype=out_dtype)
    elif not isinstance(out, torch.Tensor) or tuple(out.shape) != (b, out_channels, height, width):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"out must be a tensor of shape {(b, out_channels, height, width)}, got {got}")
    for y0 in range(0, height, tile):
        y1 = min(height, y0 + tile)
        ey0, ey1 = max(0, y0 - halo), min(height, y1 + halo)
        ey0 -= ey0 % 2  # even origin: the tile has the image's CFA phase
        for x0 in range(0, width, tile):
            x1 = min(width, x0 + tile)
            ex0, ex1 = max(0, x0 - halo), min(width, x1 + halo)
            ex0 -= ex0 % 2
            res = fn(source.read(ey0, ey1, ex0, ex1), pattern)
            want = (b, out_channels, ey1 - ey0, ex1 - ex0)
            if not isinstance(res, torch.Tensor) or tuple(res.shape) != want:
                got = tuple(res.shape) if isinstance(res, torch.Tensor) else type(res).__name__
                raise ValueError(f"map_tiles: fn must return a tensor of shape {want} for this tile, got {got}")
            out[:, :, y0:y1, x0:x1].copy_(res[:, :, y0 - ey0 : y1 - ey0, x0 - ex0 : x1 - ex0])
    return out


def demosaic_tiled(
    raw: torch.Tensor | np.ndarray,
    pattern: str = "RGGB",
    method: str = "malvar",
    tile: int = 1024,
    halo: int = 4,
    *,
    out: torch.Tensor | None = None,
    out_dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    work_dtype: torch.dtype = torch.float32,
    black_level: float = 0.0,
    white_level: float | None = None,
) -> torch.Tensor:
    """Demosaic a large mosaic tile by tile; equal to :func:`~rawvision.raw.demosaic.demosaic` on the whole image.

    Equality is exact (same values, borders included) when the whole image is demosaiced in ``work_dtype`` on the
    same device after the same normalisation: each tile carries ``halo`` real neighbours, and only tiles at the image
    border are reflect-padded, at that border. Peak memory is the source, the output and about 25 bytes per tile pixel
    (about 25 MB for ``tile=1024``): a 60-megapixel mosaic (6000 x 10000) fits in well under 4 GB.

    Args:
        raw: the mosaic: torch tensor (B, 1, H, W) or (H, W), or NumPy array / memmap (H, W) or (B, 1, H, W), any
            integer or float dtype (e.g. uint16 DN); H, W >= 3 for malvar, >= 2 for bilinear.
        pattern: Bayer pattern of the top-left 2x2 block (RGGB, BGGR, GRBG, GBRG).
        method: ``"malvar"`` (default) or ``"bilinear"``.
        tile: core size in pixels (default 1024).
        halo: neighbours per side, >= the method's radius (2 for malvar, 1 for bilinear); default 4.
        out, out_dtype, device, work_dtype, black_level, white_level: see :func:`map_tiles` (output float32 by
            default; float16 halves its memory).

    Returns:
        (B, 3, H, W) RGB in ``out``'s dtype (float32 by default), in the normalised units.

    Raises:
        ValueError: unknown method or pattern, ``halo`` below the method's radius, a source with C != 1, and
            :func:`map_tiles`'s errors.

    Source: Malvar et al. 2004 / bilinear, as :func:`~rawvision.raw.demosaic.demosaic`; tiling is ours.

    Example:
        >>> rgb = demosaic_tiled(np.random.randint(0, 4096, (600, 800), dtype=np.uint16), "RGGB", tile=256,
        ...                      white_level=4095)
        >>> tuple(rgb.shape)
        (1, 3, 600, 800)
    """
    method = _check_method(method)
    halo = _check_int(halo, "halo", 0)
    if halo < _RADIUS[method]:
        raise ValueError(f"halo must be >= {_RADIUS[method]} for {method} demosaicing (its radius), got {halo}")
    source_shape = _Source(raw, work_dtype, device, 0.0, None).shape
    if source_shape[1] != 1:
        raise ValueError(f"demosaic_tiled expects a 1-channel mosaic, got shape {source_shape} as (B, C, H, W)")
    return map_tiles(
        lambda x, p: demosaic(x, p, method), raw, pattern, tile, halo, 3, out=out, out_dtype=out_dtype,
        device=device, work_dtype=work_dtype, black_level=black_level, white_level=white_level,
    )


def simulate_raw_tiled(
    rgb: torch.Tensor | np.ndarray,
    pattern: str = "RGGB",
    sigma: float = 0.0,
    *,
    tile: int = 1024,
    generator: torch.Generator | None = None,
    clip: bool = False,
    out: torch.Tensor | None = None,
    out_dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    work_dtype: torch.dtype = torch.float32,
    black_level: float = 0.0,
    white_level: float | None = None,
) -> torch.Tensor:
    """Simulate a RAW mosaic of a large RGB image tile by tile: Bayer mosaic + Gaussian noise (as ``RawSimulator``).

    The mosaic equals :func:`~rawvision.raw.cfa.mosaic` of the whole image. The noise is drawn tile by tile in
    row-major order from ``generator``: reproducible for a given ``tile``, the same distribution as a whole-image
    draw but not the same values. Simulate the whole RAW first, then demosaic it with :func:`demosaic_tiled`
    (noise drawn per demosaicing tile would differ between a tile's halo and its neighbour's core).

    Args:
        rgb: (B, 3, H, W) or NumPy (H, W, 3) image (e.g. uint8 with ``white_level=255``), any range.
        pattern: Bayer pattern of the top-left 2x2 block.
        sigma: Gaussian noise std in the normalised units (fraction of the white level); 0 for a clean mosaic.
        tile: tile size in pixels (default 1024).
        generator: a ``torch.Generator`` on ``device``; the global RNG if None.
        clip: clip the noisy RAW to [0, 1].
        out, out_dtype, device, work_dtype, black_level, white_level: see :func:`map_tiles`.

    Returns:
        (B, 1, H, W) noisy mosaic in ``out``'s dtype (float32 by default).

    Raises:
        ValueError: a source with C != 3, a bad sigma or pattern, and :func:`map_tiles`'s errors.

    Source: ISP Distillation, Sec. IV-A (Bayer mosaic + Gaussian noise, std 0.1), as ``RawSimulator``.

    Example:
        >>> raw = simulate_raw_tiled(np.zeros((600, 800, 3), np.uint8), "RGGB", 0.1, tile=256, white_level=255)
        >>> tuple(raw.shape), round(float(raw.std()), 2)  # black + N(0, 0.1^2)
        ((1, 1, 600, 800), 0.1)
    """
    sigma = check_sigma(sigma)
    source_shape = _Source(rgb, work_dtype, device, 0.0, None).shape
    if source_shape[1] != 3:
        raise ValueError(f"simulate_raw_tiled expects a 3-channel RGB image, got shape {source_shape} as (B, C, H, W)")
    return map_tiles(
        lambda x, p: simulate_raw(x, RawSimulation(p, sigma=sigma, clip=clip), generator).raw, rgb, pattern, tile, 0,
        1, out=out, out_dtype=out_dtype, device=device, work_dtype=work_dtype, black_level=black_level,
        white_level=white_level,
    )
