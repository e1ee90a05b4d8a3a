#!/usr/bin/env bash
# cross-cargo.sh TRIPLE CARGO-ARGS...: a release build for another target, on this Linux machine.
#
# rustup here has only the x86_64 Linux standard library and cannot fetch others, so the standard
# library is built from source (-Z build-std) by Debian's own compiler (rustc-web, with the
# matching rust-web-src), driven by Debian's cargo-web; RUSTC_BOOTSTRAP=1 unlocks -Z on that stable
# compiler. The linkers are Debian's cross gcc. Every other build keeps using rustup's toolchain:
# this script names Debian's binaries by path and never changes PATH.
#
#   TRIPLE                       linker                       make deps installs
#   x86_64-pc-windows-gnu        x86_64-w64-mingw32-gcc       gcc-mingw-w64-x86-64
#   aarch64-unknown-linux-gnu    aarch64-linux-gnu-gcc        gcc-aarch64-linux-gnu
#   x86_64-unknown-linux-gnu     gcc (the same host, built by this toolchain for one manifest)
#
# Output: $CROSS_TARGET_DIR (default target/cross)/TRIPLE/release/. Example:
#   scripts/cross-cargo.sh x86_64-pc-windows-gnu build -p xenapi-ffi -p xenctl
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 TRIPLE CARGO-SUBCOMMAND [ARGS...]" >&2
  exit 2
fi
triple=$1
sub=$2
shift 2

root=$(cd "$(dirname "$0")/.." && pwd)
DEB_CARGO=${DEB_CARGO:-/usr/bin/cargo}
DEB_RUSTC=${DEB_RUSTC:-/usr/bin/rustc}

missing() {
  echo "cross-cargo: $1 is missing; \`make deps\` installs it (Debian package $2)" >&2
  exit 1
}
[ -x "$DEB_CARGO" ] || missing "$DEB_CARGO" cargo-web
[ -x "$DEB_RUSTC" ] || missing "$DEB_RUSTC" rustc-web
sysroot=$("$DEB_RUSTC" --print sysroot)
[ -d "$sysroot/lib/rustlib/src/rust/library" ] ||
  missing "the standard library's source under $sysroot/lib/rustlib/src/rust" rust-web-src

case "$triple" in
  x86_64-pc-windows-gnu)
    linker=x86_64-w64-mingw32-gcc pkg=gcc-mingw-w64-x86-64
    export CC_x86_64_pc_windows_gnu=$linker AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=$linker
    ;;
  aarch64-unknown-linux-gnu)
    linker=aarch64-linux-gnu-gcc pkg=gcc-aarch64-linux-gnu
    export CC_aarch64_unknown_linux_gnu=$linker AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$linker
    ;;
  x86_64-unknown-linux-gnu)
    linker=gcc pkg=gcc
    ;;
  *)
    echo "cross-cargo: unknown target $triple (known: x86_64-pc-windows-gnu," \
      "aarch64-unknown-linux-gnu, x86_64-unknown-linux-gnu)" >&2
    exit 2
    ;;
esac
command -v "$linker" >/dev/null || missing "$linker" "$pkg"

# Debian's toolchain, not rustup's proxies: rustup's cargo would pick rustup's rustc, whose
# sysroot has no source to build std from.
export RUSTC="$DEB_RUSTC" RUSTC_BOOTSTRAP=1
unset RUSTC_WRAPPER RUSTUP_TOOLCHAIN
export CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-$root/target/cross}
# The release profile keeps line tables (debug = 1); shipped binaries are stripped by the caller,
# which keeps the debug info in separate files.
cd "$root"
exec "$DEB_CARGO" "$sub" --release --target "$triple" \
  -Z build-std=std,panic_abort "$@"
