"""LibRaw's rendering of a RAW file to sRGB: the reference ISP (the "RGB_long = ISP(RAW_long)" of the paper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["LIBRAW_DEFAULTS", "render_libraw"]

# As-shot white balance, sRGB primaries and gamma, 8 bit, and no rotation so the rendering stays pixel-aligned with
# the sensor's visible area. Everything else is LibRaw's default (AHD demosaicing, auto-brightness on).
LIBRAW_DEFAULTS: dict = {"use_camera_wb": True, "output_bps": 8, "user_flip": 0}


def render_libraw(path: str | Path, **postprocess_kwargs) -> np.ndarray:
    """Render a RAW file to sRGB with LibRaw (``rawpy.RawPy.postprocess``), pixel-aligned with its visible area.

    Args:
        path: a RAW file LibRaw reads.
        **postprocess_kwargs: overrides of :data:`LIBRAW_DEFAULTS` (any ``rawpy.Params`` field).

    Returns:
        (H, W, 3) uint8 (or uint16 with ``output_bps=16``) sRGB, H x W = the file's ``raw_image_visible`` shape.

    Raises:
        rawvision.raw.files.RawFileError: the file is missing, not a RAW file, or LibRaw's output is not aligned
            with the visible sensor area (e.g. a ``half_size`` or rotated rendering was asked for).
    """
    import rawpy

    from rawvision.raw.files import RawFileError

    p = Path(path)
    if not p.is_file():
        raise RawFileError(f"RAW file {p} not found")
    kwargs = {**LIBRAW_DEFAULTS, **postprocess_kwargs}
    try:
        with rawpy.imread(str(p)) as r:
            shape = r.raw_image_visible.shape[:2]  # before postprocess, which may change LibRaw's sizes
            rgb = r.postprocess(**kwargs)
    except (rawpy.LibRawError, OSError) as e:
        raise RawFileError(f"{p}: LibRaw cannot render it ({e.__class__.__name__}: {e})") from None
    if rgb.shape[:2] != shape:
        raise RawFileError(
            f"{p}: LibRaw's rendering is {rgb.shape[1]}x{rgb.shape[0]} px, the visible sensor area "
            f"{shape[1]}x{shape[0]}: not pixel-aligned (options {kwargs})"
        )
    return np.ascontiguousarray(rgb)
