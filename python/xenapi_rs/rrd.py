"""xapi's performance figures: the round-robin databases (RRDs) served beside the API.

Since XenServer 6.1 the RRDs are the only source of live CPU, memory, disk and network use
(``VM_metrics.VCPUs_utilisation`` and ``host_metrics.memory_free`` were removed)::

    from xenapi_rs import rrd

    u = rrd.vm_usage(session, vm_uuid, minutes=5)      # a running VM's Usage
    print(u.cpus, u.memory_used, u.net_rx)

    updates = rrd.fetch_updates(session, start=-300)    # /rrd_updates: host and its VMs
    col = updates.column("vm", vm_uuid, "cpu0")
    for t, value in updates.series(col):
        ...

The requests and the parsing are the Rust core's (``xenapi::rrd``); values are kept as the
server sent them, ``nan`` (no data) included. ``/rrd_updates`` answers for the host it is asked
of and the VMs resident there: a pool's figures take one request per host (``host_ref=``).
"""

from typing import NamedTuple

from . import _native

__all__ = [
    "Archive",
    "Column",
    "DataSource",
    "Rrd",
    "Row",
    "Updates",
    "Usage",
    "fetch_host_rrd",
    "fetch_updates",
    "fetch_vm_rrd",
    "host_usage",
    "parse_rrd",
    "parse_updates",
    "vm_usage",
]


def _native_session(session):
    native = getattr(session, "_native", session)
    if not isinstance(native, _native.Session):
        raise TypeError("expected a xenapi_rs.Session, not %s" % type(session).__name__)
    return native


class Column(NamedTuple):
    """What a column measures: ``AVERAGE:vm:<uuid>:cpu0`` is ``Column("AVERAGE", "vm", uuid,
    "cpu0")``. ``kind`` is ``host``, ``vm`` or ``sr``, as xapi writes it."""

    cf: str
    kind: str
    uuid: str
    name: str

    def __str__(self):
        return "%s:%s:%s:%s" % self


class Row(NamedTuple):
    """A row: its time (seconds since the epoch) and one value per column (``nan``: none)."""

    time: int
    values: list


class Updates:
    """A parsed ``/rrd_updates`` reply: ``start``, ``end``, ``step`` (seconds between rows),
    ``columns`` (:class:`Column`) and ``rows`` (:class:`Row`, newest first, as xapi sends them)."""

    __slots__ = ("start", "end", "step", "columns", "rows")

    def __init__(self, start, end, step, columns, rows):
        self.start = start
        self.end = end
        self.step = step
        self.columns = columns
        self.rows = rows

    @classmethod
    def _from_native(cls, t):
        start, end, step, columns, rows = t
        return cls(
            start,
            end,
            step,
            [Column(*c) for c in columns],
            [Row(time, values) for time, values in rows],
        )

    def column(self, kind, uuid, name, cf="AVERAGE"):
        """The index of a column, or ``None`` when the reply has no such data source."""
        want = Column(cf.upper(), kind, uuid, name)
        for i, c in enumerate(self.columns):
            if c == want:
                return i
        return None

    def series(self, col):
        """``[(time, value), ...]`` of one column (an index or a :class:`Column`), oldest first."""
        if isinstance(col, Column):
            index = self.columns.index(col)
        elif col is None:
            raise ValueError("no such column")
        else:
            index = col
            if not 0 <= index < len(self.columns):
                raise IndexError("column %d of %d" % (index, len(self.columns)))
        return sorted((r.time, r.values[index]) for r in self.rows)

    def objects(self):
        """The ``(kind, uuid)`` pairs the reply has columns for, in order of appearance."""
        seen = {}
        for c in self.columns:
            seen.setdefault((c.kind, c.uuid), None)
        return list(seen)

    def __repr__(self):
        return "<xenapi_rs.rrd.Updates %d..%d step %d: %d columns, %d rows>" % (
            self.start,
            self.end,
            self.step,
            len(self.columns),
            len(self.rows),
        )


class DataSource(NamedTuple):
    """A data source of a whole RRD: its name, type (``GAUGE``, ``ABSOLUTE``, ``DERIVE``) and
    bounds."""

    name: str
    type: str
    min: float
    max: float


