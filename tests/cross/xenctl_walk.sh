#!/usr/bin/env bash
# xenctl_walk.sh http|pin|ca XENCTL [RUNNER-ARGS...]: the talk's walk (scripts/demo.sh) with a
# cross-built xenctl (XENCTL, e.g. `wine64 xenctl.exe` or `qemu-aarch64 -L ... xenctl`) against
# the simulator `xenapi-sim run` started around this script (--vms 4; --tls for pin and ca).
# Every step's output is checked, not only its exit status; the first mismatch fails the walk.
#   http  plain HTTP
#   pin   TLS, the certificate pinned by its SHA-256 fingerprint (--fingerprint)
#   ca    TLS, the certificate verified against a CA file (--ca)
set -euo pipefail

mode=$1
shift
: "${XENAPI_URL:?run this under xenapi-sim run (see tests/cross/cross.mk)}"
case "$mode" in
  http) tls=() ;;
  pin) tls=(--fingerprint "$XENAPI_FINGERPRINT") ;;
  ca) tls=(--ca "$XENAPI_CA_FILE") ;;
  *) echo "xenctl_walk: unknown mode $mode (http, pin or ca)" >&2; exit 2 ;;
esac

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fail() {
  echo "xenctl walk ($mode) failed: $1" >&2
  echo "--- stdout" >&2; cat "$out" >&2
  echo "--- stderr" >&2; cat "$err" >&2
  exit 1
}
# Runs xenctl; its output (carriage returns dropped) lands in $out and $err; returns its status.
xenctl() {
  local rc=0
  "$@" >"$out" 2>"$err" || rc=$?
  sed -i 's/\r$//' "$out" "$err"
  return $rc
}
# step EXPECTED-REGEX... -- XENCTL-ARGS: the command must succeed and print every pattern.
step() {
  local want=()
  while [ "$1" != -- ]; do want+=("$1"); shift; done
  shift
  xenctl "${runner[@]}" "${tls[@]}" "$@" || fail "xenctl $* exited with $?"
  for w in "${want[@]}"; do
    grep -Eq -- "$w" "$out" || fail "xenctl $* did not print /$w/"
  done
  echo "ok: xenctl $*"
}
runner=("$@")

if [ "$mode" != http ]; then
  # Without a pin or CA file the simulator's self-signed certificate must be refused.
  if xenctl "${runner[@]}" list; then fail "an unverified certificate was accepted"; fi
  grep -qi certificate "$err" || fail "the refusal does not name the certificate"
  echo "ok: unverified certificate refused"
fi

step '^vm02 +- +2048 +2 +Halted' '^vm01 +[0-9]+ +1024 +1 +Running' -- list
step '^vm02: started$' -- start vm02
step '^vm02: paused$' -- pause vm02
step '^vm02 +[0-9]+ +2048 +2 +Paused' -- list
step '^vm02: unpaused$' -- unpause vm02
step '^host host01: CPU [0-9.]+%  memory [0-9]+ MiB used' '^vm02 +Running ' -- top --once
step '\(vm02\) paused' '\(vm02\) unpaused' -- dmesg
step 'session.login_with_password: user "root" logged in' -- log
step '^vm02: halted$' -- shutdown vm02
step '^vm02 +- +2048 +2 +Halted' -- list

# A halted VM cannot be paused: xapi's error, exit status 1.
rc=0
xenctl "${runner[@]}" "${tls[@]}" pause vm02 || rc=$?
[ "$rc" = 1 ] || fail "a refused pause exited with $rc, not 1"
grep -q '^xenctl: VM_BAD_POWER_STATE: ' "$err" || fail "a refused pause did not print the error"
echo "ok: xenctl pause vm02 refused (exit 1, VM_BAD_POWER_STATE)"
echo "xenctl walk ($mode): passed"
