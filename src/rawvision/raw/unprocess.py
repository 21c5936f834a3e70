"""Unprocessing: sRGB photos -> realistic RAW mosaics (Brooks et al., CVPR 2019).

"Unprocessing Images for Learned Raw Denoising", T. Brooks, B. Mildenhall, T. Xue, J. Chen, D. Sharlet,
J. T. Barron, CVPR 2019, Sec. 3 (reference code: google-research/google-research ``unprocessing/unprocess.py``).
Each stage of the camera ISP is inverted in reverse order::

    sRGB in [0, 1] -> inverse tone curve (smoothstep; Sec. 3 "Tone Mapping")
        -> inverse gamma (2.2; "Gamma Compression") -> inverse CCM (sRGB -> camera RGB; "Color Correction")
        -> highlight-safe inverse white balance and brightening ("White Balance", "Digital Gain")
        -> clip to [0, 1] -> Bayer mosaic ("Demosaicing")

The camera parameters are sampled per image (Brooks' distributions) or taken from a RAW file's metadata
(``camera_xyz``: the XYZ -> camera matrix of a DNG ``ColorMatrix`` / rawpy ``rgb_xyz_matrix[:3]``; ``wb_gains``:
the as-shot white-balance gains). The forward ISP that undoes all of this is :func:`rawvision.raw.isp.process`.

Conventions: tensors are ``(B, C, H, W)``; per-sample parameters are ``(B,)``, ``(B, 3)`` or ``(B, 3, 3)``. Channel
order R, G, B. A CCM maps a pixel column vector: ``out[i] = sum_j ccm[i, j] * in[j]``. Everything is pure torch,
batched, differentiable (except the random draws) and keeps the input's dtype and device. Random draws use an
optional ``torch.Generator``; parameters are drawn on the generator's device and then moved to the image's, so a
CPU generator gives the same parameters for CPU and GPU images.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from rawvision.raw.cfa import check_pattern, mosaic

__all__ = [
    "SRGB_TO_XYZ",
    "XYZ_TO_CAM_BROOKS",
    "UnprocessParams",
    "apply_ccm",
    "gamma_expansion",
    "inverse_smoothstep",
    "random_ccm",
    "random_gains",
    "rgb_to_cam_from_xyz",
    "safe_invert_gains",
    "sample_unprocess_params",
    "unprocess",
    "unprocess_to_camera",
]

# XYZ -> camera matrices of the four cameras in Brooks et al.'s reference code (``random_ccm``'s ``xyz2cams``),
# shape (4, 3, 3), rows = camera R, G, B.
XYZ_TO_CAM_BROOKS = torch.tensor(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ],
    dtype=torch.float64,
)

# Linear sRGB (D65 white) -> CIE XYZ, IEC 61966-2-1 (the ``rgb2xyz`` of Brooks' code), shape (3, 3).
SRGB_TO_XYZ = torch.tensor(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=torch.float64,
)

# Brooks' distributions (unprocess.py ``random_gains``; NOTES.md Sec. D).
_RGB_GAIN_MEAN, _RGB_GAIN_STD = 0.8, 0.1  # rgb_gain = 1 / N(0.8, 0.1): brightening
_RED_GAIN = (1.9, 2.4)  # U(1.9, 2.4)
_BLUE_GAIN = (1.5, 1.9)  # U(1.5, 1.9)
_SAFE_INFLECTION = 0.9  # safe_invert_gains: gains fade to 1 as the mean of the pixel goes from 0.9 to 1


def _check_image(img: torch.Tensor, name: str = "image") -> None:
    if not isinstance(img, torch.Tensor) or img.ndim != 4 or img.shape[1] != 3:
        shape = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
        raise ValueError(f"{name} must be an RGB tensor of shape (B, 3, H, W), got {shape}")
    if not img.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {img.dtype}")


def _check_batch(batch: int) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an int >= 1, got {batch!r}")
    return batch


def _sample_device(generator: torch.Generator | None, device) -> torch.device:
    return generator.device if generator is not None else torch.device(device if device is not None else "cpu")


def _out_device(device, generator: torch.Generator | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")


def _batched_matrix(m: torch.Tensor, batch: int, name: str) -> torch.Tensor:
    """(3, 3) or (B, 3, 3) or (1, 3, 3) -> (batch, 3, 3) (a view where possible)."""
    if not isinstance(m, torch.Tensor):
        m = torch.as_tensor(m)
    if m.ndim == 2:
        m = m.unsqueeze(0)
    if m.ndim != 3 or m.shape[-2:] != (3, 3) or m.shape[0] not in (1, batch):
        raise ValueError(f"{name} must be a (3, 3) or ({batch}, 3, 3) matrix, got {tuple(m.shape)}")
    return m.expand(batch, 3, 3)


def _batched_vector(v, batch: int, name: str, like: torch.Tensor) -> torch.Tensor:
    """A float, a 0-d, (1,) or (B,) tensor -> (batch,) on ``like``'s device and dtype."""
    v = torch.as_tensor(v, device=like.device).to(like.dtype)
    if v.ndim == 0:
        v = v.reshape(1)
    if v.ndim != 1 or v.shape[0] not in (1, batch):
        raise ValueError(f"{name} must be a number or a ({batch},) tensor, got shape {tuple(v.shape)}")
    return v.expand(batch)


