#!/usr/bin/env bash
# Backup benchmark, on a throwaway PostgreSQL cluster and realistic mixed data
# (scripts/bench-data.sql: numbers, timestamps, text, jsonb, bytea, indexes).
#
#   scripts/bench-backup.sh [SIZE_MB] [RUNS]      defaults: a database of about 1100 MB, 5 rounds
#
# With LIFEBOAT_TEST_PG_URL (and LIFEBOAT_TEST_PG_BIN_DIR) set, it uses that cluster and
# builds nothing; with BENCH_REUSE=1 as well, a database `bench` already there is reused
# instead of created (keep a cluster running between measurements, e.g.
# `scripts/with-test-postgres.sh bash -c 'echo "$LIFEBOAT_TEST_PG_URL"; sleep 3600'`).
#
# Each round runs, in alternating order:
#   debian   Debian's default: `pg_dump -Fc` (gzip level 6) with the oldest client found
#   bare     bare `pg_dump -Fc` with the client and compression Lifeboat chose (read from
#            the backup's record)
#   lifeboat Lifeboat's default "Back up now" (dump with decode-while-writing verification,
#            fsync, read-back, SHA-256, rename, sidecar), timed from the request to the end
#            of the job's event stream
# and prints, with each round's figures and the medians:
#   1. lifeboat ÷ debian  (time; goal ≤ 0.5) and its size ratio (goal ≤ 1.15)
#   2. lifeboat ÷ bare    (time; goal ≤ 1.03)
#   3. the Lifeboat server's memory growth during a backup (peak RSS, reset before each
#      backup, minus RSS before it; pg_dump and pg_restore are separate processes; goal < 50 MB)
# plus the median of each phase Lifeboat recorded for its backups.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ -z "${LIFEBOAT_TEST_PG_URL:-}" ]]; then
  source scripts/env.sh
  cargo build --release -p server --bin lifeboat
  exec scripts/with-test-postgres.sh "$0" "$@"
fi

size_mb="${1:-1100}"
runs="${2:-5}"
debian_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | head -1)"
[[ -x "$debian_bin/pg_dump" ]] || debian_bin="$LIFEBOAT_TEST_PG_BIN_DIR"
work="$(mktemp -d /var/tmp/lifeboat-bench.XXXXXX)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

db_url="${LIFEBOAT_TEST_PG_URL%/*}/bench"
PGPASSWORD="$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).password)' "$db_url")"
export PGPASSWORD
if [[ -n "${BENCH_REUSE:-}" ]] &&
  [[ "$(psql -At "$LIFEBOAT_TEST_PG_URL" -c "SELECT 1 FROM pg_database WHERE datname = 'bench'")" == 1 ]]; then
  echo "reusing the database bench (BENCH_REUSE)"
else
  psql -q "$LIFEBOAT_TEST_PG_URL" -c "CREATE DATABASE bench" >/dev/null
  orders=$(((size_mb > 10 ? size_mb - 8 : 2) * 1000 * 100 / 46))
  echo "creating a database of about ${size_mb} MB (${orders} orders, with customers and events)…"
  psql -q -v rows="$orders" -f scripts/bench-data.sql "$db_url" >/dev/null
fi
psql -At "$db_url" -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size('bench'))"

# Lifeboat, serving, with an administrator for the API calls. No compression setting: what
# a user gets by default.
unset LIFEBOAT_COMPRESSION
export LIFEBOAT_DATA_DIR="$work/data" LIFEBOAT_TARGET_URL="$db_url"
export LIFEBOAT_ADDR=127.0.0.1:3917 LIFEBOAT_ADMIN_PASSWORD="benchmark-password" LIFEBOAT_LOG=warn
# Nothing of Lifeboat's own in the background while it is measured.
export LIFEBOAT_SCHEDULE=off LIFEBOAT_SCHEDULE_OFF_OK=true LIFEBOAT_TEST_RESTORE_EVERY=off
# The client directories `make run` gives Lifeboat (scripts/run.sh), so that it chooses
# among the same clients a user's Lifeboat does.
source scripts/env.sh
LIFEBOAT_PG_BIN_DIR="$(pg_client_dirs)"
[[ -n "$LIFEBOAT_PG_BIN_DIR" ]] && export LIFEBOAT_PG_BIN_DIR || unset LIFEBOAT_PG_BIN_DIR
target/release/lifeboat serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:3917/healthz >/dev/null && break; sleep 0.2; done
jar="$work/cookies"
curl -sf -c "$jar" -H 'x-requested-with: bench' -H 'content-type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' http://127.0.0.1:3917/api/v1/auth/login >/dev/null
api() { curl -sf -b "$jar" -H 'x-requested-with: bench' "$@"; }
# Evaluates a Python expression over the JSON on stdin, as `d` (a backup's detail has its
# record under "backup": both levels are merged).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); d={**(d.get('backup') or {}), **d} if isinstance(d, dict) else d; print($1)"; }

