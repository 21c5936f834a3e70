"""What the benchmark commands share: the device line, recording a run, finishing the report."""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch


def device_name() -> str:
    """The GPU's name, or ``CPU (<processor>, <n> threads)``."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def record_run(report: dict, metrics: dict, prefix: str, keys, save: Callable[[], None]) -> None:
    """Append ``metrics`` to ``report["runs"]``, print ``prefix`` and the ``keys`` of it as JSON, then ``save()``
    (which rewrites the result files atomically, so a stopped benchmark keeps its finished rows)."""
    report["runs"].append(metrics)
    print(f"{prefix} {json.dumps({k: metrics.get(k) for k in keys})}", flush=True)
    save()


def finish_report(report: dict, save: Callable[[], None], out: Path) -> int:
    """Stamp ``report["finished"]``, ``save()`` and print ``out/results.md``; returns 0 (the exit code)."""
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    print((Path(out) / "results.md").read_text())
    return 0
