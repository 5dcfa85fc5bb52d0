#!/usr/bin/env bash
# Makes sure .cache/train-venv holds the pinned PyTorch + transformers + PEFT stack that the
# training baselines and checks run on (bench/torch_train_baseline.py,
# bench/torch_recall_baseline.py, bench/peft_generate.py), and prints the absolute path of
# its Python on stdout (scripts/pinned-venv.sh; torch is large, a first install takes minutes).
#
#   python=$(bench/torch-venv.sh) && "$python" bench/torch_train_baseline.py --help
#
# Test tooling only: nothing here is part of a node or of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/pinned-venv.sh .cache/train-venv torch==2.15.0 transformers==5.24.0 peft==0.21.2 gguf==0.19.0 safetensors==0.8.0 sentencepiece==0.2.3 numpy==2.4.6
