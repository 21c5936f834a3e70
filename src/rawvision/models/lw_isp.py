"""LW-ISP: a ~2 M-parameter learned RAW -> sRGB ISP (Chen & Ma, BMVC 2022), its teacher and its ablations.

A tiny U-Net (widths 16-32-64-128-256) on the packed Bayer mosaic (R, Gr, Gb, B at half resolution, the RAW core's
:func:`~rawvision.raw.pack.pack_bayer` order) with

* **FGAM** (fine-grained attention, Sec. 3.1, Fig. 3) after each 2x2 max-pool: a channel branch (GAP, 1x1 C->C/8,
  ReLU, 1x1 C/8->C, sigmoid) and a spatial branch (channel max and mean, 5x5 conv 2->1 without bias, sigmoid); each
  attention map gates the input and is *added* to it (``x + x * a``, as the author's code), and the two results are
  concatenated, doubling the channels;
* a **global context vector** (spatial mean of the 1/16 bottleneck -> Linear 256->128 -> ReLU) broadcast over the
  1/8 map and concatenated with the encoder feature;
* **CCB** upsampling (Sec. 3.2, Eq. 1-2, Fig. 4): one up-layer (3x3 conv to 4C, LeakyReLU, PixelShuffle(2), 3x3
  conv), with shared weights, applied to the decoder feature and to the same-level encoder feature and summed
  (CCB-Core, Eq. 1), plus the contextual complement ``sigmoid(f_d1(s) - f_d2(s))`` of the next skip feature ``s``
  (dilated convs kernel/dilation 1/1 and 3/2, Eq. 2) concatenated to it;
* the head: the last decoder feature times the first-layer feature, a 4th x2 up-layer (packed -> full
  resolution; commented out in the author's 3-channel code, needed for packed RAW), a 3x3 conv to 3 and a sigmoid.

Facts from the first author's public ``LWISP`` class (DreamerCCC/CutFreq ``networks/model.py``, see
``../shared/papers/NOTES.md`` §B): reflection-padded 3x3 convs with LeakyReLU(0.2), a single 256->256 conv at 1/16,
decoder widths 128-64-32-16. The contextual complement is not in that code; its width here is one contrast map per
CCB (the paper's ``C_l`` "pixel-wise relative contrast"), which brings the total to 2,011,327 parameters against the
paper's 2,014,681 (Table 3).

The teacher of the heterogeneous distillation (Sec. 3.3) is the same network without the x2 up-layer, reading the
clean sRGB target (3 channels, full resolution); its decoder features at H/4, H/2 and H meet the student's last
three up-block outputs at the same resolutions (:meth:`LWISP.distillation_features`).

Whole-frame and tiled inference agree: the four FGAM channel means and the bottleneck mean are *global* statistics,
so :func:`lw_isp_tiled` first measures them tile by tile (one pass each, in network order), then renders every tile
with them; tiles carry a halo wider than the receptive field and start on the 16-pixel pooling grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rawvision.raw.cfa import check_pattern
from rawvision.raw.pack import pack_bayer

__all__ = ["LWISP", "LWISPFrontEnd", "ChannelAttention", "SpatialAttention", "FGAM", "UpLayer",
           "ContextualComplement", "lw_isp", "lw_isp_teacher", "lw_isp_tiled", "LW_ISP_VARIANTS",
           "LW_ISP_PARAMS"]

#: Exact parameter count of the full LW-ISP (packed 4-channel input, x2 head), tested.
LW_ISP_PARAMS = 2_011_327
#: The paper's Table 5 ablation rows as (fgam, ccb); distillation is a training choice (``rawvision.tasks.isp``).
LW_ISP_VARIANTS = {"lw-isp": (True, True), "no-fgam": (False, True), "no-ccb": (True, False),
                   "backbone": (False, False)}
_GRID = 16  # four 2x2 max-pools: the packed input is padded to, and tiles start on, multiples of 16


class _Conv(nn.Sequential):
    """Reflection padding, k x k conv, LeakyReLU(0.2) (the author's ``ConvLayer``)."""

    def __init__(self, cin: int, cout: int, k: int = 3, relu: bool = True) -> None:
        layers: list[nn.Module] = [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k)]
        if relu:
            layers.append(nn.LeakyReLU(0.2))
        super().__init__(*layers)


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(_Conv(cin, cout), _Conv(cout, cout))


