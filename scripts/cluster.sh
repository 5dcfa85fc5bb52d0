#!/usr/bin/env bash
# make cluster: the docker-compose cluster (4 validators, one model-serving full node) built and
# checked for real on a machine with Debian's docker.io and no image registry:
#   1. installs docker.io, docker-compose and debootstrap if missing; starts dockerd (vfs
#      storage) when none answers;
#   2. builds tributary-base:bookworm once (debootstrap + docker import) and the tributary image
#      from the host's release binary (deploy/Dockerfile.local);
#   3. starts docker-compose.yml from scratch, waits for the five APIs, checks that a transfer
#      commits on all five, that the full node serves the model, that a SIGKILLed validator
#      container restarted catches up while transfers go on, then takes the cluster down.
# Exit status 0 only when every check passed. CLUSTER_KEEP=1 leaves the cluster running.
set -euo pipefail
cd "$(dirname "$0")/.."
tributary=.build/release/tributary
project=tributary-cluster
compose() { COMPOSE_PROJECT_NAME=$project TRIBUTARY_MODELS="$models" docker-compose -f docker-compose.yml "$@"; }
say() { echo "cluster: $*"; }
fail() { echo "cluster: FAILED: $*" >&2; exit 1; }

missing=""
for package in docker.io docker-compose debootstrap curl; do dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"; done
if [ -n "$missing" ]; then
  say "installing$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (vfs storage; log in /var/log/tributary-dockerd.log)"
  nohup dockerd --storage-driver=vfs >/var/log/tributary-dockerd.log 2>&1 &
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start; see /var/log/tributary-dockerd.log"
fi

# The base image is labelled with its package list, so a base made for an older list is remade.
base_packages=libsodium23,librocksdb7.8,libopenblas0-pthread,libmicrohttpd12,libcurl4,libcjson1,libtomlplusplus3,libdivsufsort3,ca-certificates
if [ "$(docker image inspect -f '{{index .Config.Labels "tributary.packages"}}' tributary-base:bookworm 2>/dev/null)" != "$base_packages" ]; then
  say "building tributary-base:bookworm with debootstrap (once per package list; a few minutes)"
  root=$(mktemp -d)
  debootstrap --variant=minbase --include="$base_packages" bookworm "$root" http://deb.debian.org/debian >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import --change "LABEL tributary.packages=$base_packages" - tributary-base:bookworm >/dev/null
  rm -rf "$root"
fi

say "building the tributary image from $tributary"
context=$(mktemp -d)
install -D "$tributary" "$context/usr/local/bin/tributary"
install -D deploy/docker-entrypoint.sh "$context/usr/local/bin/docker-entrypoint.sh"
mkdir -p "$context/usr/local/lib/swift"
ldd "$tributary" | awk '$3 ~ /^\/opt\/swift\// || $3 ~ /\/swift\/linux\// {print $3}' | xargs -r -I{} cp -L {} "$context/usr/local/lib/swift/"
cp deploy/Dockerfile.local "$context/Dockerfile"
docker build -q -t tributary "$context" >"$context.log" 2>&1 || { cat "$context.log"; fail "docker build"; }
rm -rf "$context" "$context.log"

models=${TRIBUTARY_MODELS:-${TRIBUTARY_HOME:-$HOME/.tributary}/models}
[ -f "$models/SmolLM2-135M-Instruct.Q4_1.gguf" ] || fail "no model in $models (make model fetches it)"
compose down -v --remove-orphans >/dev/null 2>&1 || true
trap '[ "${CLUSTER_KEEP:-0}" = 1 ] || compose down -v --remove-orphans >/dev/null 2>&1 || true' EXIT
say "starting docker-compose.yml"
compose up -d --no-build >/dev/null 2>&1 || { compose logs --tail 50; fail "docker-compose up"; }

ports=(26657 26659 26661 26663 26665)
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
height() { curl -sf "http://127.0.0.1:$1/v1/status" | field '["height"]'; }
for port in "${ports[@]}"; do
  for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/v1/status" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:$port/v1/status" >/dev/null || { compose logs --tail 30; fail "no API on port $port"; }
done
say "five APIs answer (${ports[*]})"

key=$(mktemp)
compose exec -T node0 cat /net/dev.key >"$key"
transfer() {  # a transfer to a new account through the node on port $1; prints its hash once committed there
  rm -f "$key.to"
  "$tributary" keys new --out "$key.to" >/dev/null
  "$tributary" tx transfer --key "$key" --to "$("$tributary" keys show "$key.to")" \
    --amount 0.001 --node "http://127.0.0.1:$1" --json | field '["hash"]'
}
committed_everywhere() {  # $1: hash; every port in the rest
  local hash=$1; shift
  for port in "$@"; do
    for _ in $(seq 120); do
      [ "$(curl -sf "http://127.0.0.1:$port/v1/txs/$hash" | field '["status"]' 2>/dev/null)" = committed ] && continue 2
      sleep 0.25
    done
    fail "transfer $hash not committed on port $port"
  done
}
hash=$(transfer 26659)
committed_everywhere "$hash" "${ports[@]}"
say "a transfer sent to node1 committed on all five nodes"

models_json=$(curl -sf http://127.0.0.1:26665/v1/models) || fail "the full node does not serve /v1/models"
grep -q '"data"' <<<"$models_json" || fail "unexpected /v1/models answer: $models_json"
say "the full node serves the model"

container=$(compose ps -q node2)
docker kill "$container" >/dev/null
for _ in 1 2 3; do committed_everywhere "$(transfer 26657)" 26657 26659 26663 26665; done
say "node2 SIGKILLed: three transfers committed on the other four"
docker start "$container" >/dev/null
target=$(height 26657)
for _ in $(seq 240); do
  [ "$(height 26661 2>/dev/null || echo 0)" -ge "$target" ] && break
  sleep 0.5
done
[ "$(height 26661)" -ge "$target" ] || fail "node2 did not catch up to height $target"
block() { curl -sf "http://127.0.0.1:$1/v1/blocks/$target" | field '["hash"]'; }
[ "$(block 26661)" = "$(block 26657)" ] || fail "node2 holds another block at height $target"
committed_everywhere "$(transfer 26661)" "${ports[@]}"
say "node2 restarted, caught up to height $target with the same block, and commits again"
say "every check passed"
