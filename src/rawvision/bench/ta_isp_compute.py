"""TA-ISP compute: parameters, FLOPs / MACs at 640x640 and latency at 3840x2160 against the classical ISP.

Usage::

    rawvision bench ta_isp_compute [--device cpu|cuda] [--out FILE.md]
    python -m rawvision.bench.ta_isp_compute ...          # the same

Options: ``--size H W`` (latency image, default 2160 3840), ``--flops-size H W`` (default 640 640), ``--repeats N``
(timed runs, default 5), ``--warmup N`` (untimed runs first, default 2), ``--threads N`` (torch.set_num_threads).

What is measured (the paper's Table 1 columns: Params, FLOPs at 640x640, latency at 3840x2160):

- Parameters per module of :class:`rawvision.models.ta_isp.TAISP` (default, 3 channels).
- Multiply-accumulates of the convolutions and linear layers, counted by ``torch.utils.flop_counter.FlopCounterMode``
  (FLOPs = 2 x MACs, biases not counted) and by hand from the layer shapes; they must agree. Elementwise work (pow /
  exp / log, softmax, sigmoid, clamps, the mask-weighted sum) is not counted by FlopCounterMode: it is estimated
  separately by counting the elements every other aten op touches (one operation per element; under no_grad the
  region softmax runs as its parts max, subtract, multiply, exp, sum, divide, so each is counted).
- Latency of batch 1, eval mode, ``torch.no_grad``, float32, median of ``--repeats`` runs after ``--warmup`` runs
  (CPU: ``time.perf_counter``; CUDA: CUDA events, after ``torch.cuda.synchronize``), for TA-ISP on a 3-channel
  demosaiced RAW (the paper's setting), TA-ISP on packed RAW (4 x H/2 x W/2 of the same mosaic), bilinear demosaic
  + TA-ISP (what a Bayer mosaic needs), and the classical ISP :func:`rawvision.raw.isp.process` (white balance, Malvar
  demosaic, CCM, gamma, smoothstep tone curve) on the H x W mosaic, all in the same process on the same device.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import rawvision  # noqa: F401  (torchvision compatibility first)
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from rawvision._atomic import write_atomic
from rawvision.models.ta_isp import TAISP
from rawvision.raw.demosaic import demosaic_bilinear
from rawvision.raw.isp import process
from rawvision.raw.pack import pack_bayer

__all__ = ["PAPER", "conv_linear_macs_by_hand", "count_compute", "format_report", "main", "measure_latency",
           "run_benchmark"]

PATTERN = "RGGB"
# The paper's Table 1 row for TA-ISP (params in M, "FLOPs" in G at 640x640, latency in ms at 3840x2160 on its GPU).
PAPER = {"params_m": 0.003, "flops_g": 0.20, "latency_ms": 26.43}
OFFICIAL_NAMES = {"glc": "gain_mlp", "hsa": "attn (MultiScaleSpatialAttention)", "rgfm.mask_head": "mask_head",
                  "rgfm.weight_mlp": "weight_mlp", "to_rgb": "(not in the official code)"}


def conv_linear_macs_by_hand(model: TAISP, height: int, width: int) -> dict[str, int]:
    """MACs of each convolution / linear layer of ``model`` on one (in_channels, height, width) image, from the
    layer shapes: a k x k conv C_in -> C_out at H x W ('same' padding) costs C_out * C_in * k^2 * H * W; the HSA
    gate is a 1x1 conv on the 1 x 1 pooled image; a linear layer costs in * out. Keys are module names."""
    hw = height * width
    out: dict[str, int] = {}
    c = model.in_channels
    if model.glc is not None:
        lin = [m for m in model.glc.gain_mlp if isinstance(m, torch.nn.Linear)]
        out["glc.gain_mlp"] = sum(m.in_features * m.out_features for m in lin)
    if model.hsa is not None:
        for i, k in enumerate(model.hsa.kernel_sizes):
            out[f"hsa.branch_convs.{i} ({k}x{k}, 2->1)"] = 2 * k * k * hw
        out["hsa.gate_proj (1x1 on 1x1)"] = c * len(model.hsa.kernel_sizes)
    if model.rgfm is not None:
        out[f"rgfm.mask_head (3x3, {c}->{model.rgfm.num_masks})"] = model.rgfm.num_masks * c * 9 * hw
        lin = [m for m in model.rgfm.weight_mlp if isinstance(m, torch.nn.Linear)]
        out["rgfm.weight_mlp"] = sum(m.in_features * m.out_features for m in lin)
    if model.to_rgb is not None:
        out["to_rgb (1x1, 4->3)"] = 4 * 3 * hw
    return out


class _ElementOps(TorchDispatchMode):
    """Counts, per aten op other than those FlopCounterMode counts and views, the largest number of elements among
    its tensor inputs and outputs (one operation per element); in-place ops count under their name (exp_ as exp)."""

    def __init__(self, skip) -> None:
        super().__init__()
        self.skip = set(skip)
        self.counts: dict[str, int] = defaultdict(int)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket not in self.skip and not getattr(func, "is_view", False):
            tensors = [t for t in torch.utils._pytree.tree_leaves((args, kwargs or {}, out))
                       if isinstance(t, torch.Tensor)]
            if tensors:
                name = func.overloadpacket.__name__
                self.counts[name[:-1] if name.endswith("_") else name] += max(t.numel() for t in tensors)  # exp_ = exp
        return out


def count_compute(model: TAISP, height: int = 640, width: int = 640) -> dict:
    """FLOPs (FlopCounterMode), MACs (= FLOPs / 2) and hand-counted MACs per layer, and the elementwise estimate,
    of one eval-mode, no_grad forward of ``model`` (CPU, float32) on a (1, in_channels, height, width) image. The
    model's training flag is restored afterwards."""
    was_training = model.training
    model.eval()
    x = torch.rand(1, model.in_channels, height, width)
    try:
        with torch.no_grad(), FlopCounterMode(display=False, depth=None) as fc:
            model(x)
        counted = set(fc.flop_registry)
        with torch.no_grad(), _ElementOps(counted) as eo:
            model(x)
    finally:
        model.train(was_training)
    per_module = {name: sum(v.values()) for name, v in fc.get_flop_counts().items()}
    flops = fc.get_total_flops()
    elementwise = dict(sorted(eo.counts.items(), key=lambda kv: -kv[1]))
    return {
        "size": (height, width),
        "flops": flops,
        "macs": flops // 2,
        "flops_by_module": {k: v for k, v in per_module.items() if k not in ("Global",)},
        "macs_by_hand": conv_linear_macs_by_hand(model, height, width),
        "elementwise": elementwise,
        "elementwise_total": sum(elementwise.values()),
    }


