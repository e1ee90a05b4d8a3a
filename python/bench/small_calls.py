#!/usr/bin/env python3
"""The Python side of ``make everyday-bench`` (tests/bench/README.md), against a running server.

    small_calls.py small CLIENT URL time SECONDS
        VM.get_power_state in a loop for SECONDS on one session; prints
        ``small python-CLIENT CALLS SECS``
    small_calls.py small CLIENT URL count CALLS
        CALLS calls between two marker system calls (a stat of /xenapi-bench-mark/begin and
        .../end) for a tracer to count; prints ``count python-CLIENT CALLS``
    small_calls.py interrupt CLIENT URL HOLD
        a held call (event.from on a quiet server, HOLD seconds): prints ``calling`` just
        before it, then ``interrupted usable|unusable`` when SIGINT raised KeyboardInterrupt
        (the session tried again afterwards), or ``returned``; the driver sends the SIGINT and
        times the gap
    small_calls.py stall URL SECONDS
        xenapi_rs.aio: 100 calls in flight on one session for SECONDS while a ticker scheduled
        every 1 ms measures the longest gap between its ticks; prints
        ``stall python MAX_MS OWN_MS BASELINE_MS CALLS/S`` (OWN_MS: the longest gap less the
        time the loop's thread waited for a CPU, Linux's schedstat; BASELINE_MS: the same ticker
        with no call in flight), or ``stall python n/a`` without xenapi_rs.aio
    small_calls.py burst URL
        xenapi_rs.aio: after a warm-up, one burst of 100 VM.get_record calls in flight together
        under the same ticker (python/tests/test_aio.py runs it with replies delayed); prints
        ``burst python ELAPSED_MS MAX_MS OWN_MS``

CLIENT is ``xenapi_rs`` or ``XenAPI`` (the official module). Every mode logs in
(``XENAPI_USER``, ``XENAPI_PASSWORD``; root / password by default) and warms up first.
"""

import asyncio
import importlib.util
import os
import sys
import time

WARM_UP = 200
IN_FLIGHT = 100
TICK = 0.001


def credentials():
    return os.environ.get("XENAPI_USER", "root"), os.environ.get("XENAPI_PASSWORD", "password")


def session(client, url):
    if client == "xenapi_rs":
        import xenapi_rs

        s = xenapi_rs.Session(url)
    elif client == "XenAPI":
        import XenAPI

        s = XenAPI.Session(url)
    else:
        raise SystemExit("small_calls.py: CLIENT is xenapi_rs or XenAPI, not %r" % client)
    user, password = credentials()
    s.xenapi.login_with_password(user, password, "1.0", "xenapi-rs-everyday-bench")
    return s


def warm(s):
    vm = s.xenapi.VM.get_all()[0]
    get_power_state = s.xenapi.VM.get_power_state
    for _ in range(WARM_UP):
        get_power_state(vm)
    return vm, get_power_state


def mark(what):
    try:
        os.stat("/xenapi-bench-mark/" + what)
    except OSError:
        pass


def small(client, url, mode, n):
    s = session(client, url)
    vm, get_power_state = warm(s)
    if mode == "time":
        span = float(n)
        calls = 0
        t0 = t = time.perf_counter()
        while t - t0 < span:
            get_power_state(vm)
            calls += 1
            t = time.perf_counter()
        print("small python-%s %d %.6f" % (client, calls, t - t0), flush=True)
    elif mode == "count":
        calls = int(float(n))
        mark("begin")
        for _ in range(calls):
            get_power_state(vm)
        mark("end")
        print("count python-%s %d" % (client, calls), flush=True)
    else:
        raise SystemExit("small_calls.py: the mode is time or count, not %r" % mode)
    s.xenapi.session.logout()


def interrupt(client, url, hold):
    s = session(client, url)
    vm, get_power_state = warm(s)
    event_from = getattr(s.xenapi.event, "from")
    token = event_from(["vm"], "", 0.0)["token"]
    outcome = "returned"
    try:
        print("calling", flush=True)
        event_from(["vm"], token, float(hold))
    except KeyboardInterrupt:
        outcome = "interrupted"
    # A KeyboardInterrupt raised only once the call returned lands in the try above as well;
    # the driver's clock tells the two apart.
    if outcome == "interrupted":
        try:
            get_power_state(vm)
            outcome += " usable"
        except Exception as e:  # the figure is whether the session still answers
            outcome += " unusable (%s)" % type(e).__name__
    print(outcome, flush=True)


