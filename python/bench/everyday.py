"""The Python figures of the everyday bench (issue 22), against a running xenapi-sim:

    python everyday.py URL     prints  interrupt_ms=<n>  and  loop_stall_ms=<n>

- interrupt_ms: a child process makes a call the simulator holds (every reply delayed 5 s); it
  is sent SIGINT 300 ms in; the time from the signal to its KeyboardInterrupt, the worst of 3.
- loop_stall_ms: the longest an asyncio loop went without running a 1 ms ticker while 100
  ``xenapi_rs.aio`` calls were in flight on one session (replies delayed 200 ms).

The simulator must accept root/password and have its side channel (/sim/delay); the delay is
set back to 0 at the end.
"""

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request

USER, PASSWORD = "root", "password"
HOLD_MS = 5000
ROUNDS = 3


def delay(url, ms):
    req = urllib.request.Request(
        url.rstrip("/") + "/sim/delay?ms=%d" % ms, method="POST", data=b""
    )
    urllib.request.urlopen(req, timeout=10).read()


def child(url):
    """In the child: one held call per line read, reporting how each ended."""
    import xenapi_rs

    s = xenapi_rs.Session(url)
    s.xenapi.login_with_password(USER, PASSWORD)
    for _ in range(ROUNDS):
        delay(url, HOLD_MS)
        print("ready", flush=True)
        try:
            s.xenapi.VM.get_all()
            print("completed", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        delay(url, 0)
        s.xenapi.VM.get_all()
    s.xenapi.session.logout()


def interrupt_ms(url):
    p = subprocess.Popen(
        [sys.executable, __file__, url, "--child"],
        stdout=subprocess.PIPE,
        text=True,
    )
    worst = 0.0
    try:
        for line in p.stdout:
            if line.strip() != "ready":
                continue
            time.sleep(0.3)
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            ended = p.stdout.readline().strip()
            ms = (time.monotonic() - t0) * 1000
            if ended != "interrupted":
                raise RuntimeError("the held call was not interrupted: %r" % ended)
            worst = max(worst, ms)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        delay(url, 0)
    return worst


def loop_stall_ms(url):
    import xenapi_rs.aio

    async def main():
        async with xenapi_rs.aio.Session(url, max_concurrent_calls=100) as s:
            await s.xenapi.login_with_password(USER, PASSWORD)
            vms = await s.xenapi.VM.get_all()
            stop, longest = False, 0.0

            async def tick():
                nonlocal longest
                last = time.monotonic()
                while not stop:
                    await asyncio.sleep(0.001)
                    now = time.monotonic()
                    longest = max(longest, now - last)
                    last = now

            delay(url, 200)
            try:
                ticker = asyncio.ensure_future(tick())
                await asyncio.sleep(0.02)
                await asyncio.gather(
                    *(s.xenapi.VM.get_record(vms[i % len(vms)]) for i in range(100))
                )
                stop = True
                await ticker
            finally:
                delay(url, 0)
            return longest * 1000

    return asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[2] == "--child":
        child(sys.argv[1])
    elif len(sys.argv) == 2:
        print("interrupt_ms=%d" % round(interrupt_ms(sys.argv[1])))
        print("loop_stall_ms=%d" % round(loop_stall_ms(sys.argv[1])))
    else:
        sys.exit("usage: everyday.py SIMULATOR-URL")
