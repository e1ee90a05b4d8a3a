"""xenapi_rs.rrd: xapi's RRDs (/rrd_updates, /host_rrd, /vm_rrd) read by the core, typed for
Python, against xenapi-sim (whose figures follow what its guests do) and hand-made replies."""

import math

import pytest

from conftest import PASSWORD, USER


@pytest.fixture
def rrd():
    from xenapi_rs import rrd

    return rrd


def login(xr, sim):
    s = xr.Session(sim.url)
    s.xenapi.login_with_password(USER, PASSWORD)
    return s


def guests_by_state(x):
    out = {}
    for rec in x.VM.get_all_records().values():
        if not rec["is_control_domain"] and not rec["is_a_template"]:
            out.setdefault(rec["power_state"], []).append(rec)
    return out


def test_a_running_vm_and_its_host_have_typed_figures(sim, xr, rrd):
    s = login(xr, sim)
    x = s.xenapi
    states = guests_by_state(x)
    running, halted = states["Running"][0], states["Halted"][0]
    host = x.host.get_all()[0]
    host_uuid = x.host.get_uuid(host)

    u = rrd.vm_usage(s, running["uuid"], minutes=1)
    assert isinstance(u, rrd.Usage)
    vcpus = int(x.VM_metrics.get_VCPUs_number(running["metrics"]))
    assert len(u.cpus) == vcpus >= 1
    assert all(type(c) is float and 0.0 <= c <= 1.0 for c in u.cpus)
    assert u.cpu_average is not None and u.cpu_average > 0.0, "a running guest uses CPU"
    assert type(u.memory_total) is float
    # The domain's memory is about what xapi reports it has.
    actual = int(x.VM_metrics.get_memory_actual(running["metrics"]))
    assert 0.5 * actual <= u.memory_total <= 1.5 * actual
    assert u.memory_used == pytest.approx(u.memory_total - u.memory_free)
    assert u.disk_read is not None and u.net_tx is not None
    # A halted VM has no RRD on any host: the error says so.
    with pytest.raises(xr.InvalidArgument, match="not running"):
        rrd.vm_usage(s, halted["uuid"], minutes=1)
    # host_ref= asks that member (here the only one) directly.
    at = rrd.fetch_updates(s, start=-60, host_ref=host)
    assert ("host", host_uuid) in at.objects() and ("vm", running["uuid"]) in at.objects()

    h = rrd.host_usage(s, host_uuid, minutes=1)
    assert len(h.cpus) == len(x.host.get_host_CPUs(host))
    assert all(0.0 <= c <= 1.0 for c in h.cpus)
    hm = x.host_metrics.get_record(x.host.get_metrics(host))
    assert h.memory_total == pytest.approx(int(hm["memory_total"]), rel=0.01)
    assert 0 < h.memory_free < h.memory_total
    assert h.memory_used == pytest.approx(h.memory_total - h.memory_free)
    s.xenapi.session.logout()


def test_updates_columns_rows_and_series(sim, xr, rrd):
    s = login(xr, sim)
    x = s.xenapi
    running = guests_by_state(x)["Running"][0]
    host_uuid = x.host.get_uuid(x.host.get_all()[0])

    u = rrd.fetch_updates(s, start=-60)
    assert u.step == 5 and u.start < u.end
    assert all(isinstance(c, rrd.Column) and c.cf == "AVERAGE" for c in u.columns)
    assert ("host", host_uuid) in u.objects() and ("vm", running["uuid"]) in u.objects()
    assert len(u.rows) >= 2
    assert all(len(r.values) == len(u.columns) for r in u.rows)
    times = [r.time for r in u.rows]
    assert times == sorted(times, reverse=True), "newest first, as xapi sends them"
    assert all(u.start <= t <= u.end for t in times)

    col = u.column("vm", running["uuid"], "cpu0")
    assert col is not None and str(u.columns[col]) == "AVERAGE:vm:%s:cpu0" % running["uuid"]
    series = u.series(col)
    assert [t for t, _ in series] == sorted(times)
    assert all(type(v) is float for _, v in series)
    assert u.series(u.columns[col]) == series
    assert u.column("vm", running["uuid"], "no_such_source") is None

    # Only one VM's columns, every consolidation function the archive has.
    only = rrd.fetch_updates(s, start=-60, cf=None, host=False, vm_uuid=running["uuid"])
    assert only.objects() == [("vm", running["uuid"])]
    assert {"AVERAGE"} <= {c.cf for c in only.columns}
    # A coarser archive.
    hourly = rrd.fetch_updates(s, start=-7200, interval=3600)
    assert hourly.step == 3600
    s.xenapi.session.logout()


