#!/usr/bin/env bash
# Restore benchmark: Lifeboat's restore of an uploaded dump against bare `pg_restore` of the
# same file into the same database, alternating runs, on a throwaway PostgreSQL cluster.
#
#   scripts/bench-restore.sh [SIZE_MB] [RUNS]      defaults: 1200 MB of rows (the database of
#                                                   scripts/bench-backup.sh), 3 runs each
#
# The database is dumped once with `pg_dump -Fc -Z0` (about as large as the database). Each
# run then:
#   bare      pg_restore --clean --if-exists --exit-on-error --single-transaction --dbname=URL FILE
#             (wall time);
#   lifeboat  POST /api/v1/uploads (the file streamed in, hashed, fsynced, fully decoded, listed),
#             POST /api/v1/restores, polled to the end; its journal's `restore` phase is
#             compared with the bare run: that phase is pg_restore itself (same options plus
#             --verbose, read by Lifeboat for progress) plus ending other sessions, i.e. a
#             Lifeboat restore without its preflight, safety backup and ANALYZE phases.
# The dump is on the same disk as Lifeboat's data directory (where Lifeboat's uploaded copy
# is read from), so both sides read it from the same kind of storage; the database, its WAL
# and Lifeboat's data directory (the uploaded copy, the safety backups, deleted after each
# run) are there too: about 5 × SIZE_MB is needed, checked first.
#
# Prints each run (upload time, every phase, the job's total), the median ratio
# lifeboat-restore-phase/bare-pg_restore (goal ≤ 1.10), and the server's peak memory growth
# per run (VmHWM after − VmRSS before, the server process only: pg_dump and pg_restore are
# separate processes).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ -z "${LIFEBOAT_TEST_PG_URL:-}" ]]; then
  # shellcheck source=/dev/null
  source scripts/env.sh
  cargo build --release -p server --bin lifeboat
  exec scripts/with-test-postgres.sh "$0" "$@"
fi

size_mb="${1:-1200}"
runs="${2:-3}"
bin="$LIFEBOAT_TEST_PG_BIN_DIR"
server_pid=""
src_dir=""
work="$(mktemp -d /var/tmp/lifeboat-bench-restore.XXXXXX)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work" ${src_dir:+"$src_dir"}' EXIT
avail_mb() { df -Pm "$1" | awk 'NR == 2 {print $4}'; }
need_mb=$((5 * size_mb))
src_dir="$work/src"
mkdir "$src_dir"
if (($(avail_mb "$work") < need_mb)); then
  echo "not enough free space in $work: $(avail_mb "$work") MB free, about $need_mb MB needed; try a smaller SIZE_MB" >&2
  exit 1
fi
echo "disk before: $(df -h "$work" | awk 'NR == 2 {print $4 " free of " $2}') ($work); the dump goes to $src_dir"

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

now() { date +%s.%N; }
dump="$src_dir/bench.dump"
t0=$(now)
"$bin/pg_dump" -Fc -Z0 -f "$dump" "$db_url"
t1=$(now)
dump_bytes=$(stat -c %s "$dump")
printf 'dump (pg_dump -Fc -Z0): %d bytes = %d MB, in %.1f s\n' "$dump_bytes" $((dump_bytes / 1000000)) "$(awk "BEGIN {print $t1 - $t0}")"

# Lifeboat, serving, with an administrator for the API calls.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export LIFEBOAT_DATA_DIR="$work/data" LIFEBOAT_TARGET_URL="$db_url" LIFEBOAT_PG_BIN_DIR="$bin"
export LIFEBOAT_ADDR="127.0.0.1:$port" LIFEBOAT_ADMIN_PASSWORD="benchmark-password" LIFEBOAT_LOG=warn
target/release/lifeboat serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
jar="$work/cookies"
curl -sf -c "$jar" -H 'x-requested-with: bench' -H 'content-type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' "$base/api/v1/auth/login" >/dev/null

status_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$server_pid/status"; }
json() { python3 -c "import json,sys; d = json.load(sys.stdin); print($1)"; }

