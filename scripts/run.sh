#!/usr/bin/env bash
# `make run`: the release build (scripts/build.sh, skipped when nothing changed), then
# Lifeboat in the foreground. Without LIFEBOAT_TARGET_URL it starts (and on Ctrl+C stops) a
# demo PostgreSQL with sample data under the data directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
scripts/build.sh
export LIFEBOAT_SITE_DIR="${LIFEBOAT_SITE_DIR:-$here/target/site}"
export LIFEBOAT_DATA_DIR="${LIFEBOAT_DATA_DIR:-$here/data}"
export LIFEBOAT_ADDR="${LIFEBOAT_ADDR:-127.0.0.1:3000}"
# Every client version there is: the distribution's PostgreSQL (first: the demo database
# runs the first one with a server) and the PostgreSQL 18 client tools bootstrap installs.
# Lifeboat picks per operation (the newest pg_dump; a pg_restore that reads the archive).
if [[ -z "${LIFEBOAT_PG_BIN_DIR:-}" ]]; then
  source scripts/env.sh
  LIFEBOAT_PG_BIN_DIR="$(pg_client_dirs)"
  [[ -n "$LIFEBOAT_PG_BIN_DIR" ]] && export LIFEBOAT_PG_BIN_DIR || unset LIFEBOAT_PG_BIN_DIR
fi
# exec: Ctrl+C and SIGTERM reach Lifeboat itself, which stops the demo database cleanly.
exec target/release/lifeboat serve
