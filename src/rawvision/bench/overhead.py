"""Lightning's training-step overhead against a bare PyTorch loop doing the same work, measured in one run."""

from __future__ import annotations

import time

import lightning as L
import torch

from rawvision.config import DistillConfig
from rawvision.data.datamodule import PhotoPatchDataModule
from rawvision.distill.run import Throughput, build_module

__all__ = ["measure_overhead"]


def _bare_loop(cfg: DistillConfig, dm: PhotoPatchDataModule, steps: int, warmup: int) -> float:
    """The same work without Lightning: batches from the same loader, RAW simulation, teacher forward without
    grad, student forward and backward, AdamW step. Returns img/s over the steps after ``warmup``."""
    module = build_module(cfg)
    module.set_cfa_statistics(*dm.cfa_statistics())
    module.train()
    opt = torch.optim.AdamW([p for p in module.student.parameters() if p.requires_grad], lr=cfg.lr)
    images, t0 = 0, None

    def batches():  # epochs back to back, as the Trainer's max_steps does
        while True:
            yield from dm.train_dataloader()

    for i, batch in enumerate(batches()):
        if i == warmup:
            t0 = time.perf_counter()
        batch = dm.simulate(batch, training=True)
        loss = module.compute_loss(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warmup:
            images += batch["raw"].shape[0]
        if i + 1 == warmup + steps:
            break
    return images / (time.perf_counter() - t0)


def _lightning_loop(cfg: DistillConfig, dm: PhotoPatchDataModule, steps: int, warmup: int) -> float:
    module = build_module(cfg.replace(lr_schedule="constant"))
    span = Throughput(warmup)
    trainer = L.Trainer(
        max_steps=warmup + steps, accelerator=cfg.accelerator, precision=cfg.precision, logger=False,
        enable_checkpointing=False, enable_progress_bar=True, enable_model_summary=False, limit_val_batches=0,
        num_sanity_val_steps=0, callbacks=[span],
    )
    trainer.fit(module, datamodule=dm)
    return span.images / (span.t1 - span.t0)  # unrounded


def measure_overhead(cfg: DistillConfig, dm: PhotoPatchDataModule, steps: int = 12, warmup: int = 2, rounds: int = 2):
    """Run the bare and the Lightning loop ``rounds`` times each, alternating which goes first; return img/s of each
    and the overhead in percent.

    The overhead is ``(bare img/s) / (Lightning img/s) - 1`` on the medians of the rounds; both loops draw
    ``steps`` batches of ``cfg.batch_size`` after ``warmup`` untimed ones, from the same datamodule.
    """
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
        "batch_size": cfg.batch_size,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m rawvision.bench.overhead --config configs/table1_lite0.yaml``: print and save the measurement."""
    import argparse
    import json
    from pathlib import Path

    from rawvision.config import load_config
    from rawvision.distill.run import build_datamodule, write_atomic

    ap = argparse.ArgumentParser(description=measure_overhead.__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/table1_lite0.yaml")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="runs/overhead.json")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, method="isp_distillation", progress=False)
    dm = build_datamodule(cfg)
    res = measure_overhead(cfg, dm, steps=args.steps, warmup=args.warmup, rounds=args.rounds)
    res["torch_threads"] = torch.get_num_threads()
    write_atomic(Path(args.out), json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
