"""The XenAPI.py-compatible surface over the native session."""

import contextlib
import urllib.parse
import warnings
import xmlrpc.client as _xmlrpclib

from . import _native
from ._errors import Failure  # noqa: F401  (re-exported by the package)
from ._errors import InvalidArgument

API_VERSION_1_1 = "1.1"
API_VERSION_1_2 = "1.2"

#: Where xapi listens on its own host (XenAPI.py's ``xapi_local()``).
XAPI_LOCAL_SOCKET = "/var/lib/xcp/xapi"


class UDSTransport(_xmlrpclib.Transport):
    """Marks a session for a local Unix socket, as ``XenAPI.UDSTransport`` does.

    Only its presence matters: ``Session(uri, transport=UDSTransport())`` connects through the
    core to the socket that XenAPI.py would use, the URI's host with ``_`` for ``/``
    (``http://_var_lib_xcp_xapi/`` is ``/var/lib/xcp/xapi``); no Python transport is used.
    """


def _unix_uri(uri):
    """The ``unix://`` URL of the socket XenAPI.py's ``UDSTransport`` dials for ``uri``."""
    if uri.startswith("unix://"):
        return uri
    host = urllib.parse.urlsplit(uri if "://" in uri else "http://" + uri).netloc
    path = host.replace("_", "/")
    if not path.startswith("/"):
        raise InvalidArgument(
            "transport=UDSTransport() takes the socket path as the URI's host with '_' for '/' "
            "(http://_var_lib_xcp_xapi/ is /var/lib/xcp/xapi), or a unix:///path URL; got %r" % uri
        )
    return "unix://" + path


def _tls_options(ignore_ssl, verify, ca_file, fingerprint):
    insecure = bool(ignore_ssl)
    if verify is False:
        insecure = True
    elif isinstance(verify, (str, bytes)) or hasattr(verify, "__fspath__"):
        if ca_file is not None:
            raise ValueError("give the CA file once: verify=PATH or ca_file=PATH")
        ca_file = verify
    elif verify is not True and verify is not None:
        raise TypeError("verify is True, False or the path of a CA file")
    return dict(insecure=insecure, ca_file=ca_file, fingerprint=fingerprint)


def _make_native(
    uri,
    transport=None,
    encoding=None,
    verbose=False,
    allow_none=True,
    ignore_ssl=False,
    *,
    verify=True,
    ca_file=None,
    fingerprint=None,
    timeout=None,
    connect_timeout=None,
    follow_coordinator=True,
    originator=None,
    version=None,
    protocol="auto",
    max_response_bytes=None,
    failover=True,
    max_concurrent_calls=None,
):
    """The native session for :class:`Session`'s arguments (and ``xenapi_rs.aio.Session``'s,
    which are the same)."""
    if transport is not None and not isinstance(transport, UDSTransport):
        warnings.warn(
            "xenapi_rs.Session ignores transport=: the Rust core does the HTTP(S)",
            RuntimeWarning,
            stacklevel=3,
        )
    if isinstance(transport, UDSTransport):
        uri = _unix_uri(uri)
    return _native.Session(
        uri,
        timeout=timeout,
        connect_timeout=connect_timeout,
        follow_coordinator=follow_coordinator,
        originator=originator,
        version=version,
        protocol=protocol,
        max_response_bytes=max_response_bytes,
        failover=failover,
        max_concurrent_calls=max_concurrent_calls,
        **_tls_options(ignore_ssl, verify, ca_file, fingerprint),
    )


