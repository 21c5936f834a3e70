"""The paper's Table I analogue on a labelled photo folder: methods (a)-(e) and the clean-RGB upper bound.

Usage::

    python -m rawvision.bench.table1 --config configs/table1_lite0.yaml --seeds 0 1 2 --out bench/table1

Writes ``results.json`` (every run's metrics, the mean and std over split seeds, the overhead measurement) and
``results.md`` (the table) under ``--out``, rewritten atomically after each run so partial results survive a stop.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import torch

from rawvision.bench._report import device_name, finish_report, record_run
from rawvision.bench.overhead import measure_overhead
from rawvision.config import DistillConfig, load_config
from rawvision.distill.module import METHODS
from rawvision.distill.run import build_datamodule, results_table, run_method, write_atomic

_NUMERIC = ("gt_top1", "gt_top5", "agree_top1", "agree_top5", "conf_agree_top1", "conf_agree_top5",
            "n_patches", "n_confident", "train_img_per_s")


def aggregate(runs: list[dict]) -> tuple[list[dict], dict]:
    """Mean per method (and variant) over seeds, and the std where there is more than one seed."""
    rows, spread = [], {}
    keys = []
    for r in runs:
        if r["row"] not in keys:
            keys.append(r["row"])
    for key in keys:
        rs = [r for r in runs if r["row"] == key]
        row = {"method": key, "seeds": len(rs)}
        for k in _NUMERIC:
            vals = [r[k] for r in rs if r.get(k) is not None]
            if vals:
                row[k] = round(statistics.fmean(vals), 2)  # counts too: their mean over the seeds' test sets
                if len(vals) > 1 and not k.startswith("n_"):
                    spread[(key, k)] = statistics.stdev(vals)
        rows.append(row)
    return rows, spread


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/table1_lite0.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--variants", nargs="*", default=[],
                    help="extra rows NAME:key=value,key=value (e.g. isp_distillation+crops:train_draw=random_crops)")
    ap.add_argument("--out", default="bench/table1")
    ap.add_argument("--overhead-steps", type=int, default=12, help="0 skips the Lightning-overhead measurement")
    ap.add_argument("--max-photos", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args(argv)

    cfg = load_config(args.config, max_photos=args.max_photos, epochs=args.epochs, progress=False)
    out = Path(args.out)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = {"config": cfg.to_dict(), "seeds": args.seeds, "device": device_name(), "torch": torch.__version__,
              "started": started, "runs": [], "overhead": None}

    def save():
        rows, spread = aggregate(report["runs"])
        report["table"] = rows
        write_atomic(out / "results.json", json.dumps(report, indent=2, default=str))
        head = (f"Table I analogue: {cfg.teacher}, sigma {cfg.sigma}, {cfg.pattern}, {cfg.epochs} epochs, "
                f"batch {cfg.batch_size}, lr {cfg.lr}, seeds {args.seeds}, device {report['device']}, {started}\n\n")
        write_atomic(out / "results.md", head + results_table(rows, spread))

    plan = [(m, m, {}) for m in args.methods]
    for v in args.variants:
        name, _, kv = v.partition(":")
        changes = dict(item.split("=", 1) for item in kv.split(",") if item)
        plan.append((name, name.split("+")[0], changes))

    for seed in args.seeds:
        scfg = cfg.replace(split_seed=seed, seed=seed)
        dm = build_datamodule(scfg)
        dm.setup("fit")
        print(f"[seed {seed}] {dm.summary()}", flush=True)
        if args.overhead_steps and report["overhead"] is None:
            report["overhead"] = measure_overhead(scfg.replace(method="isp_distillation"), dm, steps=args.overhead_steps)
            print(f"[overhead] {report['overhead']}", flush=True)
            save()
        for row, method, changes in plan:
            typed = {k: DistillConfig.parse_value(k, v) for k, v in changes.items()}
            rcfg = scfg.replace(method=method, **typed)
            use_dm = dm if all(k not in ("train_draw", "sigma", "pattern", "clip") for k in typed) else None
            t0 = time.perf_counter()
            metrics, run_dir = run_method(rcfg, datamodule=use_dm, run_dir=out / "runs" / f"{row}-seed{seed}")
            metrics.update(row=row, seed=seed, wall_seconds=round(time.perf_counter() - t0, 1), run_dir=str(run_dir))
            record_run(report, metrics, f"[seed {seed}] {row}:", _NUMERIC, save)
    return finish_report(report, save, out)


if __name__ == "__main__":
    raise SystemExit(main())
