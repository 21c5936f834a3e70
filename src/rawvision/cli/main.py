"""The ``rawvision`` command line: ``distill``, ``evaluate``, ``demo``, ``bench``, ``simulate``, ``isp``, ``detect``.

Every setting of a task (:func:`rawvision.config.config_class`: generated from the task's module and datamodule
signatures) is an option of ``distill``; ``--config FILE`` reads a YAML file of them first, options given on the
command line win. Bad input ends with one ``error:`` line and exit code 2; Ctrl-C with one line and exit code 130.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path

import click

import rawvision  # noqa: F401  (torchvision compatibility before lightning/timm)
from rawvision.config import TASKS, ConfigError, config_class, field_type, load_config

__all__ = ["cli", "main"]
_FIELD_HELP = {
    "task": f"what to train: {', '.join(TASKS)}",
    "data": "folder of RGB photos (JPEG/PNG, any size), or of RAW files / pairs for classification-pairs",
    "labels": "label CSV (file name -> ImageNet index), 'auto' (DATA/labels.csv or WNID folders) or 'none'",
    "method": "rgb_teacher | pretrained | hard_labels | kd | isp_distillation | gt_labels (segmentation also "
              "train_teacher)",
    "teacher": "efficientnet_lite0/1/2 or a torchvision classifier name",
    "teacher_weights": "DEFAULT, a torchvision weights enum name, or a state-dict file",
    "train_draw": "patches (fixed grid) or random_crops (even offsets, flips)",
    "eval_split": "test (the split's held-out photos) or all (every photo of the folder)",
    "sigma": "Gaussian noise std, fraction of the white level",
    "pattern": "Bayer pattern: RGGB, BGGR, GRBG or GBRG",
    "trainable_fraction": "fine-tune only this first fraction of the student's layers",
    "front_end": "none (bilinear demosaic + per-CFA normalisation) or ta-isp (a learned ~3 K-parameter ISP)",
    "ta_isp_modules": "TA-ISP modules kept: comma-separated glc, hsa, rgfm, or none (ablation)",
    "ta_isp_weight_range": "RGFM's exponent range, two comma-separated floats (official LOD config: 2,4)",
    "freeze_model": "train only the front end, keep the downstream model frozen",
    "front_end_lr": "learning rate of the front end (default: lr)",
    "strategy": "Lightning strategy: auto, ddp (several processes: --devices N), ...",
    "overwrite": "replace an existing run directory whole",
    "checkpoint_every_n_steps": "also save checkpoints/last.ckpt every N training steps (resumable mid-epoch)",
    "threads": "torch CPU threads (on a shared machine 1 can be 5-10x faster than the default)",
    "noise_seed": "base seed of the evaluation noise (patch i: noise_seed + i)",
}


def _all_fields() -> dict[str, dict]:
    """Every task's settings: name -> {type, defaults per task}."""
    out: dict[str, dict] = {}
    for task in TASKS:
        for f in dataclasses.fields(config_class(task)):
            if f.name == "notes":
                continue
            d = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            e = out.setdefault(f.name, {"type": f.type, "defaults": {}})
            e["defaults"][task] = d
    return out


def _config_options(func):
    """One ``--key`` option per setting of any task (default None: 'not given'; the task's default applies)."""
    for name, e in reversed(list(_all_fields().items())):
        base, _, seq = field_type(e["type"])
        defaults = e["defaults"]
        if len(set(map(repr, defaults.values()))) == 1:
            dtext = repr(next(iter(defaults.values())))
        else:
            dtext = ", ".join(f"{t}: {v!r}" for t, v in defaults.items())
        tasks = "" if len(defaults) == len(TASKS) else f" ({', '.join(defaults)} only)"
        help_ = f"{_FIELD_HELP.get(name, name.replace('_', ' '))}{tasks} [default: {dtext}]"
        opt_name = "--" + name.replace("_", "-")
        if base is bool and not seq:
            opt = click.option(f"{opt_name}/--no-{name.replace('_', '-')}", name, default=None, help=help_)
        else:
            typ = str if seq else {int: int, float: float}.get(base, str)
            opt = click.option(opt_name, name, type=typ, default=None, help=help_)
        func = opt(func)
    return func


