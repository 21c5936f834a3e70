"""The Table I benchmark's reporting and planning (nothing trains): means over seeds, spread only for rates; which
rows share a seed's datamodule; variants typed by the configuration's fields."""

import pytest

from rawvision.bench._report import with_settings
from rawvision.bench.table1 import aggregate, datamodule_for, parse_variant
from rawvision.config import ConfigError, DistillConfig
from rawvision.runner import results_table
from rawvision.tasks.classification import PhotoPatchDataModule


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


def _base():
    cfg = DistillConfig(data="photos-that-are-never-read", seed=3, split_seed=3)
    return cfg, PhotoPatchDataModule(**cfg.kwargs_for(PhotoPatchDataModule))  # nothing is read before setup


def test_a_variant_that_changes_a_datamodule_setting_gets_its_own_datamodule():
    base, dm = _base()
    for change in ({"batch_size": 8}, {"patch_size": 128}, {"test_fraction": 0.5}, {"split_seed": 4},
                   {"labels": None}, {"max_photos": 10}, {"num_workers": 2}, {"sigma": 0.05},
                   {"train_draw": "random_crops"}, {"noise_seed": 7}, {"pattern": "BGGR"}):
        (key, value), = change.items()
        own = datamodule_for(with_settings(base, **change), base, dm)  # with_settings keeps None values
        assert own is not dm, change
        assert isinstance(own, PhotoPatchDataModule) and not own._ready
        got = own.simulation.sigma if key == "sigma" else own.pattern if key == "pattern" else getattr(own, key)
        assert got == value, change


def test_a_variant_that_changes_only_module_settings_reuses_the_seeds_datamodule():
    base, dm = _base()
    for change in ({"alpha": 0.5}, {"method": "kd"}, {"front_end": "ta-isp", "ta_isp_weight_range": [2.0, 4.0]},
                   {"trainable_fraction": 0.5, "lr": 3e-4}, {"run_name": "x", "epochs": 9}):
        assert datamodule_for(base.replace(**change), base, dm) is dm, change
    assert datamodule_for(base, base, None) is not None  # no datamodule yet: one is built


def test_variants_are_typed_by_the_configuration():
    name, method, changes = parse_variant(
        "isp_distillation+w24:front_end=ta-isp,ta_isp_weight_range=2,4,clip=false,max_photos=none,noise_seed=7",
        DistillConfig)
    assert (name, method) == ("isp_distillation+w24", "isp_distillation")
    assert changes == {"front_end": "ta-isp", "ta_isp_weight_range": [2.0, 4.0], "clip": False, "max_photos": None,
                       "noise_seed": 7}
    assert parse_variant("kd", DistillConfig) == ("kd", "kd", {})
    for bad in ("kd:nope=1", "kd:2,alpha=1", "kd:alpha=high", ":alpha=1", "kd:task=detection"):
        with pytest.raises(ConfigError):
            parse_variant(bad, DistillConfig)
