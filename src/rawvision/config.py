"""One source of truth for every setting: a task's configuration is *generated* from the signatures of its
LightningModule and LightningDataModule plus :class:`RunSettings` (the Trainer and the run directory).

Adding a hyperparameter is adding a keyword argument (with a default and a docstring line) to the class that uses
it; the YAML keys, the ``rawvision distill`` options, the benchmarks and the run directory's ``config.yaml`` all see
it. A name shared by the module and the datamodule (``pattern`` for photos) is one setting that feeds both; a module
argument the data decides (the detector's class count, the Bayer pattern of real RAW files) is taken from the set-up
datamodule instead (``TaskSpec.from_data``) and is not a setting.

Why not ``LightningCLI``: it builds the same thing from the same signatures (jsonargparse), but its errors are
multi-line tracebacks and its command shape (``fit``/``test`` subcommands, ``--model.x``) differs from the one the
README and the benchmarks use; this module keeps one flat key space and one-line errors. See the README.

Example:
    >>> cfg = config_class("classification")(alpha=0.5)
    >>> cfg.alpha, cfg.temperature, cfg.sigma, cfg.task
    (0.5, 4.0, 0.1, 'classification')
    >>> cfg.replace(sigma=0.05).sigma
    0.05
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["ConfigError", "RunSettings", "TaskSpec", "TASKS", "config_class", "load_config", "DistillConfig",
           "field_type"]


class ConfigError(ValueError):
    """A configuration file or value is invalid. The message is one line."""


@dataclass
class RunSettings:
    """What every task's run needs besides its module and datamodule: the schedule, the hardware and the run
    directory (Lightning's ``Trainer`` options of the same names)."""

    task: str = "classification"
    epochs: int = 4
    max_steps: int = -1
    seed: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"  # e.g. "ddp" for several processes (gloo on CPU, NCCL on GPUs)
    precision: str = "32-true"
    threads: int | None = None  # torch.set_num_threads; None: torch's default
    output_dir: str = "runs"
    run_name: str | None = None
    overwrite: bool = False  # replace an existing run directory whole (never mix two runs in one)
    checkpoint_every_n_steps: int | None = None  # also save last.ckpt every N training steps
    log_every_n_steps: int = 10
    progress: bool = True
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class TaskSpec:
    """A task: its LightningModule and LightningDataModule (``"module:Class"`` paths, imported on use), the module
    arguments taken from the set-up datamodule (``from_data``: argument -> datamodule attribute), and the
    arguments that are objects rather than settings (``skip``)."""

    module: str
    datamodule: str
    from_data: tuple[tuple[str, str], ...] = ()
    skip: tuple[str, ...] = ()

    def classes(self) -> tuple[type, type]:
        return _load(self.module), _load(self.datamodule)


TASKS: dict[str, TaskSpec] = {
    "classification": TaskSpec("rawvision.tasks.classification.module:ISPDistillation",
                               "rawvision.tasks.classification.data:PhotoPatchDataModule"),
    "classification-pairs": TaskSpec("rawvision.tasks.classification.module:ISPDistillation",
                                     "rawvision.tasks.classification.data:RawPairDataModule",
                                     from_data=(("pattern", "pattern"),), skip=("pairs",)),  # the files' pattern
    "detection": TaskSpec("rawvision.tasks.detection.module:RawDetection",
                          "rawvision.tasks.detection.data:RawDetectionDataModule",
                          from_data=(("num_classes", "num_classes"),), skip=("build_kwargs", "detector_kwargs")),
    "segmentation": TaskSpec("rawvision.tasks.segmentation.module:RawSegmentation",
                             "rawvision.tasks.segmentation.data:SegmentationDataModule",
                             from_data=(("num_classes", "num_classes"), ("class_names", "class_names"),
                                        ("ignore_index", "void")), skip=("build_weights",)),
    "isp": TaskSpec("rawvision.tasks.isp.module:LearnedISP", "rawvision.tasks.isp.data:IspPairDataModule"),
}


def _load(path: str):
    mod, _, name = path.partition(":")
    return getattr(importlib.import_module(mod), name)


_SIMPLE = (bool, int, float, str)


def field_type(hint):
    """``(base, optional, sequence)`` of a type hint: the scalar type (bool, int, float or str), whether None is
    allowed, and whether it is a list/tuple of that scalar. Unions take their first scalar or sequence member."""
    args = typing.get_args(hint)
    optional = type(None) in args
    members = [a for a in args if a is not type(None)] if args and typing.get_origin(hint) in (
        typing.Union, getattr(__import__("types"), "UnionType", typing.Union)) else [hint]
    for m in members:
        if m in _SIMPLE:
            return m, optional, False
    for m in members:
        if typing.get_origin(m) in (list, tuple):
            inner = [a for a in typing.get_args(m) if a is not Ellipsis]
            base = inner[0] if inner and inner[0] in _SIMPLE else str
            return base, optional, True
    return None, optional, False


def _signature_fields(cls, skip) -> dict[str, tuple]:
    hints = typing.get_type_hints(cls.__init__)
    out = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        base, optional, seq = field_type(hints.get(name, str))
        if base is None:
            continue
        default = p.default if p.default is not inspect.Parameter.empty else None
        if isinstance(default, tuple):
            default = list(default)
        hint = list[base] if seq else base
        out[name] = (hint | None if optional or default is None else hint, default, cls.__name__)
    return out


class _ConfigMethods:
    """Methods of every generated configuration dataclass."""

    def replace(self, **changes):
        """A copy with ``changes`` applied (None values are ignored). Raises ConfigError for an unknown key."""
        names = {f.name for f in dataclasses.fields(self)}
        bad = sorted(k for k in changes if k not in names)
        if bad:
            raise ConfigError(f"unknown configuration key(s) {', '.join(bad)} for task {self.task}: expected some "
                              f"of {', '.join(sorted(names))}")
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def set(self, **values):
        """A copy with ``values`` applied, None included (an explicit "none"). Raises ConfigError for an unknown key."""
        self.replace(**{k: 0 for k in values})  # checks the keys
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def kwargs_for(self, cls) -> dict:
        """The values of this configuration that are arguments of ``cls.__init__``."""
        params = inspect.signature(cls.__init__).parameters
        return {k: v for k, v in self.to_dict().items() if k in params}

    @classmethod
    def parse_value(cls, key: str, text: str):
        """``text`` (a command line ``key=value``) as the type of field ``key``: bool from true/false/1/0/yes/no,
        int, float, str, comma-separated lists; "none" gives None for optional fields.

        Raises:
            ConfigError: an unknown key or a value that is not of the field's type (one line).
        """
        hints = {f.name: f.type for f in dataclasses.fields(cls)}
        if key not in hints:
            raise ConfigError(f"unknown configuration key {key}: expected one of {', '.join(sorted(hints))}")
        base, optional, seq = field_type(hints[key])
        if optional and str(text).lower() == "none":
            return None
        if seq:
            return [_scalar(key, base, t) for t in str(text).split(",") if t != ""]
        return _scalar(key, base or str, text)


def _scalar(key, base, text):
    try:
        if base is bool:
            low = str(text).lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return low in ("true", "1", "yes")
        return base(text)
    except ValueError:
        raise ConfigError(f"configuration key {key}: {text!r} is not a {base.__name__}") from None


@functools.cache
def config_class(task: str = "classification") -> type:
    """The configuration dataclass of ``task`` (one of :data:`TASKS`): :class:`RunSettings`' fields, then the
    datamodule's and the module's ``__init__`` arguments (settings only: scalars, optional scalars and lists).

    Raises:
        ConfigError: an unknown task, or a setting both classes take with different defaults.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    spec = TASKS[task]
    module_cls, dm_cls = spec.classes()
    skip = set(spec.skip) | {a for a, _ in spec.from_data}
    merged: dict[str, tuple] = {}
    for cls in (dm_cls, module_cls):
        for name, (hint, default, owner) in _signature_fields(cls, skip).items():
            if name in merged and merged[name][1] != default:
                raise ConfigError(f"task {task}: {merged[name][2]} and {owner} both take {name!r} with different "
                                  f"defaults ({merged[name][1]!r} vs {default!r})")
            merged.setdefault(name, (hint, default, owner))
    run_hints = typing.get_type_hints(RunSettings)
    fields = []
    for f in dataclasses.fields(RunSettings):
        default = task if f.name == "task" else (merged.pop(f.name)[1] if f.name in merged else f.default)
        if f.default_factory is not dataclasses.MISSING:
            fields.append((f.name, run_hints[f.name], field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, run_hints[f.name], default))
    for name, (hint, default, _) in merged.items():
        fields.append((name, hint, field(default_factory=lambda d=default: list(d)) if isinstance(default, list)
                       else default))
    name = "".join(w.capitalize() for w in task.replace("-", "_").split("_")) + "Config"
    cls = dataclasses.make_dataclass(name, fields, bases=(_ConfigMethods,))
    cls.__module__ = __name__
    cls.__doc__ = (f"Settings of the {task!r} task: RunSettings + {dm_cls.__name__} + {module_cls.__name__} "
                   f"arguments (generated from their signatures; see their docstrings for each key).")
    return cls


#: The main job's configuration (classification by ISP Distillation).
DistillConfig = config_class("classification")


def _read_yaml(path: str | Path) -> dict:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except OSError as e:
        raise ConfigError(f"config file {p}: cannot read it ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p}: expected a mapping of keys to values, got {type(data).__name__}")
    return data


def load_config(path: str | Path | None, task: str | None = None, **overrides):
    """Read a YAML file of configuration keys (if given), then apply non-None ``overrides``.

    The task is ``task``, else the file's ``task`` key, else ``classification``.

    Raises:
        ConfigError: a missing or malformed file, an unknown task or key.
    """
    data = _read_yaml(path) if path is not None else {}
    task = task or data.get("task") or "classification"
    cfg = config_class(task)()
    try:
        cfg = cfg.set(**{k: v for k, v in data.items() if k != "task"})  # a YAML null is a value, not "not given"
    except ConfigError as e:
        raise ConfigError(f"config file {path}: {e}") from None
    return cfg.replace(**overrides)
