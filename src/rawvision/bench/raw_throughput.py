"""Throughput of the RAW simulation and demosaicing stages: rawvision (torch) against colour-demosaicing (NumPy).

Usage::

    rawvision bench raw_throughput --size 2048 2048 --repeats 5 --device cpu --out bench/raw_throughput.md
    python -m rawvision.bench.raw_throughput ...          # the same

Options: ``--threads N`` (torch.set_num_threads; default torch's default), ``--stages NAME ...`` (default all).

Each stage runs on one image (batch 1) after WARMUP_CALLS (5) warm-up calls; the time is the median of ``--repeats`` runs, the
throughput is megapixels (of the H x W mosaic) per second. Ours runs in float32 with torch's default number of
threads (on a machine shared with other busy processes torch's OpenMP threads wait for each other at every
operation's barrier: compare with ``--threads 1``; the table records the load average); colour-demosaicing computes
in float64 (its only dtype) with NumPy/SciPy, single-threaded, in the same process. On CUDA the table also gives
the bandwidth ours achieves for its compulsory memory traffic (each input read once, each output written once,
float32) as a fraction of the device's peak: the datasheet figure for known GPUs and a measured device-to-device
copy.

Adding a stage (e.g. Poisson-Gaussian noise): add an entry to :data:`STAGES`, a :class:`Stage` whose ``ours`` and
``reference`` build, from the shared inputs (see :func:`make_inputs`), a zero-argument callable running it once::

    STAGES["mosaic + poisson-gaussian noise"] = Stage(
        ours=lambda d: lambda: add_poisson_gaussian_noise(mosaic(d["rgb"]), 1e-3, 1e-5, d["generator"]),
        reference=None,  # no colour-demosaicing counterpart: the ratio is left empty
        bytes_per_pixel=16,
    )
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import rawvision  # noqa: F401  (torchvision compatibility first)
import numpy as np
import torch

from rawvision._atomic import write_atomic
from rawvision.raw.cfa import mosaic
from rawvision.raw.demosaic import demosaic_bilinear, demosaic_malvar
from rawvision.raw.noise import add_gaussian_noise

__all__ = ["STAGES", "Stage", "format_report", "main", "make_inputs", "peak_bandwidth", "run_benchmark"]

PATTERN = "RGGB"
SIGMA = 0.1  # ISP Distillation's Gaussian noise std (Sec. IV-A)

# Datasheet peak memory bandwidth (bytes/s) by a substring of ``torch.cuda.get_device_name``, first match wins.
PEAK_BANDWIDTH: tuple[tuple[str, float], ...] = (
    ("H200", 4.8e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIe", 2.0e12),
    ("H100", 3.35e12),  # SXM5 ("NVIDIA H100 80GB HBM3")
    ("A100-SXM4-80GB", 2.039e12),
    ("A100 80GB PCIe", 1.935e12),
    ("A100", 1.555e12),
    ("L40S", 864e9),
    ("L4", 300e9),
    ("A10G", 600e9),
    ("V100", 900e9),
    ("T4", 320e9),
    ("RTX 4090", 1008e9),
    ("RTX 3090", 936e9),
)


def _colour_demosaicing():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # colour warns that matplotlib is absent
        import colour_demosaicing

    return colour_demosaicing


@dataclass(frozen=True)
class Stage:
    """One benchmarked stage.

    ``ours`` and ``reference`` map the inputs of :func:`make_inputs` to a zero-argument callable that runs the stage
    once (any setup happens outside the timing); ``reference`` is None when colour-demosaicing has no counterpart.
    ``bytes_per_pixel``: compulsory memory traffic of ours per mosaic pixel in float32 (reads + writes).
    """

    ours: Callable[[dict], Callable[[], object]]
    reference: Callable[[dict], Callable[[], object]] | None
    bytes_per_pixel: float


def _ref_mosaic_noise(d: dict) -> Callable[[], object]:
    cd = _colour_demosaicing()
    rng = np.random.default_rng(0)
    return lambda: cd.mosaicing_CFA_Bayer(d["rgb_np"], PATTERN) + SIGMA * rng.standard_normal(d["raw_np"].shape)


STAGES: dict[str, Stage] = {
    "mosaic": Stage(
        ours=lambda d: lambda: mosaic(d["rgb"], PATTERN),
        reference=lambda d: lambda: _colour_demosaicing().mosaicing_CFA_Bayer(d["rgb_np"], PATTERN),
        bytes_per_pixel=16,  # 3 float32 read, 1 written
    ),
    "mosaic + gaussian noise": Stage(
        ours=lambda d: lambda: add_gaussian_noise(mosaic(d["rgb"], PATTERN), SIGMA, generator=d["generator"]),
        reference=_ref_mosaic_noise,
        bytes_per_pixel=16,
    ),
    "demosaic bilinear": Stage(
        ours=lambda d: lambda: demosaic_bilinear(d["raw"], PATTERN),
        reference=lambda d: lambda: _colour_demosaicing().demosaicing_CFA_Bayer_bilinear(d["raw_np"], PATTERN),
        bytes_per_pixel=16,  # 1 float32 read, 3 written
    ),
    "demosaic malvar": Stage(
        ours=lambda d: lambda: demosaic_malvar(d["raw"], PATTERN),
        reference=lambda d: lambda: _colour_demosaicing().demosaicing_CFA_Bayer_Malvar2004(d["raw_np"], PATTERN),
        bytes_per_pixel=16,
    ),
}


def make_inputs(height: int, width: int, device: str | torch.device) -> dict:
    """Shared inputs: ``rgb`` (1, 3, H, W) and ``raw`` (1, 1, H, W) float32 on ``device``, uniform in [0, 1];
    ``rgb_np`` (H, W, 3) and ``raw_np`` (H, W) float64 NumPy copies; ``generator``, a torch generator on ``device``."""
    g = torch.Generator(device=device).manual_seed(0)
    rgb = torch.rand(1, 3, height, width, generator=g, device=device)
    raw = mosaic(rgb, PATTERN)
    return {
        "rgb": rgb,
        "raw": raw,
        "rgb_np": rgb[0].permute(1, 2, 0).double().cpu().numpy(),
        "raw_np": raw[0, 0].double().cpu().numpy(),
        "generator": g,
    }


WARMUP_CALLS = 5


def _median_time(fn: Callable[[], object], repeats: int, cuda: bool) -> float:
    # Steady state: the first calls in a process fault in fresh memory pages for the outputs (for our bilinear
    # demosaic the first ~5 calls at 4 MP take ~100 ms, later ones ~22 ms). Both sides get the same warm-up.
    for _ in range(WARMUP_CALLS):
        fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_bandwidth(device_name: str) -> float | None:
    """Datasheet peak memory bandwidth in bytes/s of a GPU named ``device_name`` (:data:`PEAK_BANDWIDTH`), or None."""
    for key, value in PEAK_BANDWIDTH:
        if key.lower() in device_name.lower():
            return value
    return None


def measure_copy_bandwidth(device: str | torch.device, nbytes: int = 1 << 29, repeats: int = 10) -> float:
    """Practical peak: bytes read + written per second by a device-to-device copy of ``nbytes``."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    t = _median_time(lambda: dst.copy_(src), repeats, torch.device(device).type == "cuda")
    return 2 * nbytes / t


