#!/usr/bin/env bash
# Runs `tributary bench lora` with its llama.cpp baseline: installs llama-cpp-python (which
# builds llama.cpp from source for this CPU) into a venv of its own under .cache/, builds
# tributary, fetches the default model, and passes the venv's Python to the bench. The bench
# writes its synthetic adapters (about 18 GB for the default 1,000) under the system temp
# directory, or --directory DIR, and removes them at the end.
# Extra arguments go to the bench command, e.g. bench/lora.sh --adapters 200 --json
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/bench-venv
LLAMA_CPP_PYTHON_VERSION=0.3.36
if ! "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_PYTHON_VERSION')" 2>/dev/null; then
    echo "installing llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION into $VENV (builds llama.cpp; takes a few minutes)…" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check -q "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
fi
swift build -c release
.build/release/tributary model fetch
exec .build/release/tributary bench lora --baseline-python "$VENV/bin/python" "$@"
