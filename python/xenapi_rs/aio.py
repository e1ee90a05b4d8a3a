"""The XenAPI for asyncio: the same calls, results and exceptions as :class:`xenapi_rs.Session`,
awaited::

    import asyncio
    import xenapi_rs.aio

    async def main():
        async with xenapi_rs.aio.Session("https://xs1") as s:
            await s.xenapi.login_with_password("root", "password", "1.0", "my-script")
            vms = await s.xenapi.VM.get_all()
            names = await asyncio.gather(*(s.xenapi.VM.get_name_label(vm) for vm in vms))
            task = await s.xenapi.Async.VM.clone(vms[0], "copy")
            clone = await s.wait_task(task)

    asyncio.run(main())

The event loop never waits for the network: each call runs on the library's threads, outside
the GIL, and completes its future on the loop's thread. Calls in flight are capped by the
session's ``max_concurrent_calls`` (default 20; more wait for a slot within their deadline), and
each call's ``timeout=`` counts from when it is made. Cancelling the task that awaits a call
ends its request (its connection is dropped; the session stays usable).

``await xenapi_rs.aio.watch(session, ["VM"])`` is :func:`xenapi_rs.watch`'s cache, its changes an
async iterator: ``async for change in cache.changes():``.
"""

import asyncio
import socket
import weakref

from . import _native
from ._cache import Change, ClassView
from ._session import _make_native

__all__ = ["Cache", "Session", "watch"]


