#!/usr/bin/env bash
# The newcomer's path, exactly as `make run` takes it: scripts/run.sh (the release build, or
# nothing when its inputs did not change), Lifeboat with no LIFEBOAT_TARGET_URL so that it
# starts the demo PostgreSQL, then what a new user does first: /healthz, /readyz, sign in,
# a first backup to its end, and a clean stop (Lifeboat and the demo cluster both gone).
#
#   scripts/smoke-run.sh        prints one line per step; exits non-zero on the first failure
#
# The data directory is a fresh one under /tmp, removed at the end: the demo cluster runs as
# the `postgres` OS user when run as root, and that user must be able to reach it wherever
# the checkout lies.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

say() { printf 'smoke: %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  [[ -f "${log:-}" ]] && { echo "---- lifeboat's output ----"; tail -n 60 "$log"; }
  exit 1
}

data="$(mktemp -d /tmp/lifeboat-smoke.XXXXXX)"
chmod 755 "$data"
log="$data.log"
jar="$data.cookies"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$data" "$jar"
}
trap cleanup EXIT

password="smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
started=$SECONDS
# What a newcomer's shell has: no target. Port 0 so that the check never collides with a
# Lifeboat already running on 3000.
env -u LIFEBOAT_TARGET_URL -u LIFEBOAT_TARGET_URL_FILE \
  LIFEBOAT_DATA_DIR="$data" LIFEBOAT_ADDR=127.0.0.1:0 LIFEBOAT_SCHEDULE=off LIFEBOAT_SCHEDULE_OFF_OK=true \
  LIFEBOAT_ADMIN_USER=smoke LIFEBOAT_ADMIN_PASSWORD="$password" \
  scripts/run.sh >"$log" 2>&1 &
pid=$!

base=""
for _ in $(seq 1 3600); do
  base="$(sed -n 's/.*Lifeboat is listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -n1)"
  [[ -n "$base" ]] && break
  kill -0 "$pid" 2>/dev/null || fail "scripts/run.sh exited before Lifeboat listened"
  sleep 0.5
done
[[ -n "$base" ]] || fail "Lifeboat did not start within 30 minutes"
say "listening on $base after $((SECONDS - started)) s (build included)"

code="$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")"
[[ "$code" == 200 ]] || fail "/healthz answered $code"
say "/healthz 200"

ready=""
for _ in $(seq 1 60); do
  ready="$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")"
  [[ "$ready" == 200 ]] && break
  sleep 1
done
[[ "$ready" == 200 ]] || fail "/readyz answered $ready: $(curl -s "$base/readyz")"
say "/readyz 200 (demo database reachable, tools found)"

page="$(curl -s "$base/login")"
grep -q '<script' <<<"$page" || fail "the login page has no script"
grep -q 'lifeboat' <<<"$page" || fail "the login page does not load the lifeboat bundle"
say "login page served"

api() { curl -s -b "$jar" -c "$jar" -H 'X-Requested-With: lifeboat' -H 'Content-Type: application/json' "$@"; }
code="$(api -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/auth/login" \
  -d "{\"username\":\"smoke\",\"password\":\"$password\"}")"
[[ "$code" == 200 ]] || fail "login answered $code"
say "signed in"

answer="$(api -X POST "$base/api/v1/backups" -d '{}')"
job="$(sed -n 's/.*"job_id":\([0-9]*\).*/\1/p' <<<"$answer")"
backup="$(sed -n 's/.*"backup_id":\([0-9]*\).*/\1/p' <<<"$answer")"
[[ -n "$job" && -n "$backup" ]] || fail "starting a backup answered: $answer"
# The event stream ends with the job's final state.
curl -s -N -b "$jar" --max-time 600 "$base/api/v1/jobs/$job/events" >/dev/null || true
detail="$(api "$base/api/v1/backups/$backup")"
grep -q '"status":"succeeded"' <<<"$detail" || fail "the first backup did not succeed: $detail"
size="$(sed -n 's/.*"size_bytes":\([0-9]*\).*/\1/p' <<<"$detail" | head -n1)"
say "first backup succeeded ($size bytes)"

kill -TERM "$pid"
for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$pid" 2>/dev/null && fail "Lifeboat did not stop within 30 s of SIGTERM"
wait "$pid" 2>/dev/null || true
pid=""
if pgrep -f -- "$data/demo-postgres" >/dev/null; then
  fail "the demo PostgreSQL is still running after Lifeboat stopped"
fi
say "stopped cleanly, demo database stopped; $((SECONDS - started)) s in all"