class ChannelAttention(nn.Module):
    """SE-style channel gate: ``x * sigmoid(W2 relu(W1 mean_hw(x)))``, (B, C, H, W) -> (B, C, H, W).

    ``mean`` (B, C, 1, 1) may be given (a whole frame's mean when ``x`` is a tile). Source: LW-ISP Sec. 3.1.
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor, mean: torch.Tensor | None = None) -> torch.Tensor:
        return x * self.gate(x.mean((2, 3), keepdim=True) if mean is None else mean)


class SpatialAttention(nn.Module):
    """CBAM-style spatial gate: ``x * sigmoid(conv5x5([max_c x, mean_c x]))`` (no bias), (B, C, H, W) -> same."""

    def __init__(self, kernel_size: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.conv(pooled))


class FGAM(nn.Module):
    """Fine-grained attention: ``cat(x + CA(x), x + SA(x))``, (B, C, H, W) -> (B, 2C, H, W). LW-ISP Sec. 3.1."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ca, self.sa = ChannelAttention(channels), SpatialAttention()

    def forward(self, x: torch.Tensor, mean: torch.Tensor | None = None) -> torch.Tensor:
        return torch.cat([x + self.ca(x, mean), x + self.sa(x)], 1)


class UpLayer(nn.Module):
    """Sub-pixel x2 up-layer: reflection-padded 3x3 conv C_in -> 4 C_out, LeakyReLU, PixelShuffle(2), 3x3 conv +
    LeakyReLU; (B, C_in, H, W) -> (B, C_out, 2H, 2W). The author's ``UpsampleConvLayer``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.expand = _Conv(cin, 4 * cout)
        self.shuffle = nn.PixelShuffle(2)
        self.refine = _Conv(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.refine(self.shuffle(self.expand(x)))


class ContextualComplement(nn.Module):
    """Contrast-aware map ``sigmoid(f_d1(s) - f_d2(s))`` (LW-ISP Eq. 2): f_d1 a 1x1 conv, f_d2 a 3x3 conv with
    dilation 2, each C -> ``maps``; (B, C, H, W) -> (B, maps, H, W) in (0, 1)."""

    def __init__(self, channels: int, maps: int = 1) -> None:
        super().__init__()
        self.d1 = nn.Conv2d(channels, maps, 1)
        self.d2 = nn.Conv2d(channels, maps, 3, padding=2, dilation=2)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.d1(s) - self.d2(s))


class LWISP(nn.Module):
    """LW-ISP (student: packed RAW -> sRGB) or its teacher (sRGB -> sRGB), with the Table 5 ablation switches.

    Args:
        in_channels: 4 for the packed RAW student (R, Gr, Gb, B), 3 for the teacher on the clean sRGB image.
        upsample: the final x2 up-layer (packed half resolution -> full-resolution RGB); False for the teacher
            (output at the input's resolution).
        fgam: FGAM after each max-pool; False feeds the pooled feature straight to the next double-conv (whose
            input then has C rather than 2C channels: the parameters go, as in the paper's "w/o FGAM", Table 3).
        ccb: CCB upsampling; False uses the up-layer on the decoder feature alone (no shared encoder branch, no
            contextual complement: the plain U-Net decoder).
        width: base width (16 in the paper); levels are width x (1, 2, 4, 8, 16).

    Shapes: ``forward`` takes (B, in_channels, h, w) float, h and w multiples of 2 for the student (the packed
    planes of an H x W mosaic, h = H/2) - any size: it is reflect-padded to multiples of 16 (at least 32) internally and the output
    cropped back - and returns (B, 3, 2h, 2w) (student) or (B, 3, h, w) (teacher) in (0, 1). Input values: the
    normalised RAW (0 = black level, 1 = white level) or sRGB in [0, 1].

    Raises:
        ValueError: a tensor that is not 4-D with ``in_channels`` channels, or an empty one (one line).

    Source: Chen & Ma, "LW-ISP: A Lightweight Model with ISP and Deep Learning", BMVC 2022, Sec. 3 and Fig. 2;
    layer facts from the author's ``LWISP`` code (see the module docstring).

    Example:
        >>> isp = LWISP()
        >>> sum(p.numel() for p in isp.parameters())
        2011327
        >>> isp(torch.rand(1, 4, 32, 48)).shape
        torch.Size([1, 3, 64, 96])
    """

    def __init__(self, in_channels: int = 4, upsample: bool = True, fgam: bool = True, ccb: bool = True,
                 width: int = 16) -> None:
        super().__init__()
        if in_channels < 1 or width < 8 or width % 8:
            raise ValueError(f"LWISP: in_channels must be >= 1 and width a multiple of 8, got {in_channels}, {width}")
        self.in_channels, self.upsample, self.fgam, self.ccb, self.width = in_channels, upsample, fgam, ccb, width
        w = [width * 2 ** i for i in range(5)]  # 16, 32, 64, 128, 256
        self.conv0 = _Conv(in_channels, w[0])
        self.conv1 = _DoubleConv(w[0], w[0])
        self.attn = nn.ModuleList([FGAM(c) for c in w[:4]]) if fgam else None
        k = 2 if fgam else 1
        self.down = nn.ModuleList([_DoubleConv(k * w[0], w[1]), _DoubleConv(k * w[1], w[2]),
                                   _DoubleConv(k * w[2], w[3])])
        self.bottleneck = _Conv(k * w[3], w[4])
        self.context = nn.Sequential(nn.Linear(w[4], w[3]), nn.ReLU(inplace=True))
        self.fuse = _DoubleConv(2 * w[3], w[3])
        self.ups = nn.ModuleList([UpLayer(w[3], w[2]), UpLayer(w[2], w[1]), UpLayer(w[1], w[0])])
        cc = 1 if ccb else 0
        self.complement = nn.ModuleList([ContextualComplement(c) for c in (w[2], w[1], w[0])]) if ccb else None
        self.merge = nn.ModuleList([_Conv(2 * c + cc, c) for c in (w[2], w[1], w[0])])
        self.final_up = UpLayer(w[0], w[0]) if upsample else None
        self.head = _Conv(w[0], 3, relu=False)

    # -- the network -------------------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor) -> None:
        if not torch.is_tensor(x) or x.ndim != 4 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            what = "packed RAW (R, Gr, Gb, B)" if self.in_channels == 4 else "an image"
            raise ValueError(f"LWISP expects {what} of shape (B, {self.in_channels}, h, w), got {got}")
        if x.shape[-1] < 1 or x.shape[-2] < 1 or x.shape[0] < 1:
            raise ValueError(f"LWISP got an empty tensor of shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"LWISP expects a float tensor, got {x.dtype}")

    def encode(self, x: torch.Tensor, stats: dict | None = None, upto: int | None = None):
        """Run the encoder on a (B, C, h, w) input (h, w multiples of 16). ``stats`` gives global means to use
        instead of this input's (``ca0``..``ca3``: FGAM channel means (B, C, 1, 1); ``ctx``: bottleneck mean (B, 256)).
        With ``upto`` = k returns the k-th global statistic's *input* feature (for tiled measurement)."""
        stats = stats or {}
        f0 = self.conv0(x)
        f1 = self.conv1(f0)
        skips, h = [f1], f1
        for i in range(4):
            h = F.max_pool2d(h, 2)
            if self.attn is not None:
                if upto == i:
                    return h
                h = self.attn[i](h, stats.get(f"ca{i}"))
            h = self.down[i](h) if i < 3 else self.bottleneck(h)
            skips.append(h)
        if upto == 4:
            return h
        return f0, skips

    def decode(self, f0: torch.Tensor, skips: list[torch.Tensor], stats: dict | None = None,
               keep: bool = False):
        """Decoder from the encoder's outputs; returns the RGB and, with ``keep``, the up-block outputs."""
        stats = stats or {}
        f1, f2, f3, f4, f5 = skips
        g = f5.mean((2, 3)) if stats.get("ctx") is None else stats["ctx"]
        g = self.context(g)[:, :, None, None].expand(-1, -1, f4.shape[2], f4.shape[3])
        d = self.fuse(torch.cat([f4, g], 1))
        feats = []
        for i, (enc, skip) in enumerate(((f4, f3), (f3, f2), (f2, f1))):
            up = self.ups[i](d)
            parts = [up + self.ups[i](enc) if self.ccb else up, skip]
            if self.complement is not None:
                parts.append(self.complement[i](skip))
            d = self.merge[i](torch.cat(parts, 1))
            feats.append(d)
        d = f0 * d
        if self.final_up is not None:
            d = self.final_up(d)
            feats.append(d)
        out = torch.sigmoid(self.head(d))
        return (out, feats) if keep else out

    def _padded(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        h, w = x.shape[-2:]
        # multiples of 16, at least 32: the 1/16 bottleneck's reflection-padded conv needs 2 x 2 at least
        ph, pw = max((-h) % _GRID, 2 * _GRID - h), max((-w) % _GRID, 2 * _GRID - w)
        if ph or pw:
            mode = "reflect" if h > ph and w > pw else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        return x, h, w

    def forward(self, x: torch.Tensor, stats: dict | None = None) -> torch.Tensor:
        """(B, in_channels, h, w) -> (B, 3, 2h, 2w) (student) or (B, 3, h, w) (teacher), values in (0, 1)."""
        self._check(x)
        x, h, w = self._padded(x)
        out = self.decode(*self.encode(x, stats), stats=stats)
        s = 2 if self.upsample else 1
        return out[..., : s * h, : s * w]

    def distillation_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """RGB and the up-block outputs used by the heterogeneous distillation (Eq. 6): the last three.

        Student (packed input, h = H/2): the outputs at H/4 (32 ch), H/2 (16 ch) and H (the x2 up-layer, 16 ch).
        Teacher (sRGB input at H): its three CCB outputs at H/4 (64 ch), H/2 (32 ch) and H (16 ch). The pairs meet
        at equal resolutions; :class:`rawvision.tasks.isp.module.LearnedISP` maps the student's channels onto the
        teacher's with 1x1 convs (training only). Inputs must be multiples of 16 (no padding here)."""
        self._check(x)
        if x.shape[-1] % _GRID or x.shape[-2] % _GRID:
            raise ValueError(f"distillation_features needs h and w multiples of {_GRID}, got {tuple(x.shape[-2:])}")
        out, feats = self.decode(*self.encode(x), keep=True)
        return out, feats[-3:]

    def feature_channels(self) -> list[int]:
        """Channels of the three :meth:`distillation_features` maps."""
        w = self.width
        return [2 * w, w, w] if self.upsample else [4 * w, 2 * w, w]

    def global_statistic_names(self) -> list[str]:
        """The global means a tile cannot see, in the order they depend on each other."""
        return ([f"ca{i}" for i in range(4)] if self.attn is not None else []) + ["ctx"]

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, upsample={self.upsample}, fgam={self.fgam}, ccb={self.ccb}, "
                f"width={self.width}")


def lw_isp(variant: str = "lw-isp", **kwargs) -> LWISP:
    """The LW-ISP student by variant name: ``lw-isp`` (FGAM + CCB), ``no-fgam``, ``no-ccb``, ``backbone`` (neither:
    the plain U-Net with the global vector). Raises ValueError for another name."""
    if variant not in LW_ISP_VARIANTS:
        raise ValueError(f"unknown LW-ISP variant {variant!r}: expected one of {', '.join(LW_ISP_VARIANTS)}")
    fgam, ccb = LW_ISP_VARIANTS[variant]
    return LWISP(4, upsample=True, fgam=fgam, ccb=ccb, **kwargs)


def lw_isp_teacher(**kwargs) -> LWISP:
    """The distillation teacher: LW-ISP without the x2 up-layer, reading the clean sRGB target (Sec. 3.3)."""
    return LWISP(3, upsample=False, **kwargs)


class LWISPFrontEnd(nn.Module):
    """LW-ISP as a RAW front end: (B, 1, H, W) Bayer mosaic in [0, 1] of ``pattern`` -> packed R, Gr, Gb, B ->
    LW-ISP -> (B, 3, H, W) sRGB in (0, 1). H and W must be even (whole 2x2 CFA blocks).

    Raises:
        ValueError: an unknown pattern; in forward a mosaic that is not (B, 1, H, W) or has odd H or W (one line).

    Example:
        >>> fe = LWISPFrontEnd("GRBG")
        >>> fe(torch.rand(2, 1, 32, 32)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, pattern: str = "RGGB", isp: LWISP | None = None) -> None:
        super().__init__()
        self.pattern = check_pattern(pattern)
        self.isp = isp if isp is not None else lw_isp()
        if self.isp.in_channels != 4 or not self.isp.upsample:
            raise ValueError("LWISPFrontEnd needs the packed-RAW student (in_channels=4, upsample=True)")

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(raw) or raw.ndim != 4 or raw.shape[1] != 1:
            got = tuple(raw.shape) if torch.is_tensor(raw) else type(raw).__name__
            raise ValueError(f"LW-ISP front end expects a Bayer mosaic of shape (B, 1, H, W), got {got}")
        if raw.shape[-2] % 2 or raw.shape[-1] % 2:
            raise ValueError(f"LW-ISP front end needs even H and W (whole 2x2 CFA blocks), got "
                             f"{tuple(raw.shape[-2:])}")
        return self.isp(pack_bayer(raw, self.pattern))

    def extra_repr(self) -> str:
        return f"pattern={self.pattern!r}"


# -- tiled inference ---------------------------------------------------------------------------------------------
def _starts(n: int, tile: int) -> list[int]:
    return list(range(0, n, tile))


def lw_isp_tiled(model: LWISP, x: torch.Tensor, tile: int = 512, halo: int = 192,
                 progress: Callable[[int, int], None] | None = None, out_device=None) -> torch.Tensor:
    """Tiled inference of :class:`LWISP` with bounded memory, equal to ``model(x)`` up to float rounding.

    The packed input is reflect-padded to multiples of 16 as in ``forward``. Each of the global means (the four
    FGAM channel means, then the bottleneck mean) is measured in its own pass over tiles (the interior of each
    tile, at that level's resolution), with the means found so far; a last pass renders every tile with all of
    them and keeps its interior. Tiles and halos are multiples of 16 so the max-pool grids line up with the
    whole frame's; the halo (default 192 packed pixels) exceeds the network's receptive field radius (about 180),
    so the interiors see exactly what the whole frame sees.

    Args:
        model: an :class:`LWISP` (in eval mode; no gradients are kept).
        x: (1, C, h, w) float input (packed RAW for the student); batch 1 (a frame).
        tile: interior tile side in input pixels, a positive multiple of 16.
        halo: context on each side, a multiple of 16.
        progress: called as ``progress(done, total)`` after each tile of every pass.
        out_device: where the output is assembled (default: ``x``'s device).

    Returns:
        (1, 3, s h, s w) float in (0, 1), s = 2 for the student, 1 for the teacher.

    Raises:
        ValueError: a tile or halo that is not a positive multiple of 16, a batch other than 1, bad input shapes.
    """
    model._check(x)
    if x.shape[0] != 1:
        raise ValueError(f"lw_isp_tiled renders one frame at a time, got a batch of {x.shape[0]}")
    if tile <= 0 or tile % _GRID or halo < 0 or halo % _GRID:
        raise ValueError(f"tile and halo must be multiples of {_GRID} (tile > 0), got tile={tile}, halo={halo}")
    xp, h, w = model._padded(x)
    H, W = xp.shape[-2:]
    ys, xs = _starts(H, tile), _starts(W, tile)
    names = model.global_statistic_names()
    total = len(ys) * len(xs) * (len(names) + 1)
    done = 0
    stats: dict = {}

    def crop(y0, x0):
        a, b = max(0, y0 - halo), min(H, y0 + tile + halo)
        c, d = max(0, x0 - halo), min(W, x0 + tile + halo)
        return xp[..., a:b, c:d], y0 - a, x0 - c, min(tile, H - y0), min(tile, W - x0)

    with torch.no_grad():
        for level, name in enumerate(names):
            upto = level if name != "ctx" else 4
            acc, count = None, 0
            for y0 in ys:
                for x0 in xs:
                    t, oy, ox, th, tw = crop(y0, x0)
                    f = model.encode(t, stats, upto=upto)
                    s = t.shape[-1] // f.shape[-1]  # this level's stride
                    inner = f[..., oy // s: (oy + th) // s, ox // s: (ox + tw) // s]
                    part = inner.sum((2, 3), dtype=torch.float64)
                    acc = part if acc is None else acc + part
                    count += inner.shape[-1] * inner.shape[-2]
                    done += 1
                    if progress is not None:
                        progress(done, total)
            mean = (acc / count).to(x.dtype)
            stats[name] = mean if name == "ctx" else mean[:, :, None, None]
        sc = 2 if model.upsample else 1
        out = torch.empty(1, 3, sc * H, sc * W, dtype=x.dtype, device=out_device or x.device)
        for y0 in ys:
            for x0 in xs:
                t, oy, ox, th, tw = crop(y0, x0)
                rgb = model.decode(*model.encode(t, stats), stats=stats)
                out[..., sc * y0: sc * (y0 + th), sc * x0: sc * (x0 + tw)] = \
                    rgb[..., sc * oy: sc * (oy + th), sc * ox: sc * (ox + tw)].to(out.device)
                done += 1
                if progress is not None:
                    progress(done, total)
    return out[..., : sc * h, : sc * w]
