"""A small ISP Distillation run on real photos: the loss falls and the student beats the pretrained teacher on RAW;
the run directory and the checkpoint round trip."""

import json

import lightning as L
import torch

from rawvision.config import DistillConfig
from rawvision.runner import build, evaluate_checkpoint, run
from rawvision.tasks.classification import ISPDistillation


def _fixed_batch_loss(module, dm):
    batch = next(iter(torch.utils.data.DataLoader(dm.train_set, batch_size=16)))
    batch = dm.simulate_train(batch, torch.Generator().manual_seed(0))  # the training RAW, fixed noise
    module.eval()
    with torch.no_grad():
        return float(module.compute_loss(batch)["loss"])


def test_distillation_on_real_photos(shared_photos, tmp_path):
    cfg = DistillConfig(
        data=str(shared_photos), max_photos=48, test_fraction=0.25, split_seed=0, batch_size=8, eval_batch_size=16,
        max_steps=16, epochs=100, lr=1e-4, lr_schedule="constant", progress=False, output_dir=str(tmp_path),
        method="pretrained", run_name="a",
    )
    dm, _ = build(cfg)
    assert dm.summary()["test_patches"] >= 10
    baseline, _ = run(cfg, datamodule=dm)

    L.seed_everything(0, verbose=False)
    # the paper's partial fine-tuning (Table V, first half trainable): on 38 training patches in batches of 8,
    # fine-tuning the whole network (BatchNorm statistics included) loses agreement within 16 steps
    module = ISPDistillation(method="isp_distillation", lr=1e-4, lr_schedule="constant", trainable_fraction=0.5)
    module.set_cfa_statistics(*dm.cfa_statistics())
    before = _fixed_batch_loss(module, dm)
    trainer = L.Trainer(max_steps=16, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(module, datamodule=dm)
    after = _fixed_batch_loss(module, dm)
    assert after < 0.8 * before, (before, after)

    trainer.test(module, datamodule=dm, verbose=False)
    student = module.last_eval
    assert student["n_patches"] == baseline["n_patches"]
    assert student["agree_top1"] > baseline["agree_top1"], (student, baseline)


def test_run_directory_and_checkpoint_round_trip(shared_photos, tmp_path):
    cfg = DistillConfig(
        data=str(shared_photos), max_photos=24, test_fraction=0.25, batch_size=4, eval_batch_size=8, max_steps=2,
        epochs=10, method="kd", progress=False, output_dir=str(tmp_path), run_name="run", sigma=0.05,
    )
    metrics, run_dir = run(cfg)
    for f in ("config.yaml", "metrics.json", "results.md", "checkpoints/last.ckpt", "logs/metrics.csv"):
        assert (run_dir / f).is_file(), f
    assert not (run_dir / "INCOMPLETE").exists() and not list(run_dir.glob(".*.tmp"))
    assert metrics["train_steps"] == 2
    # the checkpoint carries the RAW simulation (sigma 0.05, not the default 0.1) and the split
    again, used = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt", accelerator="cpu")
    assert used["sigma"] == 0.05 and used["max_photos"] == 24 and used["eval_split"] == "test"
    for k in ("agree_top1", "agree_top5", "n_patches", "gt_top1"):
        assert again[k] == metrics[k], k
    other, used = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt", accelerator="cpu", sigma=0.1)
    assert used["sigma"] == 0.1
    ckpt = ISPDistillation.load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert bool(ckpt.cfa_stats_ready) and float(ckpt.student.preprocess.std.min()) > 0.05
    # a whole folder is scored by default when another folder is given
    whole, used = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt", data=str(shared_photos),
                                      accelerator="cpu", max_photos=24)
    assert used["eval_split"] == "all" and whole["n_patches"] == whole["test_patches"] > metrics["n_patches"]
    assert json.loads((run_dir / "metrics.json").read_text())["n_patches"] == metrics["n_patches"]