def _device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} logical cores)"


def run_benchmark(
    height: int = 2048, width: int = 2048, repeats: int = 5, device: str = "cpu", stages: list[str] | None = None
) -> tuple[dict, list[dict]]:
    """Time every stage (or those named) for ours and colour-demosaicing; returns ``(meta, rows)`` for
    :func:`format_report`. Raises ValueError for an unknown stage or a CUDA device when none is available."""
    names = list(STAGES) if stages is None else list(stages)
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}: expected some of {list(STAGES)}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch.cuda.is_available() is False")
    cuda = dev.type == "cuda"
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    inputs = make_inputs(height, width, dev)
    mp = height * width / 1e6
    peak = peak_bandwidth(_device_label(dev)) if cuda else None
    copy_peak = measure_copy_bandwidth(dev) if cuda else None
    rows = []
    for name in names:
        stage = STAGES[name]
        t_ours = _median_time(stage.ours(inputs), repeats, cuda)
        t_ref = _median_time(stage.reference(inputs), repeats, False) if stage.reference is not None else None
        row = {"stage": name, "ours_s": t_ours, "ours_mps": mp / t_ours,
               "ref_s": t_ref, "ref_mps": mp / t_ref if t_ref else None,
               "ratio": t_ref / t_ours if t_ref else None}
        if cuda:
            bw = stage.bytes_per_pixel * height * width / t_ours
            row.update(bandwidth=bw, peak_fraction=bw / peak if peak else None, copy_fraction=bw / copy_peak)
        rows.append(row)
    cd = _colour_demosaicing()
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": _device_label(dev),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "colour_demosaicing": getattr(cd, "__version__", "?"),
        "threads": torch.get_num_threads(),
        "size": (height, width),
        "repeats": repeats,
        "load": load,
        "load_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "peak_bandwidth": peak,
        "copy_bandwidth": copy_peak,
        "cuda": cuda,
    }
    return meta, rows


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + unit


