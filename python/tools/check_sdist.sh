#!/usr/bin/env bash
# check_sdist.sh SDIST VENV SIMULATOR: the source distribution as pip builds it where no wheel
# fits: `twine check`, then `pip install SDIST` into a new VENV (maturin compiles the workspace
# crates the sdist carries, with this machine's Rust), then python/tests there, against
# SIMULATOR (an sdist ships none: xenapi_rs.testing then wants XENAPI_SIM or one on PATH).
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 SDIST VENV SIMULATOR" >&2
  exit 2
fi
sdist=$1 venv=$2 sim=$3
mkdir -p "$venv"
venv=$(cd "$venv" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}

"$python" -m twine check --strict "$sdist"
rm -rf "$venv"
"$python" -m venv "$venv"
# Its own target dir, kept between runs: the crates.io dependencies build once.
CARGO_TARGET_DIR=$root/target/sdist-build "$venv/bin/python" -m pip install --quiet \
  --disable-pip-version-check "$sdist[test]"
cd "$root/python/tests"
XENAPI_SIM=$sim "$venv/bin/python" -m pytest -q -p no:cacheprovider .
