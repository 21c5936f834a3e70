"""The segmentation task end to end on a tiny generic folder: the teacher's training, methods (a)-(e), evaluation
of a checkpoint, the CLI's one-line errors; and the classification job unchanged by the shared code."""

import pytest
import torch
from click.testing import CliRunner

from rawvision.cli.main import cli
from rawvision.config import config_class
from rawvision.models.weights import sha256_of
from rawvision.runner import evaluate_checkpoint, run

SEG = config_class("segmentation")


def _cfg(root, out, **kw):
    base = dict(data=str(root), classes=str(root / "classes.txt"), crop_size=[32, 48], batch_size=2,
                eval_batch_size=2, max_steps=2, epochs=1, output_dir=str(out), overwrite=True, progress=False,
                channels_last=False, lr=1e-3)
    return SEG(**{**base, **kw})


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_segmentation_module):
    root = tiny_segmentation_module
    out = tmp_path_factory.mktemp("runs")
    m, run_dir = run(_cfg(root, out, method="train_teacher", run_name="teacher", max_steps=4, epochs=2))
    return root, out, m, run_dir


@pytest.fixture(scope="module")
def tiny_segmentation_module(tmp_path_factory, tiny_segmentation):
    return tiny_segmentation(tmp_path_factory.mktemp("seg") / "data")


def test_teacher_training_writes_weights_with_sha(teacher):
    root, out, m, run_dir = teacher
    assert m["method"] == "train_teacher" and m["train_steps"] == 4
    assert (run_dir / "teacher.pth").is_file()
    assert m["teacher_sha256"] == sha256_of(run_dir / "teacher.pth")
    assert 0 <= m["gt_miou"] <= 100 and m["n_frames"] == 2 and "miou_agree" not in m
    assert {"iou_sky", "iou_road", "iou_car"} <= set(m)


@pytest.mark.parametrize("method", ["pretrained", "hard_labels", "kd", "isp_distillation", "gt_labels", "rgb_teacher"])
def test_methods_run_and_report_agreement(teacher, method):
    root, out, tm, _ = teacher
    m, run_dir = run(_cfg(root, out, method=method, run_name=method, teacher_weights=tm["teacher_file"],
                          teacher_sha256=tm["teacher_sha256"], alpha=0.5))
    assert 0 <= m["miou_agree"] <= 100 and 0 <= m["pixel_agree"] <= 100 and m["n_pixels"] == 2 * 64 * 96
    if method == "rgb_teacher":
        assert m["miou_agree"] == 100.0 and m["pixel_agree"] == 100.0
    if method in ("hard_labels", "isp_distillation"):
        ev, _ = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt")
        for k in ("miou_agree", "pixel_agree", "gt_miou"):
            assert ev[k] == pytest.approx(m[k], abs=1e-6)  # the checkpoint carries teacher, student, CFA stats
        r = CliRunner().invoke(cli, ["evaluate", str(run_dir / "checkpoints" / "last.ckpt")])
        assert r.exit_code == 0, r.output
        assert "mIoU agree" in r.output and f"| {m['miou_agree']:.2f} |" in r.output


def test_students_start_as_the_teacher(teacher):
    from rawvision.runner import build

    root, out, tm, _ = teacher
    dm, module = build(_cfg(root, out, method="isp_distillation", teacher_weights=tm["teacher_file"]))
    for (k, a), (_, b) in zip(module.teacher.net.state_dict().items(), module.student.net.state_dict().items()):
        assert torch.equal(a, b), k


def test_distillation_needs_a_trained_teacher(teacher):
    root, out, _, _ = teacher
    with pytest.raises(ValueError, match="needs a trained teacher"):
        run(_cfg(root, out, method="kd", run_name="x"))


def test_class_count_mismatch(teacher, tmp_path):
    from rawvision.models.segmenters import build_segmenter, save_segmenter
    from rawvision.models.weights import WeightsError

    root, out, _, _ = teacher
    save_segmenter(build_segmenter("lraspp_efficientnet_lite0", None, num_classes=5), tmp_path / "t5.pth")
    with pytest.raises(WeightsError, match="trained for 5 classes, the data has 3"):
        run(_cfg(root, out, method="kd", run_name="x", teacher_weights=str(tmp_path / "t5.pth")))


