#!/usr/bin/env bash
# Upload benchmark: N concurrent uploads of a SIZE_GIB file to Lifeboat's
# `POST /api/v1/uploads` on loopback, against N concurrent `dd bs=1M conv=fsync` copies of the
# same bytes onto the same disk, alternating, on a throwaway PostgreSQL cluster.
#
#   scripts/bench-upload.sh [SIZE_GIB] [N] [ROUNDS]    defaults: 4 GiB, 3 concurrent, 2 rounds
#
# The uploaded file is the first ~3 KiB of a real custom-format dump (pg_dump -Fc of a tiny
# database: its header and table of contents, up to its first data block), so the server's
# first-bytes check accepts it, then one invalid block-type byte, then random bytes (one
# 64 MiB random block repeated) up to SIZE_GIB. The server streams the whole body to
# <data dir>/uploads/, hashing it with SHA-256, fsyncs it, then decodes the archive with
# pg_restore: that decode fails at once on the invalid data block, so every upload is
# answered 422 ("the archive is damaged or truncated") and its file deleted. That is
# expected: what is measured is the streaming + hashing + fsync path (the failed decode
# takes milliseconds, measured and printed below). The invalid byte matters: pg_restore
# meeting random bytes where a data block should be may read gigabytes before failing.
#
# The source file lives on tmpfs (/dev/shm) when it has room, so that it costs no disk and
# is read from memory by both curl and dd; the written copies go to /var/tmp. Disk needed:
# N × SIZE_GIB (+ 1 GiB margin), checked first.
#
# Prints per round: wall time until all N responses are back and the aggregate MB/s, the
# same for dd, the ratio lifeboat/dd (goal ≥ 0.80), each upload's HTTP status and curl
# timings, the server's CPU time; and the server's memory growth (VmHWM after − VmRSS
# before, goal < 20 MB).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ -z "${LIFEBOAT_TEST_PG_URL:-}" ]]; then
  # shellcheck source=/dev/null
  source scripts/env.sh
  cargo build --release -p server --bin lifeboat
  exec scripts/with-test-postgres.sh "$0" "$@"
fi

size_gib="${1:-4}"
n="${2:-3}"
rounds="${3:-2}"
bin="$LIFEBOAT_TEST_PG_BIN_DIR"
size=$((size_gib << 30))
server_pid=""
src_dir=""
work="$(mktemp -d /var/tmp/lifeboat-bench-upload.XXXXXX)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work" ${src_dir:+"$src_dir"}' EXIT

# --- space --------------------------------------------------------------------------------
avail_kib() { df -Pk "$1" | awk 'NR == 2 {print $4}'; }
need_kib=$(((n * size + (1 << 30)) >> 10))
if [[ -d /dev/shm ]] && (($(avail_kib /dev/shm) > (size >> 10) + (1 << 20))); then
  src_dir="$(mktemp -d /dev/shm/lifeboat-bench-upload.XXXXXX)"
else
  src_dir="$work/src"
  mkdir "$src_dir"
  need_kib=$((need_kib + (size >> 10)))
fi
if (($(avail_kib "$work") < need_kib)); then
  echo "not enough free space in $work: $(($(avail_kib "$work") >> 10)) MiB free, $((need_kib >> 10)) MiB needed;" \
    "try a smaller SIZE_GIB or N" >&2
  exit 1
fi
echo "disk before: $(df -h "$work" | awk 'NR == 2 {print $4 " free of " $2}') ($work); source file in $src_dir"

