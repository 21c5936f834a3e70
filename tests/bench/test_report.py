"""The benchmarks' task configuration: --config FILE + shortcut options + --set KEY=VALUE, typed by the fields."""

import argparse

import pytest

from rawvision.bench._report import add_config_options, parse_settings, task_config, with_settings
from rawvision.config import ConfigError, DistillConfig, config_class


def test_precedence_defaults_file_options_settings(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("lr: 3.0e-4\nfpn_channels: 64\nepochs: 2\nphotos: null\n")
    cfg = task_config("detection", f, ["epochs=5", "flip=false", "ta_isp_weight_range=2,4", "max_val_images=none"],
                      defaults={"lr": 2e-4, "fpn_channels": 128, "warmup_steps": 20}, epochs=3, max_val_images=9,
                      batch_size=None)
    assert cfg.task == "detection"
    assert cfg.warmup_steps == 20  # the benchmark's default (the file does not set it)
    assert cfg.lr == 3e-4 and cfg.fpn_channels == 64  # the file over the benchmark's defaults
    assert cfg.epochs == 5  # --set over the shortcut option over the file
    assert cfg.flip is False and cfg.ta_isp_weight_range == [2.0, 4.0] and cfg.max_val_images is None
    assert cfg.batch_size == config_class("detection")().batch_size  # an option left None changes nothing
    assert cfg.photos is None  # null in the file is None, not the task's default


def test_every_setting_of_the_task_is_reachable():
    ap = argparse.ArgumentParser()
    add_config_options(ap, "none")
    args = ap.parse_args(["--set", "noise_seed=7", "labels=none", "--set", "ta_isp_modules=glc+hsa", "clip=yes"])
    cfg = task_config("classification", args.config, args.settings)
    assert (cfg.noise_seed, cfg.labels, cfg.ta_isp_modules, cfg.clip) == (7, None, "glc+hsa", True)
    pairs = task_config("classification-pairs", None, ["exposure_ratio=8", "source=rgb-mosaic", "bit_depth=12"])
    assert (pairs.exposure_ratio, pairs.source, pairs.bit_depth) == (8.0, "rgb-mosaic", 12)


def test_bad_settings_are_one_line_errors(tmp_path):
    for bad in (["alpha"], ["nope=1"], ["alpha=high"], ["task=detection"], ["=3"]):
        with pytest.raises(ConfigError) as e:
            parse_settings(DistillConfig, bad)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="cannot read"):
        task_config("classification", tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown configuration key"):
        with_settings(DistillConfig(), detector="fcos")
