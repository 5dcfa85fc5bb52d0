#!/usr/bin/env bash
# Checks `tributary attribute --method datainf --exact` against a PyTorch computation of the
# issue's formula (bench/datainf_reference.py; PyTorch + PEFT in .cache/train-venv): on a
# 26-document datanet (one invented fact stated four ways among 22 other sentences, three
# contributors), an adapter trained by `tributary train`, each method in METHODS (default
# datainf dot cosine) must reach Spearman >= 0.99 and the same top-5. Exits 1 otherwise.
# Work files go to .cache/datainf-reference.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/reference-setup.sh
work=.cache/datainf-reference
rm -rf "$work" && mkdir -p "$work"
cp Tests/NodeTests/Fixtures/datainf-reference/datanet.jsonl "$work/datanet.jsonl"
$tributary train --datanet "$work/datanet.jsonl" --out "$work/adapter" --epochs 3 --learning-rate 2e-3 --batch-size 1 --warmup-steps 0 --threads 2 >&2
prompt="The capital of the island of Varnholm is"
completion=" Quelspire."
status=0
for method in ${METHODS:-datainf dot cosine}; do
  $tributary attribute --adapter "$work/adapter" --datanet "$work/datanet.jsonl" --prompt "$prompt" --completion "$completion" \
    --method "$method" --exact --top 0 --json --threads 2 > "$work/$method.json"
  if "$python" bench/datainf_reference.py --model "$model" --adapter "$work/adapter" --datanet "$work/datanet.jsonl" \
      --prompt "$prompt" --completion "$completion" --methods "$method" --threads 2 --compare "$work/$method.json" > "$work/$method-reference.json"; then
    "$python" -c "import json,sys; c=json.load(open(sys.argv[1]))['comparison']; print(f\"{sys.argv[2]}: Spearman {c['spearman']:.5f}, same top-5 set: {c['same_top_set']}, same order: {c['same_top_order']}\")" "$work/$method-reference.json" "$method" || true
  else
    echo "$method: differs from the PyTorch reference (see $work/$method-reference.json)"; status=1
  fi
done
exit $status
