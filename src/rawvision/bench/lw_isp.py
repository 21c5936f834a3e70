"""LW-ISP quality (the paper's Tables 1 and 5 on our data): the learned ISP against the classical ISP, its
ablations and its heterogeneous distillation, on RAW simulated from held-out photos, and on the real tiles.

Usage::

    rawvision bench lw_isp --config configs/lw_isp.yaml --out bench/lw_isp \\
        --summary results/lw_isp_quality.json --figure results/lw_isp_figure.png

One datamodule (the photo split by photo, CamVid's training frames as extra unlabelled RGB, RAW by Brooks et
al.'s unprocessing with a random camera and shot/read noise) is shared by every row:

1. ``teacher``: the distillation teacher (LW-ISP without the up-layer, sRGB -> sRGB, Eq. 7), scored on the clean
   target (its own upper bound: an autoencoder of the sRGB image);
2. ``classical_oracle`` / ``classical_estimated``: the classical ISP with the true camera / gray-world white
   balance + auto exposure + the camera's CCM;
3. the students of Table 5: ``backbone``, ``+fgam`` (variant no-ccb), ``+ccb`` (no-fgam), ``+fgam+ccb`` (lw-isp),
   ``+ccb+distill`` (no-fgam, distilled), ``+fgam+ccb+distill`` (lw-isp, distilled).

Every student trains for the same number of steps from the same seed. Scores: PSNR and MS-SSIM on the held-out
photos' 256 x 256 patches (validation split too: settings are chosen there), and on the 12 real DNG tiles against
LibRaw's rendering (no fine-tune on real RAW: the models never saw a real sensor; the classical ISP reads each
file's own white balance and colour matrix). Writes ``OUT/results.json`` and ``OUT/results.md`` after every row,
the small summary JSON (``--summary``) and the comparison figure (``--figure``: classical ISP, LW-ISP, target).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import torch

from rawvision._atomic import atomic_path, write_atomic
from rawvision.bench._report import add_config_options, device_name, record_run, task_config, with_settings
from rawvision.config import TASKS, ConfigError
from rawvision.runner import results_table, run

__all__ = ["PAPER_TABLE1", "PAPER_TABLE5", "ROWS", "main", "real_tile_scores"]

#: Table 5 rows: name -> (variant, distilled).
ROWS = {
    "backbone": ("backbone", False),
    "+fgam": ("no-ccb", False),
    "+ccb": ("no-fgam", False),
    "+fgam+ccb": ("lw-isp", False),
    "+ccb+distill": ("no-fgam", True),
    "+fgam+ccb+distill": ("lw-isp", True),
}
#: LW-ISP paper, Zurich RAW-to-RGB (another dataset: a real Huawei P20 sensor -> Canon 5D Mark IV photos).
PAPER_TABLE1 = {"PyNET": {"psnr": 21.19, "ms_ssim": 0.8620}, "LW-ISP": {"psnr": 21.57, "ms_ssim": 0.8622},
                "U-Net": {"psnr": 20.81, "ms_ssim": 0.8545}}
PAPER_TABLE5 = {"backbone": 20.92, "+fgam": 21.17, "+ccb": 21.28, "+fgam+ccb": 21.36, "+ccb+distill": 21.40,
                "+fgam+ccb+distill": 21.57}
_KEYS = ("psnr", "ms_ssim", "val_psnr", "val_ms_ssim", "n_patches", "params", "train_steps", "train_img_per_s",
         "train_seconds")


def real_tile_scores(render, folder: str = "../shared/data/raw/tiles") -> dict:
    """Mean PSNR / MS-SSIM of ``render(pair) -> (3, H, W) float [0, 1]`` against LibRaw's rendering of each real
    RAW tile (:func:`rawvision.data.pairs.pairs_from_raw_files`), and the per-tile PSNR."""
    from pytorch_msssim import ms_ssim

    from rawvision.data.pairs import pairs_from_raw_files
    from rawvision.tasks.isp.module import psnr

    per, ssim = {}, []
    for p in pairs_from_raw_files(folder):
        target = p.rgb.float().div(255)[None]
        with torch.no_grad():
            out = render(p).float().clamp(0, 1)[None]
        per[p.name] = round(float(psnr(out, target)), 2)
        ssim.append(float(ms_ssim(out, target, data_range=1.0)))
    return {"real_psnr": round(sum(per.values()) / len(per), 2), "real_ms_ssim": round(sum(ssim) / len(ssim), 4),
            "real_tiles": len(per), "real_psnr_per_tile": per}


def _lw_isp_render(isp_file: str, variant: str):
    from rawvision.models.lw_isp import LWISPFrontEnd
    from rawvision.tasks.isp.module import load_lw_isp

    model = load_lw_isp(isp_file, variant)

    def render(pair):
        return LWISPFrontEnd(pair.pattern, model).eval()(pair.raw[None])[0]

    return render


def _classical_render(pair):
    from rawvision.raw.isp import cam_to_srgb_from_xyz, process

    m = pair.meta
    wb = torch.tensor(m.get("wb_gains") or [1.0, 1.0, 1.0], dtype=torch.float32)
    ccm = (cam_to_srgb_from_xyz(torch.tensor(m["xyz_to_cam"], dtype=torch.float64)).float()
           if m.get("xyz_to_cam") is not None else torch.eye(3))
    return process(pair.raw[None], wb, ccm, pair.pattern, "malvar")[0]


def write_figure(dm, isp_file: str, variant: str, path: str, patches=(0, 40, 80, 120)) -> None:
    """Rows of test patches: classical ISP (gray world), classical ISP (oracle), LW-ISP, target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rawvision.raw.isp import process
    from rawvision.tasks.isp.module import gray_world_render, load_lw_isp, psnr
    from rawvision.raw.pack import pack_bayer

    model = load_lw_isp(isp_file, variant)
    ds = dm.with_camera(dm.test_set)
    idx = [i for i in patches if i < len(ds)] or [0]
    cols = ("classical ISP (gray world)", "classical ISP (true camera)", "LW-ISP (distilled)", "target sRGB")
    fig, axes = plt.subplots(len(idx), 4, figsize=(10, 2.6 * len(idx)), squeeze=False)
    for r, i in enumerate(idx):
        it = ds[i]
        raw, rgb = it["raw"][None], it["rgb"][None].float() / 255
        with torch.no_grad():
            imgs = [gray_world_render(raw, it["cam2rgb"][None], dm.pattern),
                    process(raw, it["wb_gains"][None], it["cam2rgb"][None], dm.pattern, "malvar"),
                    model(pack_bayer(raw, dm.pattern)), rgb]
        for c, im in enumerate(imgs):
            ax = axes[r][c]
            ax.imshow(im[0].clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            label = cols[c] if r == 0 else ""
            if c < 3:
                label += f"\n{float(psnr(im.clamp(0, 1), rgb)):.1f} dB" if label else f"{float(psnr(im.clamp(0, 1), rgb)):.1f} dB"
            ax.set_title(label, fontsize=8)
    fig.suptitle(f"test patches {idx} (held-out photos, unprocessed RAW with shot/read noise)", fontsize=9)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=72)
    plt.close(fig)


