#!/usr/bin/env bash
# Runs the property harness for untrusted archive input (server/tests/archive_fuzz.rs:
# the archive header and origin parser, upload sniffing, the table-of-contents summary)
# for many more cases than `cargo test` does.
#
#   scripts/fuzz-archive.sh [CASES]        default 1000000
#
# 80% of the cases are random or mutated archives, 20% headers built field by field. A
# failure prints the smallest input found; a case that runs longer than 10 s ends the run
# and prints its input. Debug build (the one `cargo test` already made); set
# LIFEBOAT_FUZZ_RELEASE=1 for a release build, faster per case but a long build the first
# time. Needs no PostgreSQL.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

cases="${1:-1000000}"
[[ "$cases" =~ ^[0-9]+$ ]] || {
  echo "usage: $0 [CASES]" >&2
  exit 64
}
profile=()
if [[ -n "${LIFEBOAT_FUZZ_RELEASE:-}" ]]; then profile=(--release); fi

started=$SECONDS
LIFEBOAT_FUZZ_CASES="$cases" cargo test -p server "${profile[@]}" --test archive_fuzz -- --nocapture
echo "fuzz-archive: $cases cases passed in $((SECONDS - started)) s (build included)"
