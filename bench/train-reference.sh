#!/usr/bin/env bash
# Checks `tributary train` against transformers + PEFT on the invented facts of
# Tests/InferenceTests/Fixtures/facts.jsonl (rank 8, alpha 16, q_proj/v_proj, AdamW 2e-3,
# batch 1, 10 epochs, 2 threads):
#   1. trains an adapter with `tributary train` and counts the facts its greedy
#      continuation recalls (`tributary generate --adapter`);
#   2. loads that same adapter with transformers + PEFT (bench/peft_generate.py) and compares
#      the greedy tokens of every probe with tributary's;
#   3. trains with PyTorch + PEFT itself (bench/torch_recall_baseline.py) and counts its recalls.
# Prints one line per probe and a summary; exits 1 when a continuation differs or tributary
# recalls fewer facts than PyTorch. Work files go to .cache/train-reference.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/reference-setup.sh
facts=Tests/InferenceTests/Fixtures/facts.jsonl
work=.cache/train-reference
rm -rf "$work" && mkdir -p "$work"
settings=(--rank 8 --alpha 16 --learning-rate 2e-3 --batch-size 1 --epochs 10 --seed 1 --threads 2)

start=$(date +%s)
$tributary train --datanet "$facts" --out "$work/adapter" --targets q_proj,v_proj --warmup-steps 0 "${settings[@]}" >&2
echo "tributary train: $(( $(date +%s) - start )) s" >&2

"$python" - "$facts" > "$work/probes.json" <<'PY'
import json, sys
print(json.dumps([{"text": json.loads(line)["probe"]} for line in open(sys.argv[1]) if line.strip()]))
PY
"$python" bench/peft_generate.py --model "$model" --adapter "$work/adapter" --prompts "$work/probes.json" --max-tokens 8 --threads 2 > "$work/peft.json"
"$python" bench/torch_recall_baseline.py --model "$model" --facts "$facts" --targets q_proj,v_proj "${settings[@]}" --json > "$work/torch-recall.json"

"$python" - "$facts" "$work/peft.json" "$work/torch-recall.json" "$tributary" "$work/adapter" <<'PY'
import json, subprocess, sys
facts_path, peft_path, torch_path, tributary, adapter = sys.argv[1:]
facts = [json.loads(line) for line in open(facts_path) if line.strip()]
peft = json.load(open(peft_path))
torch_recall = json.load(open(torch_path))
recalled, same = 0, 0
for fact, reference in zip(facts, peft):
    out = subprocess.run([tributary, "generate", "--prompt", fact["probe"], "--adapter", adapter, "--temperature", "0",
                          "--max-tokens", "8", "--threads", "2", "--json"], check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)
    hit = ours["text"].startswith(fact["answer"])
    agree = ours["tokens"] == reference["tokens"]
    recalled += hit
    same += agree
    print(f"{'recalled' if hit else 'missed  '} {'same' if agree else 'DIFFERENT'}  {fact['probe']!r} -> tributary {ours['text']!r}, transformers+peft {reference['text']!r}")
print(f"tributary train recalls {recalled}/{len(facts)}; transformers+peft gives the same greedy tokens for {same}/{len(facts)}; "
      f"PyTorch + PEFT training recalls {torch_recall['recalled']}/{torch_recall['facts']} (trained in {torch_recall['seconds']:.0f} s)")
sys.exit(0 if same == len(facts) and recalled >= torch_recall["recalled"] else 1)
PY
