"""TA-ISP on RAW object detection: the module ablation (none / GLC / + HSA / + RGFM), normal and low light.

Usage::

    rawvision bench ta_isp_detection --photos ../shared/data/photos --data runs/paste_set \\
        --rows low:none low:glc low:glc+hsa low:glc+hsa+rgfm normal:none normal:glc+hsa+rgfm \\
        --epochs 4 --out runs/ta_isp_detection
    python -m rawvision.bench.ta_isp_detection ...          # the same

A row is ``LIGHT:MODULES``: LIGHT ``normal`` or ``low`` (the datamodule's RAW simulation, ``low_light``) or ``rgb``
(the detector on the sRGB images, no RAW: a reference), MODULES ``none`` (the demosaiced RAW straight into the
detector) or TA-ISP's kept modules joined by ``+``. Every row trains RetinaNet (or FCOS) on EfficientNet-Lite0 +
FPN from the same ImageNet backbone, seed, batch order and training RAW draws, for the same number of steps, and is
evaluated on the same validation RAW (COCO box AP via torchmetrics/pycocotools). The paste-object set is built
into ``--data`` from ``--photos`` when it is not there.

Every row is one ``detection`` configuration trained by :func:`rawvision.runner.run`: the task's defaults, this
benchmark's (:data:`BENCH_DEFAULTS`: the README's runs), ``--config FILE``, the shortcut options (``--data`` =
``root``, ``--size`` = ``min_size`` and ``max_size``, ``--epochs``, ``--lr``, ...), ``--set KEY=VALUE ...`` (any
setting of the task, typed by its field, e.g. ``flip=false`` or ``ta_isp_weight_range=2,4``), then the row's
``input``, ``low_light``, ``front_end`` and ``ta_isp_modules``.

Writes ``results.json`` and ``results.md`` under ``--out``, rewritten atomically after each row; each row's run
directory is ``OUT/runs/<light>-<modules>`` (replaced if it exists).
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
from rawvision.bench._report import (add_config_options, device_name, finish_report, record_run, task_config,
                                     with_settings)
from rawvision.config import ConfigError
from rawvision.models.detectors import DETECTORS
from rawvision.models.ta_isp import TAISP, TAISP_MODULES, parse_ta_isp_modules

__all__ = ["BENCH_DEFAULTS", "LIGHTS", "front_end_params", "main", "parse_args", "parse_row", "results_table",
           "row_config", "row_label", "run_row"]

LIGHTS = {"normal": "RAW, normal light", "low": "RAW, low light (1/8 exposure)", "rgb": "sRGB (no RAW)"}
_AP_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR100")
#: This benchmark's defaults, under the ``--config`` file (the schedule of the README's runs; no photo folder: the
#: paste-object set is built only when ``--photos`` is given).
BENCH_DEFAULTS = {"root": "runs/paste_set", "photos": None, "lr": 2e-4, "front_end_lr": 1e-3, "warmup_steps": 20,
                  "fpn_channels": 128, "min_size": 320, "max_size": 320}


def parse_row(text: str) -> tuple[str, tuple[str, ...]]:
    """``"low:glc+hsa"`` -> ``("low", ("glc", "hsa"))``. Raises ValueError (one line) for a bad row."""
    light, sep, mods = str(text).partition(":")
    if not sep or light not in LIGHTS:
        raise ValueError(f"bad row {text!r}: expected LIGHT:MODULES with LIGHT one of {', '.join(LIGHTS)} "
                         f"(e.g. low:glc+hsa+rgfm, normal:none)")
    modules = parse_ta_isp_modules(mods)
    unknown = [m for m in modules if m not in TAISP_MODULES]
    if unknown:
        raise ValueError(f"bad row {text!r}: unknown TA-ISP module(s) {', '.join(unknown)} "
                         f"({', '.join(TAISP_MODULES)})")
    return light, modules

def row_label(light: str, modules: tuple[str, ...]) -> str:
    front = "detector only" if not modules else "TA-ISP (" + " + ".join(m.upper() for m in modules) + ")"
    return f"{LIGHTS[light]}: {front}"


def results_table(runs: list[dict]) -> str:
    """Markdown table of the rows' COCO AP (percent) and training facts."""
    lines = ["| input: front end | front-end params | " + " | ".join(_AP_KEYS) + " | steps | train img/s |",
             "|---|---:|" + "---:|" * (len(_AP_KEYS) + 2)]
    for r in runs:
        cells = [f"{100 * r[k]:.1f}" if r.get(k) == r.get(k) and r.get(k) is not None else "–" for k in _AP_KEYS]
        lines.append(f"| {r['label']} | {r['front_end_params']:,} | " + " | ".join(cells)
                     + f" | {r['train_steps']} | {r['train_img_per_s']} |")
    return "\n".join(lines) + "\n"


def row_config(cfg, light: str, modules: tuple[str, ...]):
    """The configuration of one row: ``cfg`` with the row's input, light and front end."""
    return with_settings(cfg, input="rgb" if light == "rgb" else "raw", low_light=light == "low",
                         front_end="ta-isp" if modules else "none", ta_isp_modules=",".join(modules) or "none",
                         run_name=f"{light}-{'+'.join(modules) or 'none'}")


