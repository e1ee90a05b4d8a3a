#!/usr/bin/env bash
# The ABI check of libxenapi against the last release (ffi/abi/release/), with libabigail.
#
#   ffi/abi/abi.sh check LIB OUT     fail if LIB (any build, stripped too) or the header
#                                    breaks the ABI of ffi/abi/release/ under the same ABI major
#   ffi/abi/abi.sh table             (make ffi-abi-baseline, before generating) a new ABI major
#                                    starts from the committed enum table as it is
#   ffi/abi/abi.sh baseline LIB OUT  write ffi/abi/release/ from LIB and the header; refused if
#                                    the change is incompatible and ffi/abi/MAJOR was not bumped
#
# Two corpora, because the library is Rust: its debug info does not know the C types (an enum
# is a c_int there) and describes the statically linked C code of its dependencies (ring), which
# is noise. So the library's corpus is its exports, needed libraries and soname, read from a copy
# without debug info; the header's types (enum values, struct layouts, every signature) come
# from a probe: a small C library, built with debug info from include/xenapi.h, with one pointer
# variable of each exported function's declared type.
set -euo pipefail

ABI_DIR=ffi/abi
# Overridable for ffi/abi/break-test.sh, which checks scratch copies.
RELEASE_DIR=${ABI_RELEASE_DIR:-$ABI_DIR/release}
INCLUDE_DIR=${ABI_INCLUDE_DIR:-include}
# Stable output to commit: no paths, no source locations.
ABIDW_FLAGS=(--no-corpus-path --no-comp-dir-path --no-show-locs)

die() {
  echo "abi: $*" >&2
  exit 1
}

need_tools() {
  command -v abidw >/dev/null && command -v abidiff >/dev/null ||
    die "abidw/abidiff are missing: install Debian's abigail-tools (make deps)"
}

major() {
  local m
  m=$(tr -d '[:space:]' <"$ABI_DIR/MAJOR")
  [[ $m =~ ^[0-9]+$ ]] || die "$ABI_DIR/MAJOR must hold one number, not '$m'"
  echo "$m"
}

# The ABI major of the committed baseline (its soname), empty when there is none yet.
baseline_major() {
  [ -f "$RELEASE_DIR/libxenapi.abi" ] || return 0
  sed -n "s/.*soname='libxenapi\.so\.\([0-9]*\)'.*/\1/p" "$RELEASE_DIR/libxenapi.abi" | head -n 1
}

# Builds OUT/libxenapi.so (LIB without debug info) and OUT/libxenapi-header.so, the header
# probe, for the functions LIB exports.
probe() {
  local lib=$1 out=$2
  mkdir -p "$out"
  objcopy --strip-debug "$lib" "$out/libxenapi.so"
  nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort >"$out/exports.txt"
  local strays
  strays=$(grep -v '^xenapi_' "$out/exports.txt" || true)
  [ -z "$strays" ] || die "$lib exports functions outside the xenapi_ namespace: $strays"
  {
    echo '/* The header probe (ffi/abi/abi.sh): one pointer of each exported function type. */'
    echo '#include "xenapi.h"'
    echo '#define PROBE(f) __typeof__(f) *const xenapi_abi_probe_##f = f;'
    sed 's/.*/PROBE(&)/' "$out/exports.txt"
  } >"$out/probe.c"
  # An export the header does not declare fails here: header and library must agree.
  ${CC:-gcc} -std=gnu99 -g -O0 -shared -fPIC -I"$INCLUDE_DIR" -Wl,-soname,libxenapi-header.so \
    "$out/probe.c" -o "$out/libxenapi-header.so" ||
    die "the header probe does not compile: does $INCLUDE_DIR/xenapi.h declare every export of $lib?"
}

soname_of() {
  readelf -d "$1" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p'
}

