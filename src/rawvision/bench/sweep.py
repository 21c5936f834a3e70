"""A recipe sweep on the validation split: rows of settings, one run each, ranked on validation metrics only.

Usage::

    rawvision bench sweep --config configs/fm_sweep.yaml --rows "kd_a0:method=kd,alpha=0" \
        "isp_a05:method=isp_distillation,alpha=0.5" --out runs/sweep --summary results/fm_sweep.json

(``python -m rawvision.bench.sweep`` works too.) Each row is ``NAME:key=value,...`` over the classification task's
settings (``method`` included). The configuration must carve a validation split (``val_fraction`` > 0): rows are
ranked by ``val_gt_top1`` (then ``val_agree_top1``), never by the test metrics, which are recorded beside them for
the final table only. The JSON summary is rewritten atomically after each row, so a stopped sweep keeps its rows.
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
from rawvision.bench._report import add_config_options, device_name, task_config, with_settings
from rawvision.bench.table1 import datamodule_for, parse_variant
from rawvision.config import TASKS, ConfigError
from rawvision.runner import run

KEYS = ("val_gt_top1", "val_gt_top5", "val_agree_top1", "val_agree_top5", "val_conf_agree_top1", "val_n_patches",
        "gt_top1", "gt_top5", "agree_top1", "agree_top5", "conf_agree_top1", "n_patches", "train_steps",
        "train_img_per_s")


def ranked(rows: list[dict]) -> list[dict]:
    """Rows sorted best first by validation GT top-1, then validation agreement (None last).

    Example:
        >>> [r["row"] for r in ranked([{"row": "a", "val_gt_top1": 50.0}, {"row": "b", "val_gt_top1": 60.0}])]
        ['b', 'a']
    """
    return sorted(rows, key=lambda r: (-(r.get("val_gt_top1") or -1.0), -(r.get("val_agree_top1") or -1.0)))


def table(rows: list[dict]) -> str:
    """A Markdown table of the ranked rows: validation columns first, test columns last (for the record)."""
    cols = ("val_gt_top1", "val_agree_top1", "val_conf_agree_top1", "gt_top1", "agree_top1", "train_steps")
    lines = ["| row | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for r in ranked(rows):
        cells = ["–" if r.get(c) is None else (f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c])) for c in cols]
        lines.append(f"| {r['row']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench sweep", description=__doc__.split("\n\n")[0])
    add_config_options(ap, None)
    ap.add_argument("--rows", nargs="+", required=True, help="NAME:key=value,key=value (method among the keys)")
    ap.add_argument("--out", default="runs/sweep")
    ap.add_argument("--summary", default=None, help="also write the JSON summary here (e.g. results/NAME.json)")
    args = ap.parse_args(argv)
    try:
        base = task_config("classification", args.config, args.settings, defaults={"progress": False})
        if not base.val_fraction > 0:
            raise ConfigError("a sweep needs a validation split: set val_fraction > 0 (never choose on the test set)")
        plan = [parse_variant(r, type(base)) for r in args.rows]
    except ConfigError as e:
        print(f"error: {e}")
        return 2
    out = Path(args.out)
    report = {"config": base.to_dict(), "device": device_name(), "torch": torch.__version__,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": []}

    def save():
        report["ranked"] = [r["row"] for r in ranked(report["rows"])]
        text = json.dumps(report, indent=1, default=str)
        write_atomic(out / "results.json", text)
        write_atomic(out / "results.md", table(report["rows"]))
        if args.summary:
            write_atomic(args.summary, text)

    _, dm_cls = TASKS["classification"].classes()
    base_dm = dm_cls(**base.kwargs_for(dm_cls))  # shared by every row that keeps the data settings
    for name, _, changes in plan:
        cfg = with_settings(base, **changes, run_name=name, output_dir=str(out / "runs"), overwrite=True)
        dm = datamodule_for(cfg, base, base_dm)
        t0 = time.perf_counter()
        metrics, _ = run(cfg, datamodule=dm)
        row = {"row": name, "settings": changes, **{k: metrics.get(k) for k in KEYS},
               "wall_seconds": round(time.perf_counter() - t0, 1)}
        report["rows"].append(row)
        print(f"[sweep] {name}: {json.dumps({k: row[k] for k in KEYS[:3] + ('gt_top1',)})}", flush=True)
        save()
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    print(table(report["rows"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
