#!/usr/bin/env bash
# The one installer: everything a make target needs beyond Rust, installed once, quiet when all is
# there. `make deps` runs it, and every target that needs something depends on `deps`. The lists
# come from the make fragments (*/*.mk, core/*/*.mk, tests/*/*.mk) through the environment:
#   DEPS_PIP    pip requirements, installed into $PYTHON (default python3)
#   DEPS_APT    Debian packages (apt-get, as root)
#   DEPS_CARGO  cargo tools for the nightly toolchain, installed only when one is there
#               (cargo-fuzz: `cargo +nightly fuzz`)
#   DEPS_NPM    npm packages, installed globally (name@version)
set -euo pipefail

PYTHON=${PYTHON:-python3}

need_pip=()
for p in ${DEPS_PIP:-}; do
  name=$(printf '%s' "$p" | sed 's/[<>=!~;[].*//')
  "$PYTHON" -m pip show "$name" >/dev/null 2>&1 || need_pip+=("$p")
done
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "deps: $PYTHON -m pip install ${need_pip[*]}"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
fi

need_apt=()
for pkg in ${DEPS_APT:-}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "deps: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

need_npm=()
for p in ${DEPS_NPM:-}; do
  npm ls -g --depth=0 "${p%@*}" >/dev/null 2>&1 || need_npm+=("$p")
done
if [ ${#need_npm[@]} -gt 0 ]; then
  echo "deps: npm install -g ${need_npm[*]}"
  npm install -g --silent --no-fund --no-audit "${need_npm[@]}"
fi

if [ -n "${DEPS_CARGO:-}" ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  for tool in $DEPS_CARGO; do
    sub=${tool#cargo-}
    if ! cargo +nightly "$sub" --version >/dev/null 2>&1; then
      echo "deps: cargo install --locked $tool"
      cargo install --locked "$tool"
    fi
  done
fi
