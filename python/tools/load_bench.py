#!/usr/bin/env python3
"""Calls per second with one xenapi_rs session shared by many threads (the GIL is released
during each call): ``load_bench.py URL [CALLS_PER_THREAD] [THREADS...]``, default 200 calls and
1 4 16 64 threads. Each line: ``python THREADS CALLS_PER_SECOND ERRORS``; exits 1 on any error.
"""

import sys
import threading
import time

import xenapi_rs


def run(session, vm, n, calls):
    errors = [0] * n
    gate = threading.Barrier(n + 1)

    def work(i):
        gate.wait()
        for _ in range(calls):
            try:
                session.xenapi.VM.get_power_state(vm)
            except Exception:
                errors[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return n * calls / (time.perf_counter() - t0), sum(errors)


def main(argv):
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:9363"
    calls = int(argv[2]) if len(argv) > 2 else 200
    counts = [int(a) for a in argv[3:]] or [1, 4, 16, 64]
    session = xenapi_rs.Session(url)
    session.xenapi.login_with_password("root", "password")
    vm = session.xenapi.VM.get_all()[0]
    failed = False
    for n in counts:
        rate, errors = run(session, vm, n, calls)
        print("python %d %.0f %d" % (n, rate, errors), flush=True)
        failed |= errors > 0
    try:
        session.xenapi.session.logout()
    except Exception:
        pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
