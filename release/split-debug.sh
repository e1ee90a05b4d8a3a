#!/usr/bin/env bash
# split-debug.sh OBJCOPY FROM-DIR TO-DIR FILE...: copies each FILE from FROM-DIR to TO-DIR
# stripped, its debug info kept in TO-DIR/debug/FILE.debug. An executable or shared library loses
# its symbol table too (a DLL's exports and an ELF's dynamic symbols stay) and names its .debug
# file (a GNU debuglink, which gdb follows). A static library (.a) keeps its symbols, which
# linking needs; an archive cannot carry a debuglink, and debug info is only of use once linked,
# so its .debug file is the whole unstripped archive: link against that to debug into it.
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 OBJCOPY FROM-DIR TO-DIR FILE..." >&2
  exit 2
fi
objcopy=$1 from=$2 to=$3
shift 3
command -v "$objcopy" >/dev/null || {
  echo "split-debug: $objcopy is missing; \`make deps\` installs the binutils for this target" >&2
  exit 1
}
mkdir -p "$to/debug"
for f in "$@"; do
  [ -f "$from/$f" ] || { echo "split-debug: $from/$f was not built" >&2; exit 1; }
  # Write beside, then rename: a package build reading TO-DIR never sees half a file.
  case "$f" in
    *.a)
      cp "$from/$f" "$to/debug/$f.debug"
      "$objcopy" --strip-debug "$from/$f" "$to/$f.tmp"
      ;;
    *)
      "$objcopy" --only-keep-debug "$from/$f" "$to/debug/$f.debug"
      "$objcopy" --strip-all "$from/$f" "$to/$f.tmp"
      (cd "$to" && "$objcopy" --add-gnu-debuglink="debug/$f.debug" "$f.tmp")
      ;;
  esac
  mv -f "$to/$f.tmp" "$to/$f"
done