def _table(rows: list[dict]) -> str:
    lines = ["| row | PSNR (dB) | MS-SSIM | val PSNR | real tiles PSNR | real MS-SSIM | params | steps | train img/s "
             "| paper (Zurich) PSNR |", "|---|" + "---:|" * 9]
    for r in rows:
        def f(k, fmt="{:.2f}"):
            v = r.get(k)
            return "–" if v is None else fmt.format(v) if isinstance(v, float) else str(v)
        paper = PAPER_TABLE5.get(r["row"], "–")
        lines.append(f"| {r['row']} | {f('psnr')} | {f('ms_ssim', '{:.4f}')} | {f('val_psnr')} | {f('real_psnr')} | "
                     f"{f('real_ms_ssim', '{:.4f}')} | {f('params')} | {f('train_steps')} | {f('train_img_per_s')} "
                     f"| {paper} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rawvision bench lw_isp", description=__doc__.split("\n\n")[0])
    add_config_options(ap, "configs/lw_isp.yaml")
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--steps", type=int, default=None, help="training steps of each student (--set max_steps)")
    ap.add_argument("--teacher-steps", type=int, default=None, help="training steps of the teacher")
    ap.add_argument("--teacher-weights", default=None, help="reuse a trained teacher.pth (skip its training)")
    ap.add_argument("--no-classical", action="store_true", help="skip the classical ISP rows")
    ap.add_argument("--no-real", action="store_true", help="skip the real-tile scores")
    ap.add_argument("--max-photos", type=int, default=None, help="shortcut for --set max_photos=N")
    ap.add_argument("--out", default="bench/lw_isp")
    ap.add_argument("--summary", default=None, help="write the small summary JSON (for results/) here")
    ap.add_argument("--figure", default=None, help="write the comparison figure (PNG) here")
    args = ap.parse_args(argv)
    try:
        cfg = task_config("isp", args.config, args.settings, max_steps=args.steps, max_photos=args.max_photos,
                          progress=False)
    except ConfigError as e:
        ap.error(str(e))
    teacher_steps = args.teacher_steps or cfg.max_steps
    out = Path(args.out)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = {"config": cfg.to_dict(), "teacher_steps": teacher_steps, "device": device_name(),
              "torch": torch.__version__, "started": started,
              "command": "rawvision bench lw_isp " + " ".join(argv or []), "runs": [],
              "paper_table1_zurich": PAPER_TABLE1, "paper_table5_zurich_psnr": PAPER_TABLE5}

    def save():
        report["table"] = [{k: v for k, v in r.items() if k in (*_KEYS, "row", "real_psnr", "real_ms_ssim",
                                                                "real_tiles", "real_psnr_per_tile", "variant",
                                                                "distilled", "wall_seconds")}
                           for r in report["runs"]]
        write_atomic(out / "results.json", json.dumps(report, indent=2, default=str))
        head = (f"LW-ISP quality: {cfg.max_steps} steps per student (teacher {teacher_steps}), batch "
                f"{cfg.batch_size}, crops {cfg.crop_size}, lr {cfg.lr}, alpha {cfg.alpha}, beta {cfg.beta}, "
                f"seed {cfg.seed}, device {report['device']}, {started}\n\n")
        write_atomic(out / "results.md", head + _table(report["table"]))
        if args.summary:
            small = {k: report[k] for k in ("config", "teacher_steps", "device", "torch", "started", "command",
                                            "paper_table1_zurich", "paper_table5_zurich_psnr", "table")}
            small["finished"] = report.get("finished")
            write_atomic(Path(args.summary), json.dumps(small, indent=2, default=str))

    _, dm_cls = TASKS["isp"].classes()
    base = with_settings(cfg, output_dir=str(out / "runs"), overwrite=True)
    dm = dm_cls(**base.kwargs_for(dm_cls))
    dm.setup("fit")
    print(f"data: {dm.summary()}", flush=True)

    def one(row: str, rcfg, extra=None):
        t0 = time.perf_counter()
        metrics, run_dir = run(rcfg, datamodule=dm)
        metrics.update(row=row, wall_seconds=round(time.perf_counter() - t0, 1), run_dir=str(run_dir))
        if extra is not None and not args.no_real:
            metrics.update(extra(metrics))
        record_run(report, metrics, f"{row}:", (*_KEYS, "real_psnr"), save)
        return metrics

    teacher = args.teacher_weights
    if teacher is None:
        m = one("teacher", with_settings(base, method="train_teacher", max_steps=teacher_steps,
                                         run_name="teacher"))
        teacher = m["teacher_file"]
    if not args.no_classical:
        one("classical_oracle", with_settings(base, method="classical_oracle", run_name="classical_oracle"))
        one("classical_estimated", with_settings(base, method="classical_estimated", run_name="classical_estimated"),
            extra=lambda _m: real_tile_scores(_classical_render))
    fig_file = None
    for row in args.rows:
        variant, distilled = ROWS[row]
        rcfg = with_settings(base, method="lw_isp", variant=variant, teacher_weights=teacher if distilled else None,
                             run_name=row.replace("+", "plus_"))
        m = one(row, rcfg, extra=lambda mm, v=variant: real_tile_scores(_lw_isp_render(mm["isp_file"], v)))
        if variant == "lw-isp" and (distilled or fig_file is None):
            fig_file = m["isp_file"]
    if args.figure and fig_file is not None:
        write_figure(dm, fig_file, "lw-isp", args.figure)
        report["figure"] = str(args.figure)
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
