#!/usr/bin/env bash
# qemu_smoke.sh AARCH64-WHEEL PYTHON: the simulator the aarch64 wheel ships, run under qemu-aarch64,
# serves python/tests/test_testing.py (the package's launcher and fixtures) from PYTHON, an x86_64
# interpreter with xenapi_rs installed. The wheel's compiled module needs an aarch64 CPython,
# which this machine has not: its loading is checked by auditwheel only.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 AARCH64-WHEEL PYTHON" >&2
  exit 2
fi
wheel=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
python=$2
case "$python" in */*) python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python") ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
command -v qemu-aarch64 >/dev/null || {
  echo "qemu_smoke: qemu-aarch64 is missing; \`make deps\` installs it (qemu-user)" >&2
  exit 1
}
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || {
  echo "qemu_smoke: no aarch64 glibc in $sysroot; \`make deps\` installs it" \
    "(gcc-aarch64-linux-gnu brings libc6-arm64-cross)" >&2
  exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && "$python" -m zipfile -e "$wheel" wheel)
sim=$tmp/wheel/xenapi_rs/bin/xenapi-sim
file_type=$(od -An -tx1 -j18 -N2 "$sim" | tr -d ' ')
[ "$file_type" = b700 ] || {
  echo "qemu_smoke: $sim is not an aarch64 ELF (e_machine $file_type)" >&2
  exit 1
}
# xenapi_rs.testing starts $XENAPI_SIM with the simulator's arguments: this wrapper adds qemu.
cat >"$tmp/xenapi-sim" <<WRAP
#!/bin/sh
exec qemu-aarch64 -L "$sysroot" "$sim" "\$@"
WRAP
chmod +x "$sim" "$tmp/xenapi-sim"
cd "$root/python/tests"
XENAPI_SIM=$tmp/xenapi-sim "$python" -m pytest -q -p no:cacheprovider test_testing.py
