# The README's two commands: `make devnet` (set up and run a local network) and
# `make test` (set up and run the test suite). Both install what they need.
SHELL := /bin/bash
APT_PACKAGES := libsodium-dev librocksdb-dev libopenblas-dev libssl-dev libmicrohttpd-dev libcurl4-openssl-dev pkg-config python3-pip unzip
BIN_DIR := .build/release
TRIBUTARY := $(BIN_DIR)/tributary

.PHONY: deps build test devnet clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build -c release

test: build
	swift test -c release

devnet: build
	scripts/devnet.sh

clean:
	rm -rf .build devnet
