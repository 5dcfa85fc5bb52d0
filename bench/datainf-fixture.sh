#!/usr/bin/env bash
# Writes Tests/NodeTests/Fixtures/datainf-reference/reference.json: PyTorch's datainf, dot and
# cosine scores (bench/datainf_reference.py, the issue's formulas in float32 gradients and
# float64 sums) for the fixture datanet of that folder and the committed PEFT adapter
# Tests/InferenceTests/Fixtures/adapters/qv-r8, so that `make test` checks
# `tributary attribute --exact` against them (DataInfReferenceTests) without PyTorch.
# Run it again only when the reference script, the datanet or the query changes.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/reference-setup.sh
fixture=Tests/NodeTests/Fixtures/datainf-reference
adapter=Tests/InferenceTests/Fixtures/adapters/qv-r8
prompt="The capital of the island of Varnholm is"
completion=" Quelspire."
"$python" bench/datainf_reference.py --model "$model" --adapter "$adapter" --datanet "$fixture/datanet.jsonl" \
  --prompt "$prompt" --completion "$completion" --methods datainf,dot,cosine --threads 2 > .cache/datainf-fixture.json
"$python" - "$adapter" "$prompt" "$completion" > "$fixture/reference.json" <<'PY'
import json, sys
import peft, torch, transformers
run = json.load(open(".cache/datainf-fixture.json"))
adapter, prompt, completion = sys.argv[1:4]
reference = {
    "adapter": adapter, "prompt": prompt, "completion": completion,
    "query_tokens": run["query"],
    "methods": {name: method["scores"] for name, method in sorted(run["methods"].items())},
    "made_by": {"script": "bench/datainf-fixture.sh", "torch": torch.__version__, "transformers": transformers.__version__,
                "peft": peft.__version__},
}
json.dump(reference, sys.stdout, indent=1, sort_keys=True)
print()
PY
echo "wrote $fixture/reference.json" >&2
