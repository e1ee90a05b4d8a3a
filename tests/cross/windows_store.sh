#!/usr/bin/env bash
# windows_store.sh PKI-DIR SCENARIO DIR RUNNER...: the win-x64 natives verify TLS against the
# Windows certificate store by default. Run under `xenapi-sim run --tls-cert PKI-DIR/server.pem
# --tls-key PKI-DIR/server.key` (a certificate PKI-DIR/ca.pem signed; dotnet/scripts/test-ca.sh
# makes them), with DIR holding scenario_c.exe (the C ABI: xenapi.dll) and xenctl.exe, and
# RUNNER the command that runs a Windows program (wine64 with its prefix).
#
# Wine fills the store's Trusted Root Certification Authorities from the host's certificates
# when its wineserver starts (WINESERVER, with WINEPREFIX, names it: it is restarted after each
# change), so a CA installed the way a Linux administrator installs one
# (/usr/local/share/ca-certificates, update-ca-certificates) reaches the Windows store: not
# installed, the certificate is refused and the error names that store; installed, it is
# trusted through xenapi.dll and by xenctl.exe; removed, it is refused again. SSL_CERT_FILE and
# SSL_CERT_DIR, which the natives honour on Windows as well, are unset, so that the store is
# what is read. Installing needs root (CI runs as root).
set -euo pipefail

pki=$1 scenario=$2 dir=$3
shift 3
runner=("$@")
: "${XENAPI_URL:?run this under xenapi-sim run --tls-cert ... (see tests/cross/cross.mk)}"
unset SSL_CERT_FILE SSL_CERT_DIR
installed=/usr/local/share/ca-certificates/xenapi-rs-windows-store-test-$$.crt
out=$(mktemp)
cleanup() {
  rm -f "$out"
  if [ -f "$installed" ]; then
    rm -f "$installed"
    update-ca-certificates >/dev/null 2>&1
    "$WINESERVER" -k 2>/dev/null || true
  fi
}
trap cleanup EXIT
fail() {
  echo "windows store: $1" >&2
  sed 's/^/  | /' "$out" >&2
  exit 1
}
scenario_c() { "${runner[@]}" "$dir/scenario_c.exe" "$scenario" jsonrpc >"$out" 2>&1; }
# The store changed: Wine reads the host's certificates again when its server starts again.
store_changed() {
  update-ca-certificates >/dev/null 2>&1 || fail "update-ca-certificates failed"
  "$WINESERVER" -k 2>/dev/null || true
  "$WINESERVER" -w
}
xenctl() { XENAPI_PASSWORD=password "${runner[@]}" "$dir/xenctl.exe" "$@" >"$out" 2>&1; }
refused() {
  if scenario_c; then fail "xenapi.dll accepted a certificate no store trusts ($1)"; fi
  grep -q 'not trusted by the Windows certificate store' "$out" ||
    fail "xenapi.dll's refusal does not name the Windows certificate store ($1)"
  echo "ok: xenapi.dll refuses the certificate, naming the Windows certificate store ($1)"
}

# A wineserver left running holds the store as it was when it started.
"${WINESERVER:?WINESERVER must name the wineserver program}" -k 2>/dev/null || true
"$WINESERVER" -w
refused "not installed"
if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED the installed-CA half: update-ca-certificates needs root (CI runs as root)"
  exit 0
fi
mkdir -p "$(dirname "$installed")"
cp "$pki/ca.pem" "$installed"
store_changed
scenario_c || fail "xenapi.dll refused a CA installed in the system store"
echo "ok: xenapi.dll trusts the CA installed with update-ca-certificates ($(tail -n 1 "$out"))"
xenctl list || fail "xenctl.exe refused a CA installed in the system store"
grep -Eq '^vm01 ' "$out" || fail "xenctl.exe list printed no vm01"
echo "ok: xenctl.exe trusts it too"
rm -f "$installed"
store_changed
refused "removed again"
echo "windows store: passed"