# Prints "upload_s job_s restore_phase_s rss_before_kib hwm_kib phases".
lifeboat_run() {
  local before t0 t1 t2 code upload job restore status phases
  before=$(status_kib VmRSS)
  # Peak RSS from here on (Linux ≥ 4.0, our own process); else VmHWM since start.
  echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true
  t0=$(now)
  code=$(curl -s -o "$work/upload.json" -w '%{http_code}' -b "$jar" -X POST -T "$dump" \
    -H 'x-requested-with: bench' -H 'content-type: application/octet-stream' -H 'Expect:' \
    "$base/api/v1/uploads?filename=bench.dump")
  t1=$(now)
  [[ "$code" == 201 ]] || {
    echo "upload: HTTP $code $(cat "$work/upload.json")" >&2
    exit 1
  }
  upload=$(json 'd["upload_id"]' <"$work/upload.json")
  read -r job restore < <(curl -sf -b "$jar" -H 'x-requested-with: bench' -H 'content-type: application/json' \
    -d "{\"upload_id\":\"$upload\",\"confirm\":\"bench\"}" "$base/api/v1/restores" |
    json '"%d %d" % (d["job_id"], d["restore_id"])')
  # Follow the job's event stream to its end (one idle curl): polling with a curl and a
  # python3 per check would take CPU from pg_restore on a small machine, and only on
  # Lifeboat's side of the comparison.
  curl -sfN -b "$jar" "$base/api/v1/jobs/$job/events" >/dev/null || true
  t2=$(now)
  status=$(curl -sf -b "$jar" "$base/api/v1/jobs/$job" | json 'd["status"]')
  curl -sf -b "$jar" "$base/api/v1/restores/$restore" >"$work/restore.json"
  [[ "$status" == succeeded ]] || {
    echo "lifeboat restore $status: $(json 'd["message"]' <"$work/restore.json")" >&2
    exit 1
  }
  phases=$(json '" ".join("%s=%.2fs" % (t["phase"], t["ms"] / 1000) for t in d["timings"])' <"$work/restore.json")
  echo "$(awk "BEGIN {print $t1 - $t0}") $(awk "BEGIN {print $t2 - $t1}")" \
    "$(json '[t["ms"] for t in d["timings"] if t["phase"] == "restore"][0] / 1000' <"$work/restore.json")" \
    "$before $(status_kib VmHWM) $phases"
}
bare_run() {
  local t0 t1
  t0=$(now)
  "$bin/pg_restore" --clean --if-exists --exit-on-error --single-transaction --dbname="$db_url" "$dump"
  t1=$(now)
  awk "BEGIN {print $t1 - $t0}"
}

declare -a ratios
peak_growth=0
for i in $(seq "$runs"); do
  b=$(bare_run)
  read -r up jobs l before hwm phases < <(lifeboat_run)
  growth=$(((hwm - before) / 1024))
  ((growth > peak_growth)) && peak_growth=$growth
  r=$(awk "BEGIN {printf \"%.3f\", $l / $b}")
  ratios+=("$r")
  printf 'run %d: pg_restore %6.2f s   lifeboat restore phase %6.2f s   ratio %s   (upload %.2f s, then job %.2f s: %s)   server RSS %d MB → peak %d MB\n' \
    "$i" "$b" "$l" "$r" "$up" "$jobs" "$phases" $((before / 1024)) $((hwm / 1024))
  # Keep the volume from filling: the safety backups are not needed here.
  rm -f "$LIFEBOAT_DATA_DIR"/backups/bench/*.dump "$LIFEBOAT_DATA_DIR"/backups/bench/*.json
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median ratio lifeboat-restore-phase/pg_restore: $median (goal ≤ 1.10)"
echo "peak server RSS growth during an upload + restore: ${peak_growth} MB"
echo "disk after: $(df -h "$work" | awk 'NR == 2 {print $4 " free"}'), of which this run's files: $(du -sh "$work" | cut -f1)"
