#!/bin/sh
# On the first `start`, initialises the node home: chain id from CHAIN_ID, and when
# DEV_FUND_OPEN is set a dev account (key in the home as dev.key) funded with that many OPEN.
# Then runs the given tributary command.
set -eu
home=${TRIBUTARY_HOME:-/data}
if [ "${1:-}" = "start" ] && [ ! -f "$home/genesis.json" ]; then
  mkdir -p "$home"
  fund=""
  if [ -n "${DEV_FUND_OPEN:-}" ]; then
    address=$(tributary keys new --out "$home/dev.key")
    fund="--fund=$address=$DEV_FUND_OPEN"
    echo "dev account $address holds $DEV_FUND_OPEN OPEN; its key is $home/dev.key"
  fi
  tributary init --home "$home" --chain-id "${CHAIN_ID:-devnet}" --validator-key "$home/validator.key" ${fund:+"$fund"}
fi
exec tributary "$@"
