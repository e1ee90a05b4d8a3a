# Sourced by the demo and test scripts: start_sim ARGS... starts xenapi-sim on a free port and
# sets SIM_URL (and SIM_PID); stop_sim stops it. SIM_BIN overrides the binary.
start_sim() {
  local bin=${SIM_BIN:-target/release/xenapi-sim}
  SIM_OUT=$(mktemp)
  "$bin" --listen 127.0.0.1:0 "$@" >"$SIM_OUT" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 1 100); do
    SIM_URL=$(sed -n 's/^listening on \(.*\)$/\1/p' "$SIM_OUT" | head -n 1)
    [ -n "$SIM_URL" ] && return 0
    kill -0 "$SIM_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "xenapi-sim did not start:" >&2
  cat "$SIM_OUT" >&2
  return 1
}

stop_sim() {
  if [ -n "${SIM_PID:-}" ]; then
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  rm -f "${SIM_OUT:-}"
  SIM_PID=
}
