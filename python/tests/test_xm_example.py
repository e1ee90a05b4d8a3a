"""python/examples/xm.py, the talk's demo, against xenapi-sim in both dialects: CPU and memory
come from the RRDs on xapi and from the records on xend."""

import re
import subprocess
import sys

import pytest

from conftest import PASSWORD, REPO, USER

XM = REPO / "python" / "examples" / "xm.py"


def run_xm(url):
    r = subprocess.run(
        [sys.executable, str(XM), url, USER, PASSWORD],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout
    return r.stdout


@pytest.mark.parametrize("dialect", ["xapi", "xend"])
def test_xm_tour_shows_cpu_and_memory(start_sim, dialect):
    sim = start_sim("--vms", "3", "--dialect", dialect)
    out = run_xm(sim.url)
    for step in ("== xm list", "== start", "== pause", "== unpause", "== dmesg", "== shutdown",
                 "== logout"):
        assert step in out
    use = out.split("== CPU and memory use", 1)[1].split("== xm list", 1)[0]
    vcpus = re.findall(r"vcpu\d+ (\d+)%", use)
    assert vcpus, use
    assert all(0 <= int(v) <= 100 for v in vcpus)
    assert re.search(r"host .*: memory \d+ of \d+ MiB used", use), use
    assert re.search(r"host CPUs: \d+%", use), use
    if dialect == "xapi":
        # The VM's own figures, from /rrd_updates: used of total.
        assert re.search(r"VM memory: \d+ MiB used of \d+", use), use
