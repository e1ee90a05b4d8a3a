"""xapi's local Unix socket: ``xapi_local()``, ``Session("unix:///path")`` and XenAPI.py's
``Session(uri, transport=UDSTransport())``, against tests/fakexapi.py listening on a Unix socket
(xenapi-sim has no Unix listener). Everything goes through the Rust core's Unix transport."""

import os
import secrets
import shutil

import pytest

from fakexapi import TYPES, FakeXapi


@pytest.fixture
def sock_dir():
    # XenAPI.py names the socket by the URI's host with '_' for '/': keep '_' out of the path
    # (pytest's tmp_path has some), and the path short (a socket path has at most 107 bytes).
    d = "/tmp/xr-%s" % secrets.token_hex(6)
    os.mkdir(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def local(sock_dir):
    f = FakeXapi(unix_path=os.path.join(sock_dir, "xapi"))
    yield f
    f.close()


def test_xapi_local_uses_xenapi_py_socket(xr, XenAPI):
    assert xr._session.XAPI_LOCAL_SOCKET == "/var/lib/xcp/xapi"
    # XenAPI.py's xapi_local() is Session("http://_var_lib_xcp_xapi/", UDSTransport()), whose
    # connection dials the host with '_' for '/'.
    conn = XenAPI.UDSHTTPConnection("_var_lib_xcp_xapi")
    assert conn.host.replace("_", "/") == xr._session.XAPI_LOCAL_SOCKET
    s = xr.xapi_local()  # no connection until the first call
    assert s.url == "unix:///var/lib/xcp/xapi"
    assert isinstance(s.transport, xr.UDSTransport)
    assert s.handle is None


def test_xapi_local(local, xr, monkeypatch):
    monkeypatch.setattr(xr._session, "XAPI_LOCAL_SOCKET", local.url[len("unix://") :])
    s = xr.xapi_local()
    assert s.url == local.url
    s.xenapi.login_with_password("root", "password", "1.0", "xenapi-rs-tests")
    assert s.handle in local.sessions
    assert s.xenapi.pool.get_all() == ["OpaqueRef:pool"]
    s.xenapi.session.logout()
    assert s.handle is None
    assert local.sessions == set()
    assert local.calls == ["session.login_with_password", "pool.get_all", "session.logout"]
    # Plain HTTP over the socket: the JSON-RPC login that protocol="auto" tries first (this fake
    # xapi has no /jsonrpc, so it answers 404), then XML-RPC posted to /.
    assert [path for path, _ in local.server.requests] == ["/jsonrpc"] + ["/"] * 3
    assert s.protocol == "xmlrpc"


def test_unix_url(local, xr):
    with xr.Session(local.url) as s:
        s.xenapi.login_with_password("root", "password")
        assert s.xenapi.test.types() == TYPES
        assert s.API_version == "2.21"
        with pytest.raises(xr.Failure) as e:
            s.xenapi.test.fail()
        assert e.value.details[0] == "VM_BAD_POWER_STATE"
    assert local.sessions == set()


def test_relogin_over_unix_socket(local, xr):
    s = xr.Session(local.url)
    s.xenapi.login_with_password("root", "password")
    s.xenapi.test.expire()
    assert s.xenapi.test.echo(1, "two") == [1, "two"]
    assert local.logins == 2
    s.xenapi.logout()


def test_uds_transport_as_xenapi_py(local, xr, XenAPI):
    # The URI's host names the socket, '_' for '/', in both modules; same replies.
    uri = "http://%s/" % local.url[len("unix://") :].replace("/", "_")
    ours = xr.Session(uri, transport=xr.UDSTransport())
    theirs = XenAPI.Session(uri, transport=XenAPI.UDSTransport())
    for s in (ours, theirs):
        s.xenapi.login_with_password("root", "password", "1.0", "xenapi-rs-tests")
    assert ours.url == local.url
    assert ours.xenapi.test.types() == theirs.xenapi.test.types()
    assert ours.xenapi.test.echo(5, "x", [True]) == theirs.xenapi.test.echo(5, "x", [True])
    ours.xenapi.session.logout()
    theirs.xenapi.session.logout()
    assert local.sessions == set()


def test_raw_calls_over_unix_socket(local, xr):
    proxy = xr.ServerProxy(local.url)
    reply = proxy.session.login_with_password("root", "password")
    assert reply["Status"] == "Success"
    assert proxy.pool.get_all(reply["Value"]) == {"Status": "Success", "Value": ["OpaqueRef:pool"]}
    proxy.session.logout(reply["Value"])


def test_missing_socket(sock_dir, xr):
    s = xr.Session("unix://%s/nothing-here" % sock_dir)
    with pytest.raises(xr.ConnectError) as e:
        s.xenapi.login_with_password("root", "password")
    assert "nothing-here" in str(e.value)
    assert isinstance(e.value, ConnectionError)


def test_bad_unix_urls(xr):
    with pytest.raises(xr.InvalidArgument):
        xr.Session("unix://relative/path")
    # UDSTransport needs the socket's path as the host, as in XenAPI.py.
    with pytest.raises(xr.InvalidArgument):
        xr.Session("http://localhost/", transport=xr.UDSTransport())
