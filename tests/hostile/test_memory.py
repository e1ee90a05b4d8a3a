"""Every binding against a hostile server, as a new user would run it: default options, a login.

A 2 GiB reply with a Content-Length, the same chunked without one, and a gzip bomb (see
``server.py``), over XML-RPC and (the default) JSON-RPC; each client must stop with the size error
and its process must stay under 512 MiB resident. The clients are the project's own command lines:
``xenctl`` (Rust), ``python -c`` with ``xenapi_rs``, ``xm`` (C, linked against libxenapi) and
``Xm.exe`` (C# under Mono). Paths come from the environment (``make hostile-test`` sets them):
XENCTL, C_XM, DOTNET_XM (with LD_LIBRARY_PATH for libxenapi.so), PYTHON.
"""

import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT_KIB = 512 * 1024
SIZE_ERROR = ("larger than the limit", "more than the limit")


@pytest.fixture(scope="module", params=["length", "chunked", "gzip"])
def server(request):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), request.param],
                         stdout=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline())
        yield request.param, "http://127.0.0.1:%d" % port
    finally:
        p.kill()
        p.wait()


def clients():
    py = os.environ.get("PYTHON", sys.executable)
    script = ("import sys, xenapi_rs\n"
              "s = xenapi_rs.Session(sys.argv[1], timeout=30, protocol=sys.argv[2])\n"
              "s.xenapi.login_with_password('root', 'password')\n")
    out = {}
    out["python"] = lambda url, proto: [py, "-c", script, url, proto]
    if os.environ.get("XENCTL"):
        out["rust"] = lambda url, proto: [os.environ["XENCTL"], "--url", url, "--protocol", proto,
                                          "--timeout", "30", "list"]
    if os.environ.get("C_XM"):
        out["c"] = lambda url, proto: [os.environ["C_XM"], "-u", url, "list"]
    if os.environ.get("DOTNET_XM"):
        out["csharp"] = lambda url, proto: [os.environ.get("MONO", "mono"), os.environ["DOTNET_XM"],
                                            "-s", url, "list"]
    return out


CLIENTS = clients()
# xm (C) and Xm.exe (C#) take no protocol option: they run with the default (auto).
PROTOCOLS = {"python": ["auto", "xmlrpc"], "rust": ["auto", "xmlrpc"], "c": ["auto"],
             "csharp": ["auto"]}
CASES = [(c, p) for c in sorted(CLIENTS) for p in PROTOCOLS[c]]


def peak_rss_kib(argv):
    """Runs argv under a fresh Python that reports the child's own peak resident KiB."""
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
             "sys.stderr.write(p.stderr.decode(errors='replace'))\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.exit(p.returncode)\n")
    t = time.monotonic()
    env = dict(os.environ, XENAPI_PASSWORD="password")
    p = subprocess.run([sys.executable, "-c", probe] + argv, capture_output=True, timeout=180,
                       env=env)
    return (p.returncode, p.stderr.decode(errors="replace"), int(p.stdout.strip() or 0),
            time.monotonic() - t)


@pytest.mark.parametrize("client,protocol", CASES)
def test_hostile_reply_stops_with_bounded_memory(server, client, protocol):
    mode, url = server
    status, err, kib, secs = peak_rss_kib(CLIENTS[client](url, protocol))
    print("%s %s %s: exit %d, peak %.0f MiB, %.1f s" % (client, protocol, mode, status,
                                                        kib / 1024, secs))
    assert status != 0, "%s reported success on a hostile reply" % client
    assert any(s in err for s in SIZE_ERROR), "%s %s: %s" % (client, mode, err[-800:])
    assert kib < LIMIT_KIB, "%s %s: peak %d MiB" % (client, mode, kib // 1024)