def measure_latency(fn: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls (CUDA: events, synchronised)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return times


def _device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} logical cores)"


def run_benchmark(height: int = 2160, width: int = 3840, flops_size: tuple[int, int] = (640, 640), repeats: int = 5,
                  warmup: int = 2, device: str = "cpu") -> dict:
    """Parameters, compute and latencies (see the module docstring); returns the dict :func:`format_report` prints.

    Raises ValueError for an odd latency size (the packed row needs whole 2x2 blocks) or CUDA asked for but absent.
    """
    if height % 2 or width % 2:
        raise ValueError(f"--size must be even (packed RAW needs whole 2x2 blocks), got {height} x {width}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch.cuda.is_available() is False")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    torch.manual_seed(0)
    model3 = TAISP().eval()
    model4 = TAISP(in_channels=4).eval()
    compute = count_compute(model3, *flops_size)
    model3, model4 = model3.to(dev), model4.to(dev)

    g = torch.Generator(device=dev).manual_seed(0)
    mosaic = torch.rand(1, 1, height, width, generator=g, device=dev)
    demosaiced = demosaic_bilinear(mosaic, PATTERN)
    packed = pack_bayer(mosaic, PATTERN).contiguous()
    wb = torch.tensor([2.0, 1.0, 1.6], device=dev)
    ccm = torch.tensor([[1.6, -0.4, -0.2], [-0.3, 1.5, -0.2], [0.0, -0.5, 1.5]], device=dev)
    cases = [
        ("TA-ISP (3-ch demosaiced RAW, paper's setting)", f"1x3x{height}x{width}", lambda: model3(demosaiced)),
        ("TA-ISP (4-ch packed RAW)", f"1x4x{height // 2}x{width // 2}", lambda: model4(packed)),
        ("bilinear demosaic + TA-ISP", f"1x1x{height}x{width}",
         lambda: model3(demosaic_bilinear(mosaic, PATTERN))),
        ("classical ISP (WB + Malvar + CCM + gamma + tone)", f"1x1x{height}x{width}",
         lambda: process(mosaic, wb, ccm, PATTERN, demosaic_method="malvar")),
    ]
    rows = []
    with torch.no_grad():
        for name, shape, fn in cases:
            times = measure_latency(fn, repeats, warmup, dev)
            rows.append({"name": name, "input": shape, "median_s": statistics.median(times), "min_s": min(times)})
    ref = rows[-1]["median_s"]
    for r in rows:
        r["vs_classical"] = r["median_s"] / ref
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": _device_label(dev),
        "cuda": dev.type == "cuda",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load": load,
        "load_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "size": (height, width),
        "repeats": repeats,
        "warmup": warmup,
        "params": TAISP().param_count_by_module(),
        "params_packed": TAISP(in_channels=4).param_count_by_module(),
        "compute": compute,
        "rows": rows,
    }


def _m(n: float) -> str:
    return f"{n / 1e6:.2f} M"