def _overrides(cfg_cls, kwargs: dict) -> dict:
    """Given options -> typed overrides for ``cfg_cls``; an option the task does not have is an error."""
    out = {}
    names = {f.name: f for f in dataclasses.fields(cfg_cls)}
    for k, v in kwargs.items():
        if v is None:
            continue
        if k not in names:
            raise ConfigError(f"--{k.replace('_', '-')} is not a setting of task {cfg_cls().task}")
        if k == "labels" and v == "none":
            v = None
        elif isinstance(v, str) and field_type(names[k].type)[2]:
            v = cfg_cls.parse_value(k, v)
        elif isinstance(v, str) and v.lower() == "none" and field_type(names[k].type)[1]:
            v = None
        out[k] = v
    return out


class _OneLineErrors(click.Group):
    """Turn the errors that bad input raises into one ``error:`` line and exit code 2 (130 for Ctrl-C)."""

    def invoke(self, ctx):
        from lightning.fabric.utilities.exceptions import MisconfigurationException

        from rawvision.data.photos import DataError
        from rawvision.models.weights import WeightsError
        from rawvision.runner import RunInterrupted

        try:
            return super().invoke(ctx)
        except (RunInterrupted, KeyboardInterrupt) as e:
            click.echo(f"interrupted: {e}" if str(e) else "interrupted", err=True)
            ctx.exit(130)
        except (ConfigError, DataError, WeightsError, ValueError, FileNotFoundError, MisconfigurationException) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
            click.echo(f"error: {msg}", err=True)
            ctx.exit(2)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rawvision.__version__, prog_name="rawvision")
@click.option("-v", "--verbose", is_flag=True, help="show Lightning's and rawvision's info messages")
def cli(verbose: bool) -> None:
    """rawvision: computer vision directly on camera RAW."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(level)
    import warnings

    # Two messages about code that is not ours (the frozen teacher is in eval mode on purpose; Lightning's own use
    # of a torch API deprecated in torch 2.13); every other warning is shown (the tests' filters are the same).
    warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)", FutureWarning)
    warnings.filterwarnings("ignore", r"Found .* module\(s\) in eval mode at the start of training", UserWarning)


def _run_command(task, config_file, resume, kwargs):
    from rawvision.runner import results_table, run

    if resume is not None:
        given = sorted(k for k, v in kwargs.items() if v is not None) + (["config"] if config_file else [])
        if given:
            raise ConfigError(f"--resume continues the run with its own config.yaml; it takes no other settings "
                              f"(got --{', --'.join(g.replace('_', '-') for g in given)})")
        metrics, run_dir = run(None, resume=resume)
    else:
        file_task = load_config(config_file).task if config_file else None
        task = task or file_task or "classification"
        cfg = load_config(config_file, task=task).set(**_overrides(config_class(task), kwargs))
        metrics, run_dir = run(cfg)
    if "method" in metrics:
        click.echo(results_table([metrics]))
    else:
        click.echo(json.dumps(metrics, indent=2, default=str))
    click.echo(f"run directory: {run_dir}")


@cli.command()
@click.option("--config", "config_file", type=click.Path(), default=None, help="YAML file of configuration keys")
@click.option("--resume", type=click.Path(), default=None,
              help="continue the run in this directory from its checkpoints/last.ckpt (its config.yaml is used)")
@_config_options
def distill(config_file, resume, task, **kwargs):
    """Train (for pretrained/rgb_teacher, just evaluate) one configuration of a task and write its run directory."""
    _run_command(task, config_file, resume, kwargs)


@cli.command()
@click.option("--config", "config_file", type=click.Path(), default=None, help="YAML file of configuration keys")
@click.option("--resume", type=click.Path(), default=None, help="continue the run in this directory")
@_config_options
def detect(config_file, resume, task, **kwargs):
    """``distill --task detection``: TA-ISP + RetinaNet/FCOS on a COCO folder's simulated RAW, COCO AP."""
    _run_command(task or "detection", config_file, resume, kwargs)


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.option("--data", type=click.Path(), default=None,
              help="score this folder (all of it, unless --eval-split test) instead of the checkpoint's test split")
