"""Run any task end to end: build its datamodule and module from one configuration, train with Lightning's Trainer
(DDP, checkpoints, resume are Lightning's), evaluate, and write the run directory on rank 0.

A run directory holds ``config.yaml`` (the resolved configuration), ``checkpoints/`` (``last.ckpt`` and, with
``checkpoint_every_n_steps``, step checkpoints), ``logs/metrics.csv``, ``metrics.json`` and ``results.md``. Its name
is fixed before launch (rank 0 passes it to the other ranks in ``RAWVISION_RUN_DIR``); only rank 0 writes. While a
run is in progress the directory holds ``INCOMPLETE``; a run stopped by an error or Ctrl-C keeps that marker, so
its directory is never mistaken for a finished one. An existing run directory is refused unless ``overwrite``
(then it is replaced whole): two runs never mix in one directory.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import torch
import yaml

from rawvision._atomic import write_atomic
from rawvision.config import TASKS, ConfigError, config_class, load_config

__all__ = ["RunInterrupted", "build", "run", "evaluate_checkpoint", "results_table", "resolve_run_dir",
           "read_checkpoint"]

RUN_DIR_ENV = "RAWVISION_RUN_DIR"
INCOMPLETE = "INCOMPLETE"


class RunInterrupted(RuntimeError):
    """The run was stopped by Ctrl-C; its directory is marked incomplete."""


def _is_launched_child() -> bool:
    """True in a process of global rank > 0: started by Lightning's DDP launcher (``LOCAL_RANK`` / ``NODE_RANK``),
    torchrun (``RANK``) or SLURM (``SLURM_PROCID``). Such a process never writes the run directory."""
    local, node = int(os.environ.get("LOCAL_RANK", "0")), int(os.environ.get("NODE_RANK", "0"))
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    return local > 0 or node > 0 or rank > 0


def _devices(v):
    return int(v) if str(v).isdigit() else v


def check_accelerator(cfg) -> None:
    """One line instead of Lightning's traceback when the requested accelerator is not there."""
    acc = str(cfg.accelerator).lower()
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"accelerator {cfg.accelerator!r} requested, but torch sees no CUDA GPU on this machine "
                          f"(torch {torch.__version__}); use --accelerator cpu or auto")
    if acc == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("accelerator 'mps' requested, but it is not available on this machine")


def build(cfg, method: str | None = None):
    """The datamodule (set up) and module ``cfg`` describes. The module is built first, so names and weights
    (teacher, detector, front end) are checked before any data is read; then the data is prepared (rank 0 only)
    and set up, so a bad folder fails before a run directory is written. Modules that take arguments from the
    data (``from_data``, e.g. the detector's class count) are built after the setup."""
    spec = TASKS[cfg.task]
    module_cls, dm_cls = spec.classes()
    dm = dm_cls(**cfg.kwargs_for(dm_cls))
    kwargs = cfg.kwargs_for(module_cls)
    if method is not None:
        kwargs["method"] = method
    module = None if spec.from_data else module_cls(**kwargs)
    if module is None and hasattr(module_cls, "check_settings"):
        module_cls.check_settings(**kwargs)  # names checked before the data is read
    if not _is_launched_child():
        dm.prepare_data()
    dm.setup("fit")
    if module is None:
        module = build_module_only(cfg, dm, method)
    return dm, module


def resolve_run_dir(cfg) -> Path:
    """The run directory: ``output_dir / run_name`` (every rank computes the same), or, without a run name,
    ``<method or task>-<UTC time>`` chosen by rank 0 and passed to the ranks Lightning launches in
    ``RAWVISION_RUN_DIR``. Under an external launcher (torchrun, SLURM) a run name is required.

    Raises:
        ConfigError: a rank > 0 without a run name and without the name from rank 0.
    """
    if cfg.run_name:
        return Path(cfg.output_dir) / cfg.run_name
    if _is_launched_child():
        if os.environ.get(RUN_DIR_ENV) is None:
            raise ConfigError("several processes started outside Lightning's launcher (torchrun, SLURM): give a "
                              "--run-name so that every rank writes to the same run directory")
        return Path(os.environ[RUN_DIR_ENV])
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = cfg.run_name or f"{getattr(cfg, 'method', cfg.task)}-{stamp}"
    return Path(cfg.output_dir) / name


def _claim_run_dir(run_dir: Path, overwrite: bool, resume: bool) -> None:
    if resume:
        if not (run_dir / "checkpoints" / "last.ckpt").is_file():
            raise ConfigError(f"cannot resume: {run_dir / 'checkpoints' / 'last.ckpt'} does not exist")
    elif run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise ConfigError(f"run directory {run_dir} exists: choose another --run-name, or --overwrite to "
                              f"replace it whole")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())