class Archive(NamedTuple):
    """An archive of a whole RRD: its consolidation function, ``pdp_per_row``, the seconds a row
    covers (``step``) and its rows (newest first, one value per data source)."""

    cf: str
    pdp_per_row: int
    step: int
    rows: list


class Rrd(NamedTuple):
    """A host's or VM's whole RRD (``/host_rrd``, ``/vm_rrd``)."""

    step: int
    last_update: int
    sources: list
    archives: list

    @classmethod
    def _from_native(cls, t):
        step, last_update, sources, archives = t
        return cls(
            step,
            last_update,
            [DataSource(*s) for s in sources],
            [
                Archive(cf, pdp, astep, [Row(time, values) for time, values in rows])
                for cf, pdp, astep, rows in archives
            ],
        )

    def source(self, name):
        """The index of a data source by name, or ``None``."""
        for i, s in enumerate(self.sources):
            if s.name == name:
                return i
        return None

    def finest(self, cf="AVERAGE"):
        """The archive of ``cf`` with the shortest rows, or ``None``."""
        archives = [a for a in self.archives if a.cf == cf.upper()]
        return min(archives, key=lambda a: a.pdp_per_row) if archives else None


class Usage(NamedTuple):
    """Averages over a window; ``None`` where the server had no such data source.

    ``cpus``: per vCPU (VM) or pCPU (host), the share of one physical CPU used (0 to 1);
    ``memory_*``: bytes (a VM's free memory needs its guest agent); ``disk_*``, ``net_*``:
    bytes per second over every disk and network interface."""

    cpus: list
    memory_total: object
    memory_free: object
    memory_used: object
    disk_read: object
    disk_write: object
    net_rx: object
    net_tx: object

    @property
    def cpu_average(self):
        """The average over every vCPU/pCPU that has a value, or ``None``."""
        known = [c for c in self.cpus if c is not None]
        return sum(known) / len(known) if known else None


def fetch_updates(
    session, start=-300, interval=None, cf="AVERAGE", host=True, vm_uuid=None, host_ref=None
):
    """``/rrd_updates``: the rows since ``start`` (seconds since the epoch, or negative: seconds
    back from now) of the host's data sources (``host=True``) and its resident VMs' (only
    ``vm_uuid``'s when given). ``interval`` picks the archive (5, 60, 3600, 86400 s); ``cf``
    one consolidation function (``None``: all). ``host_ref``: ask that pool member rather than
    the host the session is connected to."""
    return Updates._from_native(
        _native.rrd_fetch_updates(
            _native_session(session),
            int(start),
            None if interval is None else int(interval),
            cf,
            bool(host),
            vm_uuid,
            host_ref,
        )
    )


def parse_updates(data):
    """Reads an ``/rrd_updates`` reply (XML, or JSON as new and old xapi write it)."""
    return Updates._from_native(_native.rrd_parse_updates(bytes(data)))


def fetch_host_rrd(session):
    """``/host_rrd``: the whole RRD of the session's host."""
    return Rrd._from_native(_native.rrd_fetch_host_rrd(_native_session(session)))


def fetch_vm_rrd(session, uuid):
    """``/vm_rrd?uuid=``: the whole RRD of a running VM."""
    return Rrd._from_native(_native.rrd_fetch_vm_rrd(_native_session(session), uuid))


def parse_rrd(data):
    """Reads a whole RRD (``/host_rrd``, ``/vm_rrd``)."""
    return Rrd._from_native(_native.rrd_parse_rrd(bytes(data)))


def vm_usage(session, vm_uuid, minutes=5):
    """A running VM's CPU, memory, disk and network use over the last ``minutes``, asked of the
    host it runs on. A VM that is not running has no live figures: ``InvalidArgument``."""
    return Usage(*_native.rrd_vm_usage(_native_session(session), vm_uuid, float(minutes)))


def host_usage(session, host_uuid, minutes=5):
    """A host's CPU, memory and network use over the last ``minutes``, asked of that host."""
    return Usage(*_native.rrd_host_usage(_native_session(session), host_uuid, float(minutes)))
