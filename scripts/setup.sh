#!/usr/bin/env bash
# Set up rawvision in ./.venv: torch first (pinned), then everything else under a constraints file that holds torch
# and torchvision, so pip never swaps torch for another build. Re-running it is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test,demo]"
