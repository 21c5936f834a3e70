"""The recipe sweep ranks on the validation split and refuses to run without one."""

import json

import pytest

from rawvision.bench import sweep


@pytest.fixture()
def photo_dir(tmp_path, random_photos):
    return random_photos(tmp_path / "photos", 8, 70, 70, high=255)


def test_sweep_records_validation_and_test_metrics_and_ranks_on_validation(tmp_path, photo_dir, lite0):
    common = ["--config", "none", "--set", f"data={photo_dir}", "labels=none", "patch_size=64", "val_fraction=0.25",
              "test_fraction=0.25", "batch_size=2", "eval_batch_size=4", "max_steps=1", "accelerator=cpu"]
    summary = tmp_path / "s.json"
    rc = sweep.main([*common, "--rows", "kd:method=kd", "hard:method=hard_labels,lr=0.0",
                     "--out", str(tmp_path / "out"), "--summary", str(summary)])
    assert rc == 0
    rep = json.loads(summary.read_text())
    assert [r["row"] for r in rep["rows"]] == ["kd", "hard"]
    assert all(r["val_n_patches"] == 2 and r["n_patches"] == 2 for r in rep["rows"])
    assert rep["ranked"] == [r["row"] for r in sweep.ranked(rep["rows"])]


def test_sweep_needs_a_validation_split(tmp_path, photo_dir, capsys):
    rc = sweep.main(["--config", "none", "--set", f"data={photo_dir}", "--rows", "kd:method=kd",
                     "--out", str(tmp_path / "o")])
    assert rc == 2 and "val_fraction" in capsys.readouterr().out
