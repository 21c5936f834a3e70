"""The paper's Fig. 3 analogue: GT top-1 of (a) the teacher on the demosaiced RAW, (b) hard labels and (d) ISP
Distillation, per noise level sigma, one seed; writes a JSON summary and a PNG plot (matplotlib).

Usage::

    rawvision bench noise_sweep --config configs/table1_lite0_half_crops.yaml --sigmas 0 0.025 0.05 0.1 0.2 \
        --out runs/noise_sweep --summary results/noise_sweep.json --plot results/noise_sweep.png

(``python -m rawvision.bench.noise_sweep`` works too.) Every setting of the classification task is reachable with
``--set KEY=VALUE``; the rows' methods with ``--methods``. One datamodule per sigma is shared by its rows.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import torch

from rawvision._atomic import write_atomic
from rawvision.bench._report import add_config_options, device_name, task_config, with_settings
from rawvision.config import TASKS, ConfigError
from rawvision.runner import run
from rawvision.tasks.classification import METHODS

KEYS = ("gt_top1", "gt_top5", "agree_top1", "conf_agree_top1", "n_patches", "train_steps")


def plot(rows: list[dict], path: str | Path, title: str = "") -> None:
    """GT top-1 (or agreement, where there are no labels) against sigma, one line per method, as a PNG.

    Raises:
        ConfigError: matplotlib is not installed (``pip install matplotlib``, or the project's ``[test]`` extra).
    """
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("the noise sweep's plot needs matplotlib: pip install matplotlib") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=120)
    for method in dict.fromkeys(r["method"] for r in rows):
        pts = sorted((r["sigma"], r.get("gt_top1") if r.get("gt_top1") is not None else r.get("agree_top1"))
                     for r in rows if r["method"] == method)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=METHODS.get(method, method)[:40])
    ax.set_xlabel("noise sigma (fraction of the white level)")
    ax.set_ylabel("top-1 (%)")
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench noise_sweep", description=__doc__.split("\n\n")[0])
    add_config_options(ap, "configs/table1_lite0_half_crops.yaml")
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 0.025, 0.05, 0.1, 0.2])
    ap.add_argument("--methods", nargs="+", default=["pretrained", "hard_labels", "isp_distillation"])
    ap.add_argument("--out", default="runs/noise_sweep")
    ap.add_argument("--summary", default=None, help="also write the JSON summary here")
    ap.add_argument("--plot", default=None, help="PNG plot (default OUT/noise_sweep.png)")
    args = ap.parse_args(argv)
    try:
        base = task_config("classification", args.config, args.settings, defaults={"progress": False})
        bad = [m for m in args.methods if m not in METHODS]
        if bad:
            raise ConfigError(f"unknown method(s) {', '.join(bad)}: expected some of {', '.join(METHODS)}")
        import matplotlib  # noqa: F401  (checked before any run: the plot is written after every row)
    except ImportError:
        print("error: the noise sweep's plot needs matplotlib: pip install matplotlib")
        return 2
    except ConfigError as e:
        print(f"error: {e}")
        return 2
    out = Path(args.out)
    png = Path(args.plot or out / "noise_sweep.png")
    report = {"config": base.to_dict(), "sigmas": args.sigmas, "device": device_name(), "torch": torch.__version__,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": []}

    def save():
        text = json.dumps(report, indent=1, default=str)
        write_atomic(out / "results.json", text)
        if args.summary:
            write_atomic(args.summary, text)
        plot(report["rows"], png, f"{base.teacher}, {base.pattern}, {base.epochs} epochs, seed {base.seed}")

    _, dm_cls = TASKS["classification"].classes()
    for sigma in args.sigmas:
        scfg = with_settings(base, sigma=float(sigma))
        dm = dm_cls(**scfg.kwargs_for(dm_cls))
        for method in args.methods:
            cfg = with_settings(scfg, method=method, run_name=f"{method}-sigma{sigma:g}", output_dir=str(out / "runs"),
                                overwrite=True)
            metrics, _ = run(cfg, datamodule=dm)
            report["rows"].append({"sigma": float(sigma), "method": method, **{k: metrics.get(k) for k in KEYS}})
            print(f"[noise sweep] sigma {sigma:g} {method}: GT top-1 {metrics.get('gt_top1')}", flush=True)
            save()
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
