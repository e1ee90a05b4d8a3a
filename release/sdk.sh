#!/usr/bin/env bash
# The C SDK archives (make dist-sdk): one per target from the natives (make natives), each
# checked by extracting it and compiling and linking ffi/examples/xm.c against it as a user
# would, with that target's compiler.
#
#   release/sdk.sh VERSION ABI_MAJOR NATIVES_DIR DIST_DIR RID...
#
# Writes DIST_DIR/sdk/xenapi-sdk-VERSION-RID.{tar.gz,zip} and DIST_DIR/sdk/MANIFEST.part
# (FILE, TARGET, TESTED-BY; FILE relative to DIST_DIR).
set -euo pipefail

version=$1
major=$2
natives=$3
dist=$4
shift 4
work=build/sdk
sdk_dist=$dist/sdk

die() {
  echo "sdk: $*" >&2
  exit 1
}

# need TOOL PACKAGE: a clear failure when a tool is missing (scripts/deps.sh installs it).
need() {
  command -v "$1" >/dev/null || die "$1 is missing: install Debian's $2 (make deps does)"
}

for t in tar gzip zip:zip unzip:unzip pkg-config:pkgconf readelf:binutils; do
  need "${t%%:*}" "${t##*:}"
done

natives_file() {
  local rid=$1 f=$2
  [ -f "$natives/$rid/$f" ] || die "$natives/$rid/$f is missing: run make natives"
  echo "$natives/$rid/$f"
}

