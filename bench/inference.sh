#!/usr/bin/env bash
# Runs `tributary bench inference` with its llama.cpp baseline (see bench/with-baseline.sh).
# Extra arguments go to the bench command, e.g. bench/inference.sh --threads 2 --json
exec "$(dirname "$0")/with-baseline.sh" inference "$@"
