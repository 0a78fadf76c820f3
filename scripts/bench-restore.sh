#!/usr/bin/env bash
# Restore benchmark: Lifeboat's swap restore, its roll back and an in-place restore against
# bare `pg_restore` of the same file, on a throwaway PostgreSQL cluster, at one or more
# database sizes.
#
#   scripts/bench-restore.sh [SIZES_MB] [RUNS]     defaults: "300,1200" (databases of about
#                                                   0.3 and 1.1 GB, like scripts/bench-backup.sh's),
#                                                   2 runs each
#
# Each size: a database of three tables with indexes, backed up once by Lifeboat (the file a
# user restores most often); every restore below restores that file. Each run, in this order:
#   bare      pg_restore --single-transaction --exit-on-error into a new empty database
#             (wall time; the database is dropped afterwards);
#   swap      POST /api/v1/restores {"strategy": "swap"}: safety backup, pg_restore --jobs N
#             into a new database, ANALYZE and the row-count proof, the swap of names. Measured:
#             the offline time (`offline_ms`) and the job without its safety-backup phase
#             (the restore, the proof, the swap), compared with `bare`;
#   roll back POST /api/v1/restores/{id}/rollback: `rollback_offline_ms`, compared with the old
#             way of undoing a restore — restoring its safety backup in place (next line);
#   in place  the swap's safety backup restored with {"strategy": "in_place"}: the application
#             is kept out from its safety backup's start to its end, so its offline time is
#             the whole job; its restore phase is the old roll back.
# Lifeboat backs up every database a swap or a roll back sets aside; each run waits for those
# backups before going on (so that they do not run under the next measurement) and drops the
# kept databases at its end.
#
# Prints each run, then per size the medians: offline time of a swap and of a roll back, the
# ratio in-place offline / swap offline, swap-without-safety / bare pg_restore (goal ≤ 1.10),
# and in-place restore of the safety backup / roll back. The `--jobs` used is printed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ -z "${LIFEBOAT_TEST_PG_URL:-}" ]]; then
  # shellcheck source=/dev/null
  source scripts/env.sh
  cargo build --release -p server --bin lifeboat
  exec scripts/with-test-postgres.sh "$0" "$@"
fi

sizes="${1:-300,1200}"
runs="${2:-2}"
jobs="${LIFEBOAT_RESTORE_JOBS:-4}"
bin="$LIFEBOAT_TEST_PG_BIN_DIR"
server_pid=""
work="$(mktemp -d /var/tmp/lifeboat-bench-restore.XXXXXX)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
avail_mb() { df -Pm "$1" | awk 'NR == 2 {print $4}'; }
largest=$(tr ',' '\n' <<<"$sizes" | sort -n | tail -1)
need_mb=$((7 * largest))
if (($(avail_mb "$work") < need_mb)); then
  echo "not enough free space in $work: $(avail_mb "$work") MB free, about $need_mb MB needed; try smaller SIZES_MB" >&2
  exit 1
fi
echo "disk before: $(df -h "$work" | awk 'NR == 2 {print $4 " free of " $2}') ($work); pg_restore --jobs $jobs on $(nproc) cores"

now() { date +%s.%N; }
secs() { awk "BEGIN {printf \"%.2f\", $1}"; }
json() { python3 -c "import json,sys; d = json.load(sys.stdin); print($1)"; }
# The middle value; with an even count, the mean of the two middle ones.
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2] + a[NR/2+1]) / 2}'; }
admin_url="$LIFEBOAT_TEST_PG_URL"

