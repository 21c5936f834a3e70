"""TA-ISP: the ~3K-parameter task-aware ISP front-end (CVPR 2026, arXiv 2509.13762; code CVL-UESTC/TA-ISP).

    RAW (B, C, H, W) in [0, 1], C = 3 (demosaiced RAW) or 4 (packed R, Gr, Gb, B)
        -> GLC  (Sec. 3.1, global per-channel gains)       -> clamp [1e-6, 1]
        -> HSA  (Sec. 3.2, multi-kernel spatial attention) -> clamp [1e-6, 1]
        -> RGFM (Sec. 3.3, K soft regions, x ** (1 / w_k) per region) -> clamp [1e-6, 1]
        -> (C = 4 only) 1x1 conv 4 -> 3 -> clamp [0, 1]
        -> RGB (B, 3, H, W) for a downstream detector / segmenter, trained end to end with the task loss.

The forward follows the official ``MultipleMaskISP_Conv`` (``mmdet/models/backbones/taisp.py``, identical in
``RAOD/models/taisp.py`` and ``taisp_mit.py``): constructor defaults ``in_ch=3, num_masks=16, mlp_hidden=64,
weight_range=(1.0, 3.0), tau=0.1``; 3,297 parameters (gain_mlp 643, HSA 78, mask_head 448, weight_mlp 2,128).
Submodules: :class:`GlobalLuminanceCalibration` (official ``gain_mlp`` + the first lines of ``forward``),
:class:`HierarchicalSpatialAttention` (official ``MultiScaleSpatialAttention``), :class:`RegionGuidedFeatureModulation`
(official ``mask_head``, ``weight_mlp`` and the end of ``forward``; "RGFC" in the paper's text).

Differences from the official code (everything else is the same computation):

(a) Deterministic in eval mode. The official code draws Gumbel noise in eval mode too (no ``self.training``
    branch), so two eval passes on one image differ. Here ``masks = softmax(logits / tau)`` (the noise-free
    surrogate: Gumbel-softmax with the noise at its mode 0) in eval mode; the stochastic Gumbel-softmax
    (``hard=False``) only when ``self.training``. The Gumbel noise is sampled as ``-log(-log(u))`` with ``u``
    clamped to [tiny, 1 - eps], so it is always finite (``F.gumbel_softmax`` takes ``-log(Exp(1))``, which is
    infinite if the exponential sample is exactly 0).
(b) ``modules`` switches for the paper's ablation (Table "module-wise integration"): "none" (or ``()``) is the
    identity, ``("glc",)``, ``("glc", "hsa")``, ``("glc", "hsa", "rgfm")`` (default); any subset is accepted and
    always applied in the order GLC -> HSA -> RGFM. A removed module is not built (no parameters).
(c) 4-channel packed RAW input (R, Gr, Gb, B of :func:`rawvision.raw.pack.pack_bayer`), which the official code
    does not take (it reads 3-channel "demosaiced" RAW: R, (Gr + Gb) / 2, B at half resolution for PASCAL RAW,
    bilinear-debayered for ROD). With ``in_channels=4`` the three modules run on the 4 planes and a final 1x1 conv
    ``to_rgb`` (4 -> 3, initialised to R, the mean of the greens, B: weight ``[[1,0,0,0],[0,.5,.5,0],[0,0,0,1]]``,
    bias 0; trainable) gives RGB at the packed resolution (H/2, W/2 of the mosaic), clamped to [0, 1].
(d) The input is clamped to [0, 1] first (the official code feeds it unclamped to the statistics).
(e) The power ``x ** (1 / w_k)`` is computed as ``exp(log(x) / w_k)`` with ``log(x)`` shared by the K regions and
    the K-region sum accumulated region by region, not on a (B, K, C, H, W) tensor (1.6 GB at 3840x2160 in
    float32): same values up to float rounding (~1 ulp), far less memory. The per-region clamp [1e-6, 1] is kept
    only when ``weight_range[0] < 1`` (for ``w >= 1`` and ``x`` in [1e-6, 1], ``x ** (1/w)`` lies in [x, 1]
    already); the K-region sum is clamped to [1e-6, 1] (the official code does not; the soft masks sum to 1, so
    this only removes rounding). When no autograd graph is recorded (``torch.no_grad``/inference mode, or nothing
    requires grad) the same operations run in place on the forward's own temporaries (softmax written out as
    ``exp((l - max l) / tau) / sum``): far fewer full-size allocations, values equal up to float rounding.

Numerical safety: the base of the power is >= 1e-6 (clamped), so ``log`` is finite. The largest derivative
``d x^(1/w) / dx = x^(1/w - 1) / w`` is at ``x = 1e-6, w = w_max``: 3.3e3 for (1, 3), 2.4e4 for the ROD range
(5, 9) -- large but finite in float32, and it only reaches the layers before RGFM through the soft masks. At an
input of exactly 0 or 1 the clamps stop the gradient to the input (it is 0, not NaN); the biased variance has a
finite gradient at constant images (unlike a standard deviation). Tested: finite outputs and gradients (input and
every parameter) at all-zero, all-one and slightly out-of-range inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "parse_ta_isp_modules",
    "TAISP",
    "TAISP_MODULES",
    "GlobalLuminanceCalibration",
    "HierarchicalSpatialAttention",
    "RegionGuidedFeatureModulation",
]


def parse_ta_isp_modules(modules) -> tuple[str, ...]:
    """``"glc,hsa"`` / ``"glc+hsa"`` / ``("glc", "hsa")`` / ``"none"`` -> a tuple of TA-ISP module names (for the
    ``modules`` argument of :class:`TAISP`, which checks them)."""
    if isinstance(modules, str):
        return tuple(m for m in modules.replace("+", ",").split(",") if m and m != "none")
    return tuple(modules)

TAISP_MODULES: tuple[str, ...] = ("glc", "hsa", "rgfm")
_EPS = 1e-6  # the official clamp floor (keeps the power's base and its log finite)


def _check_image(x: torch.Tensor, channels: int, who: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who} expects a (B, {channels}, H, W) tensor, got {shape}")
    if x.shape[1] != channels:
        raise ValueError(f"{who} was built for {channels} input channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise ValueError(f"{who} expects a floating-point tensor, got {x.dtype}")


def _no_graph(module: nn.Module, x: torch.Tensor) -> bool:
    """True when no autograd graph is recorded (no_grad / inference mode, or nothing requires grad): the forward
    may then work in place on its own temporaries (same operations, same values, fewer full-size allocations)."""
    if not torch.is_grad_enabled():
        return True
    return not x.requires_grad and not any(p.requires_grad for p in module.parameters())


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"TA-ISP {name} must be a positive integer, got {value!r}")
    return value


class GlobalLuminanceCalibration(nn.Module):
    """Global Luminance Calibration (GLC): per-channel gains >= 1 predicted from per-channel mean and variance.

    ``stats = [mean_c, var_c]`` (spatial mean and biased variance of each channel, (B, 2C)) -> ``Linear(2C, hidden)``
    -> ReLU -> ``Linear(hidden, C)`` -> Softplus, + 1 = gains ``alpha`` (B, C), each >= 1 (it only brightens);
    output ``clamp(alpha_c * x_c, 1e-6, 1)``. Parameters: ``2C*hidden + hidden + hidden*C + C`` (643 for C=3).

    Args:
        channels: C, the number of input channels.
        hidden: width of the MLP (official ``mlp_hidden`` 64).

    Shapes: (B, C, H, W) float in [0, 1] -> (B, C, H, W) in [1e-6, 1], same dtype and device.

    Raises:
        ValueError: a non-positive size (constructor); a wrong input shape or dtype (forward).

    Source: TA-ISP paper Sec. 3 "Global Luminance Calibration", ``alpha_c = Softplus(F_g([mu_c, sigma_c^2])) + 1``;
    official ``MultipleMaskISP_Conv.gain_mlp`` and ``forward`` steps 1-2.

    Example:
        >>> glc = GlobalLuminanceCalibration(3)
        >>> y = glc(torch.rand(2, 3, 8, 8) * 0.2)  # brighter, (2, 3, 8, 8)
    """

    def __init__(self, channels: int = 3, hidden: int = 64) -> None:
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        self.gain_mlp = nn.Sequential(
            nn.Linear(2 * channels, _positive_int(hidden, "hidden")),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Softplus(),
        )

    def gains(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel gains ``alpha`` (B, C), each >= 1, of a (B, C, H, W) image."""
        flat = x.flatten(2)
        stats = torch.cat([flat.mean(dim=-1), flat.var(dim=-1, unbiased=False)], dim=1)  # (B, 2C)
        return self.gain_mlp(stats) + 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_image(x, self.channels, type(self).__name__)
        alpha = self.gains(x)
        out = x * alpha[:, :, None, None]
        return out.clamp_(_EPS, 1.0) if _no_graph(self, x) else out.clamp(_EPS, 1.0)


