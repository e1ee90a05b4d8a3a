#!/usr/bin/env python3
"""xenapi_rs against the official XenAPI module, same server, same run.

    bench.py [URL] [--rounds N] [--calls N] [--require]

URL defaults to $XENAPI_URL (``make python-bench`` starts ``xenapi-sim --vms 2000``). Measures
``VM.get_all_records()`` (best of N rounds) and N sequential ``VM.get_power_state`` calls, prints
both clients' figures and the ratios. ``--require`` exits 1 when xenapi_rs is under the issue's
targets (5x for the records, 2x for the small calls).
"""

import argparse
import gc
import os
import sys
import time

import XenAPI
import xenapi_rs


def login(mod, url):
    s = mod.Session(url, ignore_ssl=True)
    s.xenapi.login_with_password(
        os.environ.get("XENAPI_USER", "root"), os.environ.get("XENAPI_PASSWORD", "password"),
        "1.0", "xenapi-rs-bench")
    return s


def bench(mod, url, rounds, calls):
    s = login(mod, url)
    x = s.xenapi
    x.VM.get_all()  # warm the connection
    records_times = []
    n = 0
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        records = x.VM.get_all_records()
        records_times.append(time.perf_counter() - t)
        n = len(records)
        vms = list(records)
        del records
    get_power_state = x.VM.get_power_state
    gc.collect()
    t = time.perf_counter()
    for i in range(calls):
        get_power_state(vms[i % len(vms)])
    small = time.perf_counter() - t
    s.xenapi.session.logout()
    return {"vms": n, "records": min(records_times), "calls_per_s": calls / small}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", nargs="?", default=os.environ.get("XENAPI_URL"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--require", action="store_true")
    a = ap.parse_args()
    if not a.url:
        sys.exit("give the server URL (or set XENAPI_URL)")
    theirs = bench(XenAPI, a.url, a.rounds, a.calls)
    ours = bench(xenapi_rs, a.url, a.rounds, a.calls)
    r_records = theirs["records"] / ours["records"]
    r_calls = ours["calls_per_s"] / theirs["calls_per_s"]
    print("server: %s, %d VMs" % (a.url, ours["vms"]))
    print("%-34s %12s %12s %8s" % ("", "XenAPI", "xenapi_rs", "ratio"))
    print("%-34s %11.3fs %11.3fs %7.1fx" % ("VM.get_all_records() (best of %d)" % a.rounds,
                                            theirs["records"], ours["records"], r_records))
    print("%-34s %10.0f/s %10.0f/s %7.1fx" % ("%d x VM.get_power_state" % a.calls,
                                              theirs["calls_per_s"], ours["calls_per_s"], r_calls))
    ok = r_records >= 5 and r_calls >= 2
    print("targets (records >= 5x, small calls >= 2x): %s" % ("met" if ok else "NOT met"))
    return 1 if a.require and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
