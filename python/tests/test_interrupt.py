"""Ctrl-C during a blocking call: a child Python process makes a call the simulator holds (every
reply delayed 5 s), the test sends it SIGINT 300 ms in, and the child must raise
KeyboardInterrupt within 200 ms, then make another call on the same session, and print no
traceback from any thread. Likewise for ``wait_task`` and ``cache.close()``.

The held call and ``wait_task`` need the core's transport to look at the interrupt check while
it waits for a reply (it does every ``xenapi::call::TICK``)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

#: The child: logs in, then for each argument: holds the simulator's replies, says "ready",
#: makes the held call, and says how it ended; then releases the replies and calls again.
CHILD = r"""
import sys
import urllib.request

import xenapi_rs

url = sys.argv[1]


def delay(seconds):
    req = urllib.request.Request(
        url.rstrip("/") + "/sim/delay?ms=%d" % (seconds * 1000), method="POST", data=b""
    )
    urllib.request.urlopen(req, timeout=10).read()


def say(*words):
    print(*words, flush=True)


s = xenapi_rs.Session(url)
s.xenapi.login_with_password("root", "password")
x = s.xenapi
running = [
    v
    for v in x.VM.get_all()
    if x.VM.get_power_state(v) == "Running" and not x.VM.get_is_control_domain(v)
]
for what in sys.argv[2:]:
    if what == "wait_task":
        task = x.Async.VM.clean_shutdown(running[0])
        held = lambda: s.wait_task(task, timeout=60)
    elif what == "cache.close":
        cache = xenapi_rs.watch(s, ["VM"], poll_timeout=30)
        held = cache.close
    else:
        held = x.VM.get_all
    delay(5)
    say("ready", what)
    try:
        held()
        say("completed", what)
    except KeyboardInterrupt:
        say("interrupted", what)
    delay(0)
    if what == "cache.close":
        assert len(cache["VM"]) > 0
    say("after", what, len(x.VM.get_all()))
"""


def run_child(url, whats):
    """Runs the child for ``whats``; returns ({what: ms from SIGINT to its KeyboardInterrupt},
    the child's stdout lines, its stderr)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, *whats],
        cwd=str(HERE),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines, latency = [], {}
    try:
        for line in child.stdout:
            line = line.strip()
            lines.append(line)
            if line.startswith("ready "):
                time.sleep(0.3)
                t0 = time.monotonic()
                child.send_signal(signal.SIGINT)
                ended = child.stdout.readline().strip()
                latency[line.split()[1]] = (time.monotonic() - t0) * 1000
                lines.append(ended)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return latency, lines, child.stderr.read()


@pytest.mark.parametrize("what", ["call", "wait_task", "cache.close"])
def test_ctrl_c_ends_a_held_call_within_200_ms(sim, what):
    if os.name != "posix":
        pytest.fail("SIGINT to a child process needs POSIX")
    latency, lines, stderr = run_child(sim.url, [what])
    assert "interrupted %s" % what in lines, (lines, stderr)
    assert latency[what] <= 200, "KeyboardInterrupt %.0f ms after SIGINT" % latency[what]
    # The session still works: the next call went through.
    after = [ln for ln in lines if ln.startswith("after %s " % what)]
    assert after and int(after[0].split()[-1]) > 0, (lines, stderr)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


def test_cancelled_is_an_error_with_the_message(xr):
    from xenapi_rs import _errors

    e = _errors._from_native("cancelled", "interrupted", None, "http://h/", 0)
    assert isinstance(e, xr.Cancelled) and isinstance(e, xr.Error)
    assert str(e) == "interrupted" and e.url == "http://h/"
    assert "Cancelled" in xr.__all__


def test_calls_off_the_main_thread_are_not_interrupted(sim, xr):
    """Only the main thread runs signal handlers: a pending SIGINT is the main thread's to
    raise, and a call on another thread goes on."""
    import threading

    s = sim.session()
    out = []

    def work():
        out.append(len(s.xenapi.VM.get_all()))

    sim.delay(0.5)
    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.1)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        time.sleep(1)
    t.join(5)
    sim.delay(0)
    assert out and out[0] > 0