now() { date +%s.%N; }
secs() { awk "BEGIN {printf \"%.3f\", $2 - $1}"; }
size_of() { stat -c %s "$1"; }

# CPU seconds of the server (own, then its finished children: pg_dump, pg_restore, …).
cpu_of_server() { awk '{printf "%.2f %.2f\n", ($14 + $15) / 100, ($16 + $17) / 100}' "/proc/$server_pid/stat"; }
# Prints: seconds, bytes, RSS before (kB), peak RSS (kB), backup id, CPU seconds of the
# server itself and of its children during the backup.
lifeboat_run() {
  local before job status t0 t1 id own0 kids0 own1 kids1
  before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
  read -r own0 kids0 < <(cpu_of_server)
  # Reset the peak (VmHWM) so that it is this backup's.
  echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true
  t0=$(now)
  # The job's number read with sed, not Python: nothing but curl starts beside pg_dump.
  job=$(api -X POST http://127.0.0.1:3917/api/v1/backups | sed -n 's/.*"job_id": *\([0-9]*\).*/\1/p')
  # Follow the job's event stream to its end (one idle curl): polling would take CPU from
  # pg_dump on a 2-core machine, and only on Lifeboat's side of the comparison.
  api -N "http://127.0.0.1:3917/api/v1/jobs/$job/events" >/dev/null || true
  t1=$(now)
  read -r status id < <(api "http://127.0.0.1:3917/api/v1/jobs/$job" | json 'd["status"], d.get("backup_id")')
  [[ "$status" == succeeded ]] || {
    echo "lifeboat backup $status" >&2
    exit 1
  }
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  read -r own1 kids1 < <(cpu_of_server)
  local bytes
  bytes=$(api "http://127.0.0.1:3917/api/v1/backups/$id" | json 'd["size_bytes"]')
  echo "$(secs "$t0" "$t1") $bytes $before $hwm $id $(secs "$own0" "$own1") $(secs "$kids0" "$kids1")"
}
# Prints: seconds, bytes, CPU seconds of pg_dump (user + system).
pg_dump_run() { # BIN_DIR, extra pg_dump arguments…
  local dir="$1" t0 t1 cpu
  shift
  rm -f "$work/bare.dump"
  t0=$(now)
  cpu=$( (
    TIMEFORMAT='%U %S'
    time "$dir/pg_dump" -Fc "$@" -f "$work/bare.dump" "$db_url"
  ) 2>&1 | tail -1 | awk '{print $1 + $2}')
  t1=$(now)
  echo "$(secs "$t0" "$t1") $(size_of "$work/bare.dump") $cpu"
  rm -f "$work/bare.dump"
}
clear_lifeboat_files() {
  # Keep the volume from filling: only the timing matters here.
  rm -f "$LIFEBOAT_DATA_DIR"/backups/bench/*.dump "$LIFEBOAT_DATA_DIR"/backups/bench/*.json
}

# A first Lifeboat backup (not counted) tells which client and compression it chose.
read -r _ _ _ _ first_id _ < <(lifeboat_run)
detail="$work/first.json"
api "http://127.0.0.1:3917/api/v1/backups/$first_id" >"$detail"
clear_lifeboat_files
# The same client: a pg_dump of the version Lifeboat recorded, found where Lifeboat looks
# (LIFEBOAT_PG_BIN_DIR, PATH, then /usr/lib/postgresql/*/bin).
version=$(json 'd.get("pg_dump_version") or ""' <"$detail")
compression=$(json 'd.get("compression") or ""' <"$detail")
candidates=()
IFS=: read -r -a bin_dirs <<<"${LIFEBOAT_PG_BIN_DIR:-}"
for d in "${bin_dirs[@]}"; do candidates+=("$d/pg_dump"); done
client_dir=""
for c in "${candidates[@]}" $(type -ap pg_dump) /usr/lib/postgresql/*/bin/pg_dump; do
  if [[ -x "$c" ]] && "$c" --version 2>/dev/null | grep -q " ${version}\b"; then
    client_dir="$(dirname "$c")"
    break
  fi
done
if [[ -z "$client_dir" ]]; then
  echo "no pg_dump ${version:-?} found where Lifeboat looks: the bare runs would not use the same client" >&2
  exit 1
fi
# pg_dump before 16 takes only a gzip level (0 for none).
same_args=()
major="${version%%.*}"
case "$compression" in
"") ;;
none) same_args=(--compress=0) ;;
gzip:*) if ((major >= 16)); then same_args=(--compress="$compression"); else same_args=(--compress="${compression#gzip:}"); fi ;;
*) same_args=(--compress="$compression") ;;
esac
echo "Lifeboat chose: pg_dump ${version:-?} ($client_dir), compression ${compression:-?} (bare pg_dump: ${same_args[*]:-no compression option})"
echo "Debian's default: $debian_bin/pg_dump -Fc"
echo

declare -a r_debian r_bare r_size phases
peak_growth=0
for i in $(seq "$runs"); do
  order=(debian bare lifeboat)
  ((i % 2 == 0)) && order=(lifeboat bare debian)
  for what in "${order[@]}"; do
    case $what in
    debian) read -r t_debian s_debian _ < <(pg_dump_run "$debian_bin") ;;
    bare) read -r t_bare s_bare c_bare < <(pg_dump_run "$client_dir" "${same_args[@]}") ;;
    lifeboat)
      read -r t_lb s_lb before hwm id c_own c_kids < <(lifeboat_run)
      phases+=("$(api "http://127.0.0.1:3917/api/v1/backups/$id" | json '" ".join("%s=%s" % (t["phase"], t["ms"]) for t in d.get("timings") or d.get("timings_ms") or [])')")
      clear_lifeboat_files
      ;;
    esac
  done
  growth=$(((hwm - before) / 1024))
  ((growth > peak_growth)) && peak_growth=$growth
  r_debian+=("$(awk "BEGIN {printf \"%.3f\", $t_lb / $t_debian}")")
  r_bare+=("$(awk "BEGIN {printf \"%.3f\", $t_lb / $t_bare}")")
  r_size+=("$(awk "BEGIN {printf \"%.3f\", $s_lb / $s_debian}")")
  printf 'round %d: debian %6.2f s %5d MB | bare same settings %6.2f s %5d MB | lifeboat %6.2f s %5d MB | ÷debian %s (size %s) ÷bare %s | RSS %d → peak %d MB\n' \
    "$i" "$t_debian" $((s_debian / 1048576)) "$t_bare" $((s_bare / 1048576)) "$t_lb" $((s_lb / 1048576)) \
    "${r_debian[-1]}" "${r_size[-1]}" "${r_bare[-1]}" $((before / 1024)) $((hwm / 1024))
  echo "         lifeboat phases (ms): ${phases[-1]}"
  echo "         CPU s: bare pg_dump $c_bare | lifeboat's children (pg_dump, probes; pg_restore when it decodes) $c_kids, lifeboat itself (its decode, read-back) $c_own"
done

# The middle value; with an even count, the mean of the two middle ones.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
echo "lifeboat phases, median ms:"
printf '%s\n' "${phases[@]}" | tr ' ' '\n' | awk -F= 'NF == 2 {v[$1] = v[$1] " " $2} END {for (p in v) print p, v[p]}' |
  while read -r p vals; do
    # shellcheck disable=SC2086
    echo "  $p $(median $vals)"
  done
echo "1. lifeboat default ÷ Debian's default pg_dump: time $(median "${r_debian[@]}") (goal ≤ 0.5), size $(median "${r_size[@]}") (goal ≤ 1.15)"
echo "2. lifeboat ÷ bare pg_dump, same client and compression: $(median "${r_bare[@]}") (goal ≤ 1.03)"
echo "3. peak server memory growth during a backup: ${peak_growth} MB (goal < 50 MB)"
