#!/usr/bin/env bash
# The long simulation sweep of BENCHMARKS.md "Consensus simulation": seeds FIRST..LAST in
# chunks of 5,000 (4 validators, 1 Byzantine, every fault), one summary line per chunk, with the
# commit it ran, appended to bench/sim-sweep.txt, so an interrupted sweep resumes with the next chunk:
#   bench/sim-sweep.sh [FIRST] [LAST]      # default 1 100000
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release
# A private copy of the binary, so rebuilding the tree during the sweep does not change it.
binary=$(mktemp -d)/tributary
cp .build/release/tributary "$binary"
first=${1:-1}
last=${2:-100000}
commit=$(git rev-parse --short HEAD)
for start in $(seq "$first" 5000 "$last"); do
  end=$((start + 4999 < last ? start + 4999 : last))
  began=$(date -u +%FT%TZ)
  if output=$("$binary" sim --seeds "$start..$end" --validators 4 --byzantine 1 --faults all --jobs 2 2>&1); then
    echo "$began $(date -u +%FT%TZ) $commit $(grep -v '^  ' <<<"$output")" | tee -a bench/sim-sweep.txt
  else
    # A failing seed stops the sweep; its line names the seed, which replays exactly.
    echo "$began $(date -u +%FT%TZ) $commit FAILED $start..$end: $(grep -m1 -E 'violated|FAILED' <<<"$output")" | tee -a bench/sim-sweep.txt
    exit 1
  fi
done