# --- Lifeboat ---------------------------------------------------------------------------
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
jar="$work/cookies"
start_lifeboat() { # TARGET_URL
  export LIFEBOAT_DATA_DIR="$work/data" LIFEBOAT_TARGET_URL="$1" LIFEBOAT_PG_BIN_DIR="$bin"
  export LIFEBOAT_ADDR="127.0.0.1:$port" LIFEBOAT_ADMIN_PASSWORD="benchmark-password" LIFEBOAT_LOG=warn
  export LIFEBOAT_RESTORE_JOBS="$jobs" LIFEBOAT_SCHEDULE=off LIFEBOAT_TEST_RESTORE_EVERY=off
  target/release/lifeboat serve 2>>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
  curl -sf -c "$jar" -H 'x-requested-with: bench' -H 'content-type: application/json' \
    -d '{"username":"admin","password":"benchmark-password"}' "$base/api/v1/auth/login" >/dev/null
}
stop_lifeboat() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
api() { # METHOD PATH [JSON]
  curl -sf -b "$jar" -X "$1" -H 'x-requested-with: bench' -H 'content-type: application/json' \
    ${3:+-d "$3"} "$base$2"
}
# Follows a job's event stream to its end (one idle curl, no polling loop taking CPU from
# the database server); fails unless the job succeeded.
follow() { # JOB_ID
  curl -sfN -b "$jar" "$base/api/v1/jobs/$1/events" >/dev/null || true
  local status
  status=$(api GET "/api/v1/jobs/$1" | json 'd["status"]')
  [[ "$status" == succeeded ]] || {
    echo "job $1 $status: $(api GET "/api/v1/jobs/$1" | json 'd["message"]')" >&2
    exit 1
  }
}
# Waits until every kept database's final backup has ended; fails if one did not succeed.
final_backups_done() {
  local states
  for _ in $(seq 3000); do
    states=$(api GET /api/v1/restores/kept-databases | json '" ".join(str(k["final_backup_status"]) for k in d)')
    [[ " $states " == *" running "* || " $states " == *" None "* ]] || break
    sleep 0.2
  done
  [[ -z "$states" || "$states" =~ ^(succeeded ?)+$ ]] || {
    echo "final backups: $states" >&2
    exit 1
  }
}
drop_kept() {
  local name
  for name in $(api GET /api/v1/restores/kept-databases | json '" ".join(k["name"] for k in d)'); do
    api DELETE "/api/v1/restores/kept-databases/$name" >/dev/null
  done
}
# Sum of a restore's phases (seconds), all or all but those named.
phases_s() { # RESTORE_JSON_FILE EXCLUDED_PHASE...
  local f="$1"
  shift
  python3 - "$f" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("%.3f" % (sum(t["ms"] for t in d["timings"] if t["phase"] not in sys.argv[2:]) / 1000))
PY
}
phase_s() { python3 -c "import json,sys; d = json.load(open(sys.argv[1])); print('%.3f' % (sum(t['ms'] for t in d['timings'] if t['phase'] == sys.argv[2]) / 1000))" "$1" "$2"; }

# --- one size -----------------------------------------------------------------------------
declare -a summary
for size_mb in $(tr ',' ' ' <<<"$sizes"); do
  db="bench_${size_mb}"
  db_url="${admin_url%/*}/$db"
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  rows=$((size_mb * 1024 * 1024 / 150))
  echo
  echo "== ${size_mb} MB: creating the database (${rows} rows in 3 tables, with indexes)…"
  psql -q "$db_url" <<SQL
CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, payload text NOT NULL);
INSERT INTO events SELECT g, now() - g * interval '1 second', 'kind-' || (g % 17), md5(g::text) || md5((g * 31)::text)
  FROM generate_series(1, ${rows} * 8 / 10) g;
