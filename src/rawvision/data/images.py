"""The one image decoder of the data readers: Pillow, full size, RGB.

:func:`open_rgb` gives a Pillow image (for cropping, resizing, pasting), :func:`load_rgb` the same pixels as a
(3, H, W) uint8 tensor; both decode the same way, so a photo is the same array whichever reader opened it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from rawvision.data.errors import DataError

__all__ = ["load_rgb", "open_rgb"]


def open_rgb(path: str | Path) -> Image.Image:
    """Decode an image file with Pillow to an RGB image, fully loaded (the file is closed on return).

    JPEG files are decoded at full size (no DCT-domain reduction) in the RGB colour space; greyscale, palette,
    RGBA and CMYK images are converted to RGB with Pillow's ``convert("RGB")`` (alpha dropped, not composited).

    Args:
        path: any image file Pillow reads (JPEG, PNG, BMP, TIFF, WebP, ...).

    Returns:
        A ``PIL.Image.Image`` in mode ``"RGB"``, 8 bits per channel, of the file's size (width, height).

    Raises:
        DataError: the file is missing or cannot be decoded as an image (one line naming the file).

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "g.png")
        >>> Image.new("L", (5, 3), 7).save(f)
        >>> im = open_rgb(f)
        >>> im.mode, im.size, im.getpixel((0, 0))
        ('RGB', (5, 3), (7, 7, 7))
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.draft("RGB", im.size)  # JPEG: decode at full size (no reduction), RGB colour space
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"image {path}: cannot decode it ({e.__class__.__name__}: {str(e).splitlines()[0]})") from None


def load_rgb(path: str | Path) -> torch.Tensor:
    """Decode an image file (as :func:`open_rgb`) to a (3, H, W) uint8 tensor, values 0..255, RGB order, CPU.

    Raises:
        DataError: the file is missing or cannot be decoded as an image (one line naming the file).

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "c.png")
        >>> Image.new("RGB", (4, 2), (10, 20, 30)).save(f)
        >>> x = load_rgb(f)
        >>> x.shape, x.dtype, x[:, 0, 0].tolist()
        (torch.Size([3, 2, 4]), torch.uint8, [10, 20, 30])
    """
    arr = np.array(open_rgb(path), dtype=np.uint8)  # (H, W, 3), a writable copy
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()