class HierarchicalSpatialAttention(nn.Module):
    """Hierarchical Spatial Attention (HSA): one attention map from multi-kernel branches, fused by global weights.

    ``M = [mean_c x; max_c x]`` (B, 2, H, W); per kernel size k: ``A_k = sigmoid(Conv2d(2, 1, k, 'same')(M))``;
    fusion weights ``w = softmax(Conv1x1(C -> n_branches)(GAP(x)))`` (B, n_branches); ``A = clamp(sum_k w_k A_k,
    0, 1)`` (B, 1, H, W); output ``clamp(x * A, 1e-6, 1)``. Parameters: ``sum_k (2k^2 + 1) + C*n + n`` (78 for
    C=3, kernels (3, 5)).

    Args:
        channels: C, the number of input channels (only the gate sees it).
        kernel_sizes: odd branch kernel sizes (official (3, 5)).

    Shapes: (B, C, H, W) float in [0, 1] -> (B, C, H, W) in [1e-6, 1], same dtype and device.

    Raises:
        ValueError: an even or non-positive kernel size (constructor); a wrong input shape or dtype (forward).

    Source: TA-ISP paper Sec. 3 "Hierarchical Spatial Attention", ``A = sum_k w_k sigma(Conv_k(M))``; official
    ``MultiScaleSpatialAttention`` (``branch_convs``, ``gate_proj``), plus the clamp after it in
    ``MultipleMaskISP_Conv.forward``.

    Example:
        >>> hsa = HierarchicalSpatialAttention(3)
        >>> y = hsa(torch.rand(2, 3, 8, 8))  # (2, 3, 8, 8), each pixel scaled by one attention value
    """

    def __init__(self, channels: int = 3, kernel_sizes: Sequence[int] = (3, 5)) -> None:
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        ks = tuple(kernel_sizes)
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0 for k in ks):
            raise ValueError(f"TA-ISP kernel_sizes must be odd positive integers, got {kernel_sizes!r}")
        self.kernel_sizes = ks
        self.branch_convs = nn.ModuleList(nn.Conv2d(2, 1, k, padding=(k - 1) // 2, bias=True) for k in ks)
        self.gate_proj = nn.Conv2d(channels, len(ks), kernel_size=1, bias=True)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The fused attention map (B, 1, H, W) in [0, 1] of a (B, C, H, W) image."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        gate = F.softmax(self.gate_proj(F.adaptive_avg_pool2d(x, 1)), dim=1)  # (B, n, 1, 1)
        if _no_graph(self, x):  # same operations, in place on the branch outputs
            attn = None
            for i, conv in enumerate(self.branch_convs):
                term = conv(pooled).sigmoid_().mul_(gate[:, i : i + 1])
                attn = term if attn is None else attn.add_(term)
            return attn.clamp_(0.0, 1.0)
        attn = None
        for i, conv in enumerate(self.branch_convs):
            term = gate[:, i : i + 1] * torch.sigmoid(conv(pooled))
            attn = term if attn is None else attn + term
        return attn.clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_image(x, self.channels, type(self).__name__)
        out = x * self.attention(x)
        return out.clamp_(_EPS, 1.0) if _no_graph(self, x) else out.clamp(_EPS, 1.0)


class RegionGuidedFeatureModulation(nn.Module):
    """Region-Guided Feature Modulation (RGFM, "RGFC"): K soft regions, each with its own power curve x^(1/w_k).

    ``logits = Conv2d(C, K, 3, padding 1)(x)`` (B, K, H, W); masks: Gumbel-softmax over K with temperature ``tau``
    in training, ``softmax(logits / tau)`` in eval (deterministic; see the module docstring, difference (a));
    ``w = w_min + (w_max - w_min) * sigmoid(MLP(mean_hw(logits)))`` (B, K), MLP = ``Linear(K, hidden)`` -> ReLU ->
    ``Linear(hidden, K)``; output ``clamp(sum_k mask_k * x ** (1 / w_k), 1e-6, 1)``, one ``w_k`` per region shared
    by the C channels. With ``w >= 1`` the curves brighten (gamma-like). Parameters: ``9CK + K + K*hidden + hidden
    + hidden*K + K`` (448 + 2,128 = 2,576 for C=3, K=16, hidden 64).

    Args:
        channels: C, the number of input channels.
        num_masks: K, the number of regions (official 16).
        hidden: width of the weight MLP (official 64).
        weight_range: (w_min, w_max), 0 < w_min <= w_max (official default (1, 3); the released configs use
            [2, 4] LOD / PASCAL RAW R18, [1, 4] PASCAL RAW R50, [1, 3] ADE20K-RAW, [5, 9] ROD).
        tau: Gumbel-softmax / softmax temperature, > 0 (official 0.1).

    Shapes: (B, C, H, W) float in [1e-6, 1] (smaller values are clamped to 1e-6) -> (B, C, H, W) in [1e-6, 1].

    Raises:
        ValueError: bad sizes, range or temperature (constructor); a wrong input shape or dtype (forward).

    Source: TA-ISP paper Sec. 3 "Region-Guided Feature Modulation", ``M = S_tau(F_m(X_s))``,
    ``w_k = F_w(P(F_m(X_s)))``, ``X_out = sum_k M_k X_s^(1/w_k)``; official ``MultipleMaskISP_Conv.mask_head``,
    ``weight_mlp`` and ``forward`` steps 4-5.

    Example:
        >>> rgfm = RegionGuidedFeatureModulation(3).eval()
        >>> y = rgfm(torch.rand(2, 3, 8, 8))  # (2, 3, 8, 8), y >= x (brightened)
    """

    def __init__(
        self,
        channels: int = 3,
        num_masks: int = 16,
        hidden: int = 64,
        weight_range: tuple[float, float] = (1.0, 3.0),
        tau: float = 0.1,
    ) -> None:
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        self.num_masks = _positive_int(num_masks, "num_masks")
        try:
            w_min, w_max = (float(v) for v in weight_range)
        except (TypeError, ValueError):
            raise ValueError(f"TA-ISP weight_range must be two numbers (w_min, w_max), got {weight_range!r}") from None
        if not (0.0 < w_min <= w_max < float("inf")):
            raise ValueError(f"TA-ISP weight_range must satisfy 0 < w_min <= w_max (finite), got {weight_range!r}")
        if not (isinstance(tau, (int, float)) and 0.0 < float(tau) < float("inf")):
            raise ValueError(f"TA-ISP tau must be a positive finite number, got {tau!r}")
        self.w_min, self.w_max, self.tau = w_min, w_max, float(tau)
        self.mask_head = nn.Conv2d(channels, num_masks, kernel_size=3, padding=1)
        self.weight_mlp = nn.Sequential(
            nn.Linear(num_masks, _positive_int(hidden, "hidden")),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_masks),
        )

    def masks_and_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Region masks (B, K, H, W), >= 0 and summing to 1 over K, and exponents' denominators w (B, K) in
        [w_min, w_max]. Stochastic (Gumbel noise) in training mode, deterministic in eval mode."""
        logits = self.mask_head(x)
        w = self.w_min + (self.w_max - self.w_min) * torch.sigmoid(self.weight_mlp(logits.mean(dim=(2, 3))))
        no_graph = _no_graph(self, x)
        if self.training:
            # Gumbel(0, 1) noise, finite: u in [tiny, 1 - eps] -> -log(-log(u)) in about [-4.5, 16] (float32).
            finfo = torch.finfo(logits.dtype)
            noise = torch.rand_like(logits).clamp_(finfo.tiny, 1.0 - finfo.eps).log_().neg_().log_()
            logits = logits.sub_(noise) if no_graph else logits - noise
        if no_graph:  # softmax(logits / tau) in place: (l - max l) / tau, exp, / sum (the (B, K, H, W) tensor
            # is the largest of the forward: 16 x the image's pixels)
            logits = logits.sub_(logits.amax(dim=1, keepdim=True)).mul_(1.0 / self.tau).exp_()
            return logits.div_(logits.sum(dim=1, keepdim=True)), w
        return F.softmax(logits / self.tau, dim=1), w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_image(x, self.channels, type(self).__name__)
        x = x.clamp(_EPS, 1.0)
        masks, w = self.masks_and_weights(x)
        log_x = torch.log(x)  # finite: x >= 1e-6
        inv_w = (1.0 / w)[:, :, None, None, None]  # (B, K, 1, 1, 1)
        if _no_graph(self, x):  # the same sum with one work buffer and in-place updates
            out, buf = torch.zeros_like(x), torch.empty_like(x)
            for k in range(self.num_masks):
                torch.mul(log_x, inv_w[:, k], out=buf).exp_()
                if self.w_min < 1.0:
                    buf.clamp_(_EPS, 1.0)
                out.addcmul_(buf, masks[:, k : k + 1])
            return out.clamp_(_EPS, 1.0)
        out = None
        for k in range(self.num_masks):  # region by region: no (B, K, C, H, W) temporary
            powered = torch.exp(log_x * inv_w[:, k])  # x ** (1 / w_k), in [x, 1] for w_k >= 1
            if self.w_min < 1.0:
                powered = powered.clamp(_EPS, 1.0)
            term = masks[:, k : k + 1] * powered
            out = term if out is None else out + term
        return out.clamp(_EPS, 1.0)


def _parse_modules(modules) -> tuple[str, ...]:
    if modules is None or (isinstance(modules, str) and modules.lower() == "none"):
        return ()
    if isinstance(modules, str):
        modules = (modules,)
    if not isinstance(modules, Iterable):
        raise ValueError(f"TA-ISP modules must be 'none' or a subset of {TAISP_MODULES}, got {modules!r}")
    names = [str(m).lower() for m in modules]
    bad = [m for m in names if m not in TAISP_MODULES]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"TA-ISP modules must be 'none' or distinct names from {TAISP_MODULES}, got {modules!r}")
    return tuple(m for m in TAISP_MODULES if m in names)  # the paper's order GLC -> HSA -> RGFM


class TAISP(nn.Module):
    """TA-ISP: RAW (3-ch demosaiced or 4-ch packed) -> RGB with ~3K parameters (official ``MultipleMaskISP_Conv``).

    GLC -> HSA -> RGFM (each optional, see ``modules``), then for 4 channels a 1x1 conv to RGB. See the module
    docstring for the data flow and the differences from the official code (deterministic eval masks, ablation
    switches, packed-RAW input, input clamp, memory-light power).

    Args:
        in_channels: 3 (demosaiced RAW, R G B, as the official code) or 4 (packed RAW R, Gr, Gb, B from
            :func:`rawvision.raw.pack.pack_bayer`).
        num_masks: K regions of RGFM (16).
        hidden: width of the GLC and RGFM MLPs (64).
        kernel_sizes: HSA branch kernel sizes ((3, 5)).
        weight_range: RGFM (w_min, w_max) of the region exponents 1/w (official default (1, 3)).
        tau: RGFM Gumbel-softmax temperature (0.1).
        modules: "none"/() or a subset of ("glc", "hsa", "rgfm"), applied in that order; absent modules have no
            parameters.
        out_channels: 3 (RGB); the only supported value.

    Shapes: (B, in_channels, H, W) float, [0, 1] expected (clamped to it first) -> (B, 3, H, W) in [0, 1]
    (3 channels with any module on: in [1e-6, 1]). For packed RAW, H, W are the packed size (half the mosaic's).

    Raises:
        ValueError: in_channels not 3 or 4, out_channels not 3, or bad module/size arguments (constructor); a
            tensor that is not (B, in_channels, H, W) floating point (forward).

    Source: "Task-Aware Image Signal Processor for Advanced Visual Perception", CVPR 2026, Sec. 3 (Fig. 2);
    official code CVL-UESTC/TA-ISP ``MultipleMaskISP_Conv`` (``mmdetection_github/mmdet/models/backbones/taisp.py``).

    Example:
        >>> isp = TAISP().eval()
        >>> rgb = isp(torch.rand(1, 3, 64, 64))  # (1, 3, 64, 64) in [0, 1]
        >>> isp.param_count_by_module()["total"]
        3297
        >>> from rawvision.raw.pack import pack_bayer
        >>> rgb = TAISP(in_channels=4).eval()(pack_bayer(torch.rand(1, 1, 64, 64), "RGGB"))  # (1, 3, 32, 32)
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_masks: int = 16,
        hidden: int = 64,
        kernel_sizes: Sequence[int] = (3, 5),
        weight_range: tuple[float, float] = (1.0, 3.0),
        tau: float = 0.1,
        modules=("glc", "hsa", "rgfm"),
        out_channels: int = 3,
    ) -> None:
        super().__init__()
        if isinstance(in_channels, bool) or in_channels not in (3, 4):
            raise ValueError(
                f"TA-ISP expects 3 (demosaiced RAW) or 4 (packed RAW) input channels, got {in_channels}"
            )
        if isinstance(out_channels, bool) or out_channels != 3:
            raise ValueError(f"TA-ISP produces RGB: out_channels must be 3, got {out_channels}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modules_on = _parse_modules(modules)
        self.glc = GlobalLuminanceCalibration(in_channels, hidden) if "glc" in self.modules_on else None
        self.hsa = HierarchicalSpatialAttention(in_channels, kernel_sizes) if "hsa" in self.modules_on else None
        self.rgfm = (
            RegionGuidedFeatureModulation(in_channels, num_masks, hidden, weight_range, tau)
            if "rgfm" in self.modules_on
            else None
        )
        self.to_rgb = None
        if in_channels == 4:
            self.to_rgb = nn.Conv2d(4, 3, kernel_size=1, bias=True)
            with torch.no_grad():  # R, (Gr + Gb) / 2, B
                self.to_rgb.weight.copy_(
                    torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]])[:, :, None, None]
                )
                self.to_rgb.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) RAW in [0, 1] -> (B, 3, H, W) RGB in [0, 1]."""
        _check_image(x, self.in_channels, "TAISP")
        x = x.clamp(0.0, 1.0)
        for stage in (self.glc, self.hsa, self.rgfm):
            if stage is not None:
                x = stage(x)
        if self.to_rgb is not None:
            x = self.to_rgb(x).clamp(0.0, 1.0)
        return x

    def param_count_by_module(self) -> dict[str, int]:
        """Parameter counts: "glc", "hsa", "rgfm", "to_rgb" for the modules present, their parts
        "rgfm.mask_head" and "rgfm.weight_mlp" (when RGFM is on), and "total". The undotted module keys sum to
        "total". Default 3-channel model: glc 643, hsa 78, rgfm 2,576 (448 + 2,128), total 3,297."""
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        out: dict[str, int] = {}
        for name in ("glc", "hsa", "rgfm", "to_rgb"):
            module = getattr(self, name)
            if module is not None:
                out[name] = count(module)
        if self.rgfm is not None:
            out["rgfm.mask_head"] = count(self.rgfm.mask_head)
            out["rgfm.weight_mlp"] = count(self.rgfm.weight_mlp)
        out["total"] = count(self)
        return out

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, modules={self.modules_on}"
