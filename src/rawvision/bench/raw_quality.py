"""Image-quality figures of the RAW core, for the README.

* ``roundtrip``: sRGB photo -> :func:`~rawvision.raw.unprocess.unprocess` (Brooks et al. 2019, random camera) ->
  :func:`~rawvision.raw.isp.process` -> sRGB, without noise; PSNR against the input, with each demosaicing method and
  with demosaicing skipped (the loss the other steps alone cause: clipping of highlights the inverse gains push
  above 1).
* ``demosaic``: sRGB photo -> Bayer mosaic -> demosaic -> PSNR against the photo (the usual demosaicing benchmark on
  gamma-encoded images), ours and colour-demosaicing's on the same images.
* ``libraw``: each real RAW tile -> our classical ISP vs LibRaw's ``postprocess`` with matched settings.

Usage::

    rawvision bench raw_quality --photos ../shared/data/photos --tiles ../shared/data/raw/tiles \\
        --n-photos 200 --out runs/raw_quality
    python -m rawvision.bench.raw_quality ...          # the same

Options: ``--parts roundtrip demosaic libraw`` (default all three).

PSNR is per image (data range 1, all three channels), then averaged; a ``border`` of 8 pixels is left out of every
figure (the methods differ in how they pad). Writes ``results.md`` and ``results.json`` atomically.
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import datetime, timezone
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import numpy as np
import torch

from rawvision._atomic import write_atomic
from rawvision.bench._report import device_name
from rawvision.data.photos import find_photos, load_rgb
from rawvision.raw.cfa import mosaic
from rawvision.raw.demosaic import DEMOSAIC_METHODS, demosaic

BORDER = 8


def psnr(x: torch.Tensor, y: torch.Tensor, border: int = BORDER) -> torch.Tensor:
    """(B,) PSNR in dB of images in [0, 1], (B, C, H, W), leaving ``border`` pixels out on each side."""
    if border:
        x, y = x[..., border:-border, border:-border], y[..., border:-border, border:-border]
    mse = (x.double() - y.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp(min=1e-20))


def centre_patches(photos_dir: str | Path, n: int, size: int = 256) -> torch.Tensor:
    """(N, 3, size, size) float [0, 1]: the centre patch of the first ``n`` photos (sorted) with both sides >= size."""
    out = []
    for ph in find_photos(photos_dir, labels=None):
        img = load_rgb(ph.path)
        h, w = img.shape[1:]
        if min(h, w) < size:
            continue
        y, x = ((h - size) // 2) & ~1, ((w - size) // 2) & ~1
        out.append(img[:, y : y + size, x : x + size])
        if len(out) == n:
            break
    return torch.stack(out).float() / 255


def _stats(v: torch.Tensor) -> dict:
    vals = v.tolist()
    return {"mean": round(statistics.fmean(vals), 2), "median": round(statistics.median(vals), 2),
            "min": round(min(vals), 2), "n": len(vals)}


def roundtrip(rgb: torch.Tensor, seed: int = 0, batch: int = 50) -> dict:
    """Round-trip PSNR per demosaicing method (and with demosaicing skipped), Brooks' random cameras."""
    from rawvision.raw.isp import process
    from rawvision.raw.unprocess import unprocess, unprocess_to_camera

    res: dict[str, list] = {m: [] for m in (*DEMOSAIC_METHODS, "none (3-channel camera RGB)")}
    for i in range(0, len(rgb), batch):
        x = rgb[i : i + batch]
        raw, params = unprocess(x, "RGGB", generator=torch.Generator().manual_seed(seed + i))
        for m in DEMOSAIC_METHODS:
            res[m].append(psnr(process(raw, params.wb_gains, params.cam2rgb, "RGGB", m), x))
        cam = unprocess_to_camera(x, params)
        res["none (3-channel camera RGB)"].append(psnr(process(cam, params.wb_gains, params.cam2rgb, "RGGB"), x))
    return {k: _stats(torch.cat(v)) for k, v in res.items()}


def demosaic_quality(rgb: torch.Tensor, patterns=("RGGB",)) -> dict:
    """Demosaicing PSNR of our methods and colour-demosaicing's on the mosaiced sRGB photos."""
    out = {}
    for pattern in patterns:
        raw = mosaic(rgb, pattern)
        for m in DEMOSAIC_METHODS:
            out[f"ours {m} ({pattern})"] = _stats(psnr(demosaic(raw, pattern, m).clamp(0, 1), rgb))
        try:
            import colour_demosaicing as cd
        except ImportError:
            continue
        fns = {"bilinear": cd.demosaicing_CFA_Bayer_bilinear, "malvar": cd.demosaicing_CFA_Bayer_Malvar2004}
        for m, fn in fns.items():
            ref = torch.stack([torch.from_numpy(np.ascontiguousarray(fn(r[0].double().numpy(), pattern))).permute(2, 0, 1)
                               for r in raw])
            out[f"colour-demosaicing {m} ({pattern})"] = _stats(psnr(ref.clamp(0, 1), rgb))
    return out


