"""Tests against a small Python XML-RPC server (tests/fakexapi.py): exact result types, argument
encoding, failures, re-login and XenAPI.py's session attributes, compared with the official
XenAPI module where it behaves the same. They need no simulator."""

import math
import threading
import xmlrpc.client as xc

import pytest

from fakexapi import TYPES, FakeXapi


@pytest.fixture
def fake():
    f = FakeXapi()
    yield f
    f.close()


def logged_in(mod, url):
    s = mod.Session(url)
    s.xenapi.login_with_password("root", "password", "1.0", "xenapi-rs-tests")
    return s


def shape(v):
    """Value and exact type, recursively (so 1 == True == 1.0 do not pass as equal)."""
    if isinstance(v, dict):
        return ("dict", {k: shape(x) for k, x in v.items()}, list(v))
    if isinstance(v, list):
        return ("list", [shape(x) for x in v])
    if isinstance(v, xc.DateTime):
        return ("DateTime", v.value)
    if isinstance(v, xc.Binary):
        return ("Binary", v.data)
    if isinstance(v, float) and math.isnan(v):
        return ("float", "nan")
    return (type(v).__name__, v)


def test_result_types_match_xenapi(fake, xr, XenAPI):
    ours = logged_in(xr, fake.url).xenapi.test.types()
    theirs = logged_in(XenAPI, fake.url).xenapi.test.types()
    assert shape(ours) == shape(theirs)
    assert type(ours["int"]) is int and type(ours["str_int"]) is str
    assert type(ours["date"]) is xc.DateTime and ours["date"].value == "20250102T03:04:05Z"
    assert type(ours["bin"]) is xc.Binary and ours["bin"].data == TYPES["bin"].data
    assert ours["nil"] is None and ours["bool"] is True and ours["inf"] == float("inf")


def test_arguments_round_trip(fake, xr, XenAPI):
    import datetime

    args = (
        None, True, 0, -(2**31), 2**31 - 1, 1.25, "text", "\u2603", b"\x00\xff",
        xc.Binary(b"abc"), xc.DateTime("20240101T00:00:00Z"),
        datetime.datetime(2024, 5, 6, 7, 8, 9), [1, [2]], (3, 4), {"k": {"n": None}},
    )
    ours = logged_in(xr, fake.url).xenapi.test.echo(*args)
    theirs = logged_in(XenAPI, fake.url).xenapi.test.echo(*args)
    assert shape(ours) == shape(theirs)


def test_int64_beyond_xmlrpc_int(fake, xr, XenAPI):
    s = logged_in(xr, fake.url)
    big = 8 * 2**30  # 8 GiB: XenAPI.py cannot send it (xen-api issue 2871)
    with pytest.raises(OverflowError):
        logged_in(XenAPI, fake.url).xenapi.test.echo(big)
    assert s.xenapi.test.echo(big, -(2**63), 2**63 - 1) == [str(big), str(-(2**63)), str(2**63 - 1)]
    with pytest.raises(OverflowError, match="int64"):
        s.xenapi.test.echo(2**63)
    with pytest.raises(OverflowError, match="int64"):
        s.xenapi.test.echo([{"x": -(2**63) - 1}])
    with pytest.raises(TypeError):
        s.xenapi.test.echo(object())
    with pytest.raises(TypeError):
        s.xenapi.test.echo({1.5: "x"})


def test_failure_same_as_xenapi(fake, xr, XenAPI):
    with pytest.raises(xr.Failure) as ours:
        logged_in(xr, fake.url).xenapi.test.fail()
    with pytest.raises(XenAPI.Failure) as theirs:
        logged_in(XenAPI, fake.url).xenapi.test.fail()
    assert ours.value.details == theirs.value.details
    assert str(ours.value) == str(theirs.value)
    assert ours.value._details_map() == theirs.value._details_map()
    with pytest.raises(xr.Failure) as unknown:
        logged_in(xr, fake.url).xenapi.no.such_method()
    assert unknown.value.details == ["MESSAGE_METHOD_UNKNOWN", "no.such_method"]


