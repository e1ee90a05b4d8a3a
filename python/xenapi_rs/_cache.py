"""The live object cache: ``xenapi_rs.watch(session, ["VM", "host"])``."""

import collections
from collections.abc import Mapping

from . import _native

#: One change to the cache: ``operation`` is ``"add"``, ``"mod"`` or ``"del"`` (as the XenAPI
#: names them), ``"refetched"`` (everything was read again after lost events or a refused token:
#: read the cache again) or ``"missed"`` (this reader fell more than the queue holds behind);
#: ``cls`` is the class as the datamodel names it (``"VM"``) and ``ref`` the object's reference
#: (both empty for ``refetched``/``missed``); ``record`` the record after the change (a ``del``:
#: the last one), shaped as ``get_record`` returns it, or ``None``.
Change = collections.namedtuple("Change", ["operation", "cls", "ref", "record"])


class ClassView(Mapping):
    """The objects of one class at one moment: a read-only mapping ref -> record dict, shaped
    exactly as ``session.xenapi.<class>.get_record(ref)`` returns it. Reading it makes no
    server call; each record read is a fresh dict (changing it does not change the cache)."""

    __slots__ = ("_snapshot", "_cls", "_refs")

    def __init__(self, snapshot, cls):
        self._snapshot = snapshot
        self._cls = cls
        self._refs = None

    def __getitem__(self, ref):
        record = self._snapshot.get(self._cls, ref)
        if record is None:
            raise KeyError(ref)
        return record

    def __contains__(self, ref):
        return self._snapshot.get(self._cls, ref) is not None

    def _all_refs(self):
        if self._refs is None:
            self._refs = self._snapshot.refs(self._cls)
        return self._refs

    def __iter__(self):
        return iter(self._all_refs())

    def __len__(self):
        return self._snapshot.count(self._cls)

    def to_dict(self):
        """Every object: ``{ref: record}``, as ``get_all_records`` returns it (one conversion)."""
        return self._snapshot.records(self._cls)

    def __repr__(self):
        return "<xenapi_rs cache of %d %s objects>" % (len(self), self._cls)


class Cache:
    """A live mirror of the pool's objects of some classes, kept current by a background thread
    that follows ``event.from`` (xend: ``event.register``/``event.next``). Made by
    :func:`watch`, which returns once the cache is full.

    ``cache["VM"]`` is the class's objects now (a :class:`ClassView`: ref -> record); the
    records read without a server call. ``cache.changes(timeout)`` yields each :class:`Change`
    as it comes. Lost events and refused tokens are recovered by reading everything again
    (a ``"refetched"`` change), an expired session by logging in again, a dropped connection by
    reconnecting with backoff. ``cache.close()`` (or ``with``) stops following.
    """

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

    def next_change(self, timeout=None):
        """The next :class:`Change`, waiting at most ``timeout`` seconds (``None``: until the
        cache closes); ``None`` when none came."""
        c = self._native.next_change(timeout)
        return None if c is None else Change(*c)

    def changes(self, timeout=None):
        """Yields each change as it comes, in order, from when the cache was full; stops when
        none comes within ``timeout`` seconds (``None``: only when the cache closes)."""
        while True:
            c = self.next_change(timeout)
            if c is None:
                return
            yield c

    def status(self):
        """How the following goes: ``polls``, ``events`` (changes applied), ``refetches``,
        ``errors``, ``connected``, ``last_error``."""
        return self._native.status()

    @property
    def closed(self):
        return self._native.closed

    def close(self):
        """Stops following, promptly; the last state stays readable. Harmless twice."""
        self._native.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return "<xenapi_rs.Cache of %s%s>" % (", ".join(self.classes), " (closed)" if self.closed else "")


def watch(session, classes=None, *, poll_timeout=None, queue_capacity=None):
    """A :class:`Cache` of ``classes`` (``["VM", "host"]``; ``None`` or ``["*"]``: every class,
    on xapi) over ``session``, a logged-in :class:`xenapi_rs.Session`; returns once every object
    is read. ``poll_timeout`` is how long the server may hold each ``event.from`` (seconds,
    default 30); ``queue_capacity`` the most changes kept for :meth:`Cache.changes` (default
    10,000; past it they are dropped for one ``"missed"`` change)."""
    native_session = getattr(session, "_native", session)
    native = _native.Cache(
        native_session,
        list(classes) if classes else ["*"],
        poll_timeout=poll_timeout,
        queue_capacity=queue_capacity,
    )
    return Cache(native)