def test_whole_rrds_of_host_and_vm(sim, xr, rrd):
    s = login(xr, sim)
    x = s.xenapi
    running = guests_by_state(x)["Running"][0]
    r = rrd.fetch_host_rrd(s)
    assert r.step == 5
    assert r.source("cpu0") is not None and r.source("memory_total_kib") is not None
    finest = r.finest()
    assert finest.step == 5 and finest.rows
    assert finest.rows[0].time <= r.last_update
    assert all(len(row.values) == len(r.sources) for row in finest.rows)
    v = rrd.fetch_vm_rrd(s, running["uuid"])
    assert v.source("cpu0") is not None and v.source("memory") is not None
    assert {a.step for a in v.archives} >= {5, 60, 3600, 86400}
    s.xenapi.session.logout()


XML = (
    b"<xport><meta><start>1000</start><step>5</step><end>1010</end><rows>3</rows>"
    b"<columns>2</columns><legend><entry>AVERAGE:vm:v1:cpu0</entry>"
    b"<entry>MAX:host:h1:sr_x:read</entry></legend></meta><data>"
    b"<row><t>1010</t><v>0.5</v><v>NaN</v></row>"
    b"<row><t>1005</t><v>Infinity</v><v>2.0E3</v></row>"
    b"<row><t>1000</t><v>NaN</v><v>-1</v></row></data></xport>"
)
JSON = (
    b'{"meta": {"start": 1000, "step": 5, "end": 1010, "rows": 3, "columns": 2, '
    b'"legend": ["AVERAGE:vm:v1:cpu0", "MAX:host:h1:sr_x:read"]}, '
    b'"data": [{"t": 1010, "values": ["0.5", "NaN"]}, {"t": 1005, "values": ["Infinity", 2000]}, '
    b'{"t": 1000, "values": ["NaN", -1]}]}'
)
# As older xapi wrote it: data inside meta, bare keys and numbers.
OLD_JSON = (
    b'{meta: {start: 1000, step: 5, end: 1010, legend: ["AVERAGE:vm:v1:cpu0", '
    b'"MAX:host:h1:sr_x:read"], data: [{t: 1010, values: [0.5, NaN]}, '
    b"{t: 1005, values: [Infinity, 2000]}, {t: 1000, values: [NaN, -1]}]}}"
)


@pytest.mark.parametrize("body", [XML, JSON, OLD_JSON], ids=["xml", "json", "old-json"])
def test_parse_updates_keeps_nan(rrd, body):
    u = rrd.parse_updates(body)
    assert (u.start, u.end, u.step) == (1000, 1010, 5)
    assert u.columns == [
        rrd.Column("AVERAGE", "vm", "v1", "cpu0"),
        rrd.Column("MAX", "host", "h1", "sr_x:read"),
    ]
    assert [r.time for r in u.rows] == [1010, 1005, 1000]
    assert u.rows[0].values[0] == 0.5 and math.isnan(u.rows[0].values[1])
    assert u.rows[1].values == [math.inf, 2000.0]
    cpu = u.series(u.column("vm", "v1", "cpu0"))
    assert [t for t, _ in cpu] == [1000, 1005, 1010]
    assert math.isnan(cpu[0][1]) and cpu[1][1] == math.inf and cpu[2][1] == 0.5
    assert u.column("host", "h1", "sr_x:read", cf="max") == 1


def test_bad_documents_and_arguments(sim, xr, rrd):
    with pytest.raises(xr.BadReply) as e:
        rrd.parse_updates(b"<xport><meta><legend><entry>MEDIAN:vm:u:cpu0</entry>")
    assert "MEDIAN" in str(e.value)
    with pytest.raises(xr.BadReply):
        rrd.parse_updates(b"")
    with pytest.raises(xr.BadReply):
        rrd.parse_rrd(b"<rrd><step>5</step></rrd>")
    s = xr.Session(sim.url)
    with pytest.raises(xr.NotLoggedIn):
        rrd.fetch_updates(s)
    s.xenapi.login_with_password(USER, PASSWORD)
    with pytest.raises(ValueError):
        rrd.fetch_updates(s, cf="MEDIAN")
    with pytest.raises(ValueError):
        rrd.fetch_updates(s, interval=0)
    with pytest.raises(ValueError):
        rrd.vm_usage(s, "x", minutes=-1)
    with pytest.raises(TypeError):
        rrd.fetch_updates(object())
    # The session reference never appears in an error.
    handle = s.handle
    with pytest.raises(xr.Error) as e:
        rrd.fetch_vm_rrd(s, "no-such-vm")
    assert handle not in str(e.value) and handle not in repr(e.value)
    s.xenapi.session.logout()
