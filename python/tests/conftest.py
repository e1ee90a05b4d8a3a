"""Fixtures: a xenapi-sim subprocess per test (or per module), and the installed xenapi_rs.

The simulator binary is ``$XENAPI_SIM`` or ``<repo>/target/release/xenapi-sim`` (built with
``cargo build --release -p xenapi-sim`` when missing, unless ``XENAPI_SIM_BUILD=0``). Tests that
need it are skipped when it cannot be had, so that the offline tests still run.
"""

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
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


class Sim:
    """One running xenapi-sim."""

    def __init__(self, *args):
        self.args = list(args)
        self.fingerprint = None
        self.cert_file = None
        self.members = []
        self.proc = subprocess.Popen(
            [sim_binary(), "--listen", "127.0.0.1:0", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10):
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read()
                raise RuntimeError("xenapi-sim exited before listening: %s" % err)
            m = re.match(r"fingerprint sha256 ([0-9A-Fa-f:]+)", line.strip())
            if m:
                self.fingerprint = m.group(1)
                continue
            m = re.match(r"pool member \S+ (\S+)", line.strip())
            if m:
                self.members.append(m.group(1))
                continue
            m = re.match(r"listening on (\S+)", line.strip())
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("xenapi-sim did not say where it listens")
        # Keep draining its output, so that a chatty simulator never blocks on a full pipe.
        for f in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=f.read, daemon=True).start()
        if "--cert-out" in self.args:
            self.cert_file = self.args[self.args.index("--cert-out") + 1]
        self.address = re.match(r"https?://([^/]+)", self.url).group(1)

    def stats(self):
        """``GET /sim/stats`` as a dict."""
        import ssl

        ctx = ssl._create_unverified_context() if self.url.startswith("https") else None
        with urllib.request.urlopen(self.url.rstrip("/") + "/sim/stats", context=ctx, timeout=10) as r:
            return json.loads(r.read().decode())

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def start_sim():
    """``start_sim(*args)`` starts a simulator with extra arguments; all are stopped after the test."""
    sims = []

    def start(*args):
        s = Sim(*args)
        sims.append(s)
        return s

    yield start
    for s in sims:
        s.close()


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
