#!/usr/bin/env bash
# Sets up and runs a local development network: one validator node with a funded dev account
# that also serves the default model (OpenAI-style API) and every adapter in its adapters/.
# The node home lives in ./devnet (kept between runs; DEVNET_RESET=1 starts over).
# Ctrl-C stops the node cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIBUTARY=${TRIBUTARY:-.build/release/tributary}
DEVNET_DIR=${DEVNET_DIR:-devnet}
HTTP_ADDRESS=${HTTP_ADDRESS:-127.0.0.1:26657}

if [ "${DEVNET_RESET:-0}" = 1 ]; then rm -rf "$DEVNET_DIR"; fi
mkdir -p "$DEVNET_DIR"

if [ ! -f "$DEVNET_DIR/node0/genesis.json" ]; then
  dev_address=$("$TRIBUTARY" keys new --out "$DEVNET_DIR/dev.key")
  "$TRIBUTARY" init --home "$DEVNET_DIR/node0" --chain-id devnet \
    --validator-key "$DEVNET_DIR/validator0.key" \
    --fund "$dev_address=1000000" --power 10000000 \
    --http-address "$HTTP_ADDRESS" --block-interval-ms 500
fi
dev_address=$("$TRIBUTARY" keys show "$DEVNET_DIR/dev.key")

cat <<MSG

Tributary devnet
  HTTP API:     http://$HTTP_ADDRESS   (GET /v1/status, /metrics, /v1/models)
  dev account:  $dev_address (1000000 OPEN)
  dev key:      $DEVNET_DIR/dev.key
Try, in another terminal:
  $TRIBUTARY query account $dev_address
  $TRIBUTARY keys new --out bob.key
  $TRIBUTARY tx transfer --key $DEVNET_DIR/dev.key --to \$($TRIBUTARY keys show bob.key) --amount 1.5
  curl -s http://$HTTP_ADDRESS/v1/completions -d '{"model": "SmolLM2-135M-Instruct.Q4_1", "prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}'
  curl -sN http://$HTTP_ADDRESS/v1/chat/completions -d '{"model": "SmolLM2-135M-Instruct.Q4_1", "messages": [{"role": "user", "content": "Name three rivers."}], "stream": true}'
Ctrl-C stops the node; 'make devnet' again resumes it, DEVNET_RESET=1 make devnet starts over.

MSG
exec "$TRIBUTARY" start --home "$DEVNET_DIR/node0" --http-address "$HTTP_ADDRESS" --serve-model
