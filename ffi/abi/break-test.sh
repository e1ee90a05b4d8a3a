#!/usr/bin/env bash
# Proves that the ABI check (ffi/abi/abi.sh check) catches a break: each case breaks a scratch
# copy (of the header, or of the baseline for a function the library no longer exports) and
# expects the check to fail, naming the change; a compatible addition must pass. The real check must pass first (make runs
# ffi-abi-check before this).
#
#   ffi/abi/break-test.sh LIB OUT
set -euo pipefail

lib=$1
out=$2
rm -rf "$out"
mkdir -p "$out"
failures=0

# expect_break NAME PATTERN: the check (with the scratch copies of the environment) must fail
# and its report must contain PATTERN.
expect_break() {
  local name=$1 pattern=$2 rc=0
  ffi/abi/abi.sh check "$lib" "$out/$name" >"$out/$name.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "FAIL $name: the ABI check passed" >&2
    failures=$((failures + 1))
  elif ! grep -q -- "$pattern" "$out/$name.log"; then
    echo "FAIL $name: the ABI check failed without reporting '$pattern':" >&2
    cat "$out/$name.log" >&2
    failures=$((failures + 1))
  else
    echo "ok   $name: the ABI check fails ($(grep -m1 -- "$pattern" "$out/$name.log" | sed 's/^ *//'))"
  fi
}

scratch_include() {
  rm -rf "$out/include"
  cp -r include "$out/include"
}

# A compatible change passes: a new value appended to an enum.
scratch_include
sed -i 's/XENAPI_VM_POWER_STATE_SUSPENDED = 4,/&\n    XENAPI_VM_POWER_STATE_HIBERNATED = 5,/' \
  "$out/include/xenapi/types.h"
grep -q HIBERNATED "$out/include/xenapi/types.h" || { echo "FAIL: could not edit the header" >&2; exit 1; }
if ABI_INCLUDE_DIR=$out/include ffi/abi/abi.sh check "$lib" "$out/appended" >"$out/appended.log" 2>&1; then
  echo "ok   appended-enum-value: the ABI check passes"
else
  echo "FAIL appended-enum-value: the ABI check refused a compatible change:" >&2
  cat "$out/appended.log" >&2
  failures=$((failures + 1))
fi

# An enum renumbered in the header, as the datamodel update did to the power states.
scratch_include
sed -i 's/XENAPI_VM_POWER_STATE_HALTED = 1,/XENAPI_VM_POWER_STATE_HALTED = 0,/;
        s/XENAPI_VM_POWER_STATE_UNKNOWN = 0,/XENAPI_VM_POWER_STATE_UNKNOWN = 99,/' \
  "$out/include/xenapi/types.h"
ABI_INCLUDE_DIR=$out/include expect_break renumbered-enum "XENAPI_VM_POWER_STATE_HALTED"

# A parameter's type changed (size_t to uint32_t) in a hand-written function.
scratch_include
sed -i '/xenapi_options_set_max_concurrent_calls(struct xenapi_options \*options,/{n;s/size_t max_calls/uint32_t max_calls/}' \
  "$out/include/xenapi.h"
ABI_INCLUDE_DIR=$out/include expect_break changed-signature "xenapi_options_set_max_concurrent_calls"

# A function the last release exported that the library no longer has: the baseline gains
# one (a copy of xenapi_version's symbol under another name).
mkdir -p "$out/release"
cp ffi/abi/release/* "$out/release/"
sed -i "0,/<elf-symbol name='xenapi_version'/{s|^\( *\)<elf-symbol name='xenapi_version'\(.*\)$|&\n\1<elf-symbol name='xenapi_removed_function'\2|}" \
  "$out/release/libxenapi.abi"
grep -q "xenapi_removed_function" "$out/release/libxenapi.abi" ||
  { echo "FAIL removed-function: could not edit the scratch baseline" >&2; exit 1; }
ABI_RELEASE_DIR=$out/release expect_break removed-function "xenapi_removed_function"

if [ "$failures" -ne 0 ]; then
  echo "ffi/abi/break-test.sh: $failures case(s) where the ABI check missed a break" >&2
  exit 1
fi
echo "ffi/abi/break-test.sh: the ABI check caught every break"
