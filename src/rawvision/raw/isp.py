"""The forward classical ISP: RAW mosaic -> sRGB, differentiable (Brooks et al., CVPR 2019, ``process.py``).

    RAW (B, 1, H, W) in [0, 1] -> white balance on the mosaic -> clip [0, 1] -> demosaic -> camera-to-sRGB CCM
        -> clip [0, 1] -> gamma compression (1/2.2) -> smoothstep tone curve -> sRGB (B, 3, H, W) in [0, 1]

It inverts :func:`rawvision.raw.unprocess.unprocess` step by step: ``process(raw, params.wb_gains, params.cam2rgb,
pattern)`` recovers the photo up to demosaicing error and the highlight-safe gain inversion. It is also a simple
ISP for real RAW files: white-balance gains from the file's as-shot metadata and ``cam2rgb`` from
:func:`cam_to_srgb_from_xyz` of its XYZ -> camera matrix (black level subtracted and scaled to [0, 1] first).

Differences from Brooks' ``process.py``: (1) any Bayer pattern on an (H, W) mosaic instead of RGGB packed to 4
channels; (2) the white-balance gains include the brightening gain (``UnprocessParams.wb_gains``), so the output
has the photo's exposure (Brooks applies red and blue only); (3) the smoothstep tone curve, which Brooks inverts in
``unprocess`` but does not re-apply in ``process.py``, is applied by default (``tone_curve=False`` gives Brooks').
"""

from __future__ import annotations

import torch
from torch import nn

from rawvision.raw.cfa import cfa_masks, check_pattern
from rawvision.raw.demosaic import demosaic
from rawvision.raw.unprocess import apply_ccm, rgb_to_cam_from_xyz

__all__ = [
    "ClassicalISP",
    "apply_white_balance",
    "cam_to_srgb_from_xyz",
    "gamma_compression",
    "process",
    "render_file",
    "smoothstep",
]


def smoothstep(image: torch.Tensor) -> torch.Tensor:
    """The global tone curve ``3x^2 - 2x^3`` (an S-curve; inverse: ``unprocess.inverse_smoothstep``).

    Args:
        image: any shape, float, in [0, 1] (values outside are clipped first).

    Returns:
        Tensor of the same shape, dtype and device, in [0, 1].

    Source: Brooks et al. 2019, Sec. 3 "Tone Mapping".

    Example:
        >>> smoothstep(torch.tensor([0.0, 0.25, 1.0]))
        tensor([0.0000, 0.1562, 1.0000])
    """
    x = image.clamp(0.0, 1.0)
    return 3.0 * x**2 - 2.0 * x**3


def gamma_compression(image: torch.Tensor, gamma: float = 2.2) -> torch.Tensor:
    """Linear -> gamma-encoded: ``max(x, 1e-8) ** (1 / gamma)``.

    Args:
        image: any shape, float, linear values in [0, 1].
        gamma: the exponent (Brooks: 2.2).

    Returns:
        Tensor of the same shape, dtype and device.

    The floor 1e-8 keeps the gradient finite at 0 (Brooks' comment in ``process.py``).

    Source: Brooks et al. 2019, Sec. 3 "Gamma Compression"; ``process.py`` ``gamma_compression``.

    Example:
        >>> gamma_compression(torch.tensor([0.2176]))
        tensor([0.5000])
    """
    return image.clamp(min=1e-8) ** (1.0 / gamma)


def _check_raw(raw: torch.Tensor) -> None:
    if not isinstance(raw, torch.Tensor) or raw.ndim != 4 or raw.shape[1] not in (1, 3):
        shape = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
        raise ValueError(f"raw must be a (B, 1, H, W) mosaic or a (B, 3, H, W) camera-RGB image, got {shape}")
    if not raw.is_floating_point():
        raise ValueError(f"raw must be a floating-point tensor, got {raw.dtype}")