# --- the file -----------------------------------------------------------------------------
tiny_url="${LIFEBOAT_TEST_PG_URL%/*}/tiny"
psql -q "$LIFEBOAT_TEST_PG_URL" -c "CREATE DATABASE tiny" >/dev/null
psql -q "$tiny_url" -c "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g" >/dev/null
"$bin/pg_dump" -Fc -Z0 -f "$work/tiny.dump" "$tiny_url"
head -c 67108864 /dev/urandom >"$work/block"
file="$src_dir/upload.dump"
# The dump up to its first data block (block type 1, then the entry's dump id as a sign
# byte and 4 little-endian bytes), then block type 0x7f, which no pg_restore accepts.
data_id=$("$bin/pg_restore" -l "$work/tiny.dump" | awk '/ TABLE DATA / {sub(";", "", $1); print $1; exit}')
python3 - "$work/tiny.dump" "$data_id" "$file" <<'PY'
import struct, sys
dump = open(sys.argv[1], "rb").read()
at = dump.find(b"\x01\x00" + struct.pack("<I", int(sys.argv[2])), 64)
assert 0 < at <= 4096, f"the first data block is at {at}"
open(sys.argv[3], "wb").write(dump[:at] + b"\x7f")
PY
head_bytes=$(stat -c %s "$file")
for _ in $(seq $((size >> 26))); do cat "$work/block" >>"$file"; done
truncate -s "$size" "$file"
rm -f "$work/block"
echo "upload file: $(stat -c %s "$file") bytes ($((head_bytes - 1)) bytes of a pg_dump -Fc header and TOC, 1 bad byte, random), uploaded $n× concurrently"
t0=$(date +%s.%N)
decode_rc=0
"$bin/pg_restore" -f /dev/null <"$file" 2>"$work/decode.err" || decode_rc=$?
t1=$(date +%s.%N)
printf 'pg_restore -f /dev/null of that file alone: exit %d after %.3f s (%s)\n' \
  "$decode_rc" "$(awk "BEGIN {print $t1 - $t0}")" "$(head -c 100 "$work/decode.err" | tr '\n' ' ')"

# --- Lifeboat, serving ----------------------------------------------------------------------
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export LIFEBOAT_DATA_DIR="$work/data" LIFEBOAT_TARGET_URL="$tiny_url" LIFEBOAT_PG_BIN_DIR="$bin"
export LIFEBOAT_ADDR="127.0.0.1:$port" LIFEBOAT_ADMIN_PASSWORD="benchmark-password" LIFEBOAT_LOG=warn
# Nothing of Lifeboat's own in the background while it is measured.
export LIFEBOAT_SCHEDULE=off LIFEBOAT_TEST_RESTORE_EVERY=off
export LIFEBOAT_UPLOAD_MAX_SIZE=100GiB
target/release/lifeboat serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
jar="$work/cookies"
curl -sf -c "$jar" -H 'x-requested-with: bench' -H 'content-type: application/json' \
  -d '{"username":"admin","password":"benchmark-password"}' "$base/api/v1/auth/login" >/dev/null

now() { date +%s.%N; }
status_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$server_pid/status"; }
# The server's user and system CPU time, in clock ticks.
cpu_ticks() { awk '{print $14, $15}' "/proc/$server_pid/stat"; }
tck=$(getconf CLK_TCK)
# Machine-wide CPU: "busy idle" jiffies (all cores; other processes included).
machine_cpu() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
# CPU seconds (user + system) of this shell's finished children: `children_mark` (in this
# shell, not a $(…) subshell) before and after, then `children_cpu`.
children_mark() { times >"$work/times.$1"; }
children_cpu() {
  awk 'FNR == 2 {split($1, u, /[ms]/); split($2, s, /[ms]/); t[k++] = u[1] * 60 + u[2] + s[1] * 60 + s[2]}
    END {print t[1] - t[0]}' "$work/times.0" "$work/times.1"
}
# The machine's busy share (%, all cores, any process) since the given "busy idle".
cpu_line() {
  local b1 i1
  read -r b1 i1 < <(machine_cpu)
  awk "BEGIN {printf \"%.0f\", 100 * ($b1 - $1) / ($b1 - $1 + $i1 - $2)}"
}
mb_s() { awk "BEGIN {printf \"%.0f\", $n * $size / 1e6 / $1}"; }

