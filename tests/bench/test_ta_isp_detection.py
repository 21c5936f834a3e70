import json

import pytest
import yaml

from rawvision.bench.ta_isp_detection import BENCH_DEFAULTS, main, parse_args, parse_row, results_table, row_config
from rawvision.bench.ta_isp_detection import row_label


def test_parse_row():
    assert parse_row("low:none") == ("low", ())
    assert parse_row("normal:glc+hsa+rgfm") == ("normal", ("glc", "hsa", "rgfm"))
    assert parse_row("rgb:none") == ("rgb", ())
    for bad in ("dark:none", "low", "low:glc+isp"):
        with pytest.raises(ValueError, match="bad row"):
            parse_row(bad)
    assert row_label("low", ("glc", "hsa")) == "RAW, low light (1/8 exposure): TA-ISP (GLC + HSA)"


def test_table_prints_percent_and_dashes_for_undefined():
    run = {"label": "x", "front_end_params": 3297, "AP": 0.1234, "AP50": 0.5, "AP75": float("nan"), "APm": None,
           "APl": 0.0, "AR100": 1.0, "train_steps": 3, "train_img_per_s": 2.5}
    row = results_table([run]).splitlines()[2]
    assert row == "| x | 3,297 | 12.3 | 50.0 | – | – | 0.0 | 100.0 | 3 | 2.5 |"


def test_one_detection_config_from_defaults_file_shortcuts_and_set(tmp_path):
    f = tmp_path / "det.yaml"
    f.write_text("warmup_steps: 5\nlr: 1.0e-3\n")
    args, cfg, rows = parse_args(["--config", str(f), "--data", "set", "--size", "96", "--max-steps", "0",
                                  "--ta-isp-weight-range", "2", "4", "--lr", "5e-4", "--rows", "rgb:none",
                                  "normal:glc", "--set", "flip=false", "max_val_images=3", "lr=6e-4",
                                  "--out", str(tmp_path / "o")])
    assert cfg.task == "detection" and rows == [("rgb", ()), ("normal", ("glc",))]
    assert (cfg.root, cfg.min_size, cfg.max_size, cfg.max_steps) == ("set", 96, 96, -1)
    assert cfg.warmup_steps == 5 and cfg.lr == 6e-4  # the file over the bench's default; --set over --lr
    assert cfg.fpn_channels == BENCH_DEFAULTS["fpn_channels"] and cfg.photos is None
    assert cfg.ta_isp_weight_range == [2.0, 4.0] and cfg.flip is False and cfg.max_val_images == 3
    assert cfg.overwrite and cfg.output_dir == str(tmp_path / "o" / "runs")
    rgb = row_config(cfg, "rgb", ())
    assert (rgb.input, rgb.low_light, rgb.front_end, rgb.run_name) == ("rgb", False, "none", "rgb-none")
    low = row_config(cfg, "low", ("glc", "hsa"))
    assert (low.input, low.low_light, low.front_end, low.ta_isp_modules) == ("raw", True, "ta-isp", "glc,hsa")
    for bad in (["--rows", "dim:none"], ["--set", "nope=1"], ["--set", "flip=maybe"], ["--detector", "yolo"]):
        with pytest.raises(SystemExit) as e:
            parse_args(bad)
        assert e.value.code == 2


def test_bench_runs_one_row(tmp_path, lite0, tiny_coco):
    root = tiny_coco(tmp_path / "set", n_train=2, n_val=2)
    out = tmp_path / "out"
    argv = ["--data", str(root), "--rows", "low:glc", "--max-steps", "1", "--batch-size", "2", "--size", "64",
            "--out", str(out), "--set", "fpn_channels=16", "ta_isp_weight_range=2,4", "flip=false"]
    assert main(argv) == 0
    rep = json.loads((out / "results.json").read_text())
    (run,) = rep["runs"]
    assert run["row"] == "low:glc" and run["train_steps"] == 1 and run["front_end_params"] == 643
    assert run["task"] == "detection" and "AP" in run
    assert "TA-ISP (GLC)" in (out / "results.md").read_text()
    hp = yaml.safe_load((out / "runs" / "low-glc" / "logs" / "hparams.yaml").read_text())
    assert list(hp["ta_isp_weight_range"]) == [2.0, 4.0] and hp["fpn_channels"] == 16
    cfg = yaml.safe_load((out / "runs" / "low-glc" / "config.yaml").read_text())
    assert (cfg["low_light"], cfg["flip"], cfg["front_end"], cfg["ta_isp_modules"]) == (True, False, "ta-isp", "glc")
    assert main(argv) == 0  # again: the row's run directory is replaced, not refused
