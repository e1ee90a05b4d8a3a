"""Start the `xenapi-sim` binary as a subprocess for Python tests, and talk to its side channel.

The binary is `$XENAPI_SIM` if set, else `target/release/xenapi-sim` (then `target/debug/`) of
this repository. Build it first: `cargo build --release -p xenapi-sim`.
"""

from __future__ import annotations

import json
import os
import pathlib
import queue
import subprocess
import threading
import urllib.request
from dataclasses import dataclass, field

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


def sim_binary() -> str:
    env = os.environ.get("XENAPI_SIM")
    if env:
        return env
    for profile in ("release", "debug"):
        p = REPO / "target" / profile / "xenapi-sim"
        if p.exists():
            return str(p)
    pytest.skip("no xenapi-sim binary: run `cargo build --release -p xenapi-sim` or set XENAPI_SIM")


@dataclass
class Sim:
    """A running simulator: `url` (no trailing slash), its pool members, and the process."""

    url: str
    dialect: str
    process: subprocess.Popen
    members: list = field(default_factory=list)
    fingerprint: str | None = None

    def _side(self, method: str, path: str) -> dict:
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    def stats(self) -> dict:
        return self._side("GET", "/sim/stats")

    def expire_sessions(self) -> int:
        return self._side("POST", "/sim/expire-sessions")["expired"]

    def fault(self, kind: str, count: int = 1) -> dict:
        return self._side("POST", f"/sim/fault?kind={kind}&count={count}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


def start_sim(dialect: str = "xapi", *extra: str) -> Sim:
    """Starts `xenapi-sim --listen 127.0.0.1:0 --dialect DIALECT EXTRA…` and waits for its
    `listening on URL` line."""
    cmd = [sim_binary(), "--listen", "127.0.0.1:0", "--dialect", dialect, "--seed", "7", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    members, fingerprint = [], None
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            proc.kill()
            raise RuntimeError(f"{cmd}: no 'listening on' line within {START_TIMEOUT} s")
        if line is None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"{cmd} exited: {err}")
        line = line.strip()
        if line.startswith("fingerprint sha256 "):
            fingerprint = line.split()[-1]
        elif line.startswith("pool member "):
            members.append(line.split()[-1])
        elif line.startswith("listening on "):
            url = line[len("listening on "):]
            return Sim(url=url, dialect=dialect, process=proc, members=members, fingerprint=fingerprint)


@pytest.fixture(params=["xapi", "xend"])
def sim(request):
    """A fresh simulator per test, in each dialect."""
    s = start_sim(request.param)
    yield s
    s.stop()


@pytest.fixture
def xapi_sim():
    s = start_sim("xapi")
    yield s
    s.stop()


@pytest.fixture
def xend_sim():
    s = start_sim("xend")
    yield s
    s.stop()


@pytest.fixture
def pool_sim():
    s = start_sim("xapi", "--hosts", "2")
    yield s
    s.stop()
