#!/usr/bin/env bash
# The release's index (make dist, last step): DIST/MANIFEST.tsv (file, target, size in bytes,
# what tested it) from every DIST/*/MANIFEST.part, and DIST/SHA256SUMS of the same files. Fails
# when a listed file is missing or when an artifact in DIST is listed by no MANIFEST.part, so
# nothing untested ships unnoticed.
#
#   release/manifest.sh DIST
set -euo pipefail

dist=$1
die() {
  echo "manifest: $*" >&2
  exit 1
}

parts=$(cd "$dist" && find . -mindepth 2 -name MANIFEST.part | sed 's|^\./||' | sort)
[ -n "$parts" ] || die "no MANIFEST.part under $dist: nothing was built"

tsv=$dist/MANIFEST.tsv
printf 'file\ttarget\tsize\ttested-by\n' >"$tsv.tmp"
listed=()
for part in $parts; do
  while IFS=$'\t' read -r file target tested extra; do
    [ -n "$file" ] || continue
    [ -z "${extra:-}" ] && [ -n "${tested:-}" ] ||
      die "$part: expected FILE<TAB>TARGET<TAB>TESTED-BY, got: $file $target ${tested:-} ${extra:-}"
    [ -f "$dist/$file" ] || die "$part lists $file, which is not in $dist"
    size=$(stat -c %s "$dist/$file")
    printf '%s\t%s\t%s\t%s\n' "$file" "$target" "$size" "$tested" >>"$tsv.tmp"
    listed+=("$file")
  done <"$dist/$part"
done

# Every artifact must be listed (the index files themselves aside).
unlisted=$(comm -23 \
  <(cd "$dist" && find . -type f ! -name MANIFEST.part ! -name 'MANIFEST.tsv*' ! -name SHA256SUMS |
    sed 's|^\./||' | sort) \
  <(printf '%s\n' "${listed[@]}" | sort -u))
[ -z "$unlisted" ] || die "in $dist but in no MANIFEST.part (untested?): $unlisted"

mv "$tsv.tmp" "$tsv"
(cd "$dist" && printf '%s\n' "${listed[@]}" | sort -u | xargs sha256sum) >"$dist/SHA256SUMS"
echo "manifest: $(( $(wc -l <"$tsv") - 1 )) artifacts in $tsv and $dist/SHA256SUMS"
