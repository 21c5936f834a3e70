"""The benchmark's reporting (not the benchmark itself): means over seeds, spread only for rates."""

import pytest

from rawvision.bench.table1 import aggregate
from rawvision.distill.run import results_table


def test_mean_and_spread_over_seeds():
    runs = [
        {"row": "kd", "method": "kd", "gt_top1": 60.0, "agree_top1": 70.0, "n_patches": 356},
        {"row": "kd", "method": "kd", "gt_top1": 62.0, "agree_top1": 72.0, "n_patches": 356},
        {"row": "pretrained", "method": "pretrained", "gt_top1": 40.0, "n_patches": 356},
    ]
    rows, spread = aggregate(runs)
    assert [r["method"] for r in rows] == ["kd", "pretrained"]
    assert rows[0]["gt_top1"] == 61.0 and rows[0]["seeds"] == 2
    assert spread[("kd", "gt_top1")] == pytest.approx(1.41421, rel=1e-4)
    assert ("kd", "n_patches") not in spread and ("pretrained", "gt_top1") not in spread
    table = results_table(rows, spread)
    assert "| 61.00 ± 1.41 |" in table and "| 356 |" in table and "(c) ISP Distillation" in table
