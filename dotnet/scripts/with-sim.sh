#!/usr/bin/env bash
# with-sim.sh [SIM FLAGS...] -- COMMAND...
# Starts xenapi-sim on a free port ($XENAPI_SIM, else target/release/xenapi-sim), runs COMMAND with
# SIM_URL set to its URL, stops the simulator whatever happens, and exits with COMMAND's status.
set -euo pipefail
flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: with-sim.sh [SIM FLAGS...] -- COMMAND..." >&2; exit 2; }

bin=${XENAPI_SIM:-target/release/xenapi-sim}
out=$(mktemp)
"$bin" --listen 127.0.0.1:0 "${flags[@]}" >"$out" 2>&1 &
pid=$!
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$out"; }
trap stop EXIT
SIM_URL=
for _ in $(seq 1 200); do
  SIM_URL=$(sed -n 's/^listening on \(.*\)$/\1/p' "$out" | head -n 1)
  [ -n "$SIM_URL" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$SIM_URL" ]; then
  echo "xenapi-sim did not start:" >&2
  cat "$out" >&2
  exit 1
fi
export SIM_URL
status=0
"$@" || status=$?
exit $status
