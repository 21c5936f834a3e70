"""The Table IV benchmark on a tiny folder: every row, the summary JSON and the Fig. 2 PNG."""

import json

import pytest
from PIL import Image

from rawvision.bench import table4
from rawvision.config import config_class
from rawvision.runner import run


def test_table4_rows_summary_and_figure(tmp_path, tiny_segmentation):
    root = tiny_segmentation(tmp_path / "seg", n_train=2, n_val=2)
    common = [f"data={root}", f"classes={root / 'classes.txt'}", "crop_size=32,48", "batch_size=2",
              "eval_batch_size=2", "channels_last=false", "max_steps=1", "epochs=1"]
    cfg = config_class("segmentation")(data=str(root), classes=str(root / "classes.txt"), crop_size=[32, 48],
                                       batch_size=2, max_steps=1, epochs=1, method="train_teacher",
                                       output_dir=str(tmp_path / "t"), run_name="t", progress=False,
                                       channels_last=False)
    tm, _ = run(cfg)
    rc = table4.main(["--config", "none", "--teacher-weights", tm["teacher_file"], "--out", str(tmp_path / "b"),
                      "--figure", str(tmp_path / "fig.png"), "--figure-frames", "0", "1",
                      "--summary", str(tmp_path / "s.json"), "--set", *common])
    assert rc == 0
    s = json.loads((tmp_path / "s.json").read_text())
    rows = {r["method"] for r in s["table"]}
    assert rows == {"rgb/rgb_teacher"} | {f"{st}/{m}" for st in ("raw", "short") for m in
                                          ("pretrained", "hard_labels", "kd", "isp_distillation", "gt_labels")}
    assert s["paper_table4"]["raw"]["isp_distillation"] == 94.98 and s["finished"]
    assert all("run_dir" not in r for r in s["runs"])
    with Image.open(tmp_path / "fig.png") as im:
        assert im.size[0] > 400 and im.size[1] > 200
    text = table4.summarize(tmp_path / "s.json")
    assert "raw: mIoU agreement (d) - (b) =" in text and "paper Table IV: 92.47 -> 94.98" in text
    assert "| per-class GT IoU (%) | sky | road | car |" in text
    md = (tmp_path / "b" / "results.md").read_text()
    assert "raw: (d) ISP Distillation (Eq. 8 + features)" in md


def test_table4_needs_a_teacher(tmp_path, capsys):
    with pytest.raises(SystemExit):
        table4.main(["--config", "none", "--out", str(tmp_path)])
    assert "give --teacher-weights" in capsys.readouterr().err


def test_table4_include_adds_seeds(tmp_path, capsys):
    """--include: an earlier summary's runs are aggregated with new ones (mean and std over seeds)."""
    earlier = {"runs": [{"row": "raw/kd", "seed": 0, "setting": "raw", "miou_agree": 80.0, "gt_miou": 50.0}],
               "command": "x", "started": "t"}
    rows, spread = table4.aggregate(earlier["runs"] + [{"row": "raw/kd", "seed": 1, "setting": "raw",
                                                        "miou_agree": 84.0, "gt_miou": 52.0}])
    assert rows[0]["miou_agree"] == 82.0 and rows[0]["seeds"] == 2
    assert spread[("raw/kd", "miou_agree")] == pytest.approx(2.83, abs=0.01)
    (tmp_path / "e.json").write_text("not json")
    with pytest.raises(SystemExit):
        table4.main(["--config", "none", "--teacher-weights", str(tmp_path / "e.json"), "--include",
                     str(tmp_path / "e.json"), "--out", str(tmp_path / "o")])
    assert "not a table4 summary JSON" in capsys.readouterr().err
