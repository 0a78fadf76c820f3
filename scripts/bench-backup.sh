#!/usr/bin/env bash
# Backup benchmark: Lifeboat's "Back up now" (dump + fsync + full read-back verification +
# SHA-256 + rename + sidecar) against bare `pg_dump -Fc -f` on the same database,
# alternating runs, on a throwaway PostgreSQL cluster.
#
#   scripts/bench-backup.sh [SIZE_MB] [RUNS]      defaults: 1200 MB of rows (a database of about 1.1 GB), 3 runs each
#
# Prints each run, the median ratio lifeboat/pg_dump, and the Lifeboat server's peak
# memory growth during a backup (VmHWM after − VmRSS before, the server process only:
# pg_dump and pg_restore are separate processes in both cases).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ -z "${LIFEBOAT_TEST_PG_URL:-}" ]]; then
  source scripts/env.sh
  cargo build --release -p server --bin lifeboat
  exec scripts/with-test-postgres.sh "$0" "$@"
fi

size_mb="${1:-1200}"
runs="${2:-3}"
bin="$LIFEBOAT_TEST_PG_BIN_DIR"
work="$(mktemp -d /var/tmp/lifeboat-bench.XXXXXX)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

db_url="${LIFEBOAT_TEST_PG_URL%/*}/bench"
psql -q "$LIFEBOAT_TEST_PG_URL" -c "CREATE DATABASE bench" >/dev/null
rows=$((size_mb * 1024 * 1024 / 150))
echo "creating a ${size_mb} MB database (${rows} rows in 3 tables)…"
psql -q "$db_url" <<SQL
CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, payload text NOT NULL);
INSERT INTO events SELECT g, now() - g * interval '1 second', 'kind-' || (g % 17), md5(g::text) || md5((g * 31)::text)
  FROM generate_series(1, ${rows} * 8 / 10) g;
CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text);
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, ${rows} / 10) g;
CREATE TABLE notes (id bigint, body text);
INSERT INTO notes SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, ${rows} / 10) g;
VACUUM ANALYZE;
SQL
psql -At "$db_url" -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size('bench'))"

# Lifeboat, serving, with an administrator for the API calls.
export LIFEBOAT_DATA_DIR="$work/data" LIFEBOAT_TARGET_URL="$db_url" LIFEBOAT_PG_BIN_DIR="$bin"
export LIFEBOAT_ADDR=127.0.0.1:3917 LIFEBOAT_ADMIN_PASSWORD="benchmark-password" LIFEBOAT_LOG=warn
# Nothing of Lifeboat's own in the background while it is measured.
export LIFEBOAT_SCHEDULE=off LIFEBOAT_TEST_RESTORE_EVERY=off
target/release/lifeboat serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:3917/healthz >/dev/null && break; sleep 0.2; done
jar="$work/cookies"
curl -sf -c "$jar" -H 'x-requested-with: bench' -H 'content-type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' http://127.0.0.1:3917/api/v1/auth/login >/dev/null

now() { date +%s.%N; }
lifeboat_run() {
  local before job status t0 t1
  before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
  t0=$(now)
  job=$(curl -sf -b "$jar" -X POST -H 'x-requested-with: bench' http://127.0.0.1:3917/api/v1/backups |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
  # Follow the job's event stream to its end (one idle curl): polling with a curl and a
  # python3 every 0.1 s took CPU from pg_dump on a 2-core machine, and only on Lifeboat's
  # side of the comparison.
  curl -sfN -b "$jar" "http://127.0.0.1:3917/api/v1/jobs/$job/events" >/dev/null || true
  t1=$(now)
  status=$(curl -sf -b "$jar" "http://127.0.0.1:3917/api/v1/jobs/$job" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [[ "$status" == succeeded ]] || { echo "lifeboat backup $status" >&2; exit 1; }
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  echo "$(awk "BEGIN {print $t1 - $t0}") $before $hwm"
}
pg_dump_run() {
  local t0 t1
  rm -f "$work/bare.dump"
  t0=$(now)
  PGPASSWORD="$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).password)' "$db_url")" \
    "$bin/pg_dump" -Fc -f "$work/bare.dump" "$db_url"
  t1=$(now)
  awk "BEGIN {print $t1 - $t0}"
}

declare -a ratios
peak_growth=0
for i in $(seq "$runs"); do
  b=$(pg_dump_run)
  read -r l before hwm < <(lifeboat_run)
  growth=$(((hwm - before) / 1024))
  ((growth > peak_growth)) && peak_growth=$growth
  r=$(awk "BEGIN {printf \"%.3f\", $l / $b}")
  ratios+=("$r")
  printf 'run %d: pg_dump %6.2f s   lifeboat %6.2f s   ratio %s   server RSS %d MB → peak %d MB\n' \
    "$i" "$b" "$l" "$r" $((before / 1024)) $((hwm / 1024))
  # Keep the volume from filling: only the timing matters here.
  rm -f "$LIFEBOAT_DATA_DIR"/backups/bench/*.dump "$LIFEBOAT_DATA_DIR"/backups/bench/*.json
done
# The middle ratio; with an even count, the mean of the two middle ones.
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2] + a[NR/2+1]) / 2}')
echo "dump size: $(du -m "$work/bare.dump" | cut -f1) MB"
echo "median ratio lifeboat/pg_dump: $median (goal ≤ 1.10)"
echo "peak server RSS growth during a backup: ${peak_growth} MB (goal < 50 MB)"
