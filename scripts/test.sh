#!/usr/bin/env bash
# `make test`: formatting and lints, the build the browser tests use, then every test
# against a throwaway PostgreSQL cluster that scripts/with-test-postgres.sh starts and
# stops: Rust unit and integration tests, then the Playwright tests in Chromium.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

step() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }
started=$SECONDS

# CI builds once from scratch: incremental caches would only take disk space.
if [[ "${CI:-}" == "true" ]]; then export CARGO_INCREMENTAL=0; fi
df -h "$here" | awk 'NR==2 {print "disk: " $4 " free of " $2 " on " $6}'

step "cargo fmt --check"
cargo fmt --all -- --check

# Each side is linted and tested in the configuration it really runs in: `app` with `ssr`
# on the server, with `hydrate` in the browser. (Building `frontend` together with the
# server would unify both features into one `app`, which neither side ever runs.)
step "cargo clippy -D warnings (server side, then the wasm front end)"
cargo clippy -p server -p app --all-targets -- -D warnings
cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

step "cargo leptos build (server + wasm front end)"
cargo leptos build
# The browser tests serve with exactly this build: `cargo test` below rebuilds
# target/debug/lifeboat without cargo-leptos' build settings, and the page it renders
# would not hydrate against this wasm bundle.
mkdir -p target/e2e
cp target/debug/lifeboat target/e2e/lifeboat

step "tests against a throwaway PostgreSQL"
scripts/with-test-postgres.sh bash -c '
  set -euo pipefail
  cargo test --workspace --exclude frontend
  cd end2end
  [[ -d node_modules/@playwright/test ]] || npm ci --no-audit --no-fund --silent
  npx playwright test
'
echo "all tests passed in $((SECONDS - started)) s"
