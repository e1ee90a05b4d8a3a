#!/usr/bin/env bash
# The talk's walk with xm written in C over libxenapi: `ffi/examples/demo.sh URL` (the simulator's).
set -euo pipefail
cd "$(dirname "$0")/../.."
XM=${XM:-target/ffi-c/xm}
url=${1:?usage: demo.sh URL}
step() { printf '\n$ xm %s\n' "$*"; "$XM" -u "$url" "$@"; }
printf '\n$ xm methods | head -n 3\n'
"$XM" -u "$url" methods | sed -n 1,3p   # sed reads it all: xm logs out normally
step list
step start vm04
step pause vm04
step unpause vm04
step top
printf '\n$ xm dmesg | tail -n 3\n'
"$XM" -u "$url" dmesg | tail -n 3
printf '\n$ xm log | tail -n 2\n'
"$XM" -u "$url" log | tail -n 2
step shutdown vm04 --hard
step list
printf '\n$ xm unpause vm04   # a halted VM: the XenAPI error, exit status 1\n'
if "$XM" -u "$url" unpause vm04; then echo "expected a failure" >&2; exit 1; fi