def test_failure_details_keep_their_types(fake, xr, XenAPI):
    # xend sends ints and other non-strings in ErrorDescription; XenAPI.py keeps them as sent.
    got = {}
    for mod in (xr, XenAPI):
        s = mod.Session(fake.url)
        s.xenapi.login_with_password("root", "password")
        with pytest.raises(mod.Failure) as e:
            s.xenapi.test.fail_typed()
        got[mod] = e.value.details
    assert got[xr] == got[XenAPI] == ["VM_BAD_POWER_STATE", 12, True, 2.5, None]
    assert [type(x) for x in got[xr]] == [type(x) for x in got[XenAPI]]
    assert str(e.value) == str(e.value)


def test_bad_password(fake, xr, XenAPI):
    with pytest.raises(xr.Failure) as ours:
        xr.Session(fake.url).login_with_password("root", "wrong")
    with pytest.raises(XenAPI.Failure) as theirs:
        XenAPI.Session(fake.url).login_with_password("root", "wrong")
    assert ours.value.details == theirs.value.details
    assert ours.value.details[0] == "SESSION_AUTHENTICATION_FAILED"


def test_session_attributes(fake, xr):
    s = xr.Session(fake.url)
    assert s.handle is None and s.API_version == "1.1"
    assert s.login_with_password("root", "password") is None
    assert s.handle.startswith("OpaqueRef:session-") and s._session == s.handle
    assert s.API_version == "2.21"
    assert s.xenapi.Async.test.types() == "OpaqueRef:task-1"
    assert s.xenapi_request("test.echo", (1,)) == [1]
    assert s.xenapi.session.logout() is None
    assert s.handle is None and s.API_version == "1.1"
    assert fake.sessions == set()
    s.logout()  # twice is harmless
    with pytest.raises(xc.Fault) as e:
        s.xenapi.test.types()
    assert e.value.faultCode == 401


def test_relogin_on_session_invalid(fake, xr):
    s = logged_in(xr, fake.url)
    first = s.handle
    s.xenapi.test.expire()  # the server forgets the session
    assert s.xenapi.test.echo("again") == ["again"]
    assert s.handle != first and fake.logins == 2


def test_with_logs_out(fake, xr):
    with xr.Session(fake.url) as s:
        s.xenapi.login_with_password("root", "password")
        assert len(fake.sessions) == 1
    assert fake.sessions == set() and s.handle is None


def test_raw_server_proxy(fake, xr):
    proxy = xr.ServerProxy(fake.url)
    ref = proxy.session.login_with_password("root", "password")["Value"]
    assert proxy.test.echo(ref, 1) == {"Status": "Success", "Value": [1]}
    assert proxy.test.fail(ref)["ErrorDescription"][0] == "VM_BAD_POWER_STATE"
    s = logged_in(xr, fake.url)
    assert s.session.logout(s.handle) == {"Status": "Success", "Value": ""}


def test_unreachable_host(xr):
    s = xr.Session("http://127.0.0.1:9", timeout=5)
    with pytest.raises(ConnectionError):
        s.login_with_password("root", "password")
    with pytest.raises(xr.ConnectError):
        s.login_with_password("root", "password")


def test_options_checked(xr):
    with pytest.raises(ValueError):
        xr.Session("http://x", fingerprint="abc")
    with pytest.raises(ValueError):
        xr.Session("https://x", ignore_ssl=True, fingerprint="AB" * 32)
    with pytest.raises(ValueError):
        xr.Session("ftp://x")
    xr.Session("https://x", verify=False)
    xr.Session("https://x", timeout=3.5, connect_timeout=1)


def test_threads_share_a_session(fake, xr):
    s = logged_in(xr, fake.url)
    errors = []

    def work(i):
        try:
            for j in range(20):
                assert s.xenapi.test.echo(i, j) == [i, j]
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
