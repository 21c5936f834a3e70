"""Run one method end to end: data, model, Lightning Trainer, evaluation, and a run directory on disk.

A run directory holds ``config.yaml`` (the resolved configuration), ``checkpoints/`` (Lightning checkpoints,
``last.ckpt`` included, for trained methods), ``metrics.json`` and ``results.md``. Files are written to a
temporary name and renamed, so a stopped run never leaves a half-written file.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import yaml

from rawvision.config import DistillConfig
from rawvision._atomic import write_atomic
from rawvision.data.datamodule import PhotoPatchDataModule
from rawvision.distill.module import METHODS, TRAINED_METHODS, ISPDistillation, check_method

__all__ = ["Throughput", "build_datamodule", "build_module", "run_method", "evaluate_checkpoint", "write_atomic", "results_table"]

_ROW_KEYS = (
    ("gt_top1", "GT top-1"),
    ("gt_top5", "GT top-5"),
    ("agree_top1", "agree top-1"),
    ("agree_top5", "agree top-5"),
    ("conf_agree_top1", "conf. agree top-1"),
    ("conf_agree_top5", "conf. agree top-5"),
    ("n_patches", "patches"),
    ("n_confident", "confident"),
    ("train_img_per_s", "train img/s"),
)


def build_datamodule(cfg: DistillConfig) -> PhotoPatchDataModule:
    """The datamodule a config describes (not yet set up)."""
    return PhotoPatchDataModule(
        cfg.data, labels=cfg.labels, pattern=cfg.pattern, sigma=cfg.sigma, clip=cfg.clip, patch_size=cfg.patch_size,
        test_fraction=cfg.test_fraction, split_seed=cfg.split_seed, train_draw=cfg.train_draw,
        batch_size=cfg.batch_size, eval_batch_size=cfg.eval_batch_size, num_workers=cfg.num_workers,
        max_photos=cfg.max_photos,
    )


def build_module(cfg: DistillConfig, method: str | None = None) -> ISPDistillation:
    """The LightningModule a config describes (for ``method``, default ``cfg.method``)."""
    return ISPDistillation(
        method=method or cfg.method, teacher=cfg.teacher, teacher_weights=cfg.teacher_weights, pattern=cfg.pattern,
        alpha=cfg.alpha, temperature=cfg.temperature, beta=cfg.beta, lr=cfg.lr, weight_decay=cfg.weight_decay,
        lr_schedule=cfg.lr_schedule, trainable_fraction=cfg.trainable_fraction,
        confidence_threshold=cfg.confidence_threshold, channels_last=cfg.channels_last, front_end=cfg.front_end,
        ta_isp_modules=cfg.ta_isp_modules, freeze_model=cfg.freeze_model, front_end_lr=cfg.front_end_lr,
    )


def _devices(v: str):
    return int(v) if str(v).isdigit() else v


class Throughput(L.Callback):
    """Training images per second, wall clock, over the steps after the first ``warmup`` ones.

    The span runs from the start of step ``warmup + 1`` to the end of the last step, so it covers everything the
    loop does between them: data loading, the RAW simulation, forward, backward, optimizer step and logging.
    """

    def __init__(self, warmup: int = 1) -> None:
        self.warmup, self.t0, self.t1, self.images = warmup, None, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.t0 is None:
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.t0 is not None:  # global_step already counts this step
            self.images += batch["raw"].shape[0] if isinstance(batch, dict) else len(batch[0])  # (images, targets)
            self.t1 = time.perf_counter()

    @property
    def img_per_s(self) -> float | None:
        return round(self.images / (self.t1 - self.t0), 2) if self.images else None


def run_method(cfg: DistillConfig, datamodule: PhotoPatchDataModule | None = None, run_dir: str | Path | None = None):
    """Train (for trained methods) and evaluate one method; write its run directory.

    Args:
        cfg: the configuration (``cfg.method`` picks the method).
        datamodule: a set-up datamodule to reuse (the benchmark shares one across methods); built from ``cfg`` if None.
        run_dir: where to write; default ``cfg.output_dir / (cfg.run_name or "<method>-<time>")``.

    Returns:
        ``(metrics, run_dir)``: the test metrics dict (percentages and counts, plus training facts) and the path.
    """
    check_method(cfg.method)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = datamodule or build_datamodule(cfg)
    dm.setup("fit")
    module = build_module(cfg)  # bad teacher names and weights fail here, before anything is written
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = Path(run_dir or Path(cfg.output_dir) / (cfg.run_name or f"{cfg.method}-{stamp}"))
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    speed = Throughput()
    common = dict(
        accelerator=cfg.accelerator, devices=_devices(cfg.devices), precision=cfg.precision,
        default_root_dir=str(run_dir), enable_progress_bar=cfg.progress, enable_model_summary=False,
        logger=L.pytorch.loggers.CSVLogger(str(run_dir), name="logs", version=""),
    )
    t0 = time.perf_counter()
    facts: dict = {"method": cfg.method, "description": METHODS[cfg.method]}
    if cfg.method in TRAINED_METHODS:
        ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=str(run_dir / "checkpoints"), save_last=True)
        trainer = L.Trainer(
            max_epochs=cfg.epochs, max_steps=cfg.max_steps, callbacks=[ckpt, speed], limit_val_batches=0,
            num_sanity_val_steps=0, log_every_n_steps=10, **common,
        )
        trainer.fit(module, datamodule=dm)
        facts.update(train_steps=trainer.global_step, train_images=trainer.global_step * cfg.batch_size,
                     train_img_per_s=speed.img_per_s, train_seconds=round(time.perf_counter() - t0, 1))
    else:
        trainer = L.Trainer(enable_checkpointing=False, **common)
    trainer.test(module, datamodule=dm, verbose=False)
    metrics = {**facts, **module.last_eval, **dm.summary()}
    write_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    write_atomic(run_dir / "results.md", results_table([metrics]))
    return metrics, run_dir


def evaluate_checkpoint(checkpoint: str | Path, cfg: DistillConfig) -> dict:
    """Evaluate a trained checkpoint on the test split ``cfg`` describes (its per-CFA statistics come from the
    checkpoint). Raises ValueError (one line) for a missing or unreadable checkpoint."""
    p = Path(checkpoint)
    if not p.is_file():
        raise ValueError(f"checkpoint {p} not found")
    try:
        module = ISPDistillation.load_from_checkpoint(str(p), map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report one line
        raise ValueError(f"checkpoint {p} is not a rawvision checkpoint ({e.__class__.__name__}: {e})") from None
    module.test_metrics.threshold = cfg.confidence_threshold
    dm = build_datamodule(cfg.replace(pattern=module.hparams.pattern))
    trainer = L.Trainer(
        accelerator=cfg.accelerator, devices=_devices(cfg.devices), logger=False, enable_checkpointing=False,
        enable_progress_bar=cfg.progress, enable_model_summary=False,
    )
    trainer.test(module, datamodule=dm, verbose=False)
    return {"checkpoint": str(p), "method": module.method, **module.last_eval, **dm.summary()}


def results_table(rows: list[dict], spread: dict | None = None) -> str:
    """A Markdown table of metrics dicts (one row each; ``spread`` maps ``(method, key)`` to a std to print)."""
    head = "| method | " + " | ".join(h for _, h in _ROW_KEYS) + " |"
    sep = "|---|" + "---:|" * len(_ROW_KEYS)
    lines = [head, sep]
    for r in rows:
        cells = []
        for k, _ in _ROW_KEYS:
            v = r.get(k)
            if k.startswith("n_") and isinstance(v, float) and v.is_integer():
                v = int(v)  # a count (averaged over seeds with equal test sets)
            s = "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
            if spread and v is not None and (r["method"], k) in spread:
                s += f" ± {spread[(r['method'], k)]:.2f}"
            cells.append(s)
        lines.append(f"| {METHODS.get(r['method'], r['method'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
