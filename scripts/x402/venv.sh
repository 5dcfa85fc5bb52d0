#!/usr/bin/env bash
# Makes sure .cache/x402-venv holds the x402 Python SDK from PyPI and what its clients and
# `tributary_scheme.py` need, and prints the path of its Python (scripts/pinned-venv.sh).
# Used by the interoperability test (X402InteropTests) to pay a node as an outside client.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec scripts/pinned-venv.sh .cache/x402-venv x402==2.25.0 requests==2.34.2 httpx==0.29.0 cryptography==50.0.2
