#!/usr/bin/env bash
# Makes sure .cache/train-venv holds the pinned PyTorch + transformers + PEFT stack that the
# training baselines and checks run on (bench/torch_train_baseline.py,
# bench/torch_recall_baseline.py, bench/peft_generate.py), and prints the absolute path of
# its Python on stdout; everything else goes to stderr. Idempotent: when every pinned version
# is already installed it only prints the path. Installs python3-venv from Debian when it is
# missing (needs root then), as bench/with-baseline.sh does.
#
#   python=$(bench/torch-venv.sh) && "$python" bench/torch_train_baseline.py --help
#
# Test tooling only: nothing here is part of a node or of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/train-venv
PINS=(torch==2.15.0 transformers==5.24.0 peft==0.21.2 gguf==0.19.0 safetensors==0.8.0 sentencepiece==0.2.3 numpy==2.4.6)

if ! dpkg -s python3-venv >/dev/null 2>&1; then
    echo "installing: python3-venv" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
fi

# True when the venv's Python runs and has exactly the pinned version of every package (a
# local suffix such as torch's "+cpu" or "+cu132" counts as the same version).
pinned() {
    "$VENV/bin/python" - "${PINS[@]}" 2>/dev/null <<'EOF'
import importlib.metadata, sys
for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        found = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(1)
    if found.split("+")[0] != wanted:
        sys.exit(1)
EOF
}

if ! pinned; then
    echo "installing ${PINS[*]} into $VENV (torch is large; takes a few minutes)…" >&2
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --disable-pip-version-check -q "${PINS[@]}" >&2
    if ! pinned; then
        echo "error: $VENV still lacks one of ${PINS[*]} after pip install" >&2
        exit 1
    fi
fi
echo "$PWD/$VENV/bin/python"
