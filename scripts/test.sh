#!/usr/bin/env bash
# `make test`: formatting and lints, the release build that `make run` and `make build` use
# (the same script), the newcomer's `make run` path against the demo database, then every
# test against a throwaway PostgreSQL cluster that scripts/with-test-postgres.sh starts and
# stops: Rust unit and integration tests, then the Playwright tests in Chromium against the
# release build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

step() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }
started=$SECONDS

# CI builds once from scratch: incremental caches would only take disk space.
if [[ "${CI:-}" == "true" ]]; then export CARGO_INCREMENTAL=0; fi
df -h "$here" | awk 'NR==2 {print "disk: " $4 " free of " $2 " on " $6}'

step "module layering: no import loop, the engine off the web edge"
python3 scripts/check-layers.py

step "cargo fmt --check"
cargo fmt --all -- --check

# Each side is linted and tested in the configuration it really runs in: `app` with `ssr`
# on the server, with `hydrate` in the browser. (Building `frontend` together with the
# server would unify both features into one `app`, which neither side ever runs.)
step "cargo clippy -D warnings (server side, then the wasm front end)"
cargo clippy -p server -p app --all-targets -- -D warnings
cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

# Exactly what `make run` and `make build` build: a release server and the release
# WebAssembly bundle. The browser tests below run against this build.
step "release build (scripts/build.sh, as make run and make build)"
scripts/build.sh

step "the newcomer's path: make run with the demo database, sign in, a first backup"
scripts/smoke-run.sh

step "tests against a throwaway PostgreSQL"
scripts/with-test-postgres.sh bash -c '
  set -euo pipefail
  cargo test --workspace --exclude frontend
  cd end2end
  [[ -d node_modules/@playwright/test ]] || npm ci --no-audit --no-fund --silent
  LIFEBOAT_BIN="$PWD/../target/release/lifeboat" npx playwright test
'
echo "all tests passed in $((SECONDS - started)) s"
