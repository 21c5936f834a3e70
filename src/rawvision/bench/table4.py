"""The paper's Table IV analogue: semantic segmentation on RAW by ISP Distillation, on CamVid, and its Fig. 2.

Usage::

    rawvision bench table4 --config configs/camvid_table4.yaml --teacher-weights runs/camvid_teacher/teacher.pth \\
        --seeds 0 --out bench/table4 --figure results/camvid_fig2.png --summary results/camvid_table4.json

For each RAW setting (``raw``: the RGGB mosaic + Gaussian sigma 0.1; ``short``: unprocessing with a random camera +
shot/read noise of an 8x shorter exposure, brightened back) and each seed, one datamodule (frames decoded, the
evaluation RAW simulated once) is shared by the methods: (a) ``pretrained``, (b) ``hard_labels``, (c) ``kd``,
(d) ``isp_distillation``, (e) ``gt_labels``; the RGB teacher on the clean frames is scored once. Metrics: mIoU and
pixel agreement with the teacher's mask on the clean frame (Table IV's protocol), GT mIoU, pixel accuracy and
per-class IoU on CamVid val.

Writes ``OUT/results.json`` and ``OUT/results.md`` after every run (a stopped benchmark keeps its rows), a small
summary JSON (``--summary``: the table, per-class IoU, the paper's figures; no run directories) and the Fig. 2
grid (``--figure``): for 4 val frames, the RGB frame, the demosaiced RAW, the teacher's mask, (a)'s mask, ISP
Distillation's mask and the GT mask, in CamVid's colours.
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

from rawvision._atomic import atomic_path, write_atomic
from rawvision.bench._report import add_config_options, device_name, record_run, task_config, with_settings
from rawvision.config import TASKS, ConfigError
from rawvision.runner import results_table, run
from rawvision.tasks.segmentation.module import SEGMENTATION_METHODS

__all__ = ["RAW_SETTINGS", "PAPER_TABLE4", "aggregate", "main", "summarize", "write_figure"]

#: The two RAW settings of Table IV: changes of the task configuration.
RAW_SETTINGS = {
    "raw": {"unprocess": False, "noise": "gaussian", "sigma": 0.1, "exposure_ratio": 1.0},
    "short": {"unprocess": True, "noise": "shot-read", "exposure_ratio": 8.0},
}
#: ISP Distillation Table IV (DeepLabV3-ResNet101 on VOC classes, mIoU agreement with the RGB model, %).
PAPER_TABLE4 = {"raw": {"hard_labels": 92.47, "isp_distillation": 94.98},
                "short": {"hard_labels": 91.88, "isp_distillation": 94.51}}
_METHODS = ("pretrained", "hard_labels", "kd", "isp_distillation", "gt_labels")
_NUMERIC = ("miou_agree", "pixel_agree", "gt_miou", "gt_pixel_acc", "n_frames", "train_img_per_s")


def aggregate(runs: list[dict]) -> tuple[list[dict], dict]:
    """Rows ``<setting>/<method>``: the mean over seeds of each metric (per-class IoU too), and the std where
    there is more than one seed (``spread[(row, key)]``)."""
    rows, spread, keys = [], {}, []
    for r in runs:
        if r["row"] not in keys:
            keys.append(r["row"])
    for key in keys:
        rs = [r for r in runs if r["row"] == key]
        row = {"method": key, "task": "segmentation", "seeds": len(rs), "setting": rs[0].get("setting")}
        numeric = [k for k in rs[0] if k in _NUMERIC or k.startswith("iou_")]
        for k in numeric:
            vals = [r[k] for r in rs if isinstance(r.get(k), (int, float))]
            if vals:
                row[k] = round(statistics.fmean(vals), 2)
                if len(vals) > 1 and k != "n_frames":  # counts are the same every seed
                    spread[(key, k)] = round(statistics.stdev(vals), 2)
        rows.append(row)
    return rows, spread


def _table(rows: list[dict], spread: dict) -> str:
    names = {f"{s}/{m}": f"{s}: {d}" for s in ("raw", "short", "rgb") for m, d in SEGMENTATION_METHODS.items()}
    text = results_table(rows, spread)
    for k, v in names.items():
        text = text.replace(f"| {k} |", f"| {v} |")
    return text


def summarize(path: str | Path) -> str:
    """The Markdown tables of a table4 summary (or results) JSON: the Table IV analogue (mean ± std over seeds),
    per-class IoU, and (d) - (b) per setting with the paper's figure beside it.

    Raises:
        ConfigError: a file that is not a table4 summary (one line).
    """
    try:
        report = json.loads(Path(path).read_text())
        runs = report["runs"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: not a table4 summary JSON ({e})") from None
    rows, spread = aggregate(runs)
    text = _table(rows, spread)
    by = {r["method"]: r for r in rows}
    names = [k[4:] for k in rows[0] if k.startswith("iou_")] if rows else []
    if names:
        text += "\n| per-class GT IoU (%) | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names) + "\n"
        for r in rows:
            text += f"| {r['method']} | " + " | ".join(
                "–" if r.get(f"iou_{n}") is None else f"{r[f'iou_{n}']:.1f}" for n in names) + " |\n"
    for setting, paper in PAPER_TABLE4.items():
        b, d = by.get(f"{setting}/hard_labels"), by.get(f"{setting}/isp_distillation")
        if not b or not d:
            continue
        per_seed = {}
        for r in runs:
            if r.get("setting") == setting and r.get("method", r["row"].split("/")[-1]) in ("hard_labels",
                                                                                           "isp_distillation"):
                per_seed.setdefault(r["seed"], {})[r["row"].split("/")[-1]] = r["miou_agree"]
        diffs = [v["isp_distillation"] - v["hard_labels"] for v in per_seed.values() if len(v) == 2]
        sd = f" ± {statistics.stdev(diffs):.2f}" if len(diffs) > 1 else ""
        text += (f"\n{setting}: mIoU agreement (d) - (b) = {statistics.fmean(diffs):+.2f}{sd} over {len(diffs)} "
                 f"seed(s) (per seed {[round(x, 2) for x in diffs]}); paper Table IV: "
                 f"{paper['hard_labels']} -> {paper['isp_distillation']} "
                 f"({paper['isp_distillation'] - paper['hard_labels']:+.2f})")
    return text + "\n"


def _masks_for_figure(dm, cfg, d_checkpoint: str | None, frames: list[int]) -> dict[str, list[torch.Tensor]]:
    """The figure's panels on the chosen eval frames: ``rgb`` and ``raw`` (3, H, W) images in [0, 1], and (H, W)
    masks of the teacher (on RGB), (a) (the teacher on the demosaiced RAW), (d) (``d_checkpoint``) and the GT."""
    from rawvision.raw.demosaic import demosaic_bilinear
    from rawvision.runner import build_module_only
    from rawvision.tasks.segmentation.module import RawSegmentation

    sizes = {tuple(dm.eval_set[i]["rgb"].shape) for i in frames}
    if len(sizes) > 1:
        raise ConfigError(f"figure frames {frames} differ in size {sorted(sizes)}: choose frames of one size")
    batch = dm.prepare_eval({k: torch.stack([dm.eval_set[i][k] for i in frames]) for k in ("rgb", "raw", "label")})
    a = build_module_only(with_settings(cfg, method="pretrained"), dm).eval()
    out: dict[str, list[torch.Tensor]] = {"rgb": list(batch["rgb"]),
                                          "raw": list(demosaic_bilinear(batch["raw"], dm.pattern).clamp(0, 1))}
    with torch.no_grad():
        out["teacher"] = list(a.teacher.predict(batch["rgb"]).argmax(1))
        out["pretrained"] = list(a(batch["raw"]).argmax(1))
        if d_checkpoint is not None:
            d = RawSegmentation.load_from_checkpoint(d_checkpoint, map_location="cpu", weights_only=False).eval()
            out["isp_distillation"] = list(d(batch["raw"]).argmax(1))
    out["gt"] = list(batch["label"])
    return out


def write_figure(masks: dict[str, list[torch.Tensor]], classes, path: str | Path, title: str = "") -> None:
    """The Fig. 2 grid: one row per frame, columns RGB, demosaiced RAW, teacher, (a), ISP Distillation, GT
    (``masks`` from :func:`_masks_for_figure`), written atomically as a PNG with matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from rawvision.data.segmentation import colorize

    cols = [("rgb", "RGB frame"), ("raw", "demosaiced RAW"), ("teacher", "teacher (RGB)"),
            ("pretrained", "(a) teacher on RAW"), ("isp_distillation", "(d) ISP Distillation"), ("gt", "ground truth")]
    cols = [c for c in cols if c[0] in masks]
    n = len(masks["rgb"])
    fig, axes = plt.subplots(n, len(cols), figsize=(2.6 * len(cols), 2.05 * n + 0.9), squeeze=False)
    for r in range(n):
        for c, (key, label) in enumerate(cols):
            ax = axes[r][c]
            v = masks[key][r]
            img = v.permute(1, 2, 0).numpy() if v.dim() == 3 else colorize(v, classes)
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(label, fontsize=9)
    handles = [Patch(color=[x / 255 for x in col], label=name) for name, col in zip(classes.names, classes.colors)]
    handles.append(Patch(color=(0, 0, 0), label="void"))
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97 if title else 1))
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench table4", description=__doc__.split("\n\n")[0])
    add_config_options(ap, "configs/camvid_table4.yaml")
    ap.add_argument("--teacher-weights", default=None, help="the trained teacher (teacher.pth of a train_teacher run)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--settings-rows", dest="raw_settings", nargs="+", default=list(RAW_SETTINGS),
                    choices=list(RAW_SETTINGS), help="RAW settings (rows of Table IV)")
    ap.add_argument("--methods", nargs="+", default=list(_METHODS), choices=list(_METHODS))
    ap.add_argument("--out", default="bench/table4")
    ap.add_argument("--epochs", type=int, default=None, help="shortcut for --set epochs=N")
    ap.add_argument("--max-frames", type=int, default=None, help="shortcut for --set max_frames=N")
    ap.add_argument("--figure", default=None, help="write the Fig. 2 grid (PNG) here")
    ap.add_argument("--figure-frames", type=int, nargs="+", default=[5, 30, 60, 90], help="val frame indices")
    ap.add_argument("--summary", default=None, help="write the small summary JSON (for results/) here")
    ap.add_argument("--include", default=None, metavar="SUMMARY_JSON",
                    help="start from the runs of an earlier summary (e.g. more seeds of some rows): the table "
                         "aggregates them with this invocation's runs")
    ap.add_argument("--summarize", metavar="SUMMARY_JSON", default=None,
                    help="print the tables of an earlier run's summary JSON, run nothing")
    args = ap.parse_args(argv)
    if args.summarize:
        try:
            print(summarize(args.summarize))
        except ConfigError as e:
            print(f"error: {e}")
            return 2
        return 0
    try:
        cfg = task_config("segmentation", args.config, args.settings, epochs=args.epochs,
                          max_frames=args.max_frames, teacher_weights=args.teacher_weights, progress=False)
        if cfg.teacher_weights is None:
            raise ConfigError("give --teacher-weights (the teacher.pth of 'rawvision distill --config "
                              "configs/camvid_teacher.yaml')")
        if not Path(cfg.teacher_weights).is_file():
            raise ConfigError(f"teacher weights {cfg.teacher_weights} not found")
    except ConfigError as e:
        ap.error(str(e))

    from rawvision.models.weights import sha256_of

    cfg = with_settings(cfg, teacher_sha256=cfg.teacher_sha256 or sha256_of(cfg.teacher_weights))
    out = Path(args.out)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = {"config": cfg.to_dict(), "seeds": args.seeds, "device": device_name(), "torch": torch.__version__,
              "started": started, "command": "rawvision bench table4 " + " ".join(argv or []), "runs": [],
              "paper_table4": PAPER_TABLE4}
    if args.include:
        try:
            earlier = json.loads(Path(args.include).read_text())
            report["runs"] = [dict(r, included_from=str(args.include)) for r in earlier["runs"]]
            report["included"] = {"file": str(args.include), "command": earlier.get("command"),
                                  "started": earlier.get("started")}
        except (OSError, ValueError, KeyError, TypeError) as e:
            ap.error(f"--include {args.include}: not a table4 summary JSON ({e})")

    def save():
        rows, spread = aggregate(report["runs"])
        report["table"] = rows
        report["spread"] = {f"{r}|{k}": v for (r, k), v in spread.items()}
        write_atomic(out / "results.json", json.dumps(report, indent=2, default=str))
        head = (f"Table IV analogue: {cfg.model} teacher {Path(cfg.teacher_weights).name} "
                f"(sha256 {cfg.teacher_sha256[:12]}), {cfg.epochs} epochs, batch {cfg.batch_size}, crop "
                f"{cfg.crop_size}, lr {cfg.lr}, alpha {cfg.alpha}, T {cfg.temperature}, beta {cfg.beta}, seeds "
                f"{args.seeds}, device {report['device']}, {started}\n\n")
        write_atomic(out / "results.md", head + _table(rows, spread))
        if args.summary:
            small = {k: report[k] for k in ("config", "seeds", "device", "torch", "started", "command",
                                            "paper_table4", "table", "spread") if k in report}
            small["included"] = report.get("included")
            small["runs"] = [{k: v for k, v in r.items() if k in _NUMERIC or k.startswith("iou_") or k in (
                "row", "seed", "setting", "method", "train_steps", "train_seconds", "wall_seconds", "included_from")}
                for r in report["runs"]]
            small["finished"] = report.get("finished")
            write_atomic(Path(args.summary), json.dumps(small, indent=2, default=str))

    _, dm_cls = TASKS["segmentation"].classes()
    fig_ckpt, fig_dm, fig_cfg = None, None, None
    for seed in args.seeds:
        for setting in args.raw_settings:
            scfg = with_settings(cfg, seed=seed, output_dir=str(out / "runs"), overwrite=True,
                                 **RAW_SETTINGS[setting])
            dm = dm_cls(**scfg.kwargs_for(dm_cls))
            dm.setup("fit")
            print(f"[seed {seed}] [{setting}] {dm.summary()}", flush=True)
            plan = list(args.methods)
            if setting == args.raw_settings[0] and seed == args.seeds[0]:
                plan = ["rgb_teacher", *plan]
            for method in plan:
                row = "rgb/rgb_teacher" if method == "rgb_teacher" else f"{setting}/{method}"
                rcfg = with_settings(scfg, method=method, run_name=f"{setting}-{method}-seed{seed}")
                t0 = time.perf_counter()
                metrics, run_dir = run(rcfg, datamodule=dm)
                metrics.update(row=row, seed=seed, setting=setting, wall_seconds=round(time.perf_counter() - t0, 1),
                               run_dir=str(run_dir))
                record_run(report, metrics, f"[seed {seed}] {row}:", _NUMERIC, save)
                if seed == args.seeds[0] and setting == args.raw_settings[0] and method == "isp_distillation":
                    fig_ckpt = str(run_dir / "checkpoints" / "last.ckpt")
            if seed == args.seeds[0] and setting == args.raw_settings[0]:
                fig_dm, fig_cfg = dm, scfg
    if args.figure and fig_dm is not None:
        frames = [i for i in args.figure_frames if i < len(fig_dm.eval_set)] or [0]
        masks = _masks_for_figure(fig_dm, fig_cfg, fig_ckpt, frames)
        write_figure(masks, fig_dm.class_list, args.figure,
                     title=f"{Path(fig_cfg.data).name} {fig_cfg.eval_split} frames {frames}, RAW setting '{args.raw_settings[0]}', seed {args.seeds[0]}")
        report["figure"] = str(args.figure)
        print(f"figure: {args.figure}", flush=True)
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