def _trainer(cfg, run_dir: Path, train: bool, progress: bool | None = None, logger: bool = True,
             callbacks: list | None = None) -> L.Trainer:
    common = dict(accelerator=cfg.accelerator, devices=_devices(cfg.devices), strategy=cfg.strategy,
                  precision=cfg.precision, default_root_dir=str(run_dir), enable_model_summary=False,
                  enable_progress_bar=cfg.progress if progress is None else progress)
    if not train:
        return L.Trainer(logger=False, enable_checkpointing=False, **common)
    from lightning.pytorch.callbacks import ModelCheckpoint, ThroughputMonitor

    callbacks = [_FinalCheckpoint(run_dir / "checkpoints" / "last.ckpt"),
                 ModelCheckpoint(dirpath=str(run_dir / "checkpoints"), save_last=True, save_top_k=0,
                                 every_n_train_steps=cfg.checkpoint_every_n_steps),
                 ThroughputMonitor(batch_size_fn=_batch_size, window_size=_THROUGHPUT_WINDOW), *(callbacks or [])]
    return L.Trainer(max_epochs=cfg.epochs, max_steps=cfg.max_steps, callbacks=callbacks, limit_val_batches=0,
                     num_sanity_val_steps=0, log_every_n_steps=cfg.log_every_n_steps,
                     logger=L.pytorch.loggers.CSVLogger(str(run_dir), name="logs", version="") if logger else False,
                     **common)


