"""xenapi_rs: a faster drop-in for the official ``XenAPI`` module.

``import xenapi_rs as XenAPI`` and existing scripts run unchanged::

    session = XenAPI.Session("https://xs1")
    session.xenapi.login_with_password("root", "password", "1.0", "my-script")
    vms = session.xenapi.VM.get_all_records()
    session.xenapi.session.logout()

The protocol work (XML-RPC, HTTP(S), TLS, re-login, pool coordinator, logout) is done by the Rust
``xenapi`` crate in ``xenapi_rs._native``, with the GIL released.

Beyond XenAPI.py, generated from the datamodel (imported on first use, so that ``import
xenapi_rs`` costs no more than before):

- ``xenapi_rs.codes``: a constant per error code (``codes.HANDLE_INVALID``), ``ERROR_PARAMS``
  (code to parameter names) and ``error_params(failure)``;
- ``xenapi_rs.watch(session, ["VM", "host"])``: a live object cache (``cache["VM"]`` maps refs to
  records, without server calls; ``cache.changes(timeout)`` yields each change);
- ``xenapi_rs.enums``: a ``str``-valued enum per datamodel enum (``enums.VmPowerState.HALTED ==
  "Halted"``). Results stay plain strings, as XenAPI.py returns them.

``xenapi_rs.aio`` is the same API for asyncio (``async with xenapi_rs.aio.Session(url) as s``,
``await s.xenapi.VM.get_all()``).

And, beside the API over HTTP: ``xenapi_rs.rrd`` (CPU, memory, disk and network use from xapi's
RRDs) and ``xenapi_rs.transfer`` (disks and VMs in and out, streamed).
"""

import xmlrpc.client as xmlrpclib  # noqa: F401  (XenAPI exports it; some scripts use XenAPI.xmlrpclib)

try:
    from . import _native
except ImportError as e:  # a wheel for another platform, or a build without the module
    from ._platform import native_module_error

    raise native_module_error(e) from e
from ._errors import (
    BadReply,
    Cancelled,
    ConnectError,
    Error,
    Failure,
    HttpError,
    InvalidArgument,
    NotLoggedIn,
    Timeout,
    TlsError,
)
from ._cache import Cache, Change, ClassView, watch
from ._native import Cancel
from ._session import (
    API_VERSION_1_1,
    API_VERSION_1_2,
    ServerProxy,
    Session,
    UDSTransport,
    xapi_local,
)

__version__ = _native.__version__

#: Submodules imported on first use (PEP 562): the generated ones, rrd, transfer and aio.
_LAZY = ("aio", "codes", "enums", "rrd", "transfer")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "API_VERSION_1_1",
    "API_VERSION_1_2",
    "BadReply",
    "Cache",
    "Cancel",
    "Cancelled",
    "Change",
    "ClassView",
    "ConnectError",
    "Error",
    "Failure",
    "HttpError",
    "InvalidArgument",
    "NotLoggedIn",
    "ServerProxy",
    "Session",
    "Timeout",
    "TlsError",
    "UDSTransport",
    "aio",
    "codes",
    "enums",
    "rrd",
    "transfer",
    "watch",
    "xapi_local",
]
