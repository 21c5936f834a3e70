"""Demosaicing: reconstruct (B, 3, H, W) RGB from a (B, 1, H, W) Bayer mosaic, as batched convolutions.

Both methods are linear filters whose kernel depends on the 2x2 CFA phase of the output pixel. They run as one
*polyphase* convolution: the reflect-padded mosaic is split into its four 2x2 phases, a channels-last
``(B, 4, H/2, W/2)`` tensor; one ``conv2d`` with a ``(12, 4, k, k)`` weight gives, for each of the 3 colours and 4
output phases, the value of every output pixel (recorded values are an identity tap); the 12 planes are interleaved
back into ``(B, 3, H, W)``. No masks, no sparse 3-channel tensor, no Python loop over pixels. Reflect padding of the
mosaic (``F.pad(mode="reflect")``, whole-sample symmetric: row -1 = row 1) keeps the CFA phase, so border pixels are
interpolated from real same-colour neighbours.

Precision on CUDA: float32 mosaics go through ``F.unfold`` + a matmul instead of ``conv2d``, because cuDNN's float32
convolutions default to TF32 (10-bit mantissa: the recorded values would come back rounded) while float32 matmuls
default to full IEEE float32. No process-global flag is read or changed here (thread-safe, ``torch.compile``-able);
TF32 follows the user's own matmul setting (``torch.set_float32_matmul_precision("high")`` allows it). CPU results
do not depend on any of this. Other dtypes (float16, bfloat16, float64) use ``conv2d`` everywhere.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from rawvision.raw.cfa import check_pattern

__all__ = ["DEMOSAIC_METHODS", "demosaic", "demosaic_bilinear", "demosaic_malvar"]

DEMOSAIC_METHODS: tuple[str, ...] = ("bilinear", "malvar")

# Each method: its radius p (kernels are (2p+1) x (2p+1), cross-correlation, centred) and four kernels in the RAW
# domain (applied to the mosaic itself):
#   "g":    G at an R or B site;
#   "row":  R at a G site of an R row (B at a G site of a B row): the missing colour is left and right;
#   "col":  R at a G site of a B row (B at a G site of an R row): the missing colour is above and below;
#   "diag": R at a B site and B at an R site.
_BILINEAR = {
    "g": [[0, 1, 0], [1, 0, 1], [0, 1, 0]],  # / 4
    "row": [[0, 0, 0], [2, 0, 2], [0, 0, 0]],  # / 4
    "col": [[0, 2, 0], [0, 0, 0], [0, 2, 0]],  # / 4
    "diag": [[1, 0, 1], [0, 0, 0], [1, 0, 1]],  # / 4
}
# Malvar, He, Cutler 2004, Fig. 2 (gains alpha = 1/2, beta = 5/8, gamma = 3/4 of Sec. 2); the same kernels as
# colour-demosaicing's ``demosaicing_CFA_Bayer_Malvar2004`` (GR_GB, Rg_RB_Bg_BR, Rg_BR_Bg_RB, Rb_BB_Br_RR).
_MALVAR = {
    "g": [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]],  # / 8
    "row": [[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, 0.5, 0, 0]],  # / 8
    "col": [[0, 0, -1, 0, 0], [0, -1, 4, -1, 0], [0.5, 0, 5, 0, 0.5], [0, -1, 4, -1, 0], [0, 0, -1, 0, 0]],  # / 8
    "diag": [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]],  # / 8
}
_SPECS = {"bilinear": (1, _BILINEAR, 4.0), "malvar": (2, _MALVAR, 8.0)}
# Radius in pixels of each method's kernels: a tile needs this many real neighbours (see rawvision.raw.tiling).
_RADIUS = {name: spec[0] for name, spec in _SPECS.items()}

# Which kernel gives colour c (R, G, B) at a site of each kind; None = the recorded value (identity tap).
_SITE_KERNELS = {
    "R": (None, "g", "diag"),
    "B": ("diag", "g", None),
    "Gr": ("row", None, "col"),  # G in a row with R sites
    "Gb": ("col", None, "row"),  # G in a row with B sites
}
# Integer dtypes of twice the item size: a pair of neighbouring pixels moved as one element (bit-exact copies).
_PAIR_DTYPE = {2: torch.int32, 4: torch.int64}
# Elements of the convolution's output per strip on CPU (4 MB in float32): small enough to stay in cache.
_STRIP_ELEMENTS = 1 << 20


def _check_method(method: str) -> str:
    m = str(method).lower()
    if m not in DEMOSAIC_METHODS:
        raise ValueError(f"unknown demosaicing method {method!r}: expected one of {', '.join(DEMOSAIC_METHODS)}")
    return m


@lru_cache(maxsize=None)
def _polyphase_weight_cpu(method: str, pattern: str) -> torch.Tensor:
    """(12, 4, p+1, p+1) float64 weight: output channel 4c + 2i + j (colour c at output phase (i, j)), input channel
    2i' + j' (phase plane of the padded mosaic), taps in units of 2x2 blocks."""
    p, kernels, scale = _SPECS[method]
    k = 2 * p + 1
    r_row = pattern.index("R") // 2
    weight = torch.zeros(12, 4, p + 1, p + 1, dtype=torch.float64)
    for i in (0, 1):
        for j in (0, 1):
            site = pattern[2 * i + j]
            if site == "G":
                site = "Gr" if i == r_row else "Gb"
            for c, name in enumerate(_SITE_KERNELS[site]):
                if name is None:
                    kern = torch.zeros(k, k, dtype=torch.float64)
                    kern[p, p] = 1.0
                else:
                    kern = torch.tensor(kernels[name], dtype=torch.float64) / scale
                # Output pixel (2a+i, 2b+j) sits at padded (2a+i+p, 2b+j+p); tap (u, v) reads padded (2a+i+u, 2b+j+v),
                # i.e. phase plane ((i+u) % 2, (j+v) % 2) at block offset ((i+u) // 2, (j+v) // 2).
                for u in range(k):
                    for v in range(k):
                        if kern[u, v] != 0:
                            plane = 2 * ((i + u) % 2) + (j + v) % 2
                            weight[4 * c + 2 * i + j, plane, (i + u) // 2, (j + v) // 2] += kern[u, v]
    return weight


_WEIGHTS: dict[tuple, torch.Tensor] = {}


def _polyphase_weight(method: str, pattern: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    key = (method, pattern, dtype, str(device))
    w = _WEIGHTS.get(key)
    if w is None:
        # Built outside inference mode: a cached inference tensor could not be used later by autograd (a weight
        # first made under Lightning's test loop, which runs in inference mode, broke training afterwards).
        with torch.inference_mode(False):
            w = _WEIGHTS[key] = _polyphase_weight_cpu(method, pattern).clone().to(device=device, dtype=dtype)
    return w


def _fast_path(t: torch.Tensor) -> bool:
    """Bit-moving copies through an integer view are allowed: no autograd graph to keep, a 2- or 4-byte dtype."""
    return t.element_size() in _PAIR_DTYPE and not (t.requires_grad and torch.is_grad_enabled())


def _split_phases(xp: torch.Tensor) -> torch.Tensor:
    """(B, 1, 2h, 2w) -> (B, 4, h, w) channels-last, channel 2i + j = pixels (2a + i, 2b + j)."""
    b, _, hh, ww = xp.shape
    h, w = hh // 2, ww // 2
    if _fast_path(xp) and xp.is_contiguous():
        pair = _PAIR_DTYPE[xp.element_size()]
        planes = torch.empty(b, h, w, 2, 2, dtype=xp.dtype, device=xp.device)
        planes.view(pair).view(b, h, w, 2).copy_(xp.view(pair).view(b, h, 2, w).permute(0, 1, 3, 2))
        return planes.view(b, h, w, 4).permute(0, 3, 1, 2)
    return xp.reshape(b, h, 2, w, 2).permute(0, 1, 3, 2, 4).reshape(b, h, w, 4).permute(0, 3, 1, 2)


def _merge_phases(y: torch.Tensor) -> torch.Tensor:
    """(B, 12, h, w), channel 4c + 2i + j -> (B, 3, 2h, 2w) contiguous, pixel (2a + i, 2b + j) of colour c."""
    b, _, h, w = y.shape
    nhwc = y.permute(0, 2, 3, 1)
    if _fast_path(y) and nhwc.is_contiguous():
        pair = _PAIR_DTYPE[y.element_size()]
        out = torch.empty(b, 3, 2 * h, 2 * w, dtype=y.dtype, device=y.device)
        out.view(pair).view(b, 3, h, 2, w).copy_(nhwc.view(pair).view(b, h, w, 3, 2).permute(0, 3, 1, 4, 2))
        return out
    return y.reshape(b, 3, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, 3, 2 * h, 2 * w)


_NUMPY_DTYPE = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _empty_cpu(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor; large ones in NumPy's memory (a plain, writable tensor sharing it).

    Why: NumPy's allocator asks the kernel for transparent huge pages (``madvise``), torch's default CPU allocator
    does not; the first touch of a fresh 48 MB output then costs about 6 ms instead of 12 ms (measured, 2 cores),
    which is a third of a 4-megapixel demosaic.
    """
    if dtype in _NUMPY_DTYPE and math.prod(shape) * dtype.itemsize >= (4 << 20):
        return torch.from_numpy(np.empty(shape, dtype=_NUMPY_DTYPE[dtype]))
    return torch.empty(shape, dtype=dtype)