def runqueue_wait():
    """Seconds this thread has waited for a CPU while runnable (Linux's schedstat), or 0."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


async def ticker(stop):
    """The longest gap, in seconds, between ticks scheduled every TICK until ``stop`` is set,
    and the longest gap less the time the thread waited for a CPU in it."""
    loop = asyncio.get_running_loop()
    worst = own = 0.0
    last, waited = loop.time(), runqueue_wait()
    while not stop.is_set():
        await asyncio.sleep(TICK)
        now, now_waited = loop.time(), runqueue_wait()
        worst = max(worst, now - last)
        own = max(own, (now - last) - (now_waited - waited))
        last, waited = now, now_waited
    return worst, own


async def stall_run(url, seconds):
    import xenapi_rs.aio as aio

    user, password = credentials()
    async with aio.Session(url, max_concurrent_calls=IN_FLIGHT) as s:
        await s.xenapi.login_with_password(user, password)
        vm = (await s.xenapi.VM.get_all())[0]
        for _ in range(WARM_UP // 10):
            await s.xenapi.VM.get_power_state(vm)

        stop = asyncio.Event()
        idle = asyncio.ensure_future(ticker(stop))
        await asyncio.sleep(min(seconds, 1.0))
        stop.set()
        baseline, _ = await idle

        stop = asyncio.Event()
        calls = [0]

        async def worker():
            while not stop.is_set():
                await s.xenapi.VM.get_power_state(vm)
                calls[0] += 1

        tick = asyncio.ensure_future(ticker(stop))
        workers = [asyncio.ensure_future(worker()) for _ in range(IN_FLIGHT)]
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        worst, own = await tick
        await asyncio.gather(*workers)
        rate = calls[0] / (time.perf_counter() - t0)
    return worst, own, baseline, rate


async def burst_run(url):
    import xenapi_rs.aio as aio

    user, password = credentials()
    async with aio.Session(url, max_concurrent_calls=IN_FLIGHT) as s:
        await s.xenapi.login_with_password(user, password)
        vms = await s.xenapi.VM.get_all()

        def burst():
            return asyncio.gather(
                *(s.xenapi.VM.get_record(vms[i % len(vms)]) for i in range(IN_FLIGHT))
            )

        # Warm: the workers started, the connections open, the first records converted.
        await burst()
        stop = asyncio.Event()
        tick = asyncio.ensure_future(ticker(stop))
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        records = await burst()
        elapsed = time.perf_counter() - t0
        stop.set()
        worst, own = await tick
    if len(records) != IN_FLIGHT or not all("power_state" in r for r in records):
        raise SystemExit("small_calls.py: the burst's records are wrong")
    return elapsed, worst, own


def burst(url):
    elapsed, worst, own = asyncio.run(burst_run(url))
    print("burst python %.2f %.2f %.2f" % (elapsed * 1000, worst * 1000, own * 1000), flush=True)


def stall(url, seconds):
    if importlib.util.find_spec("xenapi_rs") is None:
        raise SystemExit("small_calls.py: xenapi_rs is not installed")
    if importlib.util.find_spec("xenapi_rs.aio") is None:
        print("stall python n/a", flush=True)
        return
    worst, own, baseline, rate = asyncio.run(stall_run(url, float(seconds)))
    print(
        "stall python %.2f %.2f %.2f %.0f" % (worst * 1000, own * 1000, baseline * 1000, rate),
        flush=True,
    )


def main(argv):
    usage = (
        "usage: small_calls.py small CLIENT URL time|count N | interrupt CLIENT URL HOLD"
        " | stall URL SECONDS | burst URL"
    )
    if len(argv) < 2:
        raise SystemExit(usage)
    if argv[1] == "small" and len(argv) == 6:
        small(argv[2], argv[3], argv[4], argv[5])
    elif argv[1] == "interrupt" and len(argv) == 5:
        interrupt(argv[2], argv[3], argv[4])
    elif argv[1] == "stall" and len(argv) == 4:
        stall(argv[2], argv[3])
    elif argv[1] == "burst" and len(argv) == 3:
        burst(argv[2])
    else:
        raise SystemExit(usage)


if __name__ == "__main__":
    main(sys.argv)
