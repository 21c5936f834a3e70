"""What the benchmark commands share: the task configuration (``--config FILE`` + ``--set KEY=VALUE ...``), the
device line, recording a run, finishing the report.

Every training benchmark builds its runs from one task configuration (:func:`rawvision.config.config_class`), so
every setting of the task is reachable from every benchmark: ``--set noise_seed=7 ta_isp_weight_range=2,4``.
Values are typed by the setting's field (:meth:`parse_value`: bools, ints, floats, comma-separated lists, ``none``
for optional settings). Precedence, lowest first: the task's defaults, the benchmark's own defaults, the
``--config`` file, the benchmark's shortcut options (``--epochs`` ...), ``--set``; the benchmark's sweep (seeds,
methods, rows) is applied last, per run.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import torch

from rawvision.config import ConfigError, config_class, load_config

__all__ = ["add_config_options", "device_name", "finish_report", "parse_settings", "record_run", "task_config",
           "with_settings"]


def add_config_options(ap, default_config: str | None) -> None:
    """Add ``--config FILE`` and ``--set KEY=VALUE ...`` (repeatable) to the argparse parser ``ap``."""
    ap.add_argument("--config", default=default_config,
                    help=f"YAML file of task settings (default: {default_config or 'none, the task defaults'}; "
                         f"'none': no file)")
    ap.add_argument("--set", dest="settings", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                    help="any setting of the task, typed by its field (e.g. noise_seed=7 ta_isp_weight_range=2,4 "
                         "labels=none); applied after --config and the shortcut options")


def parse_settings(cfg_cls: type, items: Iterable[str]) -> dict:
    """``["key=value", ...]`` -> ``{key: typed value}`` for the configuration class ``cfg_cls``.

    Raises:
        ConfigError: an item without ``=``, an unknown key, a value not of the key's type, or ``task`` (a
            benchmark's task is fixed).
    """
    out = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"setting {item!r}: expected KEY=VALUE")
        if key == "task":
            raise ConfigError(f"setting {item!r}: a benchmark's task is fixed ({cfg_cls().task})")
        out[key] = cfg_cls.parse_value(key, text.strip())
    return out


def with_settings(cfg, **changes):
    """``cfg`` with ``changes`` applied, None values included: the configuration's own ``set`` (``cfg.replace``
    drops None, and ``labels=None`` or ``exposure_ratio=None`` are settings too). Raises ConfigError for an
    unknown key."""
    return cfg.set(**changes)


def _file_values(path, from_file) -> dict:
    """The settings the YAML file ``path`` gives, as ``from_file`` (its :func:`load_config`) typed them; a key set
    to null is None (``load_config`` keeps the default there)."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    return {k: None if v is None else getattr(from_file, k) for k, v in data.items() if k != "task"}


def task_config(task: str, path: str | Path | None, settings: Iterable[str] = (), defaults: dict | None = None,
                **options):
    """The configuration of ``task`` a benchmark runs: task defaults < ``defaults`` (the benchmark's) < the YAML
    file ``path`` (None or ``"none"``: no file) < ``options`` that are not None (shortcut options) < ``settings``
    (``--set`` items).

    Raises:
        ConfigError: a missing or malformed file, an unknown key, a mistyped value (one line).
    """
    if path is not None and str(path).lower() == "none":
        path = None
    from_file = load_config(path, task=task)  # checks the file (one-line errors)
    cfg = with_settings(config_class(task)(), **(defaults or {}))
    if path is not None:
        cfg = with_settings(cfg, **_file_values(path, from_file))
    cfg = with_settings(cfg, **{k: v for k, v in options.items() if v is not None})
    return with_settings(cfg, **parse_settings(type(cfg), settings))


def device_name() -> str:
    """The GPU's name, or ``CPU (<processor>, <n> threads)``."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def record_run(report: dict, metrics: dict, prefix: str, keys, save: Callable[[], None]) -> None:
    """Append ``metrics`` to ``report["runs"]``, print ``prefix`` and the ``keys`` of it as JSON, then ``save()``
    (which rewrites the result files atomically, so a stopped benchmark keeps its finished rows)."""
    report["runs"].append(metrics)
    print(f"{prefix} {json.dumps({k: metrics.get(k) for k in keys}, default=str)}", flush=True)
    save()


def finish_report(report: dict, save: Callable[[], None], out: Path) -> int:
    """Stamp ``report["finished"]``, ``save()`` and print ``out/results.md``; returns 0 (the exit code)."""
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    print((Path(out) / "results.md").read_text())
    return 0
