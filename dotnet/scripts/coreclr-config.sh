#!/bin/sh
# coreclr-config.sh APP.exe [PACKAGES-DIR ID VERSION]: lets .NET (Core)'s host run an mcs-built
# program (`dotnet APP.exe`) by writing what `dotnet build` would write beside it:
#   APP.runtimeconfig.json   the shared framework (Microsoft.NETCore.App 3.1 or later), with
#                            invariant globalization (3.1 knows no ICU newer than it: Debian 12's 72)
#   APP.deps.json            with a package: its lib/netstandard2.0 assembly and each
#                            runtimes/<rid>/native file, as NuGet restore lists them, so the host
#                            loads them from PACKAGES-DIR/ID.VERSION/ (a `nuget install` folder,
#                            named as an additional probing path) and picks the native for its RID.
# Without a package the host loads what lies beside APP.exe.
set -eu
app=$1
base=${app%.exe}
name=$(basename "$base")

if [ $# -lt 4 ]; then
  probing=
else
  packages=$(cd "$2" && pwd) id=$3 version=$4
  probing=", \"additionalProbingPaths\": [\"$packages\"]"
fi
cat > "$base.runtimeconfig.json" <<JSON
{
  "runtimeOptions": {
    "tfm": "netcoreapp3.1",
    "rollForward": "LatestMajor",
    "framework": { "name": "Microsoft.NETCore.App", "version": "3.1.0" },
    "configProperties": { "System.Globalization.Invariant": true }$probing
  }
}
JSON
[ $# -ge 4 ] || exit 0

dir=$packages/$id.$version
[ -f "$dir/lib/netstandard2.0/$id.dll" ] || { echo "coreclr-config: $dir/lib/netstandard2.0/$id.dll is missing (restore the package first)" >&2; exit 1; }
natives=$(cd "$dir" && find runtimes -path 'runtimes/*/native/*' -type f | sort | while read -r f; do
  rid=${f#runtimes/}; rid=${rid%%/*}
  printf '          "%s": { "rid": "%s", "assetType": "native" },\n' "$f" "$rid"
done | sed '$ s/,$//')
[ -n "$natives" ] || { echo "coreclr-config: $dir has no runtimes/<rid>/native/ files" >&2; exit 1; }
cat > "$base.deps.json" <<JSON
{
  "runtimeTarget": { "name": ".NETCoreApp,Version=v3.1", "signature": "" },
  "compilationOptions": {},
  "targets": {
    ".NETCoreApp,Version=v3.1": {
      "$name/1.0.0": { "dependencies": { "$id": "$version" }, "runtime": { "$name.exe": {} } },
      "$id/$version": {
        "runtime": { "lib/netstandard2.0/$id.dll": {} },
        "runtimeTargets": {
$natives
        }
      }
    }
  },
  "libraries": {
    "$name/1.0.0": { "type": "project", "serviceable": false, "sha512": "" },
    "$id/$version": { "type": "package", "serviceable": false, "sha512": "", "path": "$id.$version" }
  }
}
JSON
