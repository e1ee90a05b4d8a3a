#!/usr/bin/env bash
# demo.sh URL: the talk's xm.exe walk from C# (dotnet/examples/Xm on XenApi) under Mono, against the
# simulator at URL: list methods, list, start, pause, unpause, stop, CPU and memory, dmesg, log, and
# a refused start. Needs `make dotnet-build` first; run from the repository root (scripts/demo.sh
# runs it through DEMOS, `make dotnet-demo` with its own simulator).
set -euo pipefail
url=${1:?usage: demo.sh URL}
out=${DOTNET_OUT:-build/dotnet}
export LD_LIBRARY_PATH=$PWD/$out${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
xm() { printf '\n$ mono Xm.exe %s\n' "$*"; ${MONO:-mono} "$out/Xm.exe" -s "$url" "$@"; }

xm methods | head -n 5
xm list
xm start vm02
xm pause vm02
xm list
xm unpause vm02
xm top
xm dmesg 4
xm log 4
xm stop vm02
xm stop vm01 --hard
xm list
printf '\n(vm02 is halted now: pausing it is refused with the XenAPI error, exit status 1)'
if xm pause vm02; then echo "expected a failure" >&2; exit 1; fi
