#!/usr/bin/env bash
# build_wheel.sh PLATFORM OUT-DIR: the publishable abi3 wheel of xenapi-rs for one platform, with
# the simulator built for that platform as xenapi_rs/bin/xenapi-sim[.exe] (xenapi_rs.testing's);
# `build_wheel.sh sdist OUT-DIR`: the source distribution (with no simulator).
#
#   PLATFORM                 Rust target                  linked by
#   manylinux_2_17_x86_64    x86_64-unknown-linux-gnu     zig, against glibc 2.17 (manylinux2014)
#   manylinux_2_17_aarch64   aarch64-unknown-linux-gnu    zig, against glibc 2.17
#   win_amd64                x86_64-pc-windows-gnu        mingw-w64 gcc; python3.dll's import
#                                                         library made by PyO3
#
# rustup here has only the x86_64 Linux standard library, so the other two build it from source
# with Debian's rustc-web (-Z build-std, RUSTC_BOOTSTRAP=1), as scripts/cross-cargo.sh does, in
# its target dir.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 manylinux_2_17_x86_64|manylinux_2_17_aarch64|win_amd64|sdist OUT-DIR" >&2
  exit 2
fi
platform=$1
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$root/python/xenapi_rs/bin

# One build at a time: each wheel puts its own simulator into the source folder xenapi_rs/bin/.
lock() {
  mkdir -p "$out" "$root/target"
  exec 9>"$root/target/python-wheel.lock"
  flock 9
  rm -rf "$bin"
}

if [ "$platform" = sdist ]; then
  lock
  rm -f "$out"/xenapi_rs-*.tar.gz
  exec "${PYTHON:-python3}" -m maturin sdist -m python/Cargo.toml -o "$out"
fi

# No debug info to build: every binary in a wheel is stripped (maturin --strip, $strip).
export CARGO_PROFILE_RELEASE_DEBUG=0
target_dir=${CARGO_TARGET_DIR:-$root/target}
build_std=()

debian_toolchain() {
  export CARGO=${DEB_CARGO:-/usr/bin/cargo} RUSTC=${DEB_RUSTC:-/usr/bin/rustc} RUSTC_BOOTSTRAP=1
  unset RUSTC_WRAPPER RUSTUP_TOOLCHAIN
  for tool in "$CARGO" "$RUSTC"; do
    [ -x "$tool" ] || {
      echo "build_wheel: $tool is missing; \`make deps\` installs it (rustc-web, cargo-web)" >&2
      exit 1
    }
  done
  target_dir=${CROSS_TARGET_DIR:-$root/target/cross}
  build_std=(-Z build-std=std,panic_abort)
}

case "$platform" in
  manylinux_2_17_x86_64 | manylinux_2_17_aarch64)
    triple=${platform#manylinux_2_17_}-unknown-linux-gnu
    [ "$triple" = x86_64-unknown-linux-gnu ] || debian_toolchain
    export CARGO_TARGET_DIR=$target_dir
    # The same glibc floor for both binaries: maturin's --zig links the module against 2.17.
    # The simulator has a target dir of its own: maturin's zig wrappers differ from
    # cargo-zigbuild's, and sharing one dir would rebuild every crate at each switch.
    CARGO_TARGET_DIR=$target_dir/wheel-sim \
      cargo-zigbuild zigbuild --release -p xenapi-sim --target "$triple.2.17" "${build_std[@]}"
    sim=$target_dir/wheel-sim/$triple/release/xenapi-sim
    strip=${triple%%-*}-linux-gnu-strip
    [ "$triple" = x86_64-unknown-linux-gnu ] && strip=strip
    maturin_args=(--zig --compatibility manylinux2014)
    ;;
  win_amd64)
    triple=x86_64-pc-windows-gnu
    debian_toolchain
    export CARGO_TARGET_DIR=$target_dir
    export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
    export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    "$CARGO" build --release -p xenapi-sim --target "$triple" "${build_std[@]}"
    sim=$target_dir/$triple/release/xenapi-sim.exe
    strip=x86_64-w64-mingw32-strip
    maturin_args=()
    ;;
  *)
    echo "build_wheel: unknown platform $platform (known: manylinux_2_17_x86_64," \
      "manylinux_2_17_aarch64, win_amd64)" >&2
    exit 2
    ;;
esac

lock
mkdir -p "$bin"
"$strip" -o "$bin/$(basename "$sim")" "$sim"
rm -f "$out"/xenapi_rs-*"$platform".whl
"${PYTHON:-python3}" -m maturin build --release --quiet --strip -m python/Cargo.toml -o "$out" \
  --target "$triple" "${maturin_args[@]}" "${build_std[@]}"
rm -rf "$bin"
