#!/usr/bin/env bash
# Makes sure the Python venv DIR holds exactly the pinned packages PIN... (name==version) and
# prints the absolute path of its Python on stdout; everything else goes to stderr.
# Idempotent: when every pin is already installed it only prints the path. Installs
# python3-venv from Debian when it is missing (needs root then).
#
#   python=$(scripts/pinned-venv.sh .cache/x402-venv x402==2.25.0 …)
#
# Test tooling only: nothing a node runs uses these venvs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$1
shift
PINS=("$@")

if ! dpkg -s python3-venv >/dev/null 2>&1; then
    echo "installing: python3-venv" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
fi

# True when the venv's Python runs and has exactly the pinned version of every package (a
# local suffix such as torch's "+cpu" counts as the same version).
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
    echo "installing ${PINS[*]} into $VENV…" >&2
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --disable-pip-version-check -q "${PINS[@]}" >&2
    if ! pinned; then
        echo "error: $VENV still lacks one of ${PINS[*]} after pip install" >&2
        exit 1
    fi
fi
echo "$PWD/$VENV/bin/python"
