#!/usr/bin/env bash
# Sets up and runs a local development network: four validators, each its own process, peering
# over loopback (homes made once by `tributary testnet` in ./devnet/net), node0 also serving the
# default model (OpenAI-style API) and every adapter in its adapters/, and a funded dev account.
# Kept between runs (DEVNET_RESET=1 starts over). Ctrl-C stops every node cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIBUTARY=${TRIBUTARY:-.build/release/tributary}
DEVNET_DIR=${DEVNET_DIR:-devnet}
# Node i's API is on BASE_PORT+2i and its peer port on BASE_PORT+2i+1: node0's API is the
# CLI's default, http://127.0.0.1:26657.
BASE_PORT=${BASE_PORT:-26657}
VALIDATORS=4

if [ "${DEVNET_RESET:-0}" = 1 ]; then rm -rf "$DEVNET_DIR"; fi
if [ -d "$DEVNET_DIR/node0" ] && [ ! -d "$DEVNET_DIR/net" ]; then
  echo "error: $DEVNET_DIR holds a single-node devnet from an earlier version; run DEVNET_RESET=1 make devnet to start over" >&2
  exit 1
fi
mkdir -p "$DEVNET_DIR"

if [ ! -f "$DEVNET_DIR/net/testnet.json" ]; then
  [ -f "$DEVNET_DIR/dev.key" ] || "$TRIBUTARY" keys new --out "$DEVNET_DIR/dev.key" >/dev/null
  "$TRIBUTARY" testnet --validators "$VALIDATORS" --out "$DEVNET_DIR/net" --chain-id devnet \
    --base-port "$BASE_PORT" --fund "$("$TRIBUTARY" keys show "$DEVNET_DIR/dev.key")=1000000" --block-interval-ms 500
fi
dev_address=$("$TRIBUTARY" keys show "$DEVNET_DIR/dev.key")

pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "devnet stopped; 'make devnet' resumes it"
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

for i in $(seq 0 $((VALIDATORS - 1))); do
  serve=()
  if [ "$i" = 0 ]; then serve=(--serve-model); fi
  "$TRIBUTARY" start --home "$DEVNET_DIR/net/node$i" "${serve[@]}" >"$DEVNET_DIR/net/node$i.log" 2>&1 &
  pids+=($!)
done

api() { echo "http://127.0.0.1:$((BASE_PORT + 2 * $1))"; }
for i in $(seq 0 $((VALIDATORS - 1))); do
  answered=0
  for _ in $(seq 1 600); do
    if curl -sf "$(api "$i")/v1/status" >/dev/null; then answered=1; break; fi
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "error: node$i exited; see $DEVNET_DIR/net/node$i.log:" >&2
      tail -5 "$DEVNET_DIR/net/node$i.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ "$answered" = 0 ]; then
    echo "error: node$i did not answer at $(api "$i") within 60 s; see $DEVNET_DIR/net/node$i.log:" >&2
    tail -5 "$DEVNET_DIR/net/node$i.log" >&2
    exit 1
  fi
done

model=SmolLM2-135M-Instruct.Q4_1
cat <<MSG

Tributary devnet: $VALIDATORS validators, each its own process (logs in $DEVNET_DIR/net/node<i>.log)
$(for i in $(seq 0 $((VALIDATORS - 1))); do echo "  node$i API:  $(api "$i")"; done)
  node0 also serves the model $model at $(api 0)/v1/completions
  dev account:  $dev_address (1000000 OPEN), key $DEVNET_DIR/dev.key
Try, in another terminal:
  $TRIBUTARY query peers
  $TRIBUTARY keys new --out bob.key
  $TRIBUTARY tx transfer --key $DEVNET_DIR/dev.key --to \$($TRIBUTARY keys show bob.key) --amount 1.5 --node $(api 1)
  $TRIBUTARY query account \$($TRIBUTARY keys show bob.key) --node $(api 3)
  curl -s $(api 0)/v1/completions -d '{"model": "$model", "prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}'
Ctrl-C stops every node; 'make devnet' again resumes, DEVNET_RESET=1 make devnet starts over.

MSG

# Runs until Ctrl-C, or until a node stops on its own (then everything stops).
set +e
wait -n "${pids[@]}"
status=$?
echo "a node stopped (exit $status); stopping the others" >&2
exit "$status"