class _FinalCheckpoint(L.Callback):
    """``last.ckpt`` is the final model: saved when training ends (ModelCheckpoint's step interval alone would leave
    the last interval's model there)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_end(self, trainer, pl_module) -> None:
        trainer.save_checkpoint(str(self.path))


_THROUGHPUT_WINDOW = 10  # steps over which ThroughputMonitor averages the training speed


def _batch_size(batch) -> int:
    return batch["raw"].shape[0] if isinstance(batch, dict) else len(batch[0])


def _img_per_s(trainer: L.Trainer) -> float | None:
    """The last training speed Lightning's ThroughputMonitor logged (images/s over the last
    :data:`_THROUGHPUT_WINDOW` steps, data loading and the RAW simulation included; summed over the ranks), read
    from the CSV log; None for a run shorter than the window or without a logger."""
    logger = trainer.logger
    if not trainer.is_global_zero or logger is None:  # loggers write on rank 0 only
        return None
    import csv

    path = Path(logger.log_dir) / "metrics.csv"
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for key in ("train/samples_per_sec", "train/device/samples_per_sec"):  # all ranks (logged with > 1 device) first
        vals = [r[key] for r in rows if r.get(key)]
        if vals:
            return round(float(vals[-1]), 2)
    return None


def run(cfg, resume: str | Path | None = None, datamodule=None, callbacks: list | None = None):
    """Train (for trained methods) and evaluate one configuration; write its run directory (rank 0).

    Args:
        cfg: a configuration of :func:`rawvision.config.config_class` (``cfg.task`` picks the task).
        resume: a run directory (or its ``last.ckpt``) to continue; its ``config.yaml`` is the configuration.
        datamodule: a datamodule to reuse (benchmarks that share one across methods); built from ``cfg`` if None.
        callbacks: extra Lightning callbacks for the training Trainer.

    Returns:
        ``(metrics, run_dir)``.

    Raises:
        ConfigError: an existing run directory (without ``overwrite``), an accelerator that is not there.
        RunInterrupted: Ctrl-C (the directory keeps its ``INCOMPLETE`` marker).
    """
    if resume is not None:
        resume = Path(resume)
        run_dir = resume.parent.parent if resume.suffix == ".ckpt" else resume
        cfg = load_config(run_dir / "config.yaml")
    else:
        run_dir = resolve_run_dir(cfg)
    check_accelerator(cfg)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm, module = build(cfg) if datamodule is None else (datamodule, build_module_only(cfg, datamodule))
    child = _is_launched_child()
    if not child:
        _claim_run_dir(run_dir, cfg.overwrite, resume is not None)
        write_atomic(run_dir / INCOMPLETE, "this run has not finished (interrupted, failed or still running)\n")
        write_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    trained = getattr(module, "method", "trained") not in ("pretrained", "rgb_teacher", *getattr(module, "EVAL_ONLY", ()))
    t0 = time.perf_counter()
    facts: dict = {"task": cfg.task}
    if hasattr(module, "method"):
        from rawvision.tasks.classification.module import METHODS

        names = getattr(type(module), "METHODS", None) or METHODS  # each task's own method names
        facts.update(method=module.method, description=names.get(module.method, module.method))
    trainer = _trainer(cfg, run_dir, train=trained, callbacks=callbacks)
    try:
        if trained:
            ckpt = str(run_dir / "checkpoints" / "last.ckpt") if resume is not None else None
            trainer.fit(module, datamodule=dm, ckpt_path=ckpt)
            images = trainer.global_step * _train_batch(cfg) * trainer.world_size  # all ranks
            facts.update(train_steps=trainer.global_step, train_images=images,
                         train_img_per_s=_img_per_s(trainer), train_seconds=round(time.perf_counter() - t0, 1))
        if trained and callable(getattr(dm, "has_val", None)) and dm.has_val():  # choose settings on this split
            trainer.limit_val_batches = 1.0
            trainer.validate(module, datamodule=dm, verbose=False)
            facts.update({f"val_{k}": v for k, v in module.last_val.items()})
        # evaluation: on the same processes (the metrics are synchronised over the ranks, no sample counted twice)
        trainer.test(module, datamodule=dm, verbose=False)
    except SystemExit as e:  # Lightning's answer to Ctrl-C: sys.exit(1) after a graceful shutdown
        if trainer.interrupted:
            raise RunInterrupted(f"run interrupted: {run_dir} is marked incomplete ({INCOMPLETE})") from None
        raise e
    metrics = {**facts, **(module.last_eval or {}), **_summary(dm)}
    if trainer.is_global_zero:
        write_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2, default=str))
        write_atomic(run_dir / "results.md", results_table([metrics]))
        (run_dir / INCOMPLETE).unlink(missing_ok=True)
    return metrics, run_dir


def build_module_only(cfg, datamodule=None, method: str | None = None):
    """The module ``cfg`` describes (``method`` overriding its method), with its ``from_data`` arguments from a
    set-up ``datamodule``."""
    spec = TASKS[cfg.task]
    module_cls, _ = spec.classes()
    kwargs = cfg.kwargs_for(module_cls)
    if method is not None:
        kwargs["method"] = method
    if datamodule is not None:
        kwargs.update({arg: getattr(datamodule, attr) for arg, attr in spec.from_data})
    return module_cls(**kwargs)


def _train_batch(cfg) -> int:
    return int(getattr(cfg, "batch_size", 0) or 0)


def _summary(dm) -> dict:
    s = dm.summary() if hasattr(dm, "summary") else {}
    return s if isinstance(s, dict) else {"data": s}


def read_checkpoint(path: str | Path) -> dict:
    """A rawvision checkpoint's contents (tensors loaded with ``weights_only=True``: no code is run).

    Raises:
        ConfigError: a missing file, or one that is not a rawvision checkpoint (one line; never the advice to
            load an untrusted file with ``weights_only=False``).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"checkpoint {p} not found")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - one line, whatever torch says
        raise ConfigError(f"{p} is not a rawvision checkpoint (not a PyTorch checkpoint that loads without "
                          f"running code)") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ConfigError(f"{p} is not a rawvision checkpoint (no Lightning state_dict and hyper_parameters)")
    return ckpt


def _task_of(ckpt: dict) -> str:
    """The task whose datamodule wrote ``ckpt`` (a RawDataModule stores its class name in the checkpoint)."""
    for name, spec in TASKS.items():
        if spec.datamodule.rpartition(":")[2] in ckpt:
            return name
    raise ConfigError("the checkpoint names no rawvision datamodule: it was not written by a rawvision run")


