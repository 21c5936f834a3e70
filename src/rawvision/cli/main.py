"""The ``rawvision`` command line: ``distill``, ``evaluate``, ``demo``, ``simulate``, ``isp`` and ``detect``.

Every option of ``distill`` is a :class:`~rawvision.config.DistillConfig` key; ``--config FILE`` reads a YAML file
of them first, and options given on the command line win. Bad input ends with one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import typing
from pathlib import Path

import click

import rawvision  # noqa: F401  (torchvision compatibility before lightning/timm)
from rawvision.config import ConfigError, DistillConfig, load_config

__all__ = ["cli", "main"]

_FIELD_HELP = {
    "data": "folder of RGB photos (JPEG/PNG, any size)",
    "labels": "label CSV (file name -> ImageNet index), 'auto' (DATA/labels.csv or WNID folders) or 'none'",
    "method": "rgb_teacher | pretrained | hard_labels | kd | isp_distillation | gt_labels",
    "teacher": "efficientnet_lite0/1/2 or a torchvision classifier name",
    "teacher_weights": "DEFAULT, a torchvision weights enum name, or a state-dict file",
    "train_draw": "patches (fixed grid) or random_crops (even offsets, flips)",
    "sigma": "Gaussian noise std, fraction of the white level",
    "pattern": "Bayer pattern: RGGB, BGGR, GRBG or GBRG",
    "trainable_fraction": "fine-tune only this first fraction of the student's layers",
    "front_end": "none (bilinear demosaic + per-CFA normalisation) or ta-isp (a learned ~3 K-parameter ISP)",
    "ta_isp_modules": "TA-ISP modules kept: comma-separated glc, hsa, rgfm, or none (ablation)",
    "freeze_model": "train only the front end, keep the downstream model frozen",
    "front_end_lr": "learning rate of the front end (default: lr)",
}


def _config_options(func):
    """Add one ``--key`` option per DistillConfig field (default None: 'not given')."""
    hints = typing.get_type_hints(DistillConfig)
    for f in reversed(dataclasses.fields(DistillConfig)):
        if f.name in ("notes",):
            continue
        hint = hints[f.name]
        base = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
        name = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        help_ = f"{_FIELD_HELP.get(f.name, f.name.replace('_', ' '))} [default: {default}]"
        if base is bool:
            opt = click.option(f"{name}/--no-{f.name.replace('_', '-')}", f.name, default=None, help=help_)
        else:
            opt = click.option(name, f.name, type={int: int, float: float}.get(base, str), default=None, help=help_)
        func = opt(func)
    return func


def _overrides(kwargs: dict) -> dict:
    out = {k: v for k, v in kwargs.items() if v is not None}
    if out.get("labels") == "none":
        out["labels"] = None
    return out


class _OneLineErrors(click.Group):
    """Turn the errors that bad input raises into one ``error:`` line and exit code 2."""

    def invoke(self, ctx):
        from rawvision.data.photos import DataError
        from rawvision.models.weights import WeightsError

        try:
            return super().invoke(ctx)
        except (ConfigError, DataError, WeightsError, ValueError, FileNotFoundError) as e:
            msg = str(e).splitlines()[0] if str(e) else e.__class__.__name__
            click.echo(f"error: {msg}", err=True)
            ctx.exit(2)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rawvision.__version__, prog_name="rawvision")
@click.option("-v", "--verbose", is_flag=True, help="show Lightning's and rawvision's log messages")
def cli(verbose: bool) -> None:
    """rawvision: computer vision directly on camera RAW."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(level)
    import warnings

    if not verbose:
        warnings.filterwarnings("ignore")


@cli.command()
@click.option("--config", "config_file", type=click.Path(), default=None, help="YAML file of configuration keys")
@_config_options
def distill(config_file, **kwargs):
    """Train (or, for pretrained/rgb_teacher, just evaluate) one method and write its run directory."""
    from rawvision.distill.run import results_table, run_method

    cfg = load_config(config_file, **_overrides(kwargs))
    metrics, run_dir = run_method(cfg)
    click.echo(results_table([metrics]))
    click.echo(f"run directory: {run_dir}")


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.option("--config", "config_file", type=click.Path(), default=None, help="YAML file of configuration keys")
@_config_options
def evaluate(checkpoint, config_file, **kwargs):
    """Evaluate a trained CHECKPOINT on the test split of a photo folder (same split keys as training)."""
    from rawvision.distill.run import evaluate_checkpoint, results_table

    cfg = load_config(config_file, **_overrides(kwargs))
    metrics = evaluate_checkpoint(checkpoint, cfg)
    click.echo(results_table([metrics]))
    click.echo(json.dumps(metrics, indent=2))


