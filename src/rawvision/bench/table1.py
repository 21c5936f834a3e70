"""The paper's Table I analogue on a labelled photo folder: methods (a)-(e) and the clean-RGB upper bound.

Usage::

    rawvision bench table1 --config configs/table1_lite0.yaml --seeds 0 1 2 --out bench/table1 \\
        --set noise_seed=7 --variants "isp_distillation+crops:train_draw=random_crops"
    python -m rawvision.bench.table1 ...          # the same

Every run is built from one ``classification`` configuration: ``--config FILE`` then ``--set KEY=VALUE ...`` (any
setting of the task, typed by its field; ``--epochs`` and ``--max-photos`` are shortcuts), then per run the seed
(``--seeds`` sets ``seed`` and ``split_seed``), the method, and a variant's changes. A variant is
``NAME:key=value,key=value`` (the method is NAME's part before the first ``+``; a list value keeps its commas:
``isp_distillation+w24:front_end=ta-isp,ta_isp_weight_range=2,4``). A seed's datamodule (photos decoded, test RAW
simulated) is shared by the rows whose datamodule settings equal the seed's (:func:`datamodule_for`); a variant
that changes one of them (``batch_size``, ``patch_size``, ``sigma``, ``train_draw`` ...) gets its own.

Writes ``results.json`` (every run's metrics, the mean and std over split seeds, the overhead measurement) and
``results.md`` (the table) under ``--out``, rewritten atomically after each run so partial results survive a stop.
Each run's directory is ``OUT/runs/<row>-seed<seed>`` (replaced if it exists: the benchmark owns ``OUT``).
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

from rawvision._atomic import write_atomic
from rawvision.bench._report import (add_config_options, device_name, finish_report, parse_settings, record_run,
                                     task_config, with_settings)
from rawvision.config import TASKS, ConfigError
from rawvision.runner import results_table, run
from rawvision.tasks.classification import METHODS

__all__ = ["aggregate", "datamodule_for", "gaps", "main", "parse_variant", "summarize"]

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


def gaps(runs: list[dict], key: str = "gt_top1", a: str = "pretrained", b: str = "hard_labels",
         d: str = "isp_distillation", clean: str = "rgb_teacher") -> dict:
    """Per split seed, the share of the RAW -> RGB drop that row ``d`` recovers, ``(d - a) / (clean - a)`` (paper
    Sec. IV-A: 81 % for MobileNetV2), and the gap ``d - b``; then their mean and (with more than one seed) std.

    Args:
        runs: the benchmark's ``runs`` (each with ``row``, ``seed`` and ``key``).
        key: the metric (``gt_top1``: top-1 against the ground truth, in %).

    Returns:
        ``{"seeds": [...], "recovered": [...], "d_minus_b": [...], "recovered_mean", "recovered_std",
        "d_minus_b_mean", "d_minus_b_std"}`` (fractions for ``recovered``, points for ``d_minus_b``); seeds that
        lack one of the rows are left out; the std is None for one seed.
    """
    by = {(r["row"], r["seed"]): r.get(key) for r in runs}
    seeds = sorted({r["seed"] for r in runs if all(by.get((m, r["seed"])) is not None for m in (a, b, d, clean))})
    rec = [(by[(d, s)] - by[(a, s)]) / (by[(clean, s)] - by[(a, s)]) for s in seeds]
    dif = [by[(d, s)] - by[(b, s)] for s in seeds]
    out = {"key": key, "seeds": seeds, "recovered": [round(x, 4) for x in rec], "d_minus_b": [round(x, 2) for x in dif]}
    for name, vals in (("recovered", rec), ("d_minus_b", dif)):
        out[f"{name}_mean"] = round(statistics.fmean(vals), 4) if vals else None
        out[f"{name}_std"] = round(statistics.stdev(vals), 4) if len(vals) > 1 else None
    return out


def summarize(path: str | Path) -> str:
    """The Markdown table (mean ± std over seeds) and :func:`gaps` of a benchmark's ``results.json``.

    Raises:
        ConfigError: the file is missing or not a table1 summary.
    """
    try:
        report = json.loads(Path(path).read_text())
        runs = report["runs"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: not a table1 results.json ({e})") from None
    rows, spread = aggregate(runs)
    text = results_table(rows, spread)
    for key in ("gt_top1", "agree_top1"):
        g = gaps(runs, key)
        if not g["seeds"]:
            continue
        rec, dif = f"{100 * g['recovered_mean']:.1f}", f"{g['d_minus_b_mean']:+.2f}"
        if g["recovered_std"] is not None:  # more than one seed
            rec, dif = rec + f" ± {100 * g['recovered_std']:.1f}", dif + f" ± {g['d_minus_b_std']:.2f}"
        text += (f"\n{key}: seeds {g['seeds']}; (d) - (a) recovers {rec} % of the drop (clean - a); "
                 f"(d) - (b) = {dif} points (per seed {g['d_minus_b']})")
    return text + "\n"


def parse_variant(text: str, cfg_cls: type) -> tuple[str, str, dict]:
    """``"NAME:key=value,key=value"`` -> ``(NAME, method, {key: typed value})``; the method is NAME up to its first
    ``+``. A comma-separated piece without ``=`` continues the previous value (``ta_isp_weight_range=2,4``).

    Raises:
        ConfigError: an empty name, a piece before any ``key=``, an unknown key or a mistyped value.
    """
    name, _, kv = str(text).partition(":")
    if not name:
        raise ConfigError(f"variant {text!r}: expected NAME:key=value,key=value")
    items: list[str] = []
    for piece in (p for p in kv.split(",") if p):
        if "=" in piece:
            items.append(piece)
        elif items:
            items[-1] += "," + piece
        else:
            raise ConfigError(f"variant {text!r}: {piece!r} is not key=value")
    return name, name.split("+")[0], parse_settings(cfg_cls, items)


def datamodule_for(cfg, base_cfg, base_dm):
    """The datamodule a run of ``cfg`` uses: ``base_dm`` (built from ``base_cfg``, maybe already set up) when every
    datamodule setting of ``cfg`` equals ``base_cfg``'s, else a new one built from ``cfg`` (set up by the run).

    A setting is an argument of the task's datamodule class (``cfg.kwargs_for``): whatever a variant changes among
    them (batch size, patch size, split, labels, RAW simulation, workers ...), it never runs on the old data.
    """
    _, dm_cls = TASKS[cfg.task].classes()
    if base_dm is not None and cfg.kwargs_for(dm_cls) == base_cfg.kwargs_for(dm_cls):
        return base_dm
    return dm_cls(**cfg.kwargs_for(dm_cls))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench table1", description=__doc__.split("\n\n")[0])
    add_config_options(ap, "configs/table1_lite0.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="each sets seed and split_seed")
    ap.add_argument("--methods", nargs="*", default=list(METHODS), help=f"rows, of {', '.join(METHODS)}")
    ap.add_argument("--variants", nargs="*", default=[],
                    help="extra rows NAME:key=value,key=value (e.g. isp_distillation+crops:train_draw=random_crops)")
    ap.add_argument("--out", default="bench/table1")
    ap.add_argument("--overhead-steps", type=int, default=12, help="0 skips the Lightning-overhead measurement")
    ap.add_argument("--max-photos", type=int, default=None, help="shortcut for --set max_photos=N")
    ap.add_argument("--epochs", type=int, default=None, help="shortcut for --set epochs=N")
    ap.add_argument("--summarize", metavar="RESULTS_JSON", default=None,
                    help="print the table and the recovered share / (d) - (b) of an earlier run's results.json, run nothing")
    args = ap.parse_args(argv)
    if args.summarize:
        try:
            print(summarize(args.summarize))
        except ConfigError as e:
            print(f"error: {e}")
            return 2
        return 0

    try:
        cfg = task_config("classification", args.config, args.settings, max_photos=args.max_photos,
                          epochs=args.epochs, progress=False)
        unknown = [m for m in args.methods if m not in METHODS]
        if unknown:
            raise ConfigError(f"unknown method(s) {', '.join(unknown)}: expected some of {', '.join(METHODS)}")
        plan = [(m, m, {}) for m in args.methods]
        for v in args.variants:
            name, method, changes = parse_variant(v, type(cfg))
            if method not in METHODS:
                raise ConfigError(f"variant {v!r}: {method!r} is not a method ({', '.join(METHODS)})")
            plan.append((name, method, changes))
    except ConfigError as e:
        ap.error(str(e))

    from rawvision.bench.overhead import measure_overhead

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

    _, dm_cls = TASKS[cfg.task].classes()
    for seed in args.seeds:
        scfg = with_settings(cfg, split_seed=seed, seed=seed, output_dir=str(out / "runs"), overwrite=True)
        dm = dm_cls(**scfg.kwargs_for(dm_cls))
        dm.setup("fit")
        print(f"[seed {seed}] {dm.summary()}", flush=True)
        if args.overhead_steps and report["overhead"] is None:
            report["overhead"] = measure_overhead(with_settings(scfg, method="isp_distillation"), dm,
                                                  steps=args.overhead_steps)
            print(f"[overhead] {report['overhead']}", flush=True)
            save()
        for row, method, changes in plan:
            rcfg = with_settings(scfg, **{"method": method, **changes, "run_name": f"{row}-seed{seed}"})
            use_dm = datamodule_for(rcfg, scfg, dm)
            if use_dm is not dm:
                print(f"[seed {seed}] {row}: its own datamodule (datamodule settings differ from the seed's)",
                      flush=True)
            t0 = time.perf_counter()
            metrics, run_dir = run(rcfg, datamodule=use_dm)
            metrics.update(row=row, seed=seed, wall_seconds=round(time.perf_counter() - t0, 1), run_dir=str(run_dir))
            record_run(report, metrics, f"[seed {seed}] {row}:", _NUMERIC, save)
    return finish_report(report, save, out)


if __name__ == "__main__":
    raise SystemExit(main())