def format_report(meta: dict, rows: list[dict]) -> str:
    """The markdown report: a header (date, device, versions, threads, size, load) and one table row per stage."""
    h, w = meta["size"]
    load = lambda la: "n/a" if la is None else " / ".join(f"{x:.2f}" for x in la)  # noqa: E731
    lines = [
        "## RAW pipeline throughput: rawvision (torch) vs colour-demosaicing (NumPy)",
        "",
        f"- date: {meta['date']}",
        f"- device: {meta['device']}; torch threads: {meta['threads']}",
        f"- torch {meta['torch']}, numpy {meta['numpy']}, colour-demosaicing {meta['colour_demosaicing']}",
        f"- image: {h} x {w} ({h * w / 1e6:.2f} MP), batch 1, pattern {PATTERN}; ours float32, colour-demosaicing "
        f"float64 (its only dtype, always on CPU); median of {meta['repeats']} runs after {WARMUP_CALLS} warm-up calls",
        f"- load average (1 / 5 / 15 min) before: {load(meta['load'])}; after: {load(meta.get('load_after'))}",
    ]
    if meta.get("cuda"):
        lines.append(
            f"- memory bandwidth: datasheet peak {_fmt(meta['peak_bandwidth'] and meta['peak_bandwidth'] / 1e9, '.0f')}"
            f" GB/s, measured device-to-device copy {_fmt(meta['copy_bandwidth'] / 1e9, '.0f')} GB/s (read + write);"
            " ours counts compulsory traffic only (inputs read once, outputs written once, float32)"
        )
    head = "| stage | ours (MP/s) | colour-demosaicing (MP/s) | ours / colour-demosaicing |"
    sep = "|---|---:|---:|---:|"
    if meta.get("cuda"):
        head += " ours (GB/s) | of datasheet peak | of copy peak |"
        sep += "---:|---:|---:|"
    lines += ["", head, sep]
    for r in rows:
        line = f"| {r['stage']} | {r['ours_mps']:.1f} | {_fmt(r['ref_mps'], '.1f')} | {_fmt(r['ratio'], '.1f', 'x')} |"
        if meta.get("cuda"):
            peak = r.get("peak_fraction")
            line += (f" {r['bandwidth'] / 1e9:.0f} | {_fmt(peak and 100 * peak, '.0f', '%')}"
                     f" | {100 * r['copy_fraction']:.0f}% |")
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench raw_throughput", description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, nargs=2, default=(2048, 2048), metavar=("H", "W"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--stages", nargs="+", choices=list(STAGES), default=None, help="default: all")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's default)")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here (atomically)")
    args = ap.parse_args(argv)
    if min(args.size) < 3 or args.repeats < 1 or (args.threads is not None and args.threads < 1):
        ap.error("--size needs H, W >= 3, --repeats and --threads >= 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        meta, rows = run_benchmark(*args.size, repeats=args.repeats, device=args.device, stages=args.stages)
    except ValueError as e:
        ap.error(str(e))
    report = format_report(meta, rows)
    print(report, end="")
    if args.out is not None:
        write_atomic(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
