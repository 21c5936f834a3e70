"""The paper's Table II analogue on real camera RAW: hard labels vs ISP Distillation, RAW and short-exposure RAW.

The student reads the real sensor mosaic of a frame; the teacher reads LibRaw's sRGB rendering of the same frame
(there are no human labels: the metric is agreement with the teacher, on all test patches and on those the teacher
classifies with p > 0.8, as the paper). The short-exposure rows simulate, from the same frames, an exposure k times
shorter (signal / k, Brooks et al.'s shot and read noise, quantisation, brightened by k) while the teacher still sees
the long exposure's rendering (paper Eq. 5-6). Frames are split into train and test by source frame, per seed.

Usage::

    python -m rawvision.bench.table2 --config configs/table2_tiles.yaml --seeds 0 1 2 3 4 --ratios 1 8 \\
        --out runs/table2

Writes ``results.json`` (every run, per-seed test sets) and ``results.md`` under ``--out``, atomically after each run.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import torch

from rawvision.bench._report import device_name, finish_report, record_run
from rawvision.bench.table1 import _NUMERIC, aggregate
from rawvision.config import load_config
from rawvision.data.raw_datamodule import RawPairDataModule, load_pairs
from rawvision.distill.run import results_table, run_method, write_atomic

_LABEL = {"pretrained": "(a) pretrained, bilinear demosaic", "hard_labels": "(b) hard labels",
          "kd": "(c) KD", "isp_distillation": "(d) ISP Distillation"}


def row_name(ratio: float, method: str) -> str:
    setting = "RAW" if ratio == 1 else f"short exposure (k={ratio:g})"
    return f"{setting}: {_LABEL.get(method, method)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/table2_tiles.yaml")
    ap.add_argument("--source", default="raw", help="pair source of the data (see rawvision.data.raw_datamodule)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--ratios", type=float, nargs="+", default=[1.0, 8.0], help="1 = the RAW as captured")
    ap.add_argument("--bit-depth", type=int, default=10, help="quantisation of the short exposure")
    ap.add_argument("--methods", nargs="+", default=["pretrained", "hard_labels", "isp_distillation"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default="runs/table2")
    args = ap.parse_args(argv)

    cfg = load_config(args.config, epochs=args.epochs, progress=False)
    out = Path(args.out)
    t0 = time.perf_counter()
    pairs = load_pairs(cfg.data, args.source)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = {"config": cfg.to_dict(), "seeds": args.seeds, "ratios": args.ratios, "bit_depth": args.bit_depth,
              "device": device_name(), "torch": torch.__version__, "started": started,
              "frames": sorted({p.group for p in pairs}), "n_pairs": len(pairs),
              "load_seconds": round(time.perf_counter() - t0, 1), "runs": []}
    print(f"{len(pairs)} RAW/RGB pairs from {len(report['frames'])} source frames ({report['load_seconds']} s)",
          flush=True)

    def save():
        rows, spread = aggregate(report["runs"])
        report["table"] = rows
        write_atomic(out / "results.json", json.dumps(report, indent=2, default=str))
        head = (f"Table II analogue on {cfg.data}: {cfg.teacher}, {cfg.epochs} epochs, batch {cfg.batch_size}, "
                f"lr {cfg.lr}, trainable {cfg.trainable_fraction}, {cfg.train_draw}, seeds {args.seeds}, "
                f"device {report['device']}, {started}\n\n")
        per_seed = "\n".join(
            f"- seed {r['seed']} {r['row']}: test frames {r.get('test_groups')}, {r.get('n_patches')} patches, "
            f"{r.get('n_confident')} confident" for r in report["runs"] if r["method"] == args.methods[0])
        write_atomic(out / "results.md", head + results_table(rows, spread) + "\n" + per_seed + "\n")

    for seed in args.seeds:
        scfg = cfg.replace(split_seed=seed, seed=seed)
        for ratio in args.ratios:
            dm = RawPairDataModule(
                pairs=pairs, patch_size=scfg.patch_size, test_fraction=scfg.test_fraction, split_seed=seed,
                train_draw=scfg.train_draw, exposure_ratio=None if ratio == 1 else ratio, bit_depth=args.bit_depth,
                batch_size=scfg.batch_size, eval_batch_size=scfg.eval_batch_size,
            )
            dm.setup("fit")
            for method in args.methods:
                row = row_name(ratio, method)
                rcfg = scfg.replace(method=method, pattern=dm.pattern)
                t1 = time.perf_counter()
                slug = f"k{ratio:g}-{method}-seed{seed}"
                metrics, run_dir = run_method(rcfg, datamodule=dm, run_dir=out / "runs" / slug)
                metrics.update(row=row, seed=seed, ratio=ratio, wall_seconds=round(time.perf_counter() - t1, 1),
                               run_dir=str(run_dir))
                record_run(report, metrics, f"[seed {seed}] {row}:", _NUMERIC, save)
    return finish_report(report, save, out)


if __name__ == "__main__":
    raise SystemExit(main())