def evaluate_checkpoint(checkpoint: str | Path, data: str | None = None, eval_split: str | None = None,
                        progress: bool = False, accelerator: str = "auto", raw_settings: dict | None = None,
                        **overrides) -> tuple[dict, dict]:
    """Evaluate a trained checkpoint. The checkpoint carries everything evaluation needs (the model with its
    per-CFA statistics, and the datamodule's settings: RAW simulation, patch size, split); ``overrides`` (e.g.
    ``sigma``) and ``data`` replace them. On another ``data`` folder the whole folder is scored
    (``eval_split="all"``, every photo, with that folder's labels) unless ``eval_split`` says otherwise.
    ``raw_settings`` are ``KEY: text`` overrides typed by the task's configuration (the CLI's ``--set``).

    Returns:
        ``(metrics, used)``: the metrics, and the settings the evaluation used.

    Raises:
        ConfigError: a missing or non-rawvision checkpoint, an unknown setting.
    """
    ckpt = read_checkpoint(checkpoint)
    task = _task_of(ckpt)
    module_cls, dm_cls = TASKS[task].classes()
    dm_hp = dict(ckpt.get("datamodule_hyper_parameters") or {})
    if data is not None:  # another folder: all of it, with its own labels, not the training run's subset
        key = "root" if "root" in dm_hp else "data"
        dm_hp[key] = data
        dm_hp["eval_split"] = eval_split or "all"
        for k, v in (("max_photos", None), ("max_frames", None), ("labels", "auto"), ("extra_data", None),
                     ("test_data", None)):
            if k in dm_hp:
                dm_hp[k] = v
    elif eval_split is not None:
        dm_hp["eval_split"] = eval_split
    fields = config_class(task).__dataclass_fields__
    cfg = config_class(task)().set(**{k: v for k, v in dm_hp.items() if k in fields})  # None values too
    typed = {k: type(cfg).parse_value(k, v) for k, v in (raw_settings or {}).items()}
    cfg = cfg.set(**overrides, **typed, accelerator=accelerator, progress=progress)
    check_accelerator(cfg)
    module = module_cls.load_from_checkpoint(str(checkpoint), map_location="cpu", weights_only=False)
    if hasattr(module, "test_metrics") and "confidence_threshold" in overrides:
        module.test_metrics.threshold = float(overrides["confidence_threshold"])
    dm = dm_cls(**cfg.kwargs_for(dm_cls))
    if getattr(module.hparams, "pattern", dm.pattern) != dm.pattern:
        raise ConfigError(f"the model reads {module.hparams.pattern} RAW, the data is {dm.pattern}")
    if callable(getattr(module, "check_data", None)):
        module.check_data(dm)  # e.g. the segmentation classes and void index
    _trainer(cfg, Path("."), train=False, progress=progress).test(module, datamodule=dm, verbose=False)
    used = {k: getattr(cfg, k) for k in cfg.kwargs_for(dm_cls)}
    metrics = {"checkpoint": str(checkpoint), "task": task, "method": getattr(module, "method", task),
               **(module.last_eval or {}), **_summary(dm)}
    return metrics, used


_ROW_KEYS = (
    ("gt_top1", "GT top-1"), ("gt_top5", "GT top-5"), ("agree_top1", "agree top-1"), ("agree_top5", "agree top-5"),
    ("conf_agree_top1", "conf. agree top-1"), ("conf_agree_top5", "conf. agree top-5"), ("n_patches", "patches"),
    ("n_confident", "confident"), ("train_img_per_s", "train img/s"),
)


_SEG_ROW_KEYS = (
    ("miou_agree", "mIoU agree"), ("pixel_agree", "pixel agree"), ("gt_miou", "GT mIoU"),
    ("gt_pixel_acc", "GT pixel acc"), ("n_frames", "frames"), ("train_img_per_s", "train img/s"),
)


_ISP_ROW_KEYS = (
    ("psnr", "PSNR (dB)"), ("ms_ssim", "MS-SSIM"), ("params", "params"), ("n_patches", "patches"),
    ("train_img_per_s", "train img/s"),
)


def results_table(rows: list[dict], spread: dict | None = None) -> str:
    """A Markdown table of metrics dicts, one row each (classification's columns, or segmentation's when the rows
    are of that task); ``spread`` maps ``(method, key)`` to a std."""
    from rawvision.tasks.classification.module import METHODS
    from rawvision.tasks.segmentation.module import SEGMENTATION_METHODS

    from rawvision.tasks.isp.module import ISP_METHODS

    task = rows[0].get("task") if rows else None
    keys, names = {"segmentation": (_SEG_ROW_KEYS, SEGMENTATION_METHODS),
                   "isp": (_ISP_ROW_KEYS, ISP_METHODS)}.get(task, (_ROW_KEYS, METHODS))
    head = "| method | " + " | ".join(h for _, h in keys) + " |"
    lines = [head, "|---|" + "---:|" * len(keys)]
    for r in rows:
        cells = []
        for k, _ in keys:
            v = r.get(k)
            if k.startswith("n_") and isinstance(v, float) and v.is_integer():
                v = int(v)  # a count (averaged over seeds with equal test sets)
            s = "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
            if spread and v is not None and (r.get("method"), k) in spread:
                s += f" ± {spread[(r['method'], k)]:.2f}"
            cells.append(s)
        name = r.get("method", r.get("task", "?"))
        lines.append(f"| {names.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
