# Lifeboat's commands. Each installs what it needs (scripts/bootstrap.sh) and skips what is
# already there.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test build lint fmt

help:
	@echo "make run    build and start Lifeboat at http://127.0.0.1:3000 (demo database if no LIFEBOAT_TARGET_URL)"
	@echo "make test   every test: formatting, clippy, Rust unit + integration tests, browser tests"
	@echo "make build  release build only (target/release/lifeboat + target/site)"
	@echo "make lint   cargo fmt --check and clippy -D warnings"

run:
	@scripts/bootstrap.sh
	@scripts/run.sh

test:
	@scripts/bootstrap.sh --test
	@scripts/test.sh

build:
	@scripts/bootstrap.sh
	@scripts/build.sh

lint:
	@python3 scripts/check-layers.py && source scripts/env.sh && cargo fmt --all -- --check && cargo clippy -p server -p app --all-targets -- -D warnings && cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

fmt:
	@source scripts/env.sh && cargo fmt --all