# N uploads at once; prints "wall server_user_s server_sys_s clients_cpu_s machine_busy%" and
# leaves each curl's line in $work/curl.$i.
lifeboat_run() {
  local i t0 t1 u0 s0 u1 s1 b0 i0 pids=()
  read -r u0 s0 < <(cpu_ticks)
  children_mark 0
  read -r b0 i0 < <(machine_cpu)
  t0=$(now)
  for i in $(seq "$n"); do
    curl -s -o "$work/resp.$i" -b "$jar" -X POST -T "$file" \
      -H 'x-requested-with: bench' -H 'content-type: application/octet-stream' -H 'Expect:' \
      -w '%{http_code} %{time_total} %{speed_upload}\n' \
      "$base/api/v1/uploads?filename=bench-$i.dump" >"$work/curl.$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
  t1=$(now)
  read -r u1 s1 < <(cpu_ticks)
  children_mark 1
  echo "$(awk "BEGIN {print $t1 - $t0, ($u1 - $u0) / $tck, ($s1 - $s0) / $tck}")" \
    "$(children_cpu) $(cpu_line "$b0" "$i0")"
}
# N dd at once; prints "wall dd_cpu_s machine_busy%".
dd_run() {
  local i t0 t1 b0 i0 busy pids=()
  children_mark 0
  read -r b0 i0 < <(machine_cpu)
  t0=$(now)
  for i in $(seq "$n"); do
    dd if="$file" of="$work/dd.out.$i" bs=1M conv=fsync status=none &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  t1=$(now)
  busy=$(cpu_line "$b0" "$i0")
  children_mark 1
  rm -f "$work"/dd.out.*
  echo "$(awk "BEGIN {print $t1 - $t0}") $(children_cpu) $busy"
}

rss_before=$(status_kib VmRSS)
hwm_start=$(status_kib VmHWM)
# Peak RSS from here on (needs Linux ≥ 4.0 and owning the process; else VmHWM since start).
echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true
sync
sum_l=0 sum_d=0
for r in $(seq "$rounds"); do
  read -r d dcpu dbusy < <(dd_run)
  sync
  read -r l ucpu scpu ccpu lbusy < <(lifeboat_run)
  sync
  sum_l=$(awk "BEGIN {print $sum_l + $l}")
  sum_d=$(awk "BEGIN {print $sum_d + $d}")
  printf 'round %d: dd %6.2f s = %5s MB/s   lifeboat %6.2f s = %5s MB/s   ratio %.3f\n' \
    "$r" "$d" "$(mb_s "$d")" "$l" "$(mb_s "$l")" "$(awk "BEGIN {print $d / $l}")"
  printf '  CPU: dd processes %.1f s, machine %s%% busy | lifeboat server %.1f s user + %.1f s system (%.0f%% of one core), curl clients %.1f s, machine %s%% busy\n' \
    "$dcpu" "$dbusy" "$ucpu" "$scpu" "$(awk "BEGIN {print 100 * ($ucpu + $scpu) / $l}")" "$ccpu" "$lbusy"
  for i in $(seq "$n"); do
    read -r code total speed <"$work/curl.$i"
    printf '  upload %d: HTTP %s after %.2f s (curl upload speed %.0f MB/s): %s\n' "$i" "$code" "$total" \
      "$(awk "BEGIN {print $speed / 1e6}")" "$(head -c 160 "$work/resp.$i")"
  done
  left=$(find "$LIFEBOAT_DATA_DIR/uploads" -type f | wc -l)
  ((left == 0)) || {
    echo "  ($left upload file(s) kept by the server: removing them)"
    find "$LIFEBOAT_DATA_DIR/uploads" -type f -delete
  }
done
hwm=$(status_kib VmHWM)
echo "total: dd $(mb_s "$(awk "BEGIN {print $sum_d / $rounds}")") MB/s, lifeboat $(mb_s "$(awk "BEGIN {print $sum_l / $rounds}")") MB/s (aggregate, $n concurrent, averaged over $rounds rounds)"
printf 'ratio lifeboat/dd: %.3f (goal ≥ 0.80)\n' "$(awk "BEGIN {print $sum_d / $sum_l}")"
echo "server RSS before $((rss_before / 1024)) MB (VmHWM since start $((hwm_start / 1024)) MB), peak during the uploads $((hwm / 1024)) MB:" \
  "growth $(((hwm - rss_before) / 1024)) MB (goal < 20 MB)"
