"""Experiment configuration: one dataclass, read from YAML and overridden from the command line."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["DistillConfig", "load_config", "ConfigError"]


class ConfigError(ValueError):
    """A configuration file or value is invalid. The message is one line."""


@dataclass
class DistillConfig:
    """Everything one distillation run needs. Field names are the YAML keys and the CLI options."""

    # data
    data: str = "../shared/data/photos"
    labels: str | None = "auto"
    max_photos: int | None = None
    patch_size: int = 256
    test_fraction: float = 0.2
    split_seed: int = 0
    train_draw: str = "patches"  # or "random_crops"
    # RAW simulation (paper Sec. IV-A)
    pattern: str = "RGGB"
    sigma: float = 0.1
    clip: bool = False
    # models and method
    method: str = "isp_distillation"
    teacher: str = "efficientnet_lite0"
    teacher_weights: str = "DEFAULT"
    # loss (paper Eq. 4, 7)
    alpha: float = 0.9
    temperature: float = 4.0
    beta: float = 1.0
    # optimisation
    epochs: int = 4
    max_steps: int = -1
    batch_size: int = 32
    eval_batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    trainable_fraction: float = 1.0
    front_end: str = "none"  # or "ta-isp": a learned ISP before the student (issue 11)
    ta_isp_modules: str = "glc,hsa,rgfm"  # TA-ISP ablation: any of glc, hsa, rgfm, or "none"
    freeze_model: bool = False  # train only the front end
    front_end_lr: float | None = None  # default: lr
    seed: int = 0
    # evaluation
    confidence_threshold: float = 0.8
    # hardware
    accelerator: str = "auto"
    devices: str = "auto"
    precision: str = "32-true"
    channels_last: bool = True
    num_workers: int = 0
    # output
    output_dir: str = "runs"
    run_name: str | None = None
    progress: bool = True
    notes: list[str] = field(default_factory=list)

    def replace(self, **changes) -> "DistillConfig":
        """A copy with ``changes`` applied (None values are ignored). Raises ConfigError for an unknown key."""
        names = {f.name for f in dataclasses.fields(self)}
        bad = sorted(k for k in changes if k not in names)
        if bad:
            raise ConfigError(f"unknown configuration key(s) {', '.join(bad)}: expected some of {', '.join(sorted(names))}")
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def parse_value(cls, key: str, text: str):
        """``text`` (e.g. from a command line ``key=value``) as the type of field ``key``: bool from
        true/false/1/0/yes/no, int, float, str; "none" gives None for optional fields.

        Raises:
            ConfigError: an unknown key or a value that is not of the field's type (one line).
        """
        import typing

        hints = typing.get_type_hints(cls)
        if key not in hints:
            raise ConfigError(f"unknown configuration key {key}: expected one of {', '.join(sorted(hints))}")
        hint = hints[key]
        args = typing.get_args(hint)
        base = next((t for t in args if t is not type(None)), hint) if args else hint
        if type(None) in args and str(text).lower() == "none":
            return None
        try:
            if base is bool:
                low = str(text).lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                return low in ("true", "1", "yes")
            return base(text) if base in (int, float, str) else text
        except ValueError:
            raise ConfigError(f"configuration key {key}: {text!r} is not a {getattr(base, '__name__', base)}") from None


def load_config(path: str | Path | None, **overrides) -> DistillConfig:
    """Read a YAML file of :class:`DistillConfig` keys (if given), then apply non-None ``overrides``.

    Raises:
        ConfigError: a missing or malformed file, or an unknown key.
    """
    cfg = DistillConfig()
    if path is not None:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except OSError as e:
            raise ConfigError(f"config file {p}: cannot read it ({e.strerror or e})") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {p}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p}: expected a mapping of keys to values, got {type(data).__name__}")
        try:
            cfg = cfg.replace(**data)
        except ConfigError as e:
            raise ConfigError(f"config file {p}: {e}") from None
    return cfg.replace(**overrides)
