"""Exceptions of xenapi_rs.

``Failure`` is XenAPI.py's class, unchanged: ``.details`` is the server's ErrorDescription and
``str()`` is ``str(details)``. The other errors subclass the standard exceptions that XenAPI.py
lets through for the same event, so existing ``except`` clauses keep working:

========================  ==========================================  ============================
event                     xenapi_rs                                   XenAPI.py raised
========================  ==========================================  ============================
host unreachable          ``ConnectError`` (``ConnectionError``)      ``ConnectionRefusedError`` ...
TLS refused / pin         ``TlsError`` (``ssl.SSLError``)             ``ssl.SSLCertVerificationError``
deadline passed           ``Timeout`` (``TimeoutError``)              ``TimeoutError``
HTTP error status         ``HttpError`` (``xmlrpc.client.ProtocolError``)  same base
not a XenAPI reply        ``BadReply`` (``xmlrpc.client.Fault``, 500)  ``Fault(500, ...)``
call before login         ``NotLoggedIn`` (``xmlrpc.client.Fault``, 401)  ``Fault(401, ...)``
call cancelled            ``Cancelled``                               (no cancel)
========================  ==========================================  ============================

Ctrl-C during a call raises ``KeyboardInterrupt`` (whatever the SIGINT handler raises), not
``Cancelled``; the session stays usable.

All but ``Failure`` also derive from ``xenapi_rs.Error``.
"""

import ssl
import sys
import xmlrpc.client as _xmlrpclib

__all__ = [
    "Failure",
    "Error",
    "ConnectError",
    "TlsError",
    "Timeout",
    "HttpError",
    "BadReply",
    "NotLoggedIn",
    "InvalidArgument",
    "Cancelled",
]


class Failure(Exception):
    """A XenAPI failure: ``details`` is ``[CODE, param, ...]`` as the server sent it."""

    def __init__(self, details):
        self.details = details

    def __str__(self):
        try:
            return str(self.details)
        except Exception as exn:
            msg = "Xen-API failure: %s" % exn
            sys.stderr.write(msg)
            return msg

    def _details_map(self):
        return dict([(str(i), self.details[i]) for i in range(len(self.details))])


class Error(Exception):
    """Base of the errors that are not XenAPI failures (network, TLS, HTTP, bad replies)."""

    def __str__(self):
        message = getattr(self, "_message", None)
        return message if message else super().__str__()


class ConnectError(Error, ConnectionError):
    """The host could not be reached, or the connection broke before a full reply."""


class TlsError(Error, ssl.SSLError):
    """The TLS handshake failed: untrusted certificate, fingerprint mismatch, no common protocol."""


class Timeout(Error, TimeoutError):
    """The connect timeout or the call's deadline passed."""


class HttpError(Error, _xmlrpclib.ProtocolError):
    """The server answered with an HTTP error status instead of an XML-RPC reply."""

    def __init__(self, url, errcode, errmsg, headers=None):
        _xmlrpclib.ProtocolError.__init__(self, url, errcode, errmsg, headers or {})


class BadReply(Error, _xmlrpclib.Fault):
    """The reply was not a XenAPI reply (bad XML, no Status, an XML-RPC fault, too large)."""

    def __init__(self, message):
        _xmlrpclib.Fault.__init__(self, 500, message)


class NotLoggedIn(Error, _xmlrpclib.Fault):
    """A call needs a session: log in first (XenAPI.py raises ``Fault(401, 'You must log in')``)."""

    def __init__(self, message="You must log in"):
        _xmlrpclib.Fault.__init__(self, 401, message)


class InvalidArgument(Error, ValueError):
    """An unusable argument or option (a bad URL, a bad fingerprint)."""


class Cancelled(Error):
    """The call was cancelled before it completed (its connection was dropped, the session
    stays usable)."""


def _from_native(kind, message, details, url, status):
    """Called by the native module to build the exception for a core error."""
    if kind == "api":
        return Failure(details)
    if kind == "connect":
        exc = ConnectError(message)
    elif kind == "tls":
        exc = TlsError(message)
    elif kind == "timeout":
        exc = Timeout(message)
    elif kind == "http":
        exc = HttpError(url, status, message)
    elif kind == "protocol":
        exc = BadReply(message)
    elif kind == "not_logged_in":
        exc = NotLoggedIn()
        exc.detail = message
        return exc
    elif kind == "invalid_argument":
        exc = InvalidArgument(message)
    elif kind == "cancelled":
        exc = Cancelled(message)
    else:
        exc = Error(message)
    exc._message = message
    exc.url = url
    return exc