def inverse_smoothstep(image: torch.Tensor) -> torch.Tensor:
    """Invert the smoothstep tone curve ``y = 3x^2 - 2x^3``: ``x = 1/2 - sin(asin(1 - 2y) / 3)``.

    Args:
        image: any shape, float, tone-mapped values; clipped to [0, 1] first (as Brooks).

    Returns:
        Tensor of the same shape, dtype and device, in [0, 1].

    The derivative ``1 / (6 x (1 - x))`` is infinite at exactly y = 0 and y = 1; there the gradient is set to 0 (the
    value is exact), so a photo with black or white pixels back-propagates without NaN.

    Source: Brooks et al. 2019, Sec. 3 "Tone Mapping"; ``unprocess.py`` ``inverse_smoothstep``.

    Example:
        >>> inverse_smoothstep(torch.tensor([0.0, 0.5, 1.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    t = 1.0 - 2.0 * image.clamp(0.0, 1.0)
    # |t| = 1: asin's derivative is infinite; route the gradient through a detached copy there (torch.where's
    # backward writes 0, not inf * 0, into the unselected branch).
    t = torch.where(t.abs() < 1.0, t, t.detach())
    return 0.5 - torch.sin(torch.asin(t) / 3.0)


def gamma_expansion(image: torch.Tensor, gamma: float = 2.2) -> torch.Tensor:
    """Gamma-encoded -> linear: ``max(x, 1e-8) ** gamma``.

    Args:
        image: any shape, float, gamma-encoded values in [0, 1].
        gamma: the exponent (Brooks: 2.2, an approximation of the sRGB transfer curve).

    Returns:
        Linear values of the same shape, dtype and device; values <= 1e-8 map to 1e-8 ** gamma.

    The floor 1e-8 keeps the gradient finite near 0 (Brooks' comment: "numerical instability of gradients").

    Source: Brooks et al. 2019, Sec. 3 "Gamma Compression"; ``unprocess.py`` ``gamma_expansion``.

    Example:
        >>> gamma_expansion(torch.tensor([0.5]))
        tensor([0.2176])
    """
    return image.clamp(min=1e-8) ** gamma


def apply_ccm(image: torch.Tensor, ccm: torch.Tensor) -> torch.Tensor:
    """Apply a colour correction matrix (CCM) per sample: ``out[b, i] = sum_j ccm[b, i, j] * image[b, j]``.

    Args:
        image: (B, 3, H, W) float, linear RGB (any range).
        ccm: (B, 3, 3) per-sample matrix, or (3, 3) shared by the batch.

    Returns:
        (B, 3, H, W) in ``image``'s dtype and device (``ccm`` is cast to them).

    Raises:
        ValueError: wrong shapes.

    Source: Brooks et al. 2019, Sec. 3 "Color Correction"; unprocess.py ``apply_ccm``, process.py ``apply_ccms``.

    Example:
        >>> swap = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # R <-> B
        >>> apply_ccm(torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1), swap).flatten()
        tensor([3., 2., 1.])
    """
    _check_image(image)
    m = _batched_matrix(ccm, image.shape[0], "ccm").to(device=image.device, dtype=image.dtype)
    return torch.einsum("bij,bjhw->bihw", m, image)


def rgb_to_cam_from_xyz(xyz_to_cam: torch.Tensor) -> torch.Tensor:
    """The linear sRGB -> camera RGB matrix of a camera given its XYZ -> camera matrix.

    ``rgb2cam = normalise_rows(xyz2cam @ SRGB_TO_XYZ)``: each row is divided by its sum so that sRGB white
    (1, 1, 1) maps to camera (1, 1, 1); the white balance is then carried by the gains alone.

    Args:
        xyz_to_cam: (3, 3) or (B, 3, 3) float, XYZ -> camera RGB, as a DNG ``ColorMatrix1/2`` or rawpy's
            ``rgb_xyz_matrix[:3]`` (LibRaw's ``cam_xyz``; its 4th row is for 4-colour sensors).

    Returns:
        Matrix of the input's leading shape, in its dtype (float32 for non-float input) and device.

    Raises:
        ValueError: wrong shape, non-finite entries or a row of ``xyz2cam @ SRGB_TO_XYZ`` summing to ~0.

    Source: Brooks et al. 2019, Sec. 3 "Color Correction"; ``unprocess.py`` ``random_ccm`` (product, row normalisation).

    Example:
        >>> rgb2cam = rgb_to_cam_from_xyz(XYZ_TO_CAM_BROOKS[0])
        >>> torch.allclose(rgb2cam.sum(-1), torch.ones(3, dtype=rgb2cam.dtype))
        True
    """
    m = torch.as_tensor(xyz_to_cam)
    if m.ndim not in (2, 3) or m.shape[-2:] != (3, 3):
        raise ValueError(f"xyz_to_cam must be a (3, 3) or (B, 3, 3) XYZ -> camera matrix, got {tuple(m.shape)}")
    dtype = m.dtype if m.is_floating_point() else torch.float32
    m = m.to(dtype)
    check = m.device.type == "cpu"  # free on the CPU; on an accelerator a host sync in every training step
    if check and not bool(torch.isfinite(m).all()):
        raise ValueError("xyz_to_cam has non-finite entries")
    rgb2cam = m @ SRGB_TO_XYZ.to(device=m.device, dtype=dtype)
    row_sum = rgb2cam.sum(dim=-1, keepdim=True)
    if check and bool((row_sum.abs() < 1e-6).any()):
        raise ValueError("xyz_to_cam @ SRGB_TO_XYZ has a row summing to ~0: cannot normalise it (not a camera matrix)")
    return rgb2cam / row_sum


def random_ccm(
    batch: int,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Random sRGB -> camera CCMs: a random convex combination of Brooks' four XYZ -> camera matrices.

    For each sample, weights ``w_k ~ U(1e-8, 1e8)`` (k = 1..4) give ``xyz2cam = sum_k w_k M_k / sum_k w_k``; then
    ``rgb2cam = normalise_rows(xyz2cam @ SRGB_TO_XYZ)`` (:func:`rgb_to_cam_from_xyz`). Drawn in float64.

    Args:
        batch: number of samples B >= 1.
        generator: a ``torch.Generator`` for reproducible draws (its device is used for the draw); global RNG if None.
        device: device of the result (default: the generator's, else CPU).
        dtype: dtype of the result.

    Returns:
        (B, 3, 3) ``rgb2cam``; every row sums to 1.

    Raises:
        ValueError: ``batch`` is not an int >= 1.

    Source: Brooks et al. 2019, Sec. 3 "Color Correction"; ``unprocess.py`` ``random_ccm``.

    Example:
        >>> rgb2cam = random_ccm(4, torch.Generator().manual_seed(0))
        >>> rgb2cam.shape, bool(torch.allclose(rgb2cam.sum(-1), torch.ones(4, 3)))  # rows sum to 1
        (torch.Size([4, 3, 3]), True)
    """
    _check_batch(batch)
    sdev = _sample_device(generator, device)
    w = torch.rand((batch, 4), generator=generator, device=sdev, dtype=torch.float64) * (1e8 - 1e-8) + 1e-8
    xyz2cam = torch.einsum("bk,kij->bij", w, XYZ_TO_CAM_BROOKS.to(sdev)) / w.sum(dim=1).view(batch, 1, 1)
    return rgb_to_cam_from_xyz(xyz2cam).to(device=_out_device(device, generator), dtype=dtype)


def random_gains(
    batch: int,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random brightening and white-balance gains, Brooks' distributions.

    ``rgb_gain = 1 / N(0.8, 0.1)`` (brightening), ``red_gain ~ U(1.9, 2.4)``, ``blue_gain ~ U(1.5, 1.9)``; drawn in
    this order, in float64. The white balance the camera applied is (red_gain, 1, blue_gain) * rgb_gain.

    Args:
        batch: number of samples B >= 1.
        generator: a ``torch.Generator`` for reproducible draws; the global RNG if None.
        device: device of the result (default: the generator's, else CPU).
        dtype: dtype of the result.

    Returns:
        ``(rgb_gain, red_gain, blue_gain)``, each (B,), unitless multipliers.

    Raises:
        ValueError: ``batch`` is not an int >= 1.

    Source: Brooks et al. 2019, Sec. 3 "Digital Gain", "White Balance"; ``unprocess.py`` ``random_gains``; NOTES.md D.

    Example:
        >>> rgb_gain, red_gain, blue_gain = random_gains(4, torch.Generator().manual_seed(0))
        >>> rgb_gain.shape, bool(((red_gain >= 1.9) & (red_gain <= 2.4)).all())
        (torch.Size([4]), True)
    """
    _check_batch(batch)
    sdev = _sample_device(generator, device)
    kw = {"generator": generator, "device": sdev, "dtype": torch.float64}
    rgb_gain = 1.0 / (torch.randn((batch,), **kw) * _RGB_GAIN_STD + _RGB_GAIN_MEAN)
    red_gain = torch.rand((batch,), **kw) * (_RED_GAIN[1] - _RED_GAIN[0]) + _RED_GAIN[0]
    blue_gain = torch.rand((batch,), **kw) * (_BLUE_GAIN[1] - _BLUE_GAIN[0]) + _BLUE_GAIN[0]
    out = _out_device(device, generator)
    return tuple(g.to(device=out, dtype=dtype) for g in (rgb_gain, red_gain, blue_gain))  # type: ignore[return-value]


def safe_invert_gains(
    image: torch.Tensor,
    rgb_gain: torch.Tensor | float,
    red_gain: torch.Tensor | float,
    blue_gain: torch.Tensor | float,
) -> torch.Tensor:
    """Invert white balance and brightening while keeping saturated highlights white.

    ``gains = (1 / red_gain, 1, 1 / blue_gain) / rgb_gain``; with ``gray`` the per-pixel mean of the three channels
    and ``mask = (max(gray - 0.9, 0) / 0.1) ** 2``, the applied gains are ``max(mask + (1 - mask) * gains, gains)``.
    Where ``gray <= 0.9`` this is exactly ``image * gains``; towards white the gains fade to 1, so saturated sRGB
    pixels stay at the sensor's white level in the RAW, as in a real capture, instead of being dimmed below it.

    Args:
        image: (B, 3, H, W) float linear camera RGB, nominally [0, 1].
        rgb_gain, red_gain, blue_gain: numbers or (B,) tensors, > 0 (the gains the forward ISP applies).

    Returns:
        (B, 3, H, W) in ``image``'s dtype and device (not clipped).

    Raises:
        ValueError: wrong shapes.

    Source: Brooks et al. 2019, Sec. 3 "White Balance" (the highlight-preserving inversion); ``unprocess.py``
    ``safe_invert_gains``.

    Example:
        >>> safe_invert_gains(torch.full((1, 3, 1, 1), 0.5), 1.25, 2.0, 1.6).flatten()  # grey: (1/2, 1, 1/1.6) / 1.25
        tensor([0.2000, 0.4000, 0.2500])
        >>> white = safe_invert_gains(torch.ones(1, 3, 1, 1), 1.25, 2.0, 1.6)  # white stays white
        >>> bool(torch.allclose(white, torch.ones(1, 3, 1, 1)))
        True
    """
    _check_image(image)
    b = image.shape[0]
    rgb_gain = _batched_vector(rgb_gain, b, "rgb_gain", image)
    red_gain = _batched_vector(red_gain, b, "red_gain", image)
    blue_gain = _batched_vector(blue_gain, b, "blue_gain", image)
    gains = torch.stack([1.0 / red_gain, torch.ones_like(red_gain), 1.0 / blue_gain], dim=1) / rgb_gain[:, None]
    gains = gains.view(b, 3, 1, 1)
    gray = image.mean(dim=1, keepdim=True)
    mask = ((gray - _SAFE_INFLECTION).clamp(min=0.0) / (1.0 - _SAFE_INFLECTION)) ** 2
    safe_gains = torch.maximum(mask + (1.0 - mask) * gains, gains)
    return image * safe_gains


@dataclass
class UnprocessParams:
    """Per-sample camera parameters of an unprocessed batch: what the forward ISP needs to undo it.

    Attributes:
        rgb2cam: (B, 3, 3) linear sRGB -> camera RGB CCM (rows sum to 1).
        cam2rgb: (B, 3, 3) its inverse, camera RGB -> linear sRGB (the forward ISP's CCM).
        rgb_gain: (B,) brightening gain (Brooks: 1 / N(0.8, 0.1)).
        red_gain: (B,) red white-balance gain relative to green.
        blue_gain: (B,) blue white-balance gain relative to green.

    Raises:
        ValueError: at construction, when the shapes do not agree.

    Example:
        >>> p = sample_unprocess_params(2, torch.Generator().manual_seed(0))
        >>> p.wb_gains.shape
        torch.Size([2, 3])
    """

    rgb2cam: torch.Tensor
    cam2rgb: torch.Tensor
    rgb_gain: torch.Tensor
    red_gain: torch.Tensor
    blue_gain: torch.Tensor

    def __post_init__(self) -> None:
        b = self.rgb2cam.shape[0] if self.rgb2cam.ndim == 3 else -1
        for name in ("rgb2cam", "cam2rgb"):
            m = getattr(self, name)
            if m.ndim != 3 or m.shape != (b, 3, 3):
                raise ValueError(f"UnprocessParams.{name} must be (B, 3, 3) with one B for all fields, got "
                                 f"{tuple(m.shape)}")
        for name in ("rgb_gain", "red_gain", "blue_gain"):
            v = getattr(self, name)
            if v.shape != (b,):
                raise ValueError(f"UnprocessParams.{name} must be ({b},), got {tuple(v.shape)}")

    @property
    def batch_size(self) -> int:
        """B, the number of samples."""
        return self.rgb2cam.shape[0]

    @property
    def wb_gains(self) -> torch.Tensor:
        """(B, 3) gains (R, G, B) the forward ISP applies to the mosaic: ``rgb_gain * (red_gain, 1, blue_gain)``.

        Brooks' ``process.py`` applies only (red_gain, 1, blue_gain), which leaves its output darker by rgb_gain;
        including rgb_gain makes :func:`rawvision.raw.isp.process` invert :func:`unprocess`.
        """
        ones = torch.ones_like(self.red_gain)
        return torch.stack([self.red_gain, ones, self.blue_gain], dim=1) * self.rgb_gain[:, None]

    def to(self, *args, **kwargs) -> UnprocessParams:
        """A copy with every tensor moved/cast by ``Tensor.to(*args, **kwargs)``."""
        return UnprocessParams(**{f.name: getattr(self, f.name).to(*args, **kwargs) for f in fields(self)})


def _check_gains_tensor(wb: torch.Tensor, batch: int) -> torch.Tensor:
    wb = torch.as_tensor(wb)
    if wb.ndim == 1:
        wb = wb.unsqueeze(0)
    if wb.ndim != 2 or wb.shape[1] != 3 or wb.shape[0] not in (1, batch):
        raise ValueError(f"wb_gains must be (3,) or ({batch}, 3) white-balance gains (R, G, B), got {tuple(wb.shape)}")
    wb = wb.to(torch.float64 if not wb.is_floating_point() else wb.dtype)
    if not bool((torch.isfinite(wb) & (wb > 0)).all()):
        raise ValueError(f"wb_gains must be finite and > 0, got {wb.tolist()}")
    return wb.expand(batch, 3)


def sample_unprocess_params(
    batch: int,
    generator: torch.Generator | None = None,
    *,
    camera_xyz: torch.Tensor | None = None,
    wb_gains: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> UnprocessParams:
    """Camera parameters for :func:`unprocess`: Brooks' random ones, or a RAW file's metadata where given.

    Draw order (for reproducibility with ``generator``): the CCM weights (only without ``camera_xyz``), then the
    gains (only without ``wb_gains``).

    Args:
        batch: number of samples B >= 1.
        generator: a ``torch.Generator`` for the draws; the global RNG if None.
        camera_xyz: optional (3, 3) or (B, 3, 3) XYZ -> camera matrix (DNG ``ColorMatrix``, rawpy
            ``rgb_xyz_matrix[:3]``); ``rgb2cam = normalise_rows(camera_xyz @ SRGB_TO_XYZ)``. Default: random
            convex combination of :data:`XYZ_TO_CAM_BROOKS`.
        wb_gains: optional (3,) or (B, 3) as-shot white-balance gains (R, G, B), > 0 (any scale, e.g. rawpy's
            ``camera_whitebalance[:3]``); split as ``rgb_gain = G``, ``red_gain = R / G``, ``blue_gain = B / G``, so
            a file's gains normalised to G = 1 mean no brightening. Default: :func:`random_gains`.
        device, dtype: of the returned tensors (device default: the generator's, else CPU).

    Returns:
        :class:`UnprocessParams` with B samples.

    Raises:
        ValueError: bad batch, bad matrix or gains (shape, non-finite, gains <= 0), or a singular rgb2cam.

    Source: Brooks et al. 2019, Sec. 3 "Digital Gain", "White Balance", "Color Correction".

    Example:
        >>> p = sample_unprocess_params(2, wb_gains=torch.tensor([2.1, 1.0, 1.6]))
        >>> p.red_gain
        tensor([2.1000, 2.1000])
    """
    _check_batch(batch)
    out_dev = _out_device(device, generator)
    if camera_xyz is None:
        rgb2cam = random_ccm(batch, generator, device=out_dev, dtype=torch.float64)
    else:
        xyz = torch.as_tensor(camera_xyz)
        xyz = _batched_matrix(xyz.to(torch.float64 if not xyz.is_floating_point() else xyz.dtype), batch, "camera_xyz")
        rgb2cam = rgb_to_cam_from_xyz(xyz.to(device=out_dev, dtype=torch.float64))
    try:
        cam2rgb = torch.linalg.inv(rgb2cam)
    except RuntimeError:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise ValueError("the sRGB -> camera matrix is singular: camera_xyz is not an invertible matrix") from None
    if wb_gains is None:
        rgb_gain, red_gain, blue_gain = random_gains(batch, generator, device=out_dev, dtype=torch.float64)
    else:
        wb = _check_gains_tensor(wb_gains, batch).to(device=out_dev)
        rgb_gain, red_gain, blue_gain = wb[:, 1], wb[:, 0] / wb[:, 1], wb[:, 2] / wb[:, 1]
    return UnprocessParams(rgb2cam, cam2rgb, rgb_gain, red_gain, blue_gain).to(dtype=dtype)


def unprocess_to_camera(rgb: torch.Tensor, params: UnprocessParams) -> torch.Tensor:
    """sRGB -> linear camera RGB before the mosaic: every step of :func:`unprocess` except the Bayer sampling.

    Args:
        rgb: (B, 3, H, W) float sRGB in [0, 1] (values outside are clipped by the inverse tone curve).
        params: :class:`UnprocessParams` with B samples (cast to ``rgb``'s dtype and device).

    Returns:
        (B, 3, H, W) linear camera RGB in [0, 1] (1 = white level), ``rgb``'s dtype and device.

    Raises:
        ValueError: wrong shapes or batch sizes.

    Source: Brooks et al. 2019, Sec. 3 (Fig. 2, steps in reverse); ``unprocess.py`` ``unprocess``.

    Example:
        >>> cam = unprocess_to_camera(torch.rand(2, 3, 8, 8), sample_unprocess_params(2))
        >>> cam.shape, bool(cam.min() >= 0), bool(cam.max() <= 1)
        (torch.Size([2, 3, 8, 8]), True, True)
    """
    _check_image(rgb, "rgb")
    if not isinstance(params, UnprocessParams) or params.batch_size != rgb.shape[0]:
        got = params.batch_size if isinstance(params, UnprocessParams) else type(params).__name__
        raise ValueError(f"params must be UnprocessParams for the batch of {rgb.shape[0]} images, got {got}")
    p = params.to(device=rgb.device, dtype=rgb.dtype)
    x = inverse_smoothstep(rgb)  # approximately inverts the global tone curve
    x = gamma_expansion(x)  # gamma -> linear sRGB
    x = apply_ccm(x, p.rgb2cam)  # linear sRGB -> camera RGB
    x = safe_invert_gains(x, p.rgb_gain, p.red_gain, p.blue_gain)  # undo white balance and brightening
    return x.clamp(0.0, 1.0)  # the sensor saturates at the white level


def unprocess(
    rgb: torch.Tensor,
    pattern: str = "RGGB",
    params: UnprocessParams | None = None,
    generator: torch.Generator | None = None,
    *,
    camera_xyz: torch.Tensor | None = None,
    wb_gains: torch.Tensor | None = None,
) -> tuple[torch.Tensor, UnprocessParams]:
    """Unprocess sRGB photos to realistic (noise-free) RAW Bayer mosaics.

    sRGB -> inverse smoothstep -> gamma expansion (2.2) -> sRGB-to-camera CCM -> highlight-safe inverse white
    balance and brightening -> clip to [0, 1] -> Bayer mosaic. Add sensor noise afterwards
    (:func:`rawvision.raw.noise.add_shot_read_noise`); undo with
    ``rawvision.raw.isp.process(raw, params.wb_gains, params.cam2rgb, pattern)``.

    Args:
        rgb: (B, 3, H, W) float sRGB in [0, 1] (e.g. uint8 photos / 255); float32/float64, CPU or GPU.
        pattern: Bayer pattern of the output mosaic: RGGB, BGGR, GRBG or GBRG.
        params: camera parameters to use (e.g. from an earlier call); None samples them.
        generator: ``torch.Generator`` for sampling the parameters; the global RNG if None.
        camera_xyz: (3, 3) or (B, 3, 3) XYZ -> camera matrix from a RAW file's metadata instead of Brooks' random
            camera (see :func:`sample_unprocess_params`).
        wb_gains: (3,) or (B, 3) as-shot white-balance gains from a file instead of random gains.

    Returns:
        ``(raw, params)``: raw (B, 1, H, W) in [0, 1] (1 = white level, black level 0), ``rgb``'s dtype and device;
        params the :class:`UnprocessParams` used (on ``rgb``'s device, in its dtype).

    Raises:
        ValueError: wrong shapes, an unknown pattern, bad metadata, or ``params`` given together with
            ``camera_xyz``/``wb_gains``.

    Source: Brooks et al. 2019, Sec. 3; ``unprocess.py`` ``unprocess`` (which packs RGGB to (H/2, W/2, 4); here the
    mosaic stays (H, W) in any Bayer pattern, :func:`rawvision.raw.cfa.mosaic`).

    Example:
        >>> raw, params = unprocess(torch.rand(2, 3, 16, 16), "GRBG", generator=torch.Generator().manual_seed(0))
        >>> raw.shape, params.wb_gains.shape
        (torch.Size([2, 1, 16, 16]), torch.Size([2, 3]))
    """
    _check_image(rgb, "rgb")
    pattern = check_pattern(pattern)
    if params is None:
        params = sample_unprocess_params(
            rgb.shape[0], generator, camera_xyz=camera_xyz, wb_gains=wb_gains, device=rgb.device, dtype=rgb.dtype
        )
    elif camera_xyz is not None or wb_gains is not None:
        raise ValueError("unprocess: give either params or camera_xyz/wb_gains, not both")
    else:
        if not isinstance(params, UnprocessParams):
            raise ValueError(f"params must be UnprocessParams, got {type(params).__name__}")
        params = params.to(device=rgb.device, dtype=rgb.dtype)
    cam = unprocess_to_camera(rgb, params)
    return mosaic(cam, pattern), params

