"""A tiny XenAPI-shaped XML-RPC server in Python, for tests that need exact wire types.

It answers with ``xmlrpc.server`` (so its replies are what the Python standard library writes):
``<int>``, ``<boolean>``, ``<double>``, ``<nil/>``, ``<dateTime.iso8601>``, ``<base64>``. The
simulator (xenapi-sim) is the real test server; this one only pins type fidelity and re-login
without depending on it.

``FakeXapi(unix_path=PATH)`` listens on a Unix socket instead, as xapi does on
``/var/lib/xcp/xapi`` (the simulator has no Unix listener): HTTP/1.0 over ``AF_UNIX``, with the
same answers.
"""

import socketserver
import threading
import xmlrpc.client as xc
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

TYPES = {
    "int": 5,
    "negative": -7,
    "str_int": "123456789012",
    "bool": True,
    "double": 1.5,
    "inf": float("inf"),
    "nil": None,
    "date": xc.DateTime("20250102T03:04:05Z"),
    "bin": xc.Binary(b"\x00\x01xenapi"),
    "list": [1, "two", [3.0, False], {}],
    "nested": {"a": {"b": {"c": ["d"]}}},
    "unicode": "Dom\u00e4ne \u2603",
    "empty": "",
}


class _Quiet(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")

    def do_POST(self):
        # What reached the server, for tests of the transport: (path, Host header).
        self.server.requests.append((self.path, self.headers.get("Host")))
        # Every request's headers, for tests of what the client sends (User-Agent, traceparent).
        self.server.headers_seen.append(dict(self.headers))
        super().do_POST()

    def log_message(self, *args):
        pass


class _QuietUnix(_Quiet):
    # SimpleXMLRPCRequestHandler sets TCP_NODELAY, which an AF_UNIX socket does not have.
    disable_nagle_algorithm = False


class _UnixXMLRPCServer(
    socketserver.ThreadingMixIn, socketserver.UnixStreamServer, SimpleXMLRPCDispatcher
):
    """``SimpleXMLRPCServer`` on a Unix socket."""

    daemon_threads = True
    logRequests = False

    def __init__(self, path):
        socketserver.UnixStreamServer.__init__(self, path, _QuietUnix)
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True, encoding=None)


class FakeXapi:
    def __init__(self, unix_path=None):
        self.sessions = set()
        self.counter = 0
        self.logins = 0
        self.calls = []
        self.lock = threading.Lock()
        if unix_path is None:
            self.server = SimpleXMLRPCServer(
                ("127.0.0.1", 0), requestHandler=_Quiet, allow_none=True, logRequests=False
            )
            self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        else:
            self.server = _UnixXMLRPCServer(str(unix_path))
            self.url = "unix://%s" % unix_path
        self.server.requests = []
        self.server.headers_seen = []
        self.server.register_instance(self)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def ok(v):
        return {"Status": "Success", "Value": v}

    @staticmethod
    def fail(*desc):
        return {"Status": "Failure", "ErrorDescription": list(desc)}

    def _dispatch(self, method, params):
        self.calls.append(method)
        if method == "session.login_with_password":
            if len(params) < 2 or params[1] != "password":
                return self.fail("SESSION_AUTHENTICATION_FAILED", str(params[0]), "bad password")
            with self.lock:
                self.counter += 1
                self.logins += 1
                ref = "OpaqueRef:session-%d" % self.counter
                self.sessions.add(ref)
            return self.ok(ref)
        if not params or params[0] not in self.sessions:
            return self.fail("SESSION_INVALID", str(params[0] if params else ""))
        s, args = params[0], params[1:]
        if method == "session.logout":
            self.sessions.discard(s)
            return self.ok("")
        if method == "test.types":
            return self.ok(TYPES)
        if method == "test.echo":
            return self.ok(list(args))
        if method == "test.fail":
            return self.fail("VM_BAD_POWER_STATE", "OpaqueRef:vm", "halted", "running")
        if method == "test.fail_typed":
            # As xend does: non-string items in the description.
            return self.fail("VM_BAD_POWER_STATE", 12, True, 2.5, None)
        if method == "test.expire":
            self.sessions.discard(s)
            return self.ok("")
        if method == "Async.test.types":
            return self.ok("OpaqueRef:task-1")
        if method == "pool.get_all":
            return self.ok(["OpaqueRef:pool"])
        if method == "pool.get_master":
            return self.ok("OpaqueRef:host")
        if method == "host.get_API_version_major":
            return self.ok("2")
        if method == "host.get_API_version_minor":
            return self.ok("21")
        return self.fail("MESSAGE_METHOD_UNKNOWN", method)