def format_report(res: dict) -> str:
    """The markdown report of :func:`run_benchmark`'s result."""
    load = lambda la: "n/a" if la is None else " / ".join(f"{x:.2f}" for x in la)  # noqa: E731
    c = res["compute"]
    fh, fw = c["size"]
    h, w = res["size"]
    p, p4 = res["params"], res["params_packed"]
    lines = [
        "## TA-ISP compute: parameters, MACs, latency vs the classical ISP",
        "",
        f"- date: {res['date']}",
        f"- device: {res['device']}; torch {res['torch']}; torch threads: {res['threads']}",
        f"- load average (1 / 5 / 15 min) before: {load(res['load'])}; after: {load(res.get('load_after'))}",
        f"- paper (Table 1): {PAPER['params_m']} M params, {PAPER['flops_g']:.2f} G \"FLOPs\" at 640x640, "
        f"{PAPER['latency_ms']} ms at 3840x2160 on the authors' GPU",
        "",
        "### Parameters (default TAISP(), 3 channels)",
        "",
        "| module | official name | parameters | packed RAW (4 ch) |",
        "|---|---|---:|---:|",
    ]
    for key in ("glc", "hsa", "rgfm.mask_head", "rgfm.weight_mlp", "to_rgb"):
        if key in p or key in p4:
            lines.append(f"| {key} | {OFFICIAL_NAMES[key]} | {p.get(key, 0):,} | {p4.get(key, 0):,} |")
    lines.append(f"| **total** | MultipleMaskISP_Conv | **{p['total']:,}** | **{p4['total']:,}** |")

    hand = c["macs_by_hand"]
    hand_total = sum(hand.values())
    conv_hand = sum(v for k, v in hand.items() if "mlp" not in k)
    lines += [
        "",
        f"### Compute at {fh}x{fw} (batch 1, eval, 3 channels)",
        "",
        "| layer | MACs by hand | FLOPs (FlopCounterMode) |",
        "|---|---:|---:|",
    ]
    fbm = c["flops_by_module"]
    for key, macs in hand.items():
        fc_key = "TAISP." + key.split(" ")[0]
        lines.append(f"| {key} | {macs:,} | {fbm.get(fc_key, 0):,} |")
    lines.append(f"| **total** | **{hand_total:,}** ({hand_total / 1e9:.3f} G) | **{c['flops']:,}** "
                 f"({c['flops'] / 1e9:.3f} G) |")
    agree = "agree" if c["macs"] == hand_total else "DISAGREE"
    matches = abs(c["macs"] / 1e9 - PAPER["flops_g"]) < 0.005
    lines += [
        "",
        f"- FlopCounterMode: {c['flops'] / 1e9:.3f} GFLOPs = {c['macs'] / 1e9:.3f} G MACs; by hand "
        f"{hand_total / 1e9:.3f} G MACs ({agree}); convolutions alone {conv_hand / 1e9:.4f} G MACs.",
        (f"- The paper's \"{PAPER['flops_g']:.2f} G FLOPs\" matches the MACs of the convolutions (what thop's profile, "
         f"used in the official code's __main__, reports), i.e. {c['flops'] / 1e9:.2f} GFLOPs counting multiply and "
         "add separately." if matches else
         f"- The paper's \"{PAPER['flops_g']:.2f} G FLOPs\" does not match the MACs counted here "
         f"({c['macs'] / 1e9:.3f} G)."),
        f"- Not counted by FlopCounterMode (elementwise: exp/log of the power, softmax, sigmoid, clamps, statistics, "
        f"the mask-weighted sum): about {c['elementwise_total'] / 1e9:.2f} G element operations (one per element "
        f"touched per aten op; exp/log count 1 like an add), {c['elementwise_total'] / max(c['macs'], 1):.1f}x the "
        "MACs. Largest: "
        + ", ".join(f"{k} {_m(v)}" for k, v in list(c["elementwise"].items())[:8]) + ".",
        "",
        f"### Latency at {w}x{h} (batch 1, eval, no_grad, float32; median of {res['repeats']} after "
        f"{res['warmup']} warm-up runs; {'CUDA events' if res['cuda'] else 'perf_counter'})",
        "",
        "| pipeline | input | median (ms) | min (ms) | time / classical ISP |",
        "|---|---|---:|---:|---:|",
    ]
    for r in res["rows"]:
        lines.append(f"| {r['name']} | {r['input']} | {1e3 * r['median_s']:.1f} | {1e3 * r['min_s']:.1f} | "
                     f"{r['vs_classical']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench ta_isp_compute", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown report here (atomically)")
    ap.add_argument("--size", type=int, nargs=2, default=(2160, 3840), metavar=("H", "W"))
    ap.add_argument("--flops-size", type=int, nargs=2, default=(640, 640), metavar=("H", "W"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's default)")
    args = ap.parse_args(argv)
    if min(args.size) < 4 or min(args.flops_size) < 1 or args.repeats < 1 or args.warmup < 0 or (
            args.threads is not None and args.threads < 1):
        ap.error("--size needs H, W >= 4, --flops-size >= 1, --repeats and --threads >= 1, --warmup >= 0")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        res = run_benchmark(*args.size, flops_size=tuple(args.flops_size), repeats=args.repeats,
                            warmup=args.warmup, device=args.device)
    except ValueError as e:
        ap.error(str(e))
    report = format_report(res)
    print(report, end="")
    if args.out is not None:
        write_atomic(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
