#!/usr/bin/env bash
# dll-def.sh OBJDUMP DLL: prints the module-definition file (.def) of DLL, its export table as
# OBJDUMP -p reads it: what a linker needs to make an import library (MSVC's `lib /def:`,
# mingw's dlltool) for a DLL it did not build.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 OBJDUMP DLL" >&2
  exit 2
fi
objdump=$1 dll=$2
# The export table's names follow "[Ordinal/Name Pointer] Table", one "[ N] name" a line. (awk
# reads to the end: leaving early would break the pipe under pipefail.)
names=$("$objdump" -p "$dll" | awk '
  /^\[Ordinal\/Name Pointer\] Table/ { inside = 1; next }
  inside && /^[ \t]*\[ *[0-9]+\] / { sub(/^[ \t]*\[ *[0-9]+\] /, ""); print; next }
  { inside = 0 }')
if [ -z "$names" ]; then
  echo "dll-def: $dll exports nothing (is it a DLL?)" >&2
  exit 1
fi
printf 'LIBRARY %s\nEXPORTS\n' "$(basename "$dll")"
printf '    %s\n' $names
