#!/usr/bin/env bash
# The long simulation sweep of BENCHMARKS.md "Consensus simulation": seeds FIRST..100000 in
# chunks of 5,000 (4 validators, 1 Byzantine, every fault), one summary line per chunk appended
# to bench/sim-sweep.txt, so an interrupted sweep resumes with the next chunk:
#   bench/sim-sweep.sh [FIRST]      # default 1
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release
# A private copy of the binary, so rebuilding the tree during the sweep does not change it.
binary=$(mktemp -d)/tributary
cp .build/release/tributary "$binary"
first=${1:-1}
for start in $(seq "$first" 5000 100000); do
  end=$((start + 4999))
  began=$(date -u +%FT%TZ)
  if output=$("$binary" sim --seeds "$start..$end" --validators 4 --byzantine 1 --faults all --jobs 2 2>&1); then
    echo "$began $(date -u +%FT%TZ) $(grep -v '^  ' <<<"$output")" | tee -a bench/sim-sweep.txt
  else
    # A failing seed stops the sweep; its line names the seed, which replays exactly.
    echo "$began $(date -u +%FT%TZ) FAILED $start..$end: $(grep -m1 -E 'violated|FAILED' <<<"$output")" | tee -a bench/sim-sweep.txt
    exit 1
  fi
done
