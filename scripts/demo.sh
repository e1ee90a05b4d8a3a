#!/usr/bin/env bash
# The talk's demo ("xendへの接続, リスト表示, 起動, 停止, ポーズ, アンポーズ, dmesg, xendログ"), run with
# xenctl against the embedded simulator: connect, list, start, pause, unpause, dmesg, log, CPU and
# memory use, shutdown. Then the same walk through each binding that registered a demo.
set -euo pipefail
cd "$(dirname "$0")/.."

# `xenapi-sim run` serves on a free port for the rest of the script (run again inside it) and
# stops when it ends. SIM_BIN overrides the binary.
if [ -z "${XENAPI_SIM_DEMO_INNER:-}" ]; then
  XENAPI_SIM_DEMO_INNER=1 exec "${SIM_BIN:-target/release/xenapi-sim}" run --vms 4 -- "$0" "$@"
fi
SIM_URL=$XENAPI_URL
XENCTL=${XENCTL:-target/release/xenctl}
echo "simulator: $SIM_URL (user $XENAPI_USER)"

step() { printf '\n$ xenctl %s\n' "$*"; "$XENCTL" "$@"; }

printf '\n$ xenctl --verbose methods | head -n 5   # connect, log in, host.list_methods\n'
"$XENCTL" --verbose methods 2>&1 | head -n 5
step list
step start vm02
step pause vm02
step list
step unpause vm02
step top --once
printf '\n$ xenctl dmesg | tail -n 4\n'
"$XENCTL" dmesg | tail -n 4
printf '\n$ xenctl log | tail -n 4\n'
"$XENCTL" log | tail -n 4
step shutdown vm02
step list
printf '\n$ xenctl pause vm02   # a halted VM cannot be paused: the XenAPI error, exit status 1\n'
if "$XENCTL" pause vm02; then echo "expected a failure" >&2; exit 1; fi

for demo in ${DEMOS:-}; do
  printf '\n== %s ==\n' "$demo"
  "$demo" "$SIM_URL"
done
printf '\ndemo finished\n'
