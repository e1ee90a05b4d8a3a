"""What the client tells the server about itself: a W3C ``traceparent`` from the caller's current
OpenTelemetry span (when opentelemetry is installed; it is in the test extra), and a
``User-Agent`` naming the binding and its version. Checked on the headers tests/fakexapi.py
records."""

import asyncio

import pytest
from fakexapi import FakeXapi

trace = pytest.importorskip("opentelemetry.trace")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")

# One provider for the process (OpenTelemetry allows setting it once).
_provider = sdk_trace.TracerProvider()
trace.set_tracer_provider(_provider)
tracer = trace.get_tracer("xenapi-rs-tests")


@pytest.fixture
def fake():
    f = FakeXapi()
    yield f
    f.close()


def header(fake, method, name):
    """The header ``name`` of the last request that called ``method``."""
    # Requests and calls are recorded in the same order, one each (the server is serial).
    assert len(fake.calls) == len(fake.server.headers_seen)
    index = max(i for i, m in enumerate(fake.calls) if m == method)
    headers = {k.lower(): v for k, v in fake.server.headers_seen[index].items()}
    return headers.get(name.lower())


def expected(span):
    ctx = span.get_span_context()
    return "00-%032x-%016x-%02x" % (ctx.trace_id, ctx.span_id, ctx.trace_flags)


def test_traceparent_of_the_current_span(fake, xr):
    s = xr.Session(fake.url, protocol="xmlrpc")
    s.xenapi.login_with_password("root", "password")
    with tracer.start_as_current_span("outer") as span:
        s.xenapi.test.echo("in a span")
        want = expected(span)
    s.xenapi.test.types()
    assert header(fake, "test.echo", "traceparent") == want
    # No current span, no header.
    assert header(fake, "test.types", "traceparent") is None


def test_traceparent_of_each_concurrent_task(fake, xr):
    import xenapi_rs.aio

    async def one(s, name):
        with tracer.start_as_current_span(name) as span:
            await s.xenapi.test.echo(name)
            return name, expected(span)

    async def main():
        async with xenapi_rs.aio.Session(fake.url, protocol="xmlrpc") as s:
            await s.xenapi.login_with_password("root", "password")
            return await asyncio.gather(*(one(s, "task-%d" % i) for i in range(5)))

    got = asyncio.run(main())
    assert len(fake.calls) == len(fake.server.headers_seen)
    sent = {
        fake.server.headers_seen[i].get("traceparent")
        for i, m in enumerate(fake.calls)
        if m == "test.echo"
    }
    # Each task's call carried its own span's context, made on the loop's thread.
    wanted = {want for _, want in got}
    assert len(wanted) == 5 and sent == wanted


def test_user_agent_names_the_binding_and_version(fake, xr):
    s = xr.Session(fake.url, protocol="xmlrpc")
    s.xenapi.login_with_password("root", "password")
    s.xenapi.test.echo(1)
    ua = header(fake, "test.echo", "User-Agent")
    assert ua == "xenapi-rs-python/%s xenapi-rs/%s" % (xr.__version__, xr.__version__)
    login_ua = header(fake, "session.login_with_password", "User-Agent")
    assert login_ua == ua
