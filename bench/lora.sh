#!/usr/bin/env bash
# Runs `tributary bench lora` with its llama.cpp baseline (see bench/with-baseline.sh). The
# bench writes its synthetic adapters (about 18 GB for the default 1,000) under the system temp
# directory, or --directory DIR, and removes them at the end.
# Extra arguments go to the bench command, e.g. bench/lora.sh --adapters 200 --json
exec "$(dirname "$0")/with-baseline.sh" lora "$@"
