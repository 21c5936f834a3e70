"""A small ISP Distillation run on real photos: the loss falls and the student beats the pretrained teacher on RAW."""

import lightning as L
import torch

from rawvision.config import DistillConfig
from rawvision.distill import ISPDistillation
from rawvision.distill.run import build_datamodule, run_method


def _fixed_batch_loss(module, dm):
    batch = next(iter(torch.utils.data.DataLoader(dm.train_patches, batch_size=16)))
    batch = dm.simulate(batch, training=False)
    module.eval()
    with torch.no_grad():
        return float(module.compute_loss(batch)["loss"])


def test_distillation_on_real_photos(shared_photos, tmp_path):
    cfg = DistillConfig(
        data=str(shared_photos), max_photos=48, test_fraction=0.25, split_seed=0, batch_size=8, eval_batch_size=16,
        max_steps=16, epochs=100, lr=1e-4, lr_schedule="constant", progress=False, output_dir=str(tmp_path),
    )
    dm = build_datamodule(cfg)
    dm.setup("fit")
    assert dm.summary()["test_patches"] >= 10

    baseline, _ = run_method(cfg.replace(method="pretrained"), datamodule=dm, run_dir=tmp_path / "a")

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
        epochs=10, method="kd", progress=False, output_dir=str(tmp_path),
    )
    metrics, run_dir = run_method(cfg, run_dir=tmp_path / "run")
    for f in ("config.yaml", "metrics.json", "results.md", "checkpoints/last.ckpt"):
        assert (run_dir / f).is_file(), f
    assert metrics["train_steps"] == 2 and not list(run_dir.glob(".*.tmp"))
    from rawvision.distill.run import evaluate_checkpoint

    again = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt", cfg)
    for k in ("agree_top1", "agree_top5", "n_patches", "gt_top1"):
        assert again[k] == metrics[k], k
    ckpt = ISPDistillation.load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert bool(ckpt.cfa_stats_ready) and float(ckpt.student.preprocess.std.min()) > 0.05