@cli.command()
@click.option("--data", type=click.Path(), default=None, help="photo folder (default: scikit-image's sample photos)")
@click.option("--steps", type=int, default=60, show_default=True, help="training steps per trained method")
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--out", type=click.Path(), default="runs/demo", show_default=True)
@click.option("--sigma", type=float, default=0.1, show_default=True)
@click.option("--pattern", default="RGGB", show_default=True)
def demo(data, steps, batch_size, out, sigma, pattern):
    """Photos -> simulated RAW -> methods (a)-(d) on a short schedule -> the table, printed and saved."""
    import time

    from rawvision.data.samples import skimage_photo_files
    from rawvision.distill.run import build_datamodule, results_table, run_method, write_atomic
    from rawvision.raw.cfa import check_pattern
    from rawvision.raw.noise import check_sigma

    check_pattern(pattern)
    check_sigma(sigma)  # before any work
    source = data or [str(p) for p in skimage_photo_files()]
    cfg = DistillConfig(
        data=source, labels="auto" if data else None, sigma=sigma, pattern=pattern, batch_size=batch_size,
        max_steps=steps, epochs=1000, train_draw="random_crops", lr=1e-4, lr_schedule="constant",
        trainable_fraction=0.5,  # small batches on few photos: fine-tune the first half only (paper Table V)
        eval_batch_size=16, progress=False, output_dir=out,
    )
    dm = build_datamodule(cfg)
    dm.setup("fit")
    s = dm.summary()
    where = data or "scikit-image's sample photos"
    click.echo(
        f"data: {where}: {s['train_photos']} train photos, {s['test_photos']} test photos ({s['test_patches']} "
        f"test patches of 256x256); RAW: {pattern} mosaic + Gaussian noise sigma {sigma}\n"
        f"schedule: SHORT DEMO SCHEDULE, {steps} steps of batch {batch_size} random crops per trained method "
        f"(the paper trains 4 epochs of ImageNet), first half of the layers trainable; "
        f"teacher: EfficientNet-Lite0 (ImageNet weights)"
    )
    rows, t0 = [], time.perf_counter()
    for method in ("rgb_teacher", "pretrained", "hard_labels", "kd", "isp_distillation"):
        metrics, _ = run_method(cfg.replace(method=method), datamodule=dm, run_dir=Path(out) / method)
        rows.append(metrics)
        click.echo(f"  {method}: done ({time.perf_counter() - t0:.0f} s)")
    table = results_table(rows)
    note = (
        f"\nDemo, short schedule ({steps} steps x batch {batch_size} per trained method), {where}; "
        f"agreement = top-1/top-5 agreement with the teacher on the clean RGB patch.\n"
        f"{s['test_patches']} test patches: one patch is {100 / max(1, s['test_patches']):.1f} points, and several "
        f"of these photos (textures, microscopy, astronomy) are outside ImageNet's classes, so this table shows the "
        f"pipeline working, not a result; the benchmark in the README gives the figures.\n"
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


@cli.command()
@click.argument("data", type=click.Path())
@click.option("--photos", type=click.Path(), default=None,
              help="labelled photo folder to build the paste-object set into DATA when DATA has no train.json")
@click.option("--detector", type=click.Choice(["retinanet", "fcos"]), default="retinanet", show_default=True)
@click.option("--front-end", type=click.Choice(["ta-isp", "none"]), default="ta-isp", show_default=True)
@click.option("--ta-isp-modules", default="glc,hsa,rgfm", show_default=True,
              help="TA-ISP modules kept: comma-separated glc, hsa, rgfm (ablation)")
@click.option("--ta-isp-weight-range", type=(float, float), default=(1.0, 3.0), show_default=True,
              help="range of RGFM's region exponents w (the official LOD config uses 2 4)")
@click.option("--input", "input_", type=click.Choice(["raw", "rgb"]), default="raw", show_default=True,
              help="simulated RAW (demosaiced) or the sRGB images themselves")
@click.option("--low-light/--normal-light", default=False, show_default=True,
              help="simulate a 1/8 exposure, not brightened (dark frames)")
@click.option("--pattern", default="RGGB", show_default=True)
@click.option("--epochs", type=int, default=4, show_default=True)
@click.option("--max-steps", type=int, default=-1, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True)
@click.option("--front-end-lr", type=float, default=1e-3, show_default=True)
@click.option("--size", type=int, default=320, show_default=True, help="detector input size")
@click.option("--fpn-channels", type=int, default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(), default="runs/detect", show_default=True)
def detect(data, photos, detector, front_end, ta_isp_modules, ta_isp_weight_range, input_, low_light, pattern, epochs, max_steps,
           batch_size, lr, front_end_lr, size, fpn_channels, seed, out):
    """Train a RAW detector (TA-ISP + RetinaNet/FCOS on EfficientNet-Lite0) on the COCO set in DATA and report
    COCO AP on its val.json. DATA holds train.json and val.json; images are simulated to RAW on the fly."""
    import lightning as L

    from rawvision.data.detection import RawDetectionDataModule
    from rawvision.distill.detection import RawDetection, fit_detector

    L.seed_everything(seed, workers=True, verbose=False)
    dm = RawDetectionDataModule(data, photos=photos, input=input_, low_light=low_light, pattern=pattern,
                                batch_size=batch_size, seed=seed)
    dm.setup()
    model = RawDetection(dm.num_classes, detector=detector, front_end=front_end, ta_isp_modules=ta_isp_modules,
                         ta_isp_weight_range=ta_isp_weight_range, lr=lr, front_end_lr=front_end_lr, min_size=size, max_size=size, fpn_channels=fpn_channels)
    click.echo(dm.summary(), err=True)
    metrics = fit_detector(model, dm, out, epochs=epochs, max_steps=max_steps, progress=True, checkpoint=True)
    click.echo(json.dumps(metrics, indent=2))
    click.echo(f"run directory: {out}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        cli.main(args=argv, prog_name="rawvision", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
