import json

import pytest
import yaml

from rawvision.bench.ta_isp_detection import main, parse_row, results_table, row_label


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


def test_bench_runs_one_row(tmp_path, lite0, tiny_coco):
    root = tiny_coco(tmp_path / "set", n_train=2, n_val=2)
    out = tmp_path / "out"
    assert main(["--data", str(root), "--rows", "low:glc", "--max-steps", "1", "--batch-size", "2", "--size", "64",
                 "--fpn-channels", "16", "--ta-isp-weight-range", "2", "4", "--out", str(out)]) == 0
    rep = json.loads((out / "results.json").read_text())
    (run,) = rep["runs"]
    assert run["row"] == "low:glc" and run["train_steps"] == 1 and run["front_end_params"] > 0
    assert "TA-ISP (GLC)" in (out / "results.md").read_text()
    hp = yaml.safe_load((out / "runs" / "low-glc" / "logs" / "hparams.yaml").read_text())
    assert list(hp["ta_isp_weight_range"]) == [2.0, 4.0]
    with pytest.raises(SystemExit):
        main(["--data", str(root), "--rows", "dim:none"])
