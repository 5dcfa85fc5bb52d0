#!/usr/bin/env bash
# Runs `tributary bench KIND [args…]` with its llama.cpp baseline: installs llama-cpp-python
# (which builds llama.cpp from source for this CPU) into a venv of its own under .cache/,
# builds tributary, fetches the default model, and passes the venv's Python to the bench.
# Installs the Debian packages the venv and that build need when they are missing.
# Used by bench/inference.sh and bench/lora.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=$1
shift
VENV=.cache/bench-venv
LLAMA_CPP_PYTHON_VERSION=0.3.36
missing=""
for package in python3-venv build-essential; do dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"; done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
if ! "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_PYTHON_VERSION')" 2>/dev/null; then
    echo "installing llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION into $VENV (builds llama.cpp; takes a few minutes)…" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check -q "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
fi
swift build -c release
.build/release/tributary model fetch
exec .build/release/tributary bench "$kind" --baseline-python "$VENV/bin/python" "$@"