def libraw_comparison(tiles_dir: str | Path) -> dict:
    """Our classical ISP vs LibRaw on each RAW tile, settings matched: as-shot white balance, the file's colour
    matrix, sRGB primaries, a pure 1/2.2 gamma, no tone curve, no auto-brightness; bilinear demosaic vs LibRaw's
    LINEAR, and Malvar vs LibRaw's default AHD."""
    import rawpy

    from rawvision.data.pairs import find_raw_files
    from rawvision.raw.files import read_raw
    from rawvision.raw.isp import cam_to_srgb_from_xyz, process
    from rawvision.raw.render import render_libraw

    rows = {}
    for f in find_raw_files(tiles_dir):
        img = read_raw(f)
        if img.xyz_to_cam is None or img.wb_gains is None:
            continue
        raw = img.to_tensor().double()
        cam2rgb = cam_to_srgb_from_xyz(torch.as_tensor(img.xyz_to_cam, dtype=torch.float64))
        wb = torch.as_tensor(img.wb_gains, dtype=torch.float64)
        row = {}
        for ours, theirs in (("bilinear", rawpy.DemosaicAlgorithm.LINEAR), ("malvar", rawpy.DemosaicAlgorithm.AHD)):
            ref = render_libraw(f, demosaic_algorithm=theirs, no_auto_bright=True, gamma=(2.2, 0), output_bps=16,
                                highlight_mode=rawpy.HighlightMode.Clip)
            ref = torch.from_numpy(ref.astype(np.float64) / 65535).permute(2, 0, 1)[None]
            out = process(raw, wb, cam2rgb, img.pattern, ours, tone_curve=False)
            row[f"{ours} vs LibRaw {theirs.name}"] = round(float(psnr(out, ref)[0]), 2)
        rows[f.name] = row
    return rows


def _md_stats(title: str, d: dict) -> str:
    lines = [f"**{title}**", "", "| | mean PSNR (dB) | median | min | images |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {v['mean']:.2f} | {v['median']:.2f} | {v['min']:.2f} | {v['n']} |" for k, v in d.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench raw_quality", description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", default="../shared/data/photos")
    ap.add_argument("--tiles", default="../shared/data/raw/tiles")
    ap.add_argument("--n-photos", type=int, default=200)
    ap.add_argument("--parts", nargs="+", default=["roundtrip", "demosaic", "libraw"])
    ap.add_argument("--out", default="runs/raw_quality")
    args = ap.parse_args(argv)

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report: dict = {"started": started, "device": device_name(), "torch": torch.__version__, "border": BORDER}
    md = [f"RAW-core quality, {started}, {report['device']}, border {BORDER} px left out\n"]
    if {"roundtrip", "demosaic"} & set(args.parts):
        rgb = centre_patches(args.photos, args.n_photos).double()
        report["photos"] = {"dir": args.photos, "n": len(rgb), "patch": "centre 256x256"}
    if "roundtrip" in args.parts:
        report["roundtrip"] = roundtrip(rgb)
        md.append(_md_stats(f"Unprocess -> process round trip, no noise ({len(rgb)} photo patches)",
                            report["roundtrip"]))
        print(md[-1], flush=True)
    if "demosaic" in args.parts:
        report["demosaic"] = demosaic_quality(rgb)
        md.append(_md_stats(f"Demosaicing of the mosaiced sRGB photos ({len(rgb)} photo patches)", report["demosaic"]))
        print(md[-1], flush=True)
    if "libraw" in args.parts:
        report["libraw"] = rows = libraw_comparison(args.tiles)
        cols = list(next(iter(rows.values())).keys()) if rows else []
        lines = ["**Our classical ISP vs LibRaw on the real tiles (PSNR dB)**", "",
                 "| tile | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        lines += [f"| {name} | " + " | ".join(f"{r[c]:.2f}" for c in cols) + " |" for name, r in rows.items()]
        if rows:
            lines.append("| mean | " + " | ".join(f"{statistics.fmean(r[c] for r in rows.values()):.2f}" for c in cols)
                         + " |")
        md.append("\n".join(lines) + "\n")
        print(md[-1], flush=True)
    out = Path(args.out)
    write_atomic(out / "results.json", json.dumps(report, indent=2))
    write_atomic(out / "results.md", "\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