def test_cli_segmentation_and_one_line_errors(teacher, tmp_path):
    root, out, tm, _ = teacher
    r = CliRunner().invoke(cli, ["distill", "--task", "segmentation", "--method", "hard_labels", "--data", str(root),
                                 "--classes", str(root / "classes.txt"), "--teacher-weights", tm["teacher_file"],
                                 "--crop-size", "32,48", "--batch-size", "2", "--max-steps", "1",
                                 "--output-dir", str(tmp_path), "--run-name", "cli", "--no-progress",
                                 "--no-channels-last"])
    assert r.exit_code == 0, r.output
    assert "mIoU agree" in r.output and "(b) teacher's hard labels per pixel" in r.output
    from PIL import Image
    import numpy as np
    bad = tmp_path / "bad"
    import shutil
    shutil.copytree(root, bad)
    Image.fromarray(np.zeros((64, 96, 3), dtype=np.uint8)).save(bad / "val" / "labels" / "f1.png")
    r = CliRunner().invoke(cli, ["distill", "--task", "segmentation", "--method", "pretrained", "--data", str(bad),
                                 "--classes", str(bad / "classes.txt"), "--teacher-weights", tm["teacher_file"],
                                 "--output-dir", str(tmp_path), "--run-name", "bad"])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("error: label map") and "f1.png has 3 channels" in lines[-1]
    r = CliRunner().invoke(cli, ["distill", "--task", "segmentation", "--method", "kd", "--data", str(root),
                                 "--output-dir", str(tmp_path), "--run-name", "nokd"])
    assert r.exit_code == 2 and "needs a trained teacher" in r.output


def test_datamodule_batches_and_fixed_eval_raw(teacher):
    from rawvision.tasks.segmentation import SegmentationDataModule

    root, _, _, _ = teacher
    kw = dict(data=str(root), classes=str(root / "classes.txt"), crop_size=[32, 48], batch_size=2)
    a, b = SegmentationDataModule(**kw), SegmentationDataModule(**kw)
    a.setup(), b.setup()
    assert torch.equal(a.eval_set[0]["raw"], b.eval_set[0]["raw"])  # evaluation RAW drawn once, seeded
    batch = next(iter(a.train_dataloader()))
    batch = a.simulate_train(batch, torch.Generator().manual_seed(0))
    assert batch["rgb"].shape == (2, 3, 32, 48) and batch["raw"].shape == (2, 1, 32, 48)
    assert batch["label"].shape == (2, 32, 48) and batch["label"].dtype == torch.int64
    short = SegmentationDataModule(**kw, unprocess=True, noise="shot-read", exposure_ratio=8.0)
    short.setup()
    assert not torch.equal(short.eval_set[0]["raw"], a.eval_set[0]["raw"])
    mean, std = a.cfa_statistics()
    assert mean.shape == (3,) and bool((std > 0).all())


def test_classification_figures_unchanged(tmp_path, random_photos):
    """A short fixed classification run gives the figures and weights it gave before the segmentation task shared
    the loss code (recorded with commit 1c41eb8 on this machine: 1 thread, same seeds)."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "p"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = config_class("classification")(
            data=str(photos), labels=None, max_photos=6, patch_size=64, batch_size=4, eval_batch_size=8,
            max_steps=2, epochs=1, test_fraction=0.5, method="isp_distillation", alpha=0.5, beta=1.0,
            output_dir=str(tmp_path / "runs"), run_name="r", overwrite=True, progress=False, channels_last=False,
            seed=0)
        m, run_dir = run(cfg)
    finally:
        torch.set_num_threads(threads)
    assert (m["agree_top1"], m["agree_top5"], m["n_patches"]) == (50.0, 91.67, 12)
    sd = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    floats = [v.double() for k, v in sd.items() if k.startswith("student.") and v.is_floating_point()]
    assert sum(float(v.sum()) for v in floats) == pytest.approx(425679.23478183296, rel=1e-7)
    assert sum(float(v.abs().sum()) for v in floats) == pytest.approx(742008.3642134483, rel=1e-7)


def test_evaluate_on_another_folder_and_class_mismatch(teacher, tmp_path, tiny_segmentation):
    """``evaluate CKPT --data FOLDER`` scores the whole folder (images/ + labels/), whatever max_frames the run
    had; a folder of another class list is refused in one line."""
    import shutil

    from rawvision.config import ConfigError

    root, out, tm, _ = teacher
    m, run_dir = run(_cfg(root, out, method="hard_labels", run_name="mf", teacher_weights=tm["teacher_file"],
                          max_frames=1))
    assert m["n_frames"] == 1
    folder = tmp_path / "scene"
    shutil.copytree(root / "val", folder)
    ev, used = evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt", data=str(folder))
    assert ev["n_frames"] == 2 and used["eval_split"] == "all"
    other = tiny_segmentation(tmp_path / "other", classes=("a", "b", "c", "d"), void=4)
    with pytest.raises(ConfigError, match="trained for 3 classes .* the data has 4 classes"):
        evaluate_checkpoint(run_dir / "checkpoints" / "last.ckpt", data=str(other / "val"),
                            raw_settings={"classes": str(other / "classes.txt")})