def _batched_gains(wb_gains: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    wb = torch.as_tensor(wb_gains, device=raw.device)
    b = raw.shape[0]
    if wb.ndim == 1:
        wb = wb.unsqueeze(0)
    if wb.ndim != 2 or wb.shape[1] != 3 or wb.shape[0] not in (1, b):
        raise ValueError(f"wb_gains must be (3,) or ({b}, 3) gains (R, G, B), got {tuple(wb.shape)}")
    return wb.to(raw.dtype).expand(b, 3)


def apply_white_balance(raw: torch.Tensor, wb_gains: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Multiply each CFA site of a mosaic by its colour's white-balance gain (or each channel of an RGB image).

    Args:
        raw: (B, 1, H, W) float mosaic in ``pattern``, or (B, 3, H, W) camera RGB (``pattern`` then unused).
        wb_gains: (B, 3) per-sample gains (R, G, B), or (3,) for the whole batch; unitless, usually > 0.
        pattern: Bayer pattern of the mosaic (RGGB, BGGR, GRBG, GBRG).

    Returns:
        Tensor of ``raw``'s shape, dtype and device (not clipped). Linear in ``raw`` and in the gains.

    Raises:
        ValueError: wrong shapes or an unknown pattern.

    Source: Brooks et al. 2019, Sec. 3 "White Balance" and "Digital Gain"; ``process.py`` ``apply_gains``.

    Example:
        >>> out = apply_white_balance(torch.full((2, 1, 2, 2), 0.25), torch.tensor([[2.0, 1.0, 1.5]] * 2), "BGGR")
        >>> out[0, 0]  # B G / G R sites
        tensor([[0.3750, 0.2500],
                [0.2500, 0.5000]])
    """
    _check_raw(raw)
    wb = _batched_gains(wb_gains, raw)
    if raw.shape[1] == 3:
        return raw * wb[:, :, None, None]
    masks = cfa_masks(pattern, raw.shape[-2], raw.shape[-1], device=raw.device, dtype=raw.dtype)  # (3, H, W)
    gain_map = torch.einsum("bc,chw->bhw", wb, masks).unsqueeze(1)
    return raw * gain_map


def cam_to_srgb_from_xyz(xyz_to_cam: torch.Tensor) -> torch.Tensor:
    """The camera RGB -> linear sRGB CCM of a camera given its XYZ -> camera matrix.

    ``cam2rgb = inverse(normalise_rows(xyz2cam @ SRGB_TO_XYZ))``: rows of the sRGB -> camera matrix sum to 1, so
    camera white (1, 1, 1) after white balance renders as sRGB white.

    Args:
        xyz_to_cam: (3, 3) or (B, 3, 3) float, XYZ -> camera (DNG ``ColorMatrix1/2``, rawpy ``rgb_xyz_matrix[:3]``).

    Returns:
        Matrix of the input's shape, in its dtype (float32 for non-float input) and device.

    Raises:
        ValueError: wrong shape, non-finite entries, a row summing to ~0, or a singular matrix.

    Source: Brooks et al. 2019, Sec. 3 "Color Correction" (``random_ccm`` and ``tf.matrix_inverse`` in ``unprocess``).

    Example:
        >>> from rawvision.raw.unprocess import XYZ_TO_CAM_BROOKS
        >>> cam2rgb = cam_to_srgb_from_xyz(XYZ_TO_CAM_BROOKS)
        >>> cam2rgb.shape, bool(torch.allclose(cam2rgb.sum(-1), torch.ones(4, 3, dtype=cam2rgb.dtype)))  # white kept
        (torch.Size([4, 3, 3]), True)
    """
    rgb2cam = rgb_to_cam_from_xyz(xyz_to_cam)
    try:
        return torch.linalg.inv(rgb2cam)
    except RuntimeError:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise ValueError("xyz_to_cam gives a singular sRGB -> camera matrix: cannot invert it") from None


def process(
    raw: torch.Tensor,
    wb_gains: torch.Tensor,
    cam2rgb: torch.Tensor,
    pattern: str = "RGGB",
    demosaic_method: str = "bilinear",
    tone_curve: bool = True,
    gamma: bool = True,
) -> torch.Tensor:
    """Render RAW mosaics to sRGB with the classical ISP of Brooks et al.; differentiable end to end.

    White balance on the mosaic -> clip [0, 1] -> demosaic -> CCM ``cam2rgb`` -> clip [0, 1] -> gamma compression
    (``max(x, 1e-8) ** (1/2.2)``) -> smoothstep tone curve.

    Args:
        raw: (B, 1, H, W) float RAW mosaic in [0, 1] (black level 0, 1 = white level), H, W >= 2. A (B, 3, H, W)
            camera-RGB image is also accepted: the demosaic step is then skipped (for testing the other steps, or a
            RAW demosaiced elsewhere).
        wb_gains: (B, 3) per-sample white-balance gains (R, G, B) (e.g. ``UnprocessParams.wb_gains``, or a file's
            as-shot gains), or (3,) for the whole batch.
        cam2rgb: (B, 3, 3) camera RGB -> linear sRGB CCM (``UnprocessParams.cam2rgb``,
            :func:`cam_to_srgb_from_xyz`), or (3, 3).
        pattern: Bayer pattern of the mosaic (RGGB, BGGR, GRBG, GBRG).
        demosaic_method: a method of :func:`rawvision.raw.demosaic.demosaic` ("bilinear", "malvar").
        tone_curve: apply the smoothstep S-curve (True inverts :func:`~rawvision.raw.unprocess.unprocess`;
            Brooks' ``process.py`` does not apply it: False).
        gamma: apply the 1/2.2 gamma compression (``gamma=False, tone_curve=False`` return linear sRGB).

    Returns:
        (B, 3, H, W) sRGB in [0, 1], ``raw``'s dtype and device.

    Raises:
        ValueError: wrong shapes, an unknown pattern or demosaicing method.

    Source: Brooks et al. 2019, Sec. 3 and ``process.py`` ``process`` (plus the tone curve of Sec. 3 "Tone Mapping").

    Example:
        >>> from rawvision.raw.unprocess import unprocess
        >>> rgb = torch.rand(2, 3, 16, 16)
        >>> raw, p = unprocess(rgb, "RGGB", generator=torch.Generator().manual_seed(0))
        >>> out = process(raw, p.wb_gains, p.cam2rgb, "RGGB")  # ~ rgb
        >>> out.shape, bool(out.min() >= 0), bool(out.max() <= 1)
        (torch.Size([2, 3, 16, 16]), True, True)
    """
    _check_raw(raw)
    pattern = check_pattern(pattern)
    x = apply_white_balance(raw, wb_gains, pattern)
    x = x.clamp(0.0, 1.0)  # saturated sites stay at the white level
    if x.shape[1] == 1:
        x = demosaic(x, pattern, demosaic_method)
    x = apply_ccm(x, cam2rgb)
    x = x.clamp(0.0, 1.0)
    if gamma:
        x = gamma_compression(x)
    if tone_curve:
        x = smoothstep(x)
    return x


class ClassicalISP(nn.Module):
    """:func:`process` as an ``nn.Module`` (no learnable parameters): RAW mosaic + camera metadata -> sRGB.

    Args:
        pattern: Bayer pattern of the mosaics (RGGB, BGGR, GRBG, GBRG).
        demosaic_method: "bilinear" or "malvar" (:func:`rawvision.raw.demosaic.demosaic`).
        tone_curve: apply the smoothstep tone curve.
        gamma: apply the 1/2.2 gamma compression.

    Raises:
        ValueError: an unknown pattern (at construction); bad shapes (in forward).

    Source: Brooks et al. 2019, ``process.py``.

    Example:
        >>> isp = ClassicalISP("RGGB")
        >>> rgb = isp(torch.rand(2, 1, 16, 16), torch.tensor([2.0, 1.0, 1.6]), torch.eye(3))
        >>> rgb.shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self, pattern: str = "RGGB", demosaic_method: str = "bilinear", tone_curve: bool = True, gamma: bool = True
    ) -> None:
        super().__init__()
        self.pattern = check_pattern(pattern)
        self.demosaic_method = demosaic_method
        self.tone_curve = bool(tone_curve)
        self.gamma = bool(gamma)

    def forward(self, raw: torch.Tensor, wb_gains: torch.Tensor, cam2rgb: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) RAW, (B, 3) gains, (B, 3, 3) CCM -> (B, 3, H, W) sRGB in [0, 1]."""
        return process(raw, wb_gains, cam2rgb, self.pattern, self.demosaic_method, self.tone_curve, self.gamma)

    def extra_repr(self) -> str:
        return (f"pattern={self.pattern!r}, demosaic_method={self.demosaic_method!r}, "
                f"tone_curve={self.tone_curve}, gamma={self.gamma}")


def render_file(
    path,
    out=None,
    *,
    demosaic_method: str = "malvar",
    tone_curve: bool = True,
    gamma: bool = True,
    exposure: float = 1.0,
):
    """Render a RAW file with :func:`process` using its own metadata; optionally write the image.

    Black level subtracted and scaled by the white level (:meth:`rawvision.raw.files.RawImage.to_tensor`), times
    ``exposure``; as-shot white-balance gains (1, 1, 1 when the file has none); ``cam2rgb`` from the file's XYZ ->
    camera matrix (:func:`cam_to_srgb_from_xyz`; the identity when the file has none, e.g. the Kodak DC50 KDC files,
    so camera RGB is shown as sRGB).

    Args:
        path: a RAW file LibRaw reads (Bayer).
        out: ``.png`` (8 bit) or ``.tif``/``.tiff`` (16 bit) path to write atomically (a temporary file in the same
            folder, then renamed), or None.
        demosaic_method: "bilinear" or "malvar".
        tone_curve, gamma: as :func:`process`.
        exposure: digital gain applied to the normalised RAW before white balance (> 0).

    Returns:
        (H, W, 3) float32 numpy array in [0, 1]: sRGB of the visible sensor area.

    Raises:
        rawvision.raw.files.RawFileError: not a Bayer RAW file LibRaw reads; ValueError: bad options.
    """
    from pathlib import Path

    import numpy as np

    from rawvision.raw.files import read_raw

    if not exposure > 0:
        raise ValueError(f"exposure must be > 0, got {exposure}")
    suffix = Path(out).suffix.lower() if out is not None else None
    if suffix not in (None, ".png", ".tif", ".tiff"):
        raise ValueError(f"output {out}: expected a .png (8 bit) or .tif (16 bit) file name")
    img = read_raw(path)
    raw = img.to_tensor() * float(exposure)
    wb = torch.as_tensor(img.wb_gains if img.wb_gains is not None else [1.0, 1.0, 1.0], dtype=torch.float32)
    cam2rgb = (cam_to_srgb_from_xyz(torch.as_tensor(img.xyz_to_cam, dtype=torch.float64)).float()
               if img.xyz_to_cam is not None else torch.eye(3))
    with torch.no_grad():
        rgb = process(raw, wb, cam2rgb, img.pattern, demosaic_method, tone_curve=tone_curve, gamma=gamma)[0]
    arr = rgb.permute(1, 2, 0).contiguous().numpy()
    if out is not None:
        from rawvision._atomic import atomic_path

        with atomic_path(out, suffix=suffix) as tmp:
            if suffix == ".png":
                from PIL import Image

                Image.fromarray((arr * 255).round().clip(0, 255).astype(np.uint8)).save(tmp, format="PNG")
            else:
                import tifffile

                tifffile.imwrite(tmp, (arr * 65535).round().clip(0, 65535).astype(np.uint16), photometric="rgb")
    return arr