async def _run(start, *args):
    """Awaits ``start(*args, completions, future)``'s future; cancelling the awaiting task fires
    the ``Cancel`` that ``start`` returned (if any), which ends the work."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    cancel = start(*args, _completions(loop), future)
    try:
        return await future
    except asyncio.CancelledError:
        if cancel is not None:
            cancel.cancel()
        raise


class _Wakeup:
    """One event loop's end of the native completion queue (``_native.Completions``): the
    library's threads queue outcomes and write a byte to a socket pair, without the GIL; the
    loop watches the other end and settles the futures on its own thread.

    Loops with ``add_reader`` (the selector loops, uvloop) watch the socket directly; others
    (Windows' proactor loop) read it from a task."""

    def __init__(self, loop):
        self._reader, writer = socket.socketpair()
        try:
            self._reader.setblocking(False)
            self.native = _native.Completions(writer.fileno())
        except BaseException:
            self._reader.close()
            raise
        finally:
            writer.close()
        # Closed with the loop; nothing here refers to the loop (it keys a weak dictionary).
        weakref.finalize(loop, self._reader.close)
        try:
            loop.add_reader(self._reader.fileno(), self._woken)
        except NotImplementedError:
            loop.create_task(self._pump(loop))

    def _woken(self):
        try:
            self._reader.recv(4096)
        except (BlockingIOError, InterruptedError):
            pass
        self._drain()

    async def _pump(self, loop):
        while await loop.sock_recv(self._reader, 4096):
            self._drain()

    def _drain(self):
        if self.native.drain():
            # More than one slice's worth: the rest after the loop's other ready callbacks.
            asyncio.get_running_loop().call_soon(self._drain)


#: Each event loop's :class:`_Wakeup`.
_queues = weakref.WeakKeyDictionary()


def _completions(loop):
    try:
        return _queues[loop].native
    except KeyError:
        wakeup = _queues[loop] = _Wakeup(loop)
        return wakeup.native


async def _call(native, method, args):
    """``method(*args)`` on the core's workers; its reply is converted on the loop's thread."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    cancel = _native.aio_call(native, method, args, _completions(loop), future)
    try:
        return await future
    except asyncio.CancelledError:
        cancel.cancel()
        raise


class _Dispatcher:
    """``session.xenapi`` and below: ``.VM``, ``.VM.start``, ``.Async.VM.clone``. Calling one
    returns a coroutine of the call; children are made once and kept as attributes."""

    def __init__(self, native, name):
        self._native = native
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        full = name if self._name is None else self._name + "." + name
        if self._name is None and name.startswith("login"):
            if name != "login_with_password":
                raise NotImplementedError(
                    "xenapi_rs logs in with login_with_password only; %s is not supported" % name
                )
            child = self._login
        elif full in ("logout", "session.logout"):
            child = self._logout
        else:
            child = _Dispatcher(self._native, full)
        self.__dict__[name] = child
        return child

    async def _login(self, *params):
        await _run(_native.aio_login, self._native, params)

    async def _logout(self):
        await _run(_native.aio_logout, self._native)

    def __call__(self, *args):
        if self._name is None:
            raise TypeError("call a method, e.g. await session.xenapi.VM.get_all()")
        return _call(self._native, self._name, args)

    def __repr__(self):
        if self._name is None:
            return "<xenapi_rs.aio._Dispatcher>"
        return "<xenapi_rs.aio._Dispatcher for %s>" % self._name


class Session:
    """A XenAPI session for asyncio. It takes the arguments of :class:`xenapi_rs.Session`
    (``verify=``, ``timeout=``, ``max_concurrent_calls=``, ...) and makes no connection until
    the first call.

    ``await s.xenapi.login_with_password(user, password[, version, originator])``, then
    ``await s.xenapi.<class>.<message>(args...)``; ``s.xenapi.Async.<class>.<message>`` gives a
    task for :meth:`wait_task`. ``async with`` logs out on exit.
    """

    def __init__(self, uri, transport=None, *args, **options):
        self._native = _make_native(uri, transport, *args, **options)
        self.xenapi = _Dispatcher(self._native, None)

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        try:
            await self.logout()
        except Exception:
            if exc_type is None:
                raise

    async def login_with_password(self, *params):
        """As ``s.xenapi.login_with_password(...)``."""
        await _run(_native.aio_login, self._native, params)

    async def logout(self):
        """Logs out (harmless when not logged in)."""
        await _run(_native.aio_logout, self._native)

    close = logout

    async def wait_task(self, task, timeout=3600.0, cancel=None):
        """Waits for ``task`` as :meth:`xenapi_rs.Session.wait_task` does, without blocking the
        loop. Cancelling the awaiting task (or ``cancel.cancel()``) cancels and destroys the
        server's task (within half a second, in the background)."""
        stop = _native.Cancel() if cancel is None else cancel

        def start(completions, future):
            _native.aio_wait_task(self._native, task, float(timeout), stop, completions, future)
            return stop

        return await _run(start)

    @property
    def handle(self):
        """The session reference, or ``None`` before login and after logout."""
        return self._native.handle

    @property
    def url(self):
        """The URL calls go to (the pool coordinator's, after a redirect)."""
        return self._native.url

    @property
    def dialect(self):
        """``"xapi"`` or ``"xend"``, as found at login."""
        return self._native.dialect

    @property
    def protocol(self):
        """``"jsonrpc"`` or ``"xmlrpc"`` once logged in; ``"auto"`` before a login found out."""
        return self._native.protocol

    @property
    def max_concurrent_calls(self):
        """The most calls in flight at once (``max_concurrent_calls=``, default 20)."""
        return self._native.max_concurrent_calls

    @property
    def pool_addresses(self):
        """The pool's host addresses noted after the last login, where failover looks."""
        return self._native.pool_addresses

    def __repr__(self):
        return "<xenapi_rs.aio.Session %s>" % self._native.url


class Cache:
    """:class:`xenapi_rs.Cache` for asyncio, made by :func:`watch`: reads (``cache["VM"]``,
    :meth:`get`) are immediate; :meth:`next_change`, :meth:`changes` and :meth:`close` are
    awaited."""

    def __init__(self, native):
        self._native = native

    def __getitem__(self, cls):
        return ClassView(self._native.snapshot(), cls)

    def get(self, cls, ref, default=None):
        """The record of ``ref`` of class ``cls``, or ``default``."""
        record = self._native.snapshot().get(cls, ref)
        return default if record is None else record

    @property
    def classes(self):
        """The classes followed, as the datamodel names them."""
        return self._native.classes

    async def next_change(self, timeout=None):
        """The next :class:`xenapi_rs.Change`, waiting at most ``timeout`` seconds (``None``:
        until the cache closes); ``None`` when none came. A change that arrives as the wait is
        cancelled is kept for the next read."""
        c = await _run(_native.aio_next_change, self._native, timeout)
        return None if c is None else Change(*c)

    async def changes(self, timeout=None):
        """Each change as it comes, in order; ends when none comes within ``timeout`` seconds
        (``None``: only when the cache closes)."""
        while True:
            c = await self.next_change(timeout)
            if c is None:
                return
            yield c

    def __aiter__(self):
        return self.changes()

    def status(self):
        """As :meth:`xenapi_rs.Cache.status`."""
        return self._native.status()

    @property
    def closed(self):
        return self._native.closed

    async def close(self):
        """Stops following; the last state stays readable. Harmless twice."""
        await _run(_native.aio_cache_close, self._native)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
        return False

    def __repr__(self):
        return "<xenapi_rs.aio.Cache of %s%s>" % (
            ", ".join(self.classes),
            " (closed)" if self.closed else "",
        )


async def watch(session, classes=None, *, poll_timeout=None, queue_capacity=None):
    """A :class:`Cache` of ``classes`` over ``session`` (an :class:`xenapi_rs.aio.Session` or
    :class:`xenapi_rs.Session`, logged in), as :func:`xenapi_rs.watch` makes it; returns once
    every object is read."""
    native_session = getattr(session, "_native", session)
    native = await _run(
        _native.aio_watch,
        native_session,
        list(classes) if classes else ["*"],
        poll_timeout,
        queue_capacity,
    )
    return Cache(native)
