#!/usr/bin/env bash
# Installs what `make test` needs beyond Rust, once: Python test packages, and Debian packages that
# a make fragment (*/*.mk) asks for through DEPS_APT. Safe to run again; quiet when all is there.
set -euo pipefail

need_pip=()
python3 -c "import pytest" 2>/dev/null || need_pip+=(pytest)
python3 -c "import XenAPI" 2>/dev/null || need_pip+=(xenapi)
for p in ${DEPS_PIP:-}; do
  mod=${p%%=*}
  python3 -m pip show "$mod" >/dev/null 2>&1 || need_pip+=("$p")
done
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "deps: pip install ${need_pip[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
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
