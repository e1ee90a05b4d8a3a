#!/usr/bin/env bash
# Tests release/manifest.sh on scratch dist/ trees: the index lists every artifact with its
# size and checksum, and an unlisted or missing artifact fails the release.
set -euo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL $*" >&2
  failures=$((failures + 1))
}

# A dist/ as make dist leaves it: two parts, three artifacts.
make_dist() {
  local d=$1
  mkdir -p "$d/python" "$d/sdk"
  printf 'wheel' >"$d/python/xenapi_rs-0.2.0-cp38-abi3-manylinux_2_28_x86_64.whl"
  printf 'sdist!' >"$d/python/xenapi_rs-0.2.0.tar.gz"
  printf 'tarball-bytes' >"$d/sdk/xenapi-sdk-0.2.0-linux-x64.tar.gz"
  printf '%s\t%s\t%s\n' \
    python/xenapi_rs-0.2.0-cp38-abi3-manylinux_2_28_x86_64.whl linux-x64 "pytest on the wheel" \
    python/xenapi_rs-0.2.0.tar.gz any "built from source" >"$d/python/MANIFEST.part"
  printf '%s\t%s\t%s\n' sdk/xenapi-sdk-0.2.0-linux-x64.tar.gz linux-x64 "xm.c linked" \
    >"$d/sdk/MANIFEST.part"
}

# A complete dist/: the index and the checksums.
d=$work/ok
make_dist "$d"
if release/manifest.sh "$d" >/dev/null; then
  expected=$(printf '%s\n' "file	target	size	tested-by" \
    "python/xenapi_rs-0.2.0-cp38-abi3-manylinux_2_28_x86_64.whl	linux-x64	5	pytest on the wheel" \
    "python/xenapi_rs-0.2.0.tar.gz	any	6	built from source" \
    "sdk/xenapi-sdk-0.2.0-linux-x64.tar.gz	linux-x64	13	xm.c linked")
  [ "$(cat "$d/MANIFEST.tsv")" = "$expected" ] || fail "MANIFEST.tsv: $(cat "$d/MANIFEST.tsv")"
  [ "$(wc -l <"$d/SHA256SUMS")" -eq 3 ] || fail "SHA256SUMS has not 3 lines"
  (cd "$d" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not verify"
else
  fail "manifest.sh refused a complete dist/"
fi

# expect_refusal NAME PATTERN DIR: manifest.sh must fail on DIR, saying PATTERN.
expect_refusal() {
  local name=$1 pattern=$2 dir=$3 out
  if out=$(release/manifest.sh "$dir" 2>&1); then
    fail "$name: manifest.sh passed"
  elif ! grep -q -- "$pattern" <<<"$out"; then
    fail "$name: manifest.sh failed without saying '$pattern': $out"
  fi
}

d=$work/unlisted
make_dist "$d"
printf 'stale' >"$d/python/xenapi_rs-0.1.0.tar.gz"
expect_refusal unlisted "python/xenapi_rs-0.1.0.tar.gz" "$d"

d=$work/missing
make_dist "$d"
rm "$d/sdk/xenapi-sdk-0.2.0-linux-x64.tar.gz"
expect_refusal missing "lists sdk/xenapi-sdk-0.2.0-linux-x64.tar.gz, which is not in" "$d"

d=$work/malformed
make_dist "$d"
printf 'sdk/xenapi-sdk-0.2.0-linux-x64.tar.gz linux-x64\n' >"$d/sdk/MANIFEST.part"
expect_refusal malformed "expected FILE<TAB>TARGET<TAB>TESTED-BY" "$d"

if [ "$failures" -ne 0 ]; then
  echo "release/manifest-test.sh: $failures failure(s)" >&2
  exit 1
fi
echo "release/manifest-test.sh: index, checksums and refusals as expected"