# Runs abidiff; prints its report; returns 0 (same or compatible), 1 (incompatible), or dies.
compare() {
  local old=$1 new=$2 what=$3 report=$4 rc=0
  abidiff --no-added-syms "$old" "$new" >"$report" 2>&1 || rc=$?
  if ((rc & 3)); then
    cat "$report" >&2
    die "abidiff could not compare $what (exit $rc)"
  fi
  if ((rc & 12)); then
    echo "== $what: changes against the last release ($old)" >&2
    cat "$report" >&2
    return 1
  fi
  echo "abi: $what: no incompatible change against $old"
}

check() {
  local lib=$1 out=$2 m base
  need_tools
  m=$(major)
  base=$(baseline_major)
  [ -n "$base" ] || die "no baseline in $RELEASE_DIR: run make ffi-abi-baseline"
  [ "$(soname_of "$lib")" = "libxenapi.so.$m" ] ||
    die "$lib has soname '$(soname_of "$lib")', not libxenapi.so.$m ($ABI_DIR/MAJOR): rebuild it"
  [ "$m" = "$base" ] ||
    die "$ABI_DIR/MAJOR is $m but the baseline is of libxenapi.so.$base: after announcing a break, regenerate the baseline (make ffi-abi-baseline) and commit it"
  probe "$lib" "$out"
  local broken=0
  compare "$RELEASE_DIR/libxenapi.abi" "$out/libxenapi.so" "libxenapi.so (exports, soname)" \
    "$out/lib.report" || broken=1
  compare "$RELEASE_DIR/libxenapi-header.abi" "$out/libxenapi-header.so" \
    "include/xenapi.h (types, enum values, signatures)" "$out/header.report" || broken=1
  ((broken == 0)) ||
    die "libxenapi breaks the ABI of its last release under the same soname libxenapi.so.$m. Undo the change, or announce it: bump $ABI_DIR/MAJOR, run make ffi-abi-baseline, and commit both (ffi/README.md)"
}

table() {
  local m base
  m=$(major)
  base=$(baseline_major)
  if [ "$m" != "$base" ]; then
    mkdir -p "$RELEASE_DIR"
    cp "$ABI_DIR/c-enums.json" "$RELEASE_DIR/c-enums.json"
    echo "abi: ABI major $m is new: $ABI_DIR/c-enums.json is its enum baseline"
  fi
}

baseline() {
  local lib=$1 out=$2 m base
  need_tools
  m=$(major)
  base=$(baseline_major)
  [ "$(soname_of "$lib")" = "libxenapi.so.$m" ] ||
    die "$lib has soname '$(soname_of "$lib")', not libxenapi.so.$m: rebuild it"
  probe "$lib" "$out"
  if [ "$m" = "$base" ]; then
    local broken=0
    compare "$RELEASE_DIR/libxenapi.abi" "$out/libxenapi.so" "libxenapi.so" "$out/lib.report" ||
      broken=1
    compare "$RELEASE_DIR/libxenapi-header.abi" "$out/libxenapi-header.so" "include/xenapi.h" \
      "$out/header.report" || broken=1
    ((broken == 0)) ||
      die "refusing a baseline with an incompatible change under the same ABI major $m: bump $ABI_DIR/MAJOR first"
  fi
  mkdir -p "$RELEASE_DIR"
  abidw "${ABIDW_FLAGS[@]}" --out-file "$RELEASE_DIR/libxenapi.abi" "$out/libxenapi.so"
  abidw "${ABIDW_FLAGS[@]}" --out-file "$RELEASE_DIR/libxenapi-header.abi" "$out/libxenapi-header.so"
  cp "$ABI_DIR/c-enums.json" "$RELEASE_DIR/c-enums.json"
  echo "abi: wrote the baseline of libxenapi.so.$m in $RELEASE_DIR; commit it"
}

case "${1:-}" in
check) check "$2" "$3" ;;
table) table ;;
baseline) baseline "$2" "$3" ;;
*) die "usage: ffi/abi/abi.sh check LIB OUT | table | baseline LIB OUT" ;;
esac
