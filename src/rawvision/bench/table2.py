"""The paper's Table II analogue on real camera RAW: hard labels vs ISP Distillation, RAW and short-exposure RAW.

The student reads the real sensor mosaic of a frame; the teacher reads LibRaw's sRGB rendering of the same frame
(there are no human labels: the metric is agreement with the teacher, on all test patches and on those the teacher
classifies with p > 0.8, as the paper). The short-exposure rows simulate, from the same frames, an exposure k times
shorter (signal / k, Brooks et al.'s shot and read noise, quantisation, brightened by k) while the teacher still sees
the long exposure's rendering (paper Eq. 5-6). Frames are split into train and test by source frame, per seed.

Usage::

    rawvision bench table2 --config configs/table2_tiles.yaml --seeds 0 1 2 3 4 --ratios 1 8 --out runs/table2
    python -m rawvision.bench.table2 ...          # the same

Every run is built from one ``classification-pairs`` configuration: ``--config FILE`` then ``--set KEY=VALUE ...``
(any setting of the task, typed by its field, e.g. ``noise_seed=7`` or ``train_draw=patches``; ``--source``,
``--bit-depth`` and ``--epochs`` are shortcuts), then per run the seed (``--seeds`` sets ``seed`` and
``split_seed``), the exposure ratio (``--ratios``: ``exposure_ratio``, 1 = the RAW as captured) and the method.
The frames are read once and shared; one datamodule per seed and ratio serves every method.

Writes ``results.json`` (every run, per-seed test sets) and ``results.md`` under ``--out``, atomically after each run.
Each run's directory is ``OUT/runs/k<ratio>-<method>-seed<seed>`` (replaced if it exists).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import torch

from rawvision._atomic import write_atomic
from rawvision.bench._report import add_config_options, device_name, finish_report, record_run, task_config
from rawvision.bench._report import with_settings
from rawvision.bench.table1 import _NUMERIC, aggregate
from rawvision.config import ConfigError
from rawvision.runner import results_table, run
from rawvision.tasks.classification import METHODS, PAIR_SOURCES, RawPairDataModule, load_pairs

__all__ = ["main", "row_name"]

_LABEL = {"pretrained": "(a) pretrained, bilinear demosaic", "hard_labels": "(b) hard labels",
          "kd": "(c) KD", "isp_distillation": "(d) ISP Distillation"}


def row_name(ratio: float, method: str) -> str:
    setting = "RAW" if ratio == 1 else f"short exposure (k={ratio:g})"
    return f"{setting}: {_LABEL.get(method, method)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench table2", description=__doc__.split("\n\n")[0])
    add_config_options(ap, "configs/table2_tiles.yaml")
    ap.add_argument("--source", default=None, choices=PAIR_SOURCES, help="shortcut for --set source=NAME")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="each sets seed and split_seed")
    ap.add_argument("--ratios", type=float, nargs="+", default=[1.0, 8.0], help="1 = the RAW as captured")
    ap.add_argument("--bit-depth", type=int, default=None, help="shortcut for --set bit_depth=N (short exposure)")
    ap.add_argument("--methods", nargs="+", default=["pretrained", "hard_labels", "isp_distillation"])
    ap.add_argument("--epochs", type=int, default=None, help="shortcut for --set epochs=N")
    ap.add_argument("--out", default="runs/table2")
    args = ap.parse_args(argv)
    try:
        cfg = task_config("classification-pairs", args.config, args.settings, source=args.source,
                          bit_depth=args.bit_depth, epochs=args.epochs, progress=False)
        unknown = [m for m in args.methods if m not in METHODS]
        if unknown:
            raise ConfigError(f"unknown method(s) {', '.join(unknown)}: expected some of {', '.join(METHODS)}")
        if any(not r >= 1 for r in args.ratios):
            raise ConfigError(f"--ratios must be >= 1 (long / short exposure), got {args.ratios}")
        if cfg.data is None:
            raise ConfigError("no data: set data in the --config file or --set data=FOLDER")
    except ConfigError as e:
        ap.error(str(e))

    out = Path(args.out)
    t0 = time.perf_counter()
    pairs = load_pairs(cfg.data, cfg.source)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = {"config": cfg.to_dict(), "seeds": args.seeds, "ratios": args.ratios, "bit_depth": cfg.bit_depth,
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
        scfg = with_settings(cfg, split_seed=seed, seed=seed, output_dir=str(out / "runs"), overwrite=True)
        for ratio in args.ratios:
            dcfg = with_settings(scfg, exposure_ratio=None if ratio == 1 else float(ratio))
            dm = RawPairDataModule(pairs=pairs, **dcfg.kwargs_for(RawPairDataModule))
            dm.setup("fit")
            for method in args.methods:
                row = row_name(ratio, method)
                slug = f"k{ratio:g}-{method}-seed{seed}"
                # the datamodule settings stay the seed's and ratio's
                rcfg = with_settings(dcfg, method=method, run_name=slug)  # the pattern: the frames' (from_data)
                t1 = time.perf_counter()
                metrics, run_dir = run(rcfg, datamodule=dm)
                metrics.update(row=row, seed=seed, ratio=ratio, wall_seconds=round(time.perf_counter() - t1, 1),
                               run_dir=str(run_dir))
                record_run(report, metrics, f"[seed {seed}] {row}:", _NUMERIC, save)
    return finish_report(report, save, out)


if __name__ == "__main__":
    raise SystemExit(main())
