"""Test your own XenAPI automation against xenapi-sim: a pytest plugin and a small API.

Installed with the package (``pip install xenapi-rs``); pytest loads it by itself. Fixtures:

* ``xenapi_sim``: a fresh simulator for each test, with its default pool (a host with local and
  shared storage and a network, four guests) and five templates to clone from.
* ``xenapi_sim_module``: one simulator shared by the tests of a module.
* ``xenapi_sim_factory``: ``xenapi_sim_factory("--vms", "20", "--dialect", "xend")`` starts one
  with the simulator's own options (see ``xenapi-sim --help``); all are stopped after the test.

Each is a :class:`Simulator`: ``url``, ``user``, ``password``, ``session()`` (a logged-in
``xenapi_rs.Session``), ``stats()``, ``expire_sessions()``, ``fault(kind)`` (the next replies
reset, fail with HTTP 500, come garbled, truncated or a byte at a time), ``delay(seconds)`` (every
reply comes that late), ``failover(to=None)`` (with ``--hosts N``: the coordinator dies, as under
HA, and a member takes over; ``members`` lists the members' URLs) and, for ``--tls``,
``fingerprint``. An example, testing
one's own provisioning code::

    def provision(session, name):
        x = session.xenapi
        vm = x.VM.clone(x.VM.get_by_name_label("Debian Bookworm 12")[0], name)
        # As xe vm-install does: put the disks on the pool's default SR, then provision.
        sr = x.pool.get_default_SR(x.pool.get_all()[0])
        disks = x.VM.get_other_config(vm)["disks"].replace('sr=""', 'sr="%s"' % x.SR.get_uuid(sr))
        x.VM.remove_from_other_config(vm, "disks")
        x.VM.add_to_other_config(vm, "disks", disks)
        x.VM.provision(vm)
        return vm

    def test_provision(xenapi_sim):
        with xenapi_sim.session() as s:
            vm = provision(s, "web-1")
            assert s.xenapi.VM.get_name_label(vm) == "web-1"
            assert s.xenapi.VM.get_is_a_template(vm) is False

The simulator binary is ``$XENAPI_SIM``, else the one shipped in this package, else
``xenapi-sim`` on ``PATH``.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request

USER, PASSWORD = "root", "password"
# What the fixtures start: the simulator's default pool (it has templates to clone from).
DEFAULT_ARGS = ()

__all__ = ["Simulator", "find_simulator", "simulator_filename", "USER", "PASSWORD"]


def simulator_filename(platform=sys.platform):
    """The simulator's file name in the package (``bin/``) on ``platform`` (a ``sys.platform``):
    Windows runs only executables named ``.exe``."""
    return "xenapi-sim.exe" if platform == "win32" else "xenapi-sim"


def find_simulator():
    """The path of the xenapi-sim binary (see the module's documentation), or an error."""
    env = os.environ.get("XENAPI_SIM")
    if env:
        if not os.path.isfile(env):
            raise FileNotFoundError("XENAPI_SIM=%s does not exist" % env)
        return env
    shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", simulator_filename())
    if os.path.isfile(shipped):
        if not os.access(shipped, os.X_OK):
            os.chmod(shipped, 0o755)
        return shipped
    found = shutil.which("xenapi-sim")
    if found:
        return found
    raise FileNotFoundError(
        "xenapi-sim is not available: set XENAPI_SIM to its path or put it on PATH")


class Simulator:
    """One running xenapi-sim on a free port of 127.0.0.1, stopped by :meth:`close` (or ``with``).

    ``args`` are the simulator's options (``--vms N``, ``--dialect xend``, ``--tls``, ...).
    """

    def __init__(self, *args, binary=None):
        self.args = list(args)
        self.user, self.password = USER, PASSWORD
        if "--user" in self.args:
            self.user = self.args[self.args.index("--user") + 1]
        if "--password" in self.args:
            self.password = self.args[self.args.index("--password") + 1]
        self.dialect = "xapi"
        if "--dialect" in self.args:
            self.dialect = self.args[self.args.index("--dialect") + 1]
        self.fingerprint = None
        self.cert_file = None
        self.members = []
        self.proc = subprocess.Popen(
            [binary or find_simulator(), "--listen", "127.0.0.1:0", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(20):
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read()
                raise RuntimeError("xenapi-sim exited before listening: %s" % err.strip())
            line = line.strip()
            m = re.match(r"fingerprint sha256 ([0-9A-Fa-f:]+)", line)
            if m:
                self.fingerprint = m.group(1)
                continue
            m = re.match(r"pool member \S+ (\S+)", line)
            if m:
                self.members.append(m.group(1))
                continue
            m = re.match(r"listening on (\S+)", line)
            if m:
                self.url = m.group(1)
                break
        else:
            self.close()
            raise RuntimeError("xenapi-sim did not say where it listens")
        # Keep draining its output, so that a chatty simulator never blocks on a full pipe.
        for f in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=f.read, daemon=True).start()
        if "--cert-out" in self.args:
            self.cert_file = self.args[self.args.index("--cert-out") + 1]
        self.address = re.match(r"https?://([^/]+)", self.url).group(1)
        #: Where the pool coordinator answers now (``failover`` moves it to a member).
        self.coordinator_url = self.url

    def session(self, **options):
        """A ``xenapi_rs.Session`` to this simulator, logged in (``with`` logs it out)."""
        import xenapi_rs

        if self.fingerprint and "fingerprint" not in options and "verify" not in options:
            options["fingerprint"] = self.fingerprint
        s = xenapi_rs.Session(self.url, **options)
        s.xenapi.login_with_password(self.user, self.password, "1.0", "xenapi_rs.testing")
        return s

    def _side(self, method, path):
        """The simulator's side channel (``/sim/...``), as a dict."""
        import ssl

        ctx = ssl._create_unverified_context() if self.url.startswith("https") else None
        req = urllib.request.Request(self.coordinator_url.rstrip("/") + path, method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return json.loads(r.read().decode())

    def stats(self):
        """The simulator's counters (sessions, calls, ...), as a dict."""
        return self._side("GET", "/sim/stats")

    def expire_sessions(self):
        """Ends every session, as a restarted or timed-out server would; how many there were."""
        return self._side("POST", "/sim/expire-sessions")["expired"]

    def fault(self, kind, count=1):
        """Makes the next ``count`` replies go wrong: ``reset``, ``http500``, ``garbage``,
        ``truncate`` or ``drip``, to test how one's code copes."""
        return self._side("POST", "/sim/fault?kind=%s&count=%d" % (kind, count))

    def lose_events(self):
        """Makes the next ``event.from`` with a token (a waiting one too), or ``event.next``,
        answer ``EVENTS_LOST``: to test that one's event loop (or a ``watch`` cache) recovers."""
        return self._side("POST", "/sim/events-lost")

    def invalidate_event_tokens(self):
        """Refuses every ``event.from`` token issued so far (``EVENT_FROM_TOKEN_PARSE_FAILURE``),
        as a restarted xapi does."""
        return self._side("POST", "/sim/invalidate-tokens")

    def delay(self, seconds):
        """Delays every reply by ``seconds`` (0 for none), to test deadlines."""
        return self._side("POST", "/sim/delay?ms=%d" % round(seconds * 1000))

    def failover(self, to=None):
        """With ``--hosts N`` (N > 1): stops the pool coordinator, as a host failure would (its
        port closes, connections drop, calls in flight included), and promotes host number
        ``to`` (1 is the first coordinator, 2 the first of ``members``; ``None``: the first live
        member), as HA does. Returns the new coordinator's URL (also ``coordinator_url``).
        Members listen on their own loopback address (127.0.0.2, ...) at the coordinator's
        port, and ``host.address`` is that address, as in a real pool."""
        path = "/sim/failover" + ("" if to is None else "?to=%d" % to)
        addr = self._side("POST", path)["coordinator"]
        scheme = self.url.split("://", 1)[0]
        self.coordinator_url = "%s://%s" % (scheme, addr)
        return self.coordinator_url

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


try:
    import pytest
except ImportError:  # the module also works without pytest, as a plain API
    pytest = None

if pytest is not None:

    def _start(*args):
        try:
            return Simulator(*args)
        except FileNotFoundError as e:
            pytest.skip(str(e))

    @pytest.fixture
    def xenapi_sim_factory():
        """``xenapi_sim_factory(*args)`` starts a simulator with these options; all stop after
        the test."""
        sims = []

        def start(*args):
            s = _start(*args)
            sims.append(s)
            return s

        yield start
        for s in sims:
            s.close()

    @pytest.fixture
    def xenapi_sim():
        """A fresh simulator with the default pool, for one test."""
        s = _start(*DEFAULT_ARGS)
        yield s
        s.close()

    @pytest.fixture(scope="module")
    def xenapi_sim_module():
        """One simulator with the default pool, shared by a module's tests."""
        s = _start(*DEFAULT_ARGS)
        yield s
        s.close()
