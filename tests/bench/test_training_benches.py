"""The training benchmarks end to end on a few small patches (one step per trained row): their runs are built
from the task configuration (``--config`` + ``--set``), trained by the runner, and reported."""

import json

import pytest
import yaml

from rawvision.bench import overhead, table1, table2
from rawvision.bench._report import task_config
from rawvision.tasks.classification import PhotoPatchDataModule


def _small(photos, n=6):
    return [f"data={photos}", f"max_photos={n}", "patch_size=64", "batch_size=4", "eval_batch_size=16",
            "max_steps=1", "test_fraction=0.34"]


def test_table1_rows_variants_and_overhead(tmp_path, shared_photos, lite0, capsys):
    out = tmp_path / "t1"
    argv = ["--config", "none", "--seeds", "1", "--methods", "pretrained", "hard_labels", "--overhead-steps", "1",
            "--variants", "hard_labels+b2:batch_size=2", "kd+a5:alpha=0.5", "--out", str(out),
            "--set", *_small(shared_photos), "noise_seed=5"]
    assert table1.main(argv) == 0
    rep = json.loads((out / "results.json").read_text())
    runs = {r["row"]: r for r in rep["runs"]}
    assert list(runs) == ["pretrained", "hard_labels", "hard_labels+b2", "kd+a5"]
    assert runs["pretrained"].get("train_steps") is None and runs["hard_labels"]["train_steps"] == 1
    assert runs["hard_labels"]["train_images"] == 4 and runs["hard_labels+b2"]["train_images"] == 2
    assert len({r["n_patches"] for r in rep["runs"]}) == 1  # the same test set for every row
    for row, r in runs.items():
        cfg = yaml.safe_load((out / "runs" / f"{row}-seed1" / "config.yaml").read_text())
        assert (cfg["noise_seed"], cfg["seed"], cfg["split_seed"], cfg["patch_size"]) == (5, 1, 1, 64), row
    assert yaml.safe_load((out / "runs" / "kd+a5-seed1" / "config.yaml").read_text())["alpha"] == 0.5
    printed = capsys.readouterr().out
    assert "hard_labels+b2: its own datamodule" in printed and "kd+a5: its own" not in printed
    o = rep["overhead"]
    assert o["steps"] == 1 and len(o["bare_img_per_s"]) == len(o["lightning_img_per_s"]) == 2
    assert all(v > 0 for v in o["bare_img_per_s"] + o["lightning_img_per_s"])
    assert "(b) trained on the teacher's hard labels" in (out / "results.md").read_text()
    # the same command again replaces the rows' run directories (the benchmark owns --out)
    assert table1.main(argv[:6] + ["--overhead-steps", "0", "--out", str(out), "--set", *_small(shared_photos)]) == 0
    assert [r["row"] for r in json.loads((out / "results.json").read_text())["runs"]] == ["pretrained"]


def test_table1_rejects_bad_input(shared_photos):
    for argv in (["--set", "alpha=high"], ["--methods", "nope"], ["--variants", "nope:alpha=1"],
                 ["--variants", "kd:unknown_key=1"], ["--config", "missing.yaml"]):
        with pytest.raises(SystemExit) as e:
            table1.main(["--config", "none", *argv] if argv[0] != "--config" else argv)
        assert e.value.code == 2


def test_overhead_times_both_loops_the_same_way(shared_photos, lite0, tmp_path):
    cfg = task_config("classification", None, _small(shared_photos, 4), progress=False)
    dm = PhotoPatchDataModule(**cfg.kwargs_for(PhotoPatchDataModule))
    res = overhead.measure_overhead(cfg, dm, steps=2, warmup=1, rounds=1)
    assert res["batch_size"] == 4 and res["steps"] == 2 and res["device"] == "cpu"
    assert res["bare_img_per_s"][0] > 0 and res["lightning_img_per_s"][0] > 0
    with pytest.raises(ValueError):
        overhead.measure_overhead(cfg, dm, steps=2, warmup=0)


def test_table2_ratios_and_methods_on_synthetic_pairs(tmp_path, shared_photos, lite0):
    frames = tmp_path / "frames"
    frames.mkdir()
    for src in sorted(shared_photos.glob("*/*.JPEG"))[:4]:  # four photos -> synthetic RAW/RGB pairs
        (frames / src.name).symlink_to(src)
    out = tmp_path / "t2"
    argv = ["--config", "none", "--seeds", "0", "--ratios", "1", "4", "--methods", "pretrained", "hard_labels",
            "--source", "rgb-mosaic", "--bit-depth", "12", "--out", str(out),
            "--set", f"data={frames}", "patch_size=64", "batch_size=4", "eval_batch_size=16",
            "max_steps=1", "test_fraction=0.5"]
    assert table2.main(argv) == 0
    rep = json.loads((out / "results.json").read_text())
    assert [(r["ratio"], r["method"]) for r in rep["runs"]] == [
        (1.0, "pretrained"), (1.0, "hard_labels"), (4.0, "pretrained"), (4.0, "hard_labels")]
    assert rep["bit_depth"] == 12 and rep["runs"][1]["train_steps"] == 1
    cfg = yaml.safe_load((out / "runs" / "k4-hard_labels-seed0" / "config.yaml").read_text())
    assert (cfg["exposure_ratio"], cfg["bit_depth"], cfg["source"]) == (4.0, 12, "rgb-mosaic")
    assert yaml.safe_load((out / "runs" / "k1-pretrained-seed0" / "config.yaml").read_text())["exposure_ratio"] is None
    assert "short exposure (k=4): (b) hard labels" in (out / "results.md").read_text()
