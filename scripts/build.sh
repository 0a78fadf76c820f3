#!/usr/bin/env bash
# The release build that `make run`, `make build` and `make test` all use:
# `cargo leptos build --release` (target/release/lifeboat, and the WebAssembly bundle built
# with the `wasm-release` profile and wasm-opt in target/site), then the bundle's size.
#
# The build is skipped when nothing it reads has changed since the last one and what it
# produced is still there untouched: cargo-leptos regenerates the bundle (wasm-bindgen +
# wasm-opt, about a minute here) on every call even when cargo has nothing to do, so a
# restart would otherwise wait for that each time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

# Everything the release build reads: the sources of the three crates (not their tests),
# the styles and assets, the migrations embedded in the binary, the manifests, and the
# toolchain and Leptos settings that change what is compiled.
build_inputs() {
  local files
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files="$(git ls-files -co --exclude-standard -- app frontend server style public migrations \
      Cargo.toml Cargo.lock ':!server/tests' ':!server/benches')"
  else
    files="$(find app frontend server style public migrations Cargo.toml Cargo.lock \
      -path server/tests -prune -o -type f -print)"
  fi
  {
    rustc --version
    env | grep '^LEPTOS_' | sort || true
    sort <<<"$files" | while IFS= read -r f; do if [[ -f "$f" ]]; then sha256sum "$f"; fi; done
  } | sha256sum | cut -d' ' -f1
}
# What the last build produced, as it is now (a debug `cargo leptos build` rewrites
# target/site, and the release server must not be served with another build's bundle).
build_outputs() {
  stat -c '%n %s %Y' target/release/lifeboat target/site/pkg/* 2>/dev/null | sha256sum | cut -d' ' -f1
}

stamp=target/release/.build-stamp
if [[ -x target/release/lifeboat && -f "$stamp" &&
  "$(cat "$stamp")" == "$(build_inputs) $(build_outputs)" ]]; then
  echo "build: nothing changed since the last release build; using it as it is"
else
  started=$SECONDS
  cargo leptos build --release
  echo "$(build_inputs) $(build_outputs)" >"$stamp"
  echo "build: release build in $((SECONDS - started)) s"
fi

# The bundle a browser downloads, as it travels (gzip -9, as a reverse proxy would serve it).
total=0
for f in target/site/pkg/*; do
  [[ "$f" == *.d.ts ]] && continue # type declarations: never sent to a browser
  raw=$(stat -c %s "$f")
  gz=$(gzip -9c "$f" | wc -c)
  total=$((total + gz))
  printf 'bundle: %-32s %9d bytes, %8d gzipped\n' "${f#target/site/}" "$raw" "$gz"
done
printf 'bundle: total %d kB gzipped\n' $((total / 1000))