@click.option("--eval-split", type=click.Choice(["test", "all"]), default=None)
@click.option("--sigma", type=float, default=None, help="override the checkpoint's noise sigma")
@click.option("--max-photos", type=int, default=None)
@click.option("--eval-batch-size", type=int, default=None)
@click.option("--confidence-threshold", type=float, default=None)
@click.option("--accelerator", default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="any other data setting of the checkpoint's task (e.g. noise=shot-read, exposure_ratio=8)")
@click.option("--progress/--no-progress", default=False, show_default=True)
def evaluate(checkpoint, data, eval_split, accelerator, threads, settings, progress, **overrides):
    """Evaluate a trained CHECKPOINT with the settings it carries (RAW simulation, split), unless told otherwise."""
    import torch

    from rawvision.runner import evaluate_checkpoint, results_table

    if threads:
        torch.set_num_threads(threads)
    extra = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        extra[key] = value  # typed by the checkpoint's task in evaluate_checkpoint
    metrics, used = evaluate_checkpoint(checkpoint, data=data, eval_split=eval_split, accelerator=accelerator,
                                        progress=progress, raw_settings=extra,
                                        **{k: v for k, v in overrides.items() if v is not None})
    click.echo("settings used: " + ", ".join(f"{k}={v}" for k, v in used.items()), err=True)
    n_photos = metrics.get("test_photos", metrics.get("test_frames"))
    n_patches = metrics.get("n_patches")
    if n_patches is not None:
        click.echo(f"scored {n_patches} patches of {n_photos} photos/frames ({used.get('eval_split')} split)", err=True)
    elif metrics.get("task") == "segmentation":
        click.echo(f"scored {metrics.get('n_frames')} full frames ({used.get('eval_split')} split)", err=True)
    click.echo(results_table([metrics]))
    click.echo(json.dumps(metrics, indent=2, default=str))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("name")
@click.pass_context
def bench(ctx, name):
    """Run benchmark NAME (table1, table2, table4, sweep, noise_sweep, overhead, raw_quality, raw_throughput,
    ta_isp_compute, ta_isp_detection) with its own options: ``rawvision bench NAME --help``."""
    import importlib
    import pkgutil

    import rawvision.bench as pkg

    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    if name not in names:
        raise ConfigError(f"unknown benchmark {name!r}: expected one of {', '.join(names)}")
    rc = importlib.import_module(f"rawvision.bench.{name}").main(list(ctx.args))
    ctx.exit(int(rc or 0))


@cli.command()
@click.option("--data", type=click.Path(), default=None,
              help="photo folder (default: the sample photos of scikit-image, scikit-learn and matplotlib)")
@click.option("--steps", type=int, default=200, show_default=True, help="training steps per trained method")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--patch-size", type=int, default=96, show_default=True, help="crop side in pixels (even)")
@click.option("--lr", type=float, default=5e-4, show_default=True, help="peak learning rate (cosine schedule)")
@click.option("--out", type=click.Path(), default="runs/demo", show_default=True)
@click.option("--sigma", type=float, default=0.1, show_default=True)
@click.option("--pattern", default="RGGB", show_default=True)
@click.option("--overwrite/--no-overwrite", default=True, show_default=True, help="replace an earlier demo's runs")
def demo(data, steps, batch_size, patch_size, lr, out, sigma, pattern, overwrite):
    """Photos -> simulated RAW -> methods (a)-(d) on a short schedule -> the table, printed and saved.

    Default photos: the colour photographs that ship in scikit-image's, scikit-learn's and matplotlib's wheels; the
    four natural scenes of :data:`~rawvision.data.samples.DEMO_TEST_PHOTOS` are the test set (108 crops of 96x96),
    the other seven train (:func:`~rawvision.data.samples.demo_photo_split`).
    """
    import math
    import time

    from rawvision._atomic import write_atomic
    from rawvision.data.samples import DEMO_TEST_PHOTOS, demo_photo_split
    from rawvision.runner import results_table, run
    from rawvision.tasks.classification import PhotoPatchDataModule

    if data:
        source, test_data, where = data, None, data
    else:
        train_files, test_files = demo_photo_split()
        source, test_data = [str(p) for p in train_files], [str(p) for p in test_files]
        where = f"the sample photos of scikit-image, scikit-learn and matplotlib (test: {', '.join(DEMO_TEST_PHOTOS)})"
    cfg = config_class("classification")(
        data=source, test_data=test_data, labels="auto" if data else None, sigma=sigma, pattern=pattern,
        patch_size=patch_size, batch_size=batch_size, max_steps=steps, epochs=1000, train_draw="random_crops",
        lr=lr, lr_schedule="cosine", alpha=0.0, temperature=4.0, beta=1.0,  # the KD recipe of the sweep (README)
        trainable_fraction=0.25, mixing="mixup",  # 7 photos: the first quarter only (paper Table V), mixed views
        eval_batch_size=64, progress=True, output_dir=out, overwrite=overwrite,
    )
    dm = PhotoPatchDataModule(**cfg.kwargs_for(PhotoPatchDataModule))  # checks pattern and sigma before any work
    dm.setup("fit")
    s = dm.summary()
    click.echo(
        f"data: {where}: {s['train_photos']} train photos, {s['test_photos']} test photos ({s['test_patches']} "
        f"test crops of {patch_size}x{patch_size}); RAW: {pattern} mosaic + Gaussian noise sigma {sigma}\n"
        f"schedule: SHORT DEMO SCHEDULE, {steps} steps of batch {batch_size} random crops per trained method "
        f"(the paper trains 4 epochs of ImageNet), first quarter of the layers trainable, mixup; "
        f"teacher: EfficientNet-Lite0 (ImageNet weights)"
    )
    rows, t0 = [], time.perf_counter()
    for method in ("rgb_teacher", "pretrained", "hard_labels", "kd", "isp_distillation"):
        metrics, _ = run(cfg.replace(method=method, run_name=method), datamodule=dm)
        rows.append(metrics)
        click.echo(f"  {method}: done ({time.perf_counter() - t0:.0f} s)")
    table = results_table(rows)
    n = max(1, s["test_patches"])
    lines = []
    for m in rows[1:]:
        p = (m.get("agree_top1") or 0.0) / 100
        lines.append(f"  {m['method']}: top-1 agreement {round(p * n)}/{n} = {100 * p:.1f} % "
                     f"+- {100 * math.sqrt(p * (1 - p) / n):.1f} (binomial standard error)")
    note = (
        f"\nDemo, short schedule ({steps} steps x batch {batch_size} per trained method, {time.perf_counter() - t0:.0f}"
        f" s), {where}; agreement = top-1/top-5 agreement with the teacher on the clean RGB crop.\n"
        + "\n".join(lines) +
        f"\nCrops of one photo are not independent, so the binomial error understates the spread; the benchmark in "
        f"the README gives the figures.\n"
    )
    write_atomic(Path(out) / "results.md", table + note)
    click.echo(table + note + f"saved: {Path(out) / 'results.md'}")