class Session:
    """A XenAPI session, used as ``XenAPI.Session``.

    ``session.xenapi.login_with_password(user, password[, version, originator])``, then
    ``session.xenapi.<class>.<message>(args...)``; ``session.xenapi.Async.<class>.<message>``
    returns a task. Failures raise :class:`Failure`. An expired session is logged in again with
    the same credentials and the call retried once.

    ``uri`` is ``https://host``, ``http://host:port`` or ``unix:///path/to/socket`` (a local
    socket, as :func:`xapi_local` uses); with ``transport=UDSTransport()`` the socket is named by
    the URI's host, as in XenAPI.py.

    Beyond XenAPI.py: ``with Session(...) as s:`` logs out on exit; ``verify=False`` (or
    ``ignore_ssl=True``) skips TLS verification, ``verify=PATH``/``ca_file=PATH`` trusts a CA file,
    ``fingerprint="AA:BB:..."`` pins the server certificate's SHA-256; ``timeout=`` bounds each
    call (seconds), ``connect_timeout=`` the connection; ``follow_coordinator=False`` stays on a
    pool member that answers ``HOST_IS_SLAVE``; ``protocol="jsonrpc"``/``"xmlrpc"`` picks the wire
    protocol (default ``"auto"``: JSON-RPC when the server offers it, found out at login, XML-RPC
    otherwise; results are the same Python values either way, and ``session.protocol`` tells
    which one is in use); ``max_response_bytes=`` raises the most a reply may be, counted both as
    bytes read and as memory its values take (default 192 MiB, enough for ``VM.get_all_records``
    of about 12,000 VMs; a larger reply stops with an error); ``failover=False`` turns off pool
    failover (on by default: when the coordinator stops answering, the session finds the new one
    among the pool's hosts, logs in there and goes on; a call that was in flight is sent again
    only if it only reads, ``get_*``, else its error says it may have been carried out);
    ``max_concurrent_calls=`` caps the calls in flight at once over all threads (default 20; more
    wait for a slot, within their deadline). ``transport``, ``encoding``, ``verbose`` and
    ``allow_none`` are accepted for compatibility; ``None`` is always allowed.

    ``with session.timeout(600): session.xenapi.VDI.copy(...)`` gives this thread's calls in the
    block their own deadline; but prefer ``session.xenapi.Async.VDI.copy(...)`` and
    :meth:`wait_task` for long operations. ``session.wait_task(task, timeout=...)`` waits for an
    ``Async`` task and returns what the synchronous call would have.
    """

    def __init__(self, uri, transport=None, *args, **options):
        native = _make_native(uri, transport, *args, **options)
        self.__dict__["_native"] = native
        self.__dict__["xenapi"] = _native.Dispatcher(native)
        self.__dict__["_raw"] = _native.Dispatcher(native, True)
        self.__dict__["transport"] = transport
        # Bound natively: session.login_with_password(...) goes straight to the core.
        self.__dict__["login_with_password"] = native.login_with_password
        self.__dict__["logout"] = native.logout

    # --- XenAPI.py's attributes -------------------------------------------------------------

    @property
    def handle(self):
        """The session reference, or ``None`` before login and after logout."""
        return self._native.handle

    @property
    def protocol(self):
        """``"jsonrpc"`` or ``"xmlrpc"`` once logged in; ``"auto"`` before a login found out."""
        return self._native.protocol

    # XenAPI.py keeps the reference in ``_session``; some scripts read it.
    _session = handle

    @property
    def API_version(self):
        """``"major.minor"`` of the pool coordinator (``"1.1"`` when not logged in)."""
        v = self._native._api_version
        if not v:
            xenapi = self.xenapi
            pool = xenapi.pool.get_all()[0]
            host = xenapi.pool.get_master(pool)
            major = xenapi.host.get_API_version_major(host)
            minor = xenapi.host.get_API_version_minor(host)
            v = "%s.%s" % (major, minor)
            self._native._api_version = v
        return v

    def xenapi_request(self, methodname, params):
        """XenAPI.py's entry point: call ``methodname`` with the session and ``params``."""
        target = self.xenapi
        for part in methodname.split("."):
            target = getattr(target, part)
        return target(*params)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "slave_local_login_with_password":
            return self._native.slave_local_login_with_password
        if name.startswith("login") or name.startswith("slave_local"):
            raise NotImplementedError(
                "xenapi_rs logs in with login_with_password or slave_local_login_with_password;"
                " %s is not supported" % name
            )
        # Anything else is a raw XML-RPC call, as on xmlrpc.client.ServerProxy.
        return getattr(self._raw, name)

    # --- beyond XenAPI.py ---------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._native.logout()
        except Exception:
            if exc_type is None:
                raise

    @property
    def url(self):
        """The URL calls go to (the pool coordinator's, after a redirect)."""
        return self._native.url

    @property
    def dialect(self):
        """``"xapi"`` or ``"xend"``, as found at login."""
        return self._native.dialect

    @contextlib.contextmanager
    def timeout(self, seconds):
        """``with session.timeout(600):`` the calls this thread makes in the block have a
        deadline of ``seconds`` instead of the session's ``timeout=`` (other threads keep
        theirs). For a synchronous call known to be long; prefer the ``Async`` form and
        :meth:`wait_task`: a task outlives a dropped connection and can be cancelled."""
        previous = self._native._set_call_timeout(seconds)
        try:
            yield self
        finally:
            self._native._set_call_timeout(previous)

    @property
    def call_timeout(self):
        """The deadline of this thread's calls, in seconds."""
        return self._native.call_timeout

    @property
    def max_concurrent_calls(self):
        """The most calls in flight at once (``max_concurrent_calls=``, default 20)."""
        return self._native.max_concurrent_calls

    @property
    def pool_addresses(self):
        """The pool's host addresses noted after the last login, where failover looks."""
        return self._native.pool_addresses

    def wait_task(self, task, timeout=3600.0, cancel=None):
        """Waits for ``task`` (what ``session.xenapi.Async.<class>.<message>(...)`` returned)
        and returns what the synchronous call returns: ``''`` for a void message, a dict for a
        record, a str for a reference. The task's failure raises :class:`Failure` with its code;
        when ``timeout`` (seconds) passes, or another thread calls ``cancel.cancel()`` on the
        :class:`Cancel` given, the task is cancelled and destroyed and :class:`Timeout` (or
        ``Failure`` ``TASK_CANCELLED``) is raised. The wait follows the task through
        ``event.from`` (polling ``task.get_status`` on xend), and destroys the task when it
        ends."""
        return self._native.wait_task(task, float(timeout), cancel)

    def __repr__(self):
        return "<xenapi_rs.Session %s>" % self._native.url


