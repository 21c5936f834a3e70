"""TA-ISP on RAW object detection: the module ablation (none / GLC / + HSA / + RGFM), normal and low light.

Usage::

    python -m rawvision.bench.ta_isp_detection --photos ../shared/data/photos --data runs/paste_set \\
        --rows low:none low:glc low:glc+hsa low:glc+hsa+rgfm normal:none normal:glc+hsa+rgfm \\
        --epochs 4 --out runs/ta_isp_detection

A row is ``LIGHT:MODULES``: LIGHT ``normal`` or ``low`` (the RAW of :func:`simulate_detection_raw`) or ``rgb``
(the detector on the sRGB images, no RAW: a reference), MODULES ``none`` (the demosaiced RAW straight into the
detector) or TA-ISP's kept modules joined by ``+``. Every row trains RetinaNet (or FCOS) on EfficientNet-Lite0 +
FPN from the same ImageNet backbone, seed, batch order and training RAW draws, for the same number of steps, and is
evaluated on the same validation RAW (COCO box AP via torchmetrics/pycocotools). The paste-object set is built
into ``--data`` from ``--photos`` when it is not there.

Writes ``results.json`` and ``results.md`` under ``--out``, rewritten atomically after each row.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import lightning as L
import torch

from rawvision._atomic import write_atomic
from rawvision.bench._report import device_name, finish_report, record_run
from rawvision.data.detection import RawDetectionDataModule
from rawvision.distill.detection import RawDetection, fit_detector, parse_ta_isp_modules

LIGHTS = {"normal": "RAW, normal light", "low": "RAW, low light (1/8 exposure)", "rgb": "sRGB (no RAW)"}
_AP_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR100")


def parse_row(text: str) -> tuple[str, tuple[str, ...]]:
    """``"low:glc+hsa"`` -> ``("low", ("glc", "hsa"))``. Raises ValueError (one line) for a bad row."""
    light, sep, mods = str(text).partition(":")
    if not sep or light not in LIGHTS:
        raise ValueError(f"bad row {text!r}: expected LIGHT:MODULES with LIGHT one of {', '.join(LIGHTS)} "
                         f"(e.g. low:glc+hsa+rgfm, normal:none)")
    modules = parse_ta_isp_modules(mods)
    unknown = [m for m in modules if m not in ("glc", "hsa", "rgfm")]
    if unknown:
        raise ValueError(f"bad row {text!r}: unknown TA-ISP module(s) {', '.join(unknown)} (glc, hsa, rgfm)")
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


def run_row(light: str, modules: tuple[str, ...], args, run_dir: Path) -> dict:
    """Train and evaluate one row; returns its metrics (AP values in [0, 1])."""
    L.seed_everything(args.seed, workers=True, verbose=False)
    dm = RawDetectionDataModule(args.data, photos=args.photos, input="rgb" if light == "rgb" else "raw",
                                low_light=light == "low", batch_size=args.batch_size, seed=args.seed,
                                max_train_images=args.max_train_images, max_val_images=args.max_val_images)
    dm.setup()
    model = RawDetection(dm.num_classes, detector=args.detector, front_end="ta-isp" if modules else "none",
                         ta_isp_modules=modules, ta_isp_weight_range=tuple(args.ta_isp_weight_range),
                         lr=args.lr, front_end_lr=args.front_end_lr,
                         warmup_steps=args.warmup_steps, min_size=args.size, max_size=args.size,
                         fpn_channels=args.fpn_channels)
    metrics = fit_detector(model, dm, run_dir, epochs=args.epochs, max_steps=args.max_steps or -1)
    return {"row": f"{light}:{'+'.join(modules) or 'none'}", "label": row_label(light, modules), **metrics,
            "data": dm.summary()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="runs/paste_set", help="COCO folder (train.json, val.json)")
    ap.add_argument("--photos", default=None, help="labelled photos to build the paste set from if --data is empty")
    ap.add_argument("--rows", nargs="+", default=["low:none", "low:glc", "low:glc+hsa", "low:glc+hsa+rgfm"])
    ap.add_argument("--detector", default="retinanet", choices=["retinanet", "fcos"])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--max-steps", type=int, default=0, help="0: no limit (epochs decide)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--front-end-lr", type=float, default=1e-3)
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--ta-isp-weight-range", type=float, nargs=2, default=[1.0, 3.0],
                    help="RGFM's exponent range (official default 1 3; its LOD config uses 2 4)")
    ap.add_argument("--size", type=int, default=320, help="detector input size (min_size = max_size)")
    ap.add_argument("--fpn-channels", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train-images", type=int, default=None)
    ap.add_argument("--max-val-images", type=int, default=None)
    ap.add_argument("--out", default="runs/ta_isp_detection")
    args = ap.parse_args(argv)
    try:
        rows = [parse_row(r) for r in args.rows]
    except ValueError as e:
        ap.error(str(e))
    out = Path(args.out)
    report = {"args": vars(args), "device": device_name(), "torch": torch.__version__,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "runs": []}

    def save():
        write_atomic(out / "results.json", json.dumps(report, indent=2, default=str))
        head = (f"TA-ISP detection ablation: {args.detector} on EfficientNet-Lite0 + FPN ({args.fpn_channels} ch), "
                f"{args.size}x{args.size}, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr} "
                f"(front end {args.front_end_lr}), TA-ISP w in {tuple(args.ta_isp_weight_range)}, seed {args.seed}, device {report['device']}, "
                f"{report['started']}\n\nCOCO box AP and AR@100 in percent on the validation images.\n\n")
        write_atomic(out / "results.md", head + results_table(report["runs"]))

    for light, modules in rows:
        name = f"{light}-{'+'.join(modules) or 'none'}"
        m = run_row(light, modules, args, out / "runs" / name)
        record_run(report, m, f"[{name}]", (*_AP_KEYS, "train_steps", "train_img_per_s"), save)
    return finish_report(report, save, out)


if __name__ == "__main__":
    raise SystemExit(main())
