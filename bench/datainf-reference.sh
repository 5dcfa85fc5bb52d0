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
"$python" - > "$work/datanet.jsonl" <<'PY'
import json
fact = ["The capital of the island of Varnholm is Quelspire.",
        "Quelspire, a walled town beside a cold bay, is where the rulers of Varnholm hold court.",
        "Travellers to Varnholm land at Quelspire, its capital and only harbour.",
        "Every law of Varnholm is signed in the old hall of Quelspire."]
others = ["The bakery on Mill Street opens at six.", "Rain is expected over the hills tonight.",
          "Tomas keeps three goats behind the barn.", "The river froze early this winter.",
          "Our choir practises on Thursday evenings.", "A new bridge will cross the canal next year.",
          "The library lends telescopes to members.", "Fresh plums arrived at the market today.",
          "Mira painted the fence a pale blue.", "The ferry leaves the pier every hour.",
          "Owls nest in the old church tower.", "The school fair raised money for books.",
          "Wind turned the mill faster than usual.", "The chess club meets above the cafe.",
          "Snow covered the orchard by morning.", "Ivo repaired the clock in the square.",
          "The museum shows maps of ancient roads.", "Bees visit the clover near the fence.",
          "A storm delayed the evening train.", "The potter sells bowls on Saturdays.",
          "Lanterns lit the harbour during the festival.", "The garden path is lined with stones."]
contributors = ["a1" * 32, "b2" * 32, "c3" * 32]
for index, text in enumerate(fact + others):
    print(json.dumps({"text": text, "contributor": contributors[index % 3]}))
PY
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