def front_end_params(cfg) -> int:
    """Parameters of the row's TA-ISP front end (0 without one)."""
    if cfg.front_end != "ta-isp":
        return 0
    fe = TAISP(in_channels=3, modules=parse_ta_isp_modules(cfg.ta_isp_modules),
               weight_range=tuple(cfg.ta_isp_weight_range))
    return sum(p.numel() for p in fe.parameters())


def run_row(light: str, modules: tuple[str, ...], cfg) -> dict:
    """Train and evaluate one row with :func:`rawvision.runner.run`; returns its metrics (AP values in [0, 1]).

    Each row builds its own datamodule (the runner sizes the detector's head from the set-up datamodule's class
    count; the paste set is built once, by the first row, and read by the others)."""
    from rawvision.runner import run

    rcfg = row_config(cfg, light, modules)
    t0 = time.perf_counter()
    metrics, run_dir = run(rcfg)
    return {"row": f"{light}:{'+'.join(modules) or 'none'}", "label": row_label(light, modules),
            "front_end_params": front_end_params(rcfg), **metrics, "run_dir": str(run_dir),
            "wall_seconds": round(time.perf_counter() - t0, 1)}


def parse_args(argv: list[str] | None = None):
    """``(args, cfg, rows)`` of a command line: the options, the configuration every row starts from, the rows.
    Exits with code 2 and one line on bad input (argparse)."""
    ap = argparse.ArgumentParser(prog="rawvision bench ta_isp_detection", description=__doc__.split("\n\n")[0])
    add_config_options(ap, None)
    ap.add_argument("--rows", nargs="+", default=["low:none", "low:glc", "low:glc+hsa", "low:glc+hsa+rgfm"])
    ap.add_argument("--out", default="runs/ta_isp_detection")
    short = ap.add_argument_group("shortcuts for --set (default: BENCH_DEFAULTS, the --config file, the task)")
    short.add_argument("--data", default=None, help="COCO folder (train.json, val.json): root")
    short.add_argument("--photos", default=None, help="labelled photos to build the paste set from if --data is empty")
    short.add_argument("--detector", default=None, choices=list(DETECTORS))
    short.add_argument("--epochs", type=int, default=None)
    short.add_argument("--max-steps", type=int, default=None, help="0 or -1: no limit (epochs decide)")
    short.add_argument("--batch-size", type=int, default=None)
    short.add_argument("--lr", type=float, default=None)
    short.add_argument("--front-end-lr", type=float, default=None)
    short.add_argument("--warmup-steps", type=int, default=None)
    short.add_argument("--ta-isp-weight-range", type=float, nargs=2, default=None,
                       help="RGFM's exponent range (official default 1 3; its LOD config uses 2 4)")
    short.add_argument("--size", type=int, default=None, help="detector input size (min_size = max_size)")
    short.add_argument("--fpn-channels", type=int, default=None)
    short.add_argument("--seed", type=int, default=None)
    short.add_argument("--max-train-images", type=int, default=None)
    short.add_argument("--max-val-images", type=int, default=None)
    args = ap.parse_args(argv)
    try:
        rows = [parse_row(r) for r in args.rows]
        max_steps = None if args.max_steps is None else (args.max_steps if args.max_steps > 0 else -1)
        wr = None if args.ta_isp_weight_range is None else list(args.ta_isp_weight_range)
        cfg = task_config(
            "detection", args.config, args.settings, defaults=BENCH_DEFAULTS, root=args.data, photos=args.photos,
            detector=args.detector, epochs=args.epochs, max_steps=max_steps, batch_size=args.batch_size, lr=args.lr,
            front_end_lr=args.front_end_lr, warmup_steps=args.warmup_steps, ta_isp_weight_range=wr,
            min_size=args.size, max_size=args.size, fpn_channels=args.fpn_channels, seed=args.seed,
            max_train_images=args.max_train_images, max_val_images=args.max_val_images, progress=False)
        cfg = with_settings(cfg, output_dir=str(Path(args.out) / "runs"), overwrite=True)
    except (ValueError, ConfigError) as e:
        ap.error(str(e))
    return args, cfg, rows


def main(argv: list[str] | None = None) -> int:
    args, cfg, rows = parse_args(argv)
    out = Path(args.out)
    report = {"config": cfg.to_dict(), "rows": args.rows, "device": device_name(), "torch": torch.__version__,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "runs": []}

    def save():
        write_atomic(out / "results.json", json.dumps(report, indent=2, default=str))
        size = cfg.min_size if cfg.min_size == cfg.max_size else f"{cfg.min_size}-{cfg.max_size}"
        head = (f"TA-ISP detection ablation: {cfg.detector} on EfficientNet-Lite0 + FPN ({cfg.fpn_channels} ch), "
                f"{size}x{size}, {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr} "
                f"(front end {cfg.front_end_lr}), TA-ISP w in {tuple(cfg.ta_isp_weight_range)}, seed {cfg.seed}, "
                f"device {report['device']}, {report['started']}\n\n"
                f"COCO box AP and AR@100 in percent on the validation images.\n\n")
        write_atomic(out / "results.md", head + results_table(report["runs"]))

    for light, modules in rows:
        name = f"{light}-{'+'.join(modules) or 'none'}"
        m = run_row(light, modules, cfg)
        record_run(report, m, f"[{name}]", (*_AP_KEYS, "train_steps", "train_img_per_s"), save)
    return finish_report(report, save, out)


if __name__ == "__main__":
    raise SystemExit(main())
