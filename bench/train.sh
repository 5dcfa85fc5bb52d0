#!/usr/bin/env bash
# Runs `tributary bench train` with its PyTorch + PEFT baseline: installs the pinned stack into
# .cache/train-venv (bench/torch-venv.sh; several GB from PyPI the first time), builds
# tributary, fetches the default model, and passes the venv's Python to the bench.
# Extra arguments go to the bench command, e.g. bench/train.sh --targets all-linear --json
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bench/torch-venv.sh)
swift build -c release >&2
.build/release/tributary model fetch >&2
exec .build/release/tributary bench train --baseline-python "$python" "$@"