def _conv_merge_strips(planes: torch.Tensor, weight: torch.Tensor, p: int) -> torch.Tensor:
    """CPU, no autograd: the convolution and the interleaving strip by strip of block rows, so that each strip's
    12-plane result stays in cache and no full-size intermediate is allocated (on a 4-megapixel mosaic this halves the
    time: the first touch of a fresh 48 MB buffer costs as much as the whole convolution)."""
    b, _, hp, wp = planes.shape
    h, w = hp - p, wp - p
    pair = _PAIR_DTYPE[planes.element_size()]
    out = _empty_cpu((b, 3, 2 * h, 2 * w), planes.dtype)
    dest = out.view(pair).view(b, 3, h, 2, w)
    rows = max(1, _STRIP_ELEMENTS // (b * w * 12))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        y = F.conv2d(planes[:, :, r0 : r1 + p], weight).permute(0, 2, 3, 1).contiguous()  # (B, rows, w, 12); no copy
        dest[:, :, r0:r1].copy_(y.view(pair).view(b, r1 - r0, w, 3, 2).permute(0, 3, 1, 4, 2))
    return out


def _matmul_path(t: torch.Tensor) -> bool:
    """CUDA float32: the convolution runs as a matmul (see :func:`_conv_as_matmul`)."""
    return t.device.type == "cuda" and t.dtype == torch.float32


def _conv_as_matmul(planes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(planes, weight)`` (valid, stride 1) as ``F.unfold`` + one matmul.

    Why: on CUDA, cuDNN runs float32 convolutions in TF32 by default (``torch.backends.cudnn.allow_tf32`` is True),
    which would round the recorded values; float32 matmuls are full IEEE float32 by default
    (``torch.get_float32_matmul_precision() == "highest"``). So this path is exact for the identity taps without
    touching any process-global flag: it follows the user's matmul precision setting (set it to "high" and the
    matmul, hence this demosaic, may use TF32 too). Linear in ``planes``, hence differentiable.

    Args:
        planes: (B, C, Hp, Wp) float tensor (any strides).
        weight: (O, C, kh, kw) float tensor of the same dtype and device.

    Returns:
        (B, O, Hp - kh + 1, Wp - kw + 1) contiguous tensor, ``planes``' dtype and device.
    """
    b, _, hp, wp = planes.shape
    o, _, kh, kw = weight.shape
    cols = F.unfold(planes, (kh, kw))  # (B, C * kh * kw, L), channel c * kh * kw + u * kw + v: weight's own order
    return torch.matmul(weight.reshape(o, -1), cols).view(b, o, hp - kh + 1, wp - kw + 1)


def _demosaic_polyphase(raw: torch.Tensor, pattern: str, method: str, fn: str) -> torch.Tensor:
    if not isinstance(raw, torch.Tensor) or raw.ndim != 4 or raw.shape[1] != 1:
        shape = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
        raise ValueError(f"demosaic expects a RAW mosaic of shape (B, 1, H, W), got {shape}")
    p = _RADIUS[method]
    height, width = raw.shape[-2:]
    if height <= p or width <= p:
        raise ValueError(f"{fn} needs H, W >= {p + 1} (reflect padding by {p}), got {tuple(raw.shape[-2:])}")
    if not raw.is_floating_point():
        raise ValueError(f"{fn} expects a floating-point RAW mosaic, got {raw.dtype}")
    pattern = check_pattern(pattern)
    xp = F.pad(raw, (p, p, p, p), mode="reflect")
    odd_h, odd_w = xp.shape[-2] % 2, xp.shape[-1] % 2
    if odd_h or odd_w:  # one more row / column (never read by a kept output pixel) to split into whole 2x2 blocks
        xp = F.pad(xp, (0, odd_w, 0, odd_h))
    planes = _split_phases(xp)
    weight = _polyphase_weight(method, pattern, raw.dtype, raw.device)
    if planes.device.type == "cpu" and _fast_path(planes):
        out = _conv_merge_strips(planes, weight, p)
    else:
        y = _conv_as_matmul(planes, weight) if _matmul_path(planes) else F.conv2d(planes, weight)
        out = _merge_phases(y)
    if out.shape[-2] != height or out.shape[-1] != width:
        out = out[..., :height, :width].contiguous()
    return out


def demosaic_bilinear(raw: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Bilinear demosaicing: fill each colour's missing sites with the mean of its nearest recorded neighbours.

    Recorded values are kept exactly. Borders use reflection padding (``F.pad(mode="reflect")``), which keeps the
    CFA phase, so border pixels are interpolated from real same-colour neighbours. The operation is linear and
    differentiable. Computed as one polyphase convolution (see the module docstring).

    Args:
        raw: (B, 1, H, W) float mosaic, H and W >= 2, any range.
        pattern: Bayer pattern of the top-left 2x2 block (RGGB, BGGR, GRBG, GBRG).

    Returns:
        (B, 3, H, W) RGB in the dtype, device and range of ``raw``.

    Raises:
        ValueError: for a wrong shape, H or W < 2, a non-float dtype or an unknown pattern.

    Source: the bilinear input adapter of ISP Distillation (Sec. III, "filling the missing values using a bilinear
    interpolation"); kernels as colour-demosaicing's bilinear method (Losson et al. 2010).

    Example:
        >>> rgb = demosaic_bilinear(torch.rand(2, 1, 8, 8), "GRBG")
        >>> rgb.shape
        torch.Size([2, 3, 8, 8])
    """
    return _demosaic_polyphase(raw, pattern, "bilinear", "demosaic_bilinear")


def demosaic_malvar(raw: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Malvar-He-Cutler demosaicing: bilinear interpolation corrected by the Laplacian of the recorded colour.

    Each missing value is a fixed 5x5 linear filter of the mosaic (Fig. 2 of the paper): G at R/B sites, R/B at G
    sites of an R row or a B row, R at B and B at R sites. Recorded values are kept exactly. Borders use reflection
    padding by 2 (``F.pad(mode="reflect")``, row -1 = row 1), which keeps the CFA phase; colour-demosaicing
    (``scipy.ndimage.convolve``, mode "reflect" = row -1 = row 0) differs in the 2-pixel border only. Linear, hence
    differentiable; batched; CPU and GPU (on CUDA float32 the convolution runs as a matmul, full float32 unless
    the user allows TF32 matmuls, see the module docstring). Values
    are not clipped (the filters overshoot near edges, e.g. below 0 for an input in [0, 1]).

    Args:
        raw: (B, 1, H, W) floating-point mosaic (float16, bfloat16, float32 or float64), H and W >= 3, any range.
        pattern: Bayer pattern of the top-left 2x2 block (RGGB, BGGR, GRBG, GBRG).

    Returns:
        (B, 3, H, W) RGB (channels R, G, B) in the dtype, device and units of ``raw``.

    Raises:
        ValueError: for a wrong shape, H or W < 3, a non-float dtype or an unknown pattern.

    Source: H. S. Malvar, L.-W. He, R. Cutler, "High-quality linear interpolation for demosaicing of Bayer-patterned
    color images", ICASSP 2004, Sec. 2 and Fig. 2; matches colour-demosaicing's ``demosaicing_CFA_Bayer_Malvar2004``
    away from the border.

    Example:
        >>> rgb = demosaic_malvar(torch.rand(2, 1, 8, 8), "BGGR")
        >>> rgb.shape
        torch.Size([2, 3, 8, 8])
    """
    return _demosaic_polyphase(raw, pattern, "malvar", "demosaic_malvar")


def demosaic(raw: torch.Tensor, pattern: str = "RGGB", method: str = "bilinear") -> torch.Tensor:
    """Demosaic a Bayer mosaic with a named method.

    Args:
        raw: (B, 1, H, W) floating-point mosaic, any range; H, W >= 2 (bilinear) or >= 3 (malvar).
        pattern: Bayer pattern of the top-left 2x2 block (RGGB, BGGR, GRBG, GBRG).
        method: one of :data:`DEMOSAIC_METHODS`: ``"bilinear"`` (:func:`demosaic_bilinear`) or ``"malvar"``
            (:func:`demosaic_malvar`), case-insensitive.

    Returns:
        (B, 3, H, W) RGB in the dtype, device and units of ``raw``.

    Raises:
        ValueError: for an unknown method, and whatever the method raises (shape, size, dtype, pattern).

    Source: see :func:`demosaic_bilinear` and :func:`demosaic_malvar`.

    Example:
        >>> rgb = demosaic(torch.full((1, 1, 4, 4), 0.5), "RGGB", method="malvar")
        >>> rgb.shape, rgb.unique()  # a flat grey mosaic stays flat grey
        (torch.Size([1, 3, 4, 4]), tensor([0.5000]))
    """
    m = _check_method(method)
    return demosaic_malvar(raw, pattern) if m == "malvar" else demosaic_bilinear(raw, pattern)
