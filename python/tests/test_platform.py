"""``import xenapi_rs`` where the compiled module cannot load: a clear ImportError naming this
platform and the wheels that exist, not a bare "No module named xenapi_rs._native"."""

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import xenapi_rs
import xenapi_rs.testing
from xenapi_rs._platform import WHEELS


def test_a_package_without_its_native_module_says_which_wheels_exist(tmp_path):
    # The installed package's Python files, as a wheel for another platform would leave them.
    shutil.copytree(Path(xenapi_rs.__file__).parent, tmp_path / "xenapi_rs",
                    ignore=shutil.ignore_patterns("_native*", "bin", "__pycache__"))
    r = subprocess.run([sys.executable, "-c", "import xenapi_rs"], cwd=tmp_path,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: xenapi_rs cannot load its compiled module")
    assert platform.machine() in last and platform.python_version() in last
    for _, tag in WHEELS:
        assert tag in last
    assert "pip install --force-reinstall --no-binary xenapi-rs xenapi-rs" in last


def test_the_shipped_simulator_is_named_for_its_platform():
    assert xenapi_rs.testing.simulator_filename("win32") == "xenapi-sim.exe"
    assert xenapi_rs.testing.simulator_filename("linux") == "xenapi-sim"