CREATE INDEX events_at ON events (at);
CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text);
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, ${rows} / 10) g;
CREATE INDEX customers_email ON customers (email);
CREATE TABLE notes (id bigint, body text);
INSERT INTO notes SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, ${rows} / 10) g;
VACUUM ANALYZE;
SQL
  psql -At "$db_url" -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size('$db'))"
  rm -rf "$work/data"
  start_lifeboat "$db_url"
  read -r job source < <(api POST /api/v1/backups | json '"%d %d" % (d["job_id"], d["backup_id"])')
  follow "$job"
  dump="$LIFEBOAT_DATA_DIR/$(api GET "/api/v1/backups/$source" | json 'd["backup"]["location"]')"
  echo "the backup to restore: $(($(stat -c %s "$dump") / 1000000)) MB, $dump"

  declare -a swap_off=() back_off=() inplace_off=() r_swap=() r_inplace_off=() r_back=()
  for i in $(seq "$runs"); do
    # bare pg_restore into a new empty database
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS ${db}_bare" -c "CREATE DATABASE ${db}_bare" >/dev/null
    t0=$(now)
    "$bin/pg_restore" --single-transaction --exit-on-error --dbname="${admin_url%/*}/${db}_bare" "$dump"
    bare=$(secs "$(now) - $t0")
    psql -q "$admin_url" -c "DROP DATABASE ${db}_bare" >/dev/null

    # swap
    read -r job restore < <(api POST /api/v1/restores \
      "{\"backup_id\":$source,\"confirm\":\"$db\",\"strategy\":\"swap\"}" |
      json '"%d %d" % (d["job_id"], d["restore_id"])')
    follow "$job"
    api GET "/api/v1/restores/$restore" >"$work/swap.json"
    offline=$(json 'd["offline_ms"]' <"$work/swap.json")
    safety=$(json 'd["safety_backup_id"]' <"$work/swap.json")
    no_safety=$(phases_s "$work/swap.json" safety_backup)
    phases=$(json '" ".join("%s=%.2fs" % (t["phase"], t["ms"] / 1000) for t in d["timings"])' <"$work/swap.json")
    final_backups_done

    # roll back
    rb_job=$(api POST "/api/v1/restores/$restore/rollback" | json 'd["job_id"]')
    follow "$rb_job"
    back=$(api GET "/api/v1/restores/$restore" | json 'd["rollback_offline_ms"]')
    final_backups_done

    # in place, from the swap's safety backup (the old way of undoing a restore)
    read -r ip_job ip_restore < <(api POST /api/v1/restores \
      "{\"backup_id\":$safety,\"confirm\":\"$db\",\"strategy\":\"in_place\"}" |
      json '"%d %d" % (d["job_id"], d["restore_id"])')
    follow "$ip_job"
    api GET "/api/v1/restores/$ip_restore" >"$work/inplace.json"
    ip_offline=$(phases_s "$work/inplace.json" preflight)
    ip_restore_s=$(phase_s "$work/inplace.json" restore)

    drop_kept
    # Keep the volume from filling: every backup file but the one restored.
    find "$LIFEBOAT_DATA_DIR/backups" -type f ! -path "$dump" ! -path "$dump.json" -delete

    swap_off+=("$offline")
    back_off+=("$back")
    inplace_off+=("$ip_offline")
    r_swap+=("$(awk "BEGIN {printf \"%.3f\", $no_safety / $bare}")")
    r_inplace_off+=("$(awk "BEGIN {printf \"%.0f\", $ip_offline * 1000 / ($offline > 0 ? $offline : 1)}")")
    r_back+=("$(awk "BEGIN {printf \"%.0f\", $ip_restore_s * 1000 / ($back > 0 ? $back : 1)}")")
    printf 'run %d: bare pg_restore %s s | swap: offline %d ms, without safety backup %s s (%s) | roll back: offline %d ms | in place: offline %s s, restore phase %s s\n' \
      "$i" "$bare" "$offline" "$no_safety" "$phases" "$back" "$ip_offline" "$ip_restore_s"
  done
  stop_lifeboat
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  line=$(printf '%s MB: offline swap %s ms, roll back %s ms; in-place offline / swap offline %s×; swap without safety backup / bare pg_restore %s (goal ≤ 1.10); in-place restore of the safety backup / roll back %s×' \
    "$size_mb" \
    "$(printf '%s\n' "${swap_off[@]}" | median)" \
    "$(printf '%s\n' "${back_off[@]}" | median)" \
    "$(printf '%s\n' "${r_inplace_off[@]}" | median)" \
    "$(printf '%s\n' "${r_swap[@]}" | median)" \
    "$(printf '%s\n' "${r_back[@]}" | median)")
  echo "$line"
  summary+=("$line")
done

echo
echo "medians (pg_restore --jobs $jobs, $(nproc) cores):"
printf '  %s\n' "${summary[@]}"
echo "disk after: $(df -h "$work" | awk 'NR == 2 {print $4 " free"}')"