@cli.command()
@click.argument("src", type=click.Path())
@click.argument("out", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["dng", "npy"]), default="dng", show_default=True,
              help="RAW file format: 16-bit CFA DNG, or float32 .npy + .json metadata")
@click.option("--pattern", default="RGGB", show_default=True, help="Bayer pattern: RGGB, BGGR, GRBG or GBRG")
@click.option("--unprocess/--mosaic", default=True, show_default=True,
              help="Brooks et al. unprocessing (random camera) or a plain mosaic of the sRGB values")
@click.option("--noise", type=click.Choice(["none", "gaussian", "shot-read"]), default="shot-read", show_default=True)
@click.option("--sigma", type=float, default=0.1, show_default=True, help="Gaussian noise std (fraction of white)")
@click.option("--exposure-ratio", type=float, default=1.0, show_default=True,
              help="k > 1: a short exposure (signal / k, noise at the higher gain, quantised, brightened by k)")
@click.option("--black-level", type=int, default=256, show_default=True)
@click.option("--white-level", type=int, default=16383, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-photos", type=int, default=None)
def simulate(src, out, fmt, pattern, unprocess, noise, sigma, exposure_ratio, black_level, white_level, seed,
             max_photos):
    """Simulate RAW from the RGB photos in SRC and write a RAW/RGB pair folder OUT (NAME.dng|npy + NAME.png)."""
    from rawvision.data.simulate_pairs import SimulationOptions, write_pair_folder

    opts = SimulationOptions(pattern, unprocess, noise, sigma, exposure_ratio, black_level, white_level, seed).check()
    written = write_pair_folder(src, out, opts, fmt, max_photos,
                                progress=lambda i, n, f: click.echo(f"[{i}/{n}] {f}", err=True))
    click.echo(f"{len(written)} RAW/RGB pairs written to {out}")


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--out", type=click.Path(), default=None,
              help="output .png (8 bit) or .tif (16 bit) [default: FILE's stem + .png beside it]")
@click.option("--demosaic", "demosaic_method", type=click.Choice(["bilinear", "malvar"]), default="malvar",
              show_default=True)
@click.option("--tone-curve/--no-tone-curve", default=True, show_default=True)
@click.option("--exposure", type=float, default=1.0, show_default=True,
              help="digital gain before white balance (LibRaw brightens automatically; we do not)")
def isp(file, out, demosaic_method, tone_curve, exposure):
    """Render a RAW FILE to sRGB with rawvision's classical ISP (white balance, demosaic, CCM, gamma, tone)."""
    from rawvision.raw.isp import render_file

    out = Path(out) if out else Path(file).with_suffix(".png")
    render_file(file, out, demosaic_method=demosaic_method, tone_curve=tone_curve, exposure=exposure)
    click.echo(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        cli.main(args=argv, prog_name="rawvision", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
