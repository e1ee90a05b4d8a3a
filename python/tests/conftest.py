"""Fixtures: a xenapi-sim subprocess per test (or per module), and the installed xenapi_rs.

The simulators are started by ``xenapi_rs.testing.Simulator``, the launcher the package ships for
its users' tests (its pytest fixtures, ``xenapi_sim`` and friends, are tested in
test_testing.py).

The simulator binary is ``$XENAPI_SIM`` or ``<repo>/target/release/xenapi-sim`` (built with
``cargo build --release -p xenapi-sim`` when missing, unless ``XENAPI_SIM_BUILD=0``). Tests that
need it are skipped when it cannot be had, so that the offline tests still run.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "root", "password"

# Test the installed wheel, never the source package beside it (it has no compiled _native):
# `python -m pytest` run from python/ would put the source first on sys.path.
_SOURCE = str(REPO / "python")
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _SOURCE]

_sim_binary = None
_sim_error = None


def sim_binary():
    """The simulator's path, building it once if needed; skips the test when unavailable."""
    global _sim_binary, _sim_error
    if _sim_binary:
        return _sim_binary
    if _sim_error:
        pytest.skip(_sim_error)
    env = os.environ.get("XENAPI_SIM")
    if env:
        if not Path(env).is_file():
            _sim_error = "XENAPI_SIM=%s does not exist" % env
            pytest.fail(_sim_error)
        _sim_binary = env
        return env
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    path = target / "release" / "xenapi-sim"
    if not path.is_file() and os.environ.get("XENAPI_SIM_BUILD", "1") != "0":
        r = subprocess.run(
            ["cargo", "build", "--release", "-p", "xenapi-sim"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if r.returncode != 0:
            sys.stderr.write(r.stdout[-3000:])
    if not path.is_file():
        _sim_error = "xenapi-sim is not available (set XENAPI_SIM or build sim/)"
        pytest.skip(_sim_error)
    _sim_binary = str(path)
    return _sim_binary


@pytest.fixture
def start_sim(xenapi_sim_factory):
    """``start_sim(*args)`` starts a simulator with extra arguments, by the package's own fixture
    (xenapi_rs.testing); all are stopped after the test."""
    os.environ["XENAPI_SIM"] = sim_binary()
    # The tests count guests: no templates (the command line's default has five).
    return lambda *args: xenapi_sim_factory("--templates", "0", *args)


@pytest.fixture
def sim(start_sim):
    """A fresh xapi-dialect simulator with 4 VMs."""
    return start_sim("--vms", "4")


@pytest.fixture
def XenAPI():
    """The official client (pip install xenapi)."""
    return pytest.importorskip("XenAPI")


@pytest.fixture
def xr():
    import xenapi_rs

    return xenapi_rs