stage_common() {
  local stage=$1 rid=$2
  mkdir -p "$stage/include/xenapi" "$stage/lib" "$stage/bin"
  install -m 0644 include/xenapi.h "$stage/include/"
  install -m 0644 include/xenapi/*.h "$stage/include/xenapi/"
  sed -e "s/@VERSION@/$version/g" -e "s/@RID@/$rid/g" -e "s/@MAJOR@/$major/g" \
    release/sdk-README.md >"$stage/README.md"
}

# Linux: the library under its soname with the development symlink, the static library, and a
# relocatable xenapi.pc (prefix found from the .pc file's own place).
stage_linux() {
  local stage=$1 rid=$2 so
  so=$(natives_file "$rid" libxenapi.so)
  local soname
  soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
  [ "$soname" = "libxenapi.so.$major" ] ||
    die "$so has soname '$soname', but ffi/abi/MAJOR says libxenapi.so.$major: rebuild the natives"
  install -m 0755 "$so" "$stage/lib/libxenapi.so.$major"
  ln -s "libxenapi.so.$major" "$stage/lib/libxenapi.so"
  install -m 0644 "$(natives_file "$rid" libxenapi.a)" "$stage/lib/libxenapi.a"
  install -m 0755 "$(natives_file "$rid" xenctl)" "$stage/bin/xenctl"
  mkdir -p "$stage/lib/pkgconfig"
  cat >"$stage/lib/pkgconfig/xenapi.pc" <<EOF
prefix=\${pcfiledir}/../..
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: xenapi
Description: XenAPI (Xen Management API) client library, the C ABI of xenapi-rs
Version: $version
Libs: -L\${libdir} -lxenapi
Libs.private: -lpthread -ldl -lm -lrt -lutil -lgcc_s
Cflags: -I\${includedir}
EOF
}

# Windows: the DLL (no version in its name: Windows has no soname) and xenctl.exe in bin/, the
# MinGW import library and the .def (for MSVC's `lib /def:`) in lib/.
stage_windows() {
  local stage=$1 rid=$2
  install -m 0755 "$(natives_file "$rid" xenapi.dll)" "$stage/bin/xenapi.dll"
  install -m 0755 "$(natives_file "$rid" xenctl.exe)" "$stage/bin/xenctl.exe"
  install -m 0644 "$(natives_file "$rid" xenapi.dll.a)" "$stage/lib/xenapi.dll.a"
  install -m 0644 "$(natives_file "$rid" xenapi.def)" "$stage/lib/xenapi.def"
}

# check_* RID DIR: compile and link xm.c against the extracted SDK in DIR; print what was done.
check_linux_x64() {
  local dir=$1 cflags libs
  need gcc gcc
  export PKG_CONFIG_PATH=$dir/lib/pkgconfig
  cflags=$(pkg-config --cflags xenapi)
  libs=$(pkg-config --libs xenapi)
  gcc -std=c99 -Wall -Werror $cflags ffi/examples/xm.c -o "$dir/xm" $libs -Wl,-rpath,"$dir/lib"
  # Static: the archive and the libraries xenapi.pc lists as private.
  gcc -std=c99 -Wall -Werror $cflags ffi/examples/xm.c -o "$dir/xm-static" \
    $(pkg-config --static --libs xenapi | sed "s|-lxenapi|$dir/lib/libxenapi.a|")
  # It runs: it loads libxenapi.so.N from the SDK and reports a refused connection as xm does.
  local rc=0
  "$dir/xm" -u http://127.0.0.1:9/ list >"$dir/xm.out" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] && grep -q '^xm: ' "$dir/xm.out" ||
    die "xm linked against the linux-x64 SDK did not run as expected (exit $rc): $(cat "$dir/xm.out")"
  # (grep on a captured output: grep -q in a pipe would stop the writer, failing pipefail.)
  grep -q "libxenapi.so.$major => $dir/lib/" <<<"$(ldd "$dir/xm")" ||
    die "xm does not load libxenapi.so.$major from the SDK: $(ldd "$dir/xm")"
  echo "gcc via pkg-config (shared, run; static)"
}

check_linux_arm64() {
  local dir=$1
  need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
  export PKG_CONFIG_LIBDIR=$dir/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=
  aarch64-linux-gnu-gcc -std=c99 -Wall -Werror $(pkg-config --cflags xenapi) ffi/examples/xm.c \
    -o "$dir/xm" $(pkg-config --libs xenapi) -Wl,-rpath,"$dir/lib"
  grep -q "Shared library: \[libxenapi.so.$major\]" <<<"$(readelf -d "$dir/xm")" ||
    die "xm for arm64 does not need libxenapi.so.$major"
  if command -v qemu-aarch64 >/dev/null; then
    local rc=0
    QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 "$dir/xm" -u http://127.0.0.1:9/ list \
      >"$dir/xm.out" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] && grep -q '^xm: ' "$dir/xm.out" ||
      die "xm linked against the linux-arm64 SDK did not run under qemu-aarch64 (exit $rc): $(cat "$dir/xm.out")"
    echo "aarch64-linux-gnu-gcc via pkg-config (run under qemu-aarch64)"
  else
    echo "aarch64-linux-gnu-gcc via pkg-config (linked; qemu-user absent, not run)"
  fi
}

check_win_x64() {
  local dir=$1
  need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
  x86_64-w64-mingw32-gcc -std=c99 -Wall -Werror -I"$dir/include" ffi/examples/xm.c \
    -o "$dir/xm.exe" -L"$dir/lib" -l:xenapi.dll.a
  grep -q 'DLL Name: xenapi.dll' <<<"$(x86_64-w64-mingw32-objdump -p "$dir/xm.exe")" ||
    die "xm.exe does not import xenapi.dll"
  # The .def names every export of the DLL: MSVC users make their import library from it.
  local missing
  missing=$(comm -23 \
    <(x86_64-w64-mingw32-objdump -p "$dir/bin/xenapi.dll" |
      sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | awk '/\] xenapi_/ { print $NF }' | sort) \
    <(awk 'f && NF { print $1 } /^EXPORTS/ { f = 1 }' "$dir/lib/xenapi.def" | sort))
  [ -z "$missing" ] || die "lib/xenapi.def lacks exports of xenapi.dll: $missing"
  echo "x86_64-w64-mingw32-gcc with lib/xenapi.dll.a; xenapi.def covers the DLL's exports"
}

rm -rf "$work" "$sdk_dist"
mkdir -p "$work" "$sdk_dist"
: >"$sdk_dist/MANIFEST.part"
for rid in "$@"; do
  name=xenapi-sdk-$version-$rid
  stage=$work/stage/$name
  case $rid in
  linux-*) stage_common "$stage" "$rid" && stage_linux "$stage" "$rid" ;;
  win-*) stage_common "$stage" "$rid" && stage_windows "$stage" "$rid" ;;
  *) die "no SDK layout for target $rid" ;;
  esac
  # Reproducible archives: sorted, owned by root, dated by the last commit.
  when=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
  find "$stage" -exec touch -h -d "$when" {} +
  case $rid in
  win-*)
    file=sdk/$name.zip
    (cd "$work/stage" && zip -q -X -r -y "$OLDPWD/$dist/$file" "$name")
    check=$work/check/$rid && mkdir -p "$check" && unzip -q "$dist/$file" -d "$check"
    ;;
  *)
    file=sdk/$name.tar.gz
    tar -C "$work/stage" --sort=name --owner=0 --group=0 --numeric-owner -czf "$dist/$file" "$name"
    check=$work/check/$rid && mkdir -p "$check" && tar -C "$check" -xzf "$dist/$file"
    ;;
  esac
  dir=$(cd "$check/$name" && pwd)
  how=$("check_${rid//-/_}" "$dir")
  printf '%s\t%s\t%s\n' "$file" "$rid" "release/sdk.sh: extracted; ffi/examples/xm.c built with $how" \
    >>"$sdk_dist/MANIFEST.part"
  echo "sdk: $dist/$file: $how"
done
