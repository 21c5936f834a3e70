"""Lightning's training-step overhead against a bare PyTorch loop doing the same work, measured in one run.

Usage::

    rawvision bench overhead --config configs/table1_lite0.yaml --steps 12 --rounds 3 --out runs/overhead.json
    python -m rawvision.bench.overhead ...          # the same

Any setting of the classification task: ``--set KEY=VALUE ...`` (e.g. ``batch_size=16 front_end=ta-isp``).

Both loops train ``isp_distillation`` (or ``--set method=...``) from the same datamodule, on the same device,
with the same optimiser (the module's own ``configure_optimizers``, constant learning rate): batches from the
datamodule's training loader (epoch by epoch, as ``max_steps`` does), moved to the device, the RAW simulated by
the datamodule's ``simulate_train`` with the generator seeded by ``(seed, step, rank)`` (what the datamodule's
``on_after_batch_transfer`` does in the Trainer), teacher forward without grad, student forward and backward,
AdamW step. Both are timed the same way, by Lightning's throughput utility
(:class:`lightning.fabric.utilities.throughput.Throughput`; in the Trainer through the
:class:`~lightning.pytorch.callbacks.ThroughputMonitor` callback): the clock is read at the end of every step
(after ``torch.cuda.synchronize`` on a GPU) and img/s is taken over a window from the end of the last warm-up step
to the end of the last step, so data loading and the RAW simulation of the timed steps are inside it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import rawvision  # noqa: F401  (torchvision compatibility first)
import lightning as L
import torch
from lightning.fabric.utilities.throughput import Throughput
from lightning.pytorch.callbacks import ThroughputMonitor
from lightning.pytorch.loggers import Logger

from rawvision._atomic import write_atomic
from rawvision.bench._report import add_config_options, task_config
from rawvision.config import ConfigError
from rawvision.data.sampling import seeded_generator
from rawvision.runner import build_module_only
from rawvision.tasks.classification import PhotoPatchDataModule

__all__ = ["measure_overhead", "main"]

_RATE = "device/samples_per_sec"  # one device (the global key is logged only for world size > 1)
_SAMPLES_PER_SEC = f"train/{_RATE}"


def _batch_size(batch) -> int:
    return int(batch["raw"].shape[0]) if isinstance(batch, dict) else len(batch[0])


def _device(cfg) -> torch.device:
    """The device Lightning's ``accelerator`` setting picks (one device): the bare loop runs on the same one."""
    acc = str(cfg.accelerator).lower()
    if acc in ("gpu", "cuda") or (acc == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", 0)
    if acc == "mps" or (acc == "auto" and torch.backends.mps.is_available()):
        return torch.device("mps")
    return torch.device("cpu")


def _autocast(cfg, device: torch.device):
    """The bare loop's counterpart of Lightning's ``precision`` (float32 or bf16 autocast)."""
    p = str(cfg.precision)
    if p in ("32-true", "32"):
        return torch.autocast(device.type, enabled=False)
    if p == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise ConfigError(f"the overhead benchmark compares loops in precision 32-true or bf16-mixed, not {p!r}")


def _module(cfg):
    return build_module_only(cfg.replace(lr_schedule="constant"))  # no scheduler: the same optimiser step in both


def _window(steps: int) -> int:
    return steps + 1  # the clock at the end of the last warm-up step and at the end of each timed step


def _bare_loop(cfg, dm: PhotoPatchDataModule, steps: int, warmup: int) -> float:
    """The same work without Lightning (see the module docstring). Returns img/s over the timed steps."""
    device = _device(cfg)
    module = _module(cfg)
    module.set_cfa_statistics(*dm.cfa_statistics())
    module.to(device).train()
    opt = module.configure_optimizers()
    meter = Throughput(window_size=_window(steps))
    loader = dm.train_dataloader()
    step, images, t0 = 0, 0, time.perf_counter()
    epoch = 0
    while step < warmup + steps:  # epochs back to back, as the Trainer's max_steps does
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
            batch = dm.simulate_train(batch, seeded_generator(dm.seed, step, 0, device=device))
            with _autocast(cfg, device):
                loss = module.compute_loss(batch)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            step += 1
            images += _batch_size(batch)
            meter.update(time=time.perf_counter() - t0, batches=step, samples=images)
            if step == warmup + steps:
                break
        epoch += 1
    return float(meter.compute()[_RATE])


class _Last(Logger):
    """A logger that keeps the last value of each metric in memory (what ThroughputMonitor logs)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, float] = {}

    @property
    def name(self) -> str:
        return "memory"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        return None

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        self.last.update(metrics)


def _lightning_loop(cfg, dm: PhotoPatchDataModule, steps: int, warmup: int) -> float:
    """``Trainer.fit`` for ``warmup + steps`` steps; img/s by ThroughputMonitor over the same window."""
    module = _module(cfg)
    logger = _Last()
    monitor = ThroughputMonitor(batch_size_fn=_batch_size, window_size=_window(steps))
    trainer = L.Trainer(
        max_steps=warmup + steps, accelerator=cfg.accelerator, devices=1, precision=cfg.precision, logger=logger,
        log_every_n_steps=1, enable_checkpointing=False, enable_progress_bar=cfg.progress, enable_model_summary=False,
        limit_val_batches=0, num_sanity_val_steps=0, callbacks=[monitor],
    )
    trainer.fit(module, datamodule=dm)
    if _SAMPLES_PER_SEC not in logger.last:
        raise RuntimeError(f"ThroughputMonitor logged no {_SAMPLES_PER_SEC} (fewer than {steps + warmup} steps?)")
    return float(logger.last[_SAMPLES_PER_SEC])


def measure_overhead(cfg, dm: PhotoPatchDataModule, steps: int = 12, warmup: int = 2, rounds: int = 2) -> dict:
    """Run the bare and the Lightning loop ``rounds`` times each, alternating which goes first; return img/s of
    each and the overhead in percent.

    The overhead is ``(bare img/s) / (Lightning img/s) - 1`` on the medians of the rounds; both loops draw
    ``steps`` batches of ``cfg.batch_size`` after ``warmup`` (at least 1) untimed ones, from the same datamodule.
    """
    if steps < 1 or warmup < 1 or rounds < 1:
        raise ValueError(f"steps, warmup and rounds must be >= 1, got {steps}, {warmup}, {rounds}")
    _autocast(cfg, _device(cfg))  # an unsupported precision fails before any work
    dm.setup("fit")
    bare, lit = [], []
    for r in range(rounds):  # alternate which loop goes first, so neither always runs on a warmer process
        order = [("bare", _bare_loop), ("lightning", _lightning_loop)]
        for name, loop in order if r % 2 == 0 else order[::-1]:
            L.seed_everything(cfg.seed, verbose=False)
            (bare if name == "bare" else lit).append(loop(cfg, dm, steps, warmup))
    b, li = sorted(bare)[len(bare) // 2], sorted(lit)[len(lit) // 2]
    return {
        "bare_img_per_s": [round(x, 2) for x in bare],
        "lightning_img_per_s": [round(x, 2) for x in lit],
        "overhead_percent": round(100 * (b / li - 1), 2),
        "steps": steps,
        "warmup": warmup,
        "batch_size": cfg.batch_size,
        "device": str(_device(cfg)),
        "precision": cfg.precision,
        "timing": "lightning Throughput window: end of the last warm-up step to the end of the last step",
    }


def main(argv: list[str] | None = None) -> int:
    """Print and save (``--out``, JSON) the measurement."""
    ap = argparse.ArgumentParser(prog="rawvision bench overhead", description=__doc__.split("\n\n")[0])
    add_config_options(ap, "configs/table1_lite0.yaml")
    ap.add_argument("--steps", type=int, default=12, help="timed steps per loop and round")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (>= 1)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="runs/overhead.json")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 1 or args.rounds < 1:
        ap.error("--steps, --warmup and --rounds must be >= 1")
    try:
        cfg = task_config("classification", args.config, args.settings,
                          defaults={"method": "isp_distillation"}, progress=False)
    except ConfigError as e:
        ap.error(str(e))
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    dm = PhotoPatchDataModule(**cfg.kwargs_for(PhotoPatchDataModule))
    res = measure_overhead(cfg, dm, steps=args.steps, warmup=args.warmup, rounds=args.rounds)
    res["torch_threads"] = torch.get_num_threads()
    write_atomic(Path(args.out), json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
