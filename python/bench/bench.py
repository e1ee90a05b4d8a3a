#!/usr/bin/env python3
"""xenapi_rs against the official XenAPI module, same server, same run.

    bench.py [URL] [--rounds N] [--calls N] [--require]

URL defaults to $XENAPI_URL (``make python-bench`` starts ``xenapi-sim --vms 2000``). Three
clients, interleaved round by round so that they see the same machine: the official ``XenAPI``,
``xenapi_rs`` with default options (JSON-RPC where the server offers it) and ``xenapi_rs`` with
``protocol="xmlrpc"``. Measures ``VM.get_all_records()`` (best of N rounds) and sequential
``VM.get_power_state`` calls (best of N batches), and prints the figures and the ratios.

The time the server takes to produce and send the XML-RPC reply (read raw, not decoded) is
printed too: every client pays it, so it bounds the ratios.

``--require`` exits 1 when xenapi_rs is under the issue's targets: records at least 10x faster
with default options and 7x over XML-RPC, small calls at least 3x.
"""

import argparse
import gc
import os
import sys
import time

import XenAPI
import xenapi_rs

TARGETS = {"records": 10.0, "records_xmlrpc": 7.0, "calls": 3.0}


def login(make, url):
    s = make(url)
    s.xenapi.login_with_password(
        os.environ.get("XENAPI_USER", "root"), os.environ.get("XENAPI_PASSWORD", "password"),
        "1.0", "xenapi-rs-bench")
    s.xenapi.VM.get_all()  # warm the connection
    return s


CLIENTS = [
    ("XenAPI", lambda url: XenAPI.Session(url, ignore_ssl=True)),
    ("xenapi_rs", lambda url: xenapi_rs.Session(url, ignore_ssl=True)),
    ("xenapi_rs xmlrpc", lambda url: xenapi_rs.Session(url, ignore_ssl=True, protocol="xmlrpc")),
]


def time_records(s):
    gc.collect()
    t = time.perf_counter()
    records = s.xenapi.VM.get_all_records()
    elapsed = time.perf_counter() - t
    return elapsed, records


def time_calls(s, vms, calls):
    get_power_state = s.xenapi.VM.get_power_state
    gc.collect()
    t = time.perf_counter()
    for i in range(calls):
        get_power_state(vms[i % len(vms)])
    return calls / (time.perf_counter() - t)


def server_time(url):
    """The least time the server takes to answer the records call, read raw and not decoded."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    s = XenAPI.Session(url, ignore_ssl=True)
    s.xenapi.login_with_password("root", "password", "1.0", "xenapi-rs-bench")
    body = ("<?xml version='1.0'?><methodCall><methodName>VM.get_all_records</methodName><params>"
            "<param><value><string>%s</string></value></param></params></methodCall>"
            % s._session).encode()
    best = float("inf")
    size = 0
    for _ in range(3):
        c = http.client.HTTPConnection(u.hostname, u.port or 80)
        t = time.perf_counter()
        c.request("POST", "/", body, {"Content-Type": "text/xml"})
        size = len(c.getresponse().read())
        best = min(best, time.perf_counter() - t)
        c.close()
    s.xenapi.session.logout()
    return best, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", nargs="?", default=os.environ.get("XENAPI_URL"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--require", action="store_true")
    a = ap.parse_args()
    if not a.url:
        sys.exit("give the server URL (or set XENAPI_URL)")

    sessions = [(name, login(make, a.url)) for name, make in CLIENTS]
    records = {name: float("inf") for name, _ in sessions}
    calls = {name: 0.0 for name, _ in sessions}
    n = 0
    vms = []
    for _ in range(a.rounds):
        for name, s in sessions:
            elapsed, recs = time_records(s)
            records[name] = min(records[name], elapsed)
            n = len(recs)
            vms = list(recs)
            del recs
        for name, s in sessions:
            calls[name] = max(calls[name], time_calls(s, vms, a.calls))
    protocols = {name: (s.protocol if isinstance(s, xenapi_rs.Session) else "xmlrpc")
                 for name, s in sessions}
    for _, s in sessions:
        s.xenapi.session.logout()
    reply_s, reply_bytes = server_time(a.url)

    base = "XenAPI"
    print("server: %s, %d VMs (%.1f MB XML-RPC reply, produced and sent in %.0f ms)"
          % (a.url, n, reply_bytes / 1e6, reply_s * 1e3))
    print("%-22s %-9s %18s %10s %16s %8s" % ("client", "protocol", "get_all_records", "ratio",
                                            "get_power_state", "ratio"))
    for name, _ in sessions:
        print("%-22s %-9s %16.0f ms %9.1fx %14.0f/s %7.1fx" % (
            name, protocols[name], records[name] * 1e3, records[base] / records[name],
            calls[name], calls[name] / calls[base]))
    got = {
        "records": records[base] / records["xenapi_rs"],
        "records_xmlrpc": records[base] / records["xenapi_rs xmlrpc"],
        "calls": min(calls["xenapi_rs"], calls["xenapi_rs xmlrpc"]) / calls[base],
    }
    ok = all(got[k] >= TARGETS[k] for k in TARGETS)
    print("targets (records >= %.0fx by default and >= %.0fx over XML-RPC, small calls >= %.0fx): %s"
          % (TARGETS["records"], TARGETS["records_xmlrpc"], TARGETS["calls"],
             "met" if ok else "NOT met"))
    return 1 if a.require and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