def xapi_local():
    """A session on xapi's local Unix socket, ``/var/lib/xcp/xapi``, as XenAPI.py's.

    For scripts that run in dom0 (as root): the socket carries plain HTTP and is reached without
    the network or TLS. Log in as usual, e.g. ``login_with_password("root", "")``. On a pool
    member, ``HOST_IS_SLAVE`` at login moves the session to the coordinator over HTTPS (the TLS
    options do not apply here: use ``Session("unix:///var/lib/xcp/xapi", verify=...)`` for that).
    """
    return Session("unix://" + XAPI_LOCAL_SOCKET, transport=UDSTransport())


class ServerProxy:
    """Raw XML-RPC calls in ``xmlrpclib`` style: every method returns the whole XenAPI envelope.

    >>> proxy = ServerProxy("http://127.0.0.1:9363")                      # doctest: +SKIP
    >>> s = proxy.session.login_with_password("root", "password")["Value"]  # doctest: +SKIP
    >>> proxy.VM.get_all(s)                                                # doctest: +SKIP
    {'Status': 'Success', 'Value': ['OpaqueRef:...']}
    """

    def __init__(
        self,
        uri,
        transport=None,
        encoding=None,
        verbose=False,
        allow_none=True,
        use_datetime=False,
        use_builtin_types=False,
        *,
        context=None,
        verify=True,
        ca_file=None,
        fingerprint=None,
        timeout=None,
        connect_timeout=None,
    ):
        ignore_ssl = False
        if context is not None and getattr(context, "verify_mode", None) == 0:
            ignore_ssl = True  # ssl._create_unverified_context()
        client = _native.Client(
            uri,
            timeout=timeout,
            connect_timeout=connect_timeout,
            **_tls_options(ignore_ssl, verify, ca_file, fingerprint),
        )
        self.__dict__["_client"] = client
        self.__dict__["_dispatcher"] = _native.Dispatcher(client)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._dispatcher, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def __repr__(self):
        return "<xenapi_rs.ServerProxy for %s>" % self._client.url
