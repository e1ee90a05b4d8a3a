"""The official Python client (PyPI `xenapi`, module `XenAPI`) and plain `xmlrpc.client` against
the simulator: the independent check of the simulator's wire fidelity.

Run: cargo build --release -p xenapi-sim && python3 -m pytest -q tests/fidelity/test_official_xenapi.py
"""

from __future__ import annotations

import time
import xmlrpc.client

import pytest

XenAPI = pytest.importorskip("XenAPI")

from simfixture import pool_sim, sim, start_sim, xapi_sim, xend_sim  # noqa: E402,F401

GIB = 1 << 30


def login(s, password="password"):
    """XenAPI.py sends a 4-argument login only when given version and originator; xend takes 2."""
    session = XenAPI.Session(s.url + "/")
    if s.dialect == "xapi":
        session.xenapi.login_with_password("root", password, "2.21", "pytest-official")
    else:
        session.xenapi.login_with_password("root", password)
    return session


def vm_by_name(x, name):
    refs = x.VM.get_by_name_label(name)
    assert len(refs) == 1, refs
    return refs[0]


def start(s, x, vm, paused=False):
    if s.dialect == "xapi":
        return x.VM.start(vm, paused, False)
    return x.VM.start(vm, paused)


def resume(s, x, vm, paused=False):
    if s.dialect == "xapi":
        return x.VM.resume(vm, paused, False)
    return x.VM.resume(vm, paused)


def state_word(s, state):
    return state.lower() if s.dialect == "xapi" else state


def details(excinfo):
    return excinfo.value.details


# --- the talk's operations ------------------------------------------------------------------


def test_login_list_methods_logout(sim):
    session = login(sim)
    assert sim.stats()["sessions"] == 1
    handle = session.handle
    if sim.dialect == "xapi":
        assert handle.startswith("OpaqueRef:")
    else:
        assert len(handle) == 36
    methods = session.xenapi.host.list_methods()
    assert len(methods) > 100
    for m in ("VM.start", "VM.clean_shutdown", "host.dmesg", "host.get_log", "event.from",
              "VM_metrics.get_VCPUs_utilisation", "host_cpu.get_utilisation"):
        assert m in methods
    session.xenapi.session.logout()
    st = sim.stats()
    assert st["sessions"] == 0
    assert st["logouts"] == 1


def test_vm_records_like_xm_list(sim):
    session = login(sim)
    x = session.xenapi
    records = x.VM.get_all_records()
    assert len(records) == 5
    dom0 = [r for r in records.values() if r["is_control_domain"]]
    assert len(dom0) == 1
    assert dom0[0]["domid"] == "0"
    assert dom0[0]["power_state"] == "Running"
    guests = sorted((r for r in records.values() if not r["is_control_domain"]),
                    key=lambda r: r["name_label"])
    assert [g["name_label"] for g in guests] == ["vm01", "vm02", "vm03", "vm04"]
    for n, g in enumerate(guests, 1):
        # int64s travel as strings; XenAPI.py hands them over as str.
        assert isinstance(g["memory_dynamic_max"], str)
        assert int(g["memory_dynamic_max"]) == n * GIB
        assert int(g["VCPUs_max"]) == n
        assert isinstance(g["is_a_template"], bool)
        assert isinstance(g["other_config"], dict)
        if n % 2:
            assert g["power_state"] == "Running"
            assert int(g["domid"]) > 0
        else:
            assert g["power_state"] == "Halted"
            assert int(g["domid"]) == -1
    vm = vm_by_name(x, "vm01")
    assert x.VM.get_record(vm) == records[vm]
    assert x.VM.get_by_uuid(records[vm]["uuid"]) == vm
    session.xenapi.session.logout()


def test_power_operations(sim):
    session = login(sim)
    x = session.xenapi
    vm = vm_by_name(x, "vm02")
    assert x.VM.get_power_state(vm) == "Halted"
    assert start(sim, x, vm) == ""
    assert x.VM.get_power_state(vm) == "Running"
    d1 = int(x.VM.get_domid(vm))
    x.VM.pause(vm)
    assert x.VM.get_power_state(vm) == "Paused"
    x.VM.unpause(vm)
    assert x.VM.get_power_state(vm) == "Running"
    x.VM.suspend(vm)
    assert x.VM.get_power_state(vm) == "Suspended"
    resume(sim, x, vm)
    assert x.VM.get_power_state(vm) == "Running"
    d2 = int(x.VM.get_domid(vm))
    x.VM.clean_reboot(vm)
    d3 = int(x.VM.get_domid(vm))
    x.VM.hard_reboot(vm)
    d4 = int(x.VM.get_domid(vm))
    assert d1 < d2 < d3 < d4
    x.VM.clean_shutdown(vm)
    assert x.VM.get_power_state(vm) == "Halted"
    start(sim, x, vm, paused=True)
    assert x.VM.get_power_state(vm) == "Paused"
    x.VM.hard_shutdown(vm)
    assert x.VM.get_power_state(vm) == "Halted"
    assert x.VM.get_domid(vm) == "-1"
    session.xenapi.session.logout()


@pytest.fixture(params=["xend", "xapi --old-metrics"])
def live_metrics_sim(request):
    """A server that has the talk's metric fields live: xend, or xapi as before 6.1."""
    dialect, *extra = request.param.split()
    s = start_sim(dialect, *extra)
    yield s
    s.close()


def test_metrics(live_metrics_sim):
    sim = live_metrics_sim
    session = login(sim)
    x = session.xenapi
    running = vm_by_name(x, "vm03")
    halted = vm_by_name(x, "vm02")
    m = x.VM.get_metrics(running)
    util = x.VM_metrics.get_VCPUs_utilisation(m)
    assert sorted(util) == ["0", "1", "2"]
    for v in util.values():
        assert isinstance(v, float) and 0.0 < v <= 1.0
    assert 3 * GIB - 64 * (1 << 20) < int(x.VM_metrics.get_memory_actual(m)) <= 3 * GIB
    hm = x.VM.get_metrics(halted)
    assert all(v == 0.0 for v in x.VM_metrics.get_VCPUs_utilisation(hm).values())
    assert int(x.VM_metrics.get_memory_actual(hm)) == 0
    rec = x.VM_metrics.get_record(m)
    assert isinstance(rec["last_updated"], xmlrpc.client.DateTime)
    host = x.host.get_all()[0]
    for cpu in x.host.get_host_CPUs(host):
        u = x.host_cpu.get_utilisation(cpu)
        assert isinstance(u, float) and 0.0 <= u <= 1.0
    hmx = x.host.get_metrics(host)
    total = int(x.host_metrics.get_memory_total(hmx))
    free = int(x.host_metrics.get_memory_free(hmx))
    assert total == 256 * GIB
    assert 0 < free < total
    session.xenapi.session.logout()


def test_removed_metric_fields_on_xapi(xapi_sim):
    """Today's xapi: the getters of fields removed in 6.1 answer MESSAGE_REMOVED; records
    still carry them (VCPUs_utilisation as zeros, memory_free live)."""
    session = login(xapi_sim)
    x = session.xenapi
    m = x.VM.get_metrics(vm_by_name(x, "vm03"))
    with pytest.raises(XenAPI.Failure) as e:
        x.VM_metrics.get_VCPUs_utilisation(m)
    assert details(e) == ["MESSAGE_REMOVED"]
    assert x.VM_metrics.get_record(m)["VCPUs_utilisation"] == {"0": 0.0}
    hm = x.host.get_metrics(x.host.get_all()[0])
    with pytest.raises(XenAPI.Failure) as e:
        x.host_metrics.get_memory_free(hm)
    assert details(e) == ["MESSAGE_REMOVED"]
    rec = x.host_metrics.get_record(hm)
    assert 0 < int(rec["memory_free"]) < int(rec["memory_total"])
    session.xenapi.session.logout()


def test_dmesg_and_log(sim):
    session = login(sim)
    x = session.xenapi
    host = x.host.get_all()[0]
    vm = vm_by_name(x, "vm04")
    start(sim, x, vm)
    dmesg = x.host.dmesg(host)
    assert "Xen version" in dmesg
    assert "(vm04) created" in dmesg
    log = x.host.get_log(host)
    assert "VM.start vm04" in log
    assert "logged in" in log
    assert "password" not in log.replace("login_with_password", "")
    session.xenapi.session.logout()


def test_host_record_and_pool(xapi_sim):
    session = login(xapi_sim)
    x = session.xenapi
    pool = x.pool.get_all()[0]
    master = x.pool.get_master(pool)
    rec = x.host.get_record(master)
    assert rec["name_label"] == "host01"
    assert rec["software_version"]["simulator"] == "xenapi-sim"
    # XenAPI.py's API_version reads pool master and host version fields.
    assert session.API_version == "2.21"
    session.xenapi.session.logout()


# --- errors: XenAPI.Failure.details ---------------------------------------------------------


def test_bad_password(sim):
    with pytest.raises(XenAPI.Failure) as e:
        login(sim, password="wrong-password")
    if sim.dialect == "xapi":
        assert details(e) == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    else:
        assert details(e) == ["SESSION_AUTHENTICATION_FAILED"]
    assert "wrong-password" not in str(e.value)
    assert sim.stats()["sessions"] == 0


def test_bad_power_state(sim):
    session = login(sim)
    x = session.xenapi
    vm = vm_by_name(x, "vm01")  # Running
    with pytest.raises(XenAPI.Failure) as e:
        start(sim, x, vm)
    assert details(e) == ["VM_BAD_POWER_STATE", vm, state_word(sim, "Halted"), state_word(sim, "Running")]
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.unpause(vm)
    assert details(e) == ["VM_BAD_POWER_STATE", vm, state_word(sim, "Paused"), state_word(sim, "Running")]
    halted = vm_by_name(x, "vm02")
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.hard_shutdown(halted)
    allowed = ["Paused", "Suspended", "Running"] if sim.dialect == "xapi" else ["Paused", "Running"]
    assert details(e) == ["VM_BAD_POWER_STATE", halted,
                          ", ".join(state_word(sim, a) for a in allowed), state_word(sim, "Halted")]
    session.xenapi.session.logout()


def test_bad_handle(sim):
    session = login(sim)
    bogus = ("OpaqueRef:" if sim.dialect == "xapi" else "") + "12345678-0000-0000-0000-000000000000"
    with pytest.raises(XenAPI.Failure) as e:
        session.xenapi.VM.get_record(bogus)
    assert details(e) == ["HANDLE_INVALID", "VM", bogus]
    session.xenapi.session.logout()


def test_unknown_method(sim):
    session = login(sim)
    with pytest.raises(XenAPI.Failure) as e:
        session.xenapi.VM.frobnicate()
    assert details(e) == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    session.xenapi.session.logout()


def test_parameter_count(sim):
    session = login(sim)
    vm = vm_by_name(session.xenapi, "vm02")
    with pytest.raises(XenAPI.Failure) as e:
        session.xenapi.VM.start(vm)
    if sim.dialect == "xapi":
        assert details(e) == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "1"]
    else:
        assert details(e) == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "2"]
    session.xenapi.session.logout()


def test_xend_refuses_the_four_argument_login(xend_sim):
    session = XenAPI.Session(xend_sim.url + "/")
    with pytest.raises(XenAPI.Failure) as e:
        session.xenapi.login_with_password("root", "password", "1.0", "pytest")
    assert details(e) == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "session.login_with_password", "2", "4"]


def test_host_is_slave(pool_sim):
    assert len(pool_sim.members) == 1
    session = XenAPI.Session(pool_sim.members[0] + "/")
    with pytest.raises(XenAPI.Failure) as e:
        session.xenapi.login_with_password("root", "password", "1.0", "pytest")
    coordinator = pool_sim.url.split("://", 1)[1]
    assert details(e) == ["HOST_IS_SLAVE", coordinator]


def test_xenapi_py_logs_in_again_after_session_expiry(sim):
    session = login(sim)
    assert sim.expire_sessions() == 1
    assert len(session.xenapi.VM.get_all()) == 5
    st = sim.stats()
    assert st["logins"] == 2
    assert st["sessions"] == 1
    session.xenapi.session.logout()


def test_session_invalid_after_logout(sim):
    session = login(sim)
    handle = session.handle
    session.xenapi.session.logout()
    raw = xmlrpc.client.ServerProxy(sim.url + "/")
    reply = raw.VM.get_all(handle)
    assert reply == {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", handle]}


# --- async and events -----------------------------------------------------------------------


def wait_task(x, task):
    deadline = time.time() + 10
    while x.task.get_status(task) == "pending":
        assert time.time() < deadline, "task stuck"
        time.sleep(0.01)
    return x.task.get_status(task)


def test_async_start_and_failure(sim):
    session = login(sim)
    x = session.xenapi
    vm = vm_by_name(x, "vm02")
    args = (vm, False, False) if sim.dialect == "xapi" else (vm, False)
    task = x.Async.VM.start(*args)
    assert wait_task(x, task) == "success"
    assert x.VM.get_power_state(vm) == "Running"
    assert x.task.get_result(task) == ""
    # Starting it again fails inside the task.
    task = x.Async.VM.start(*args)
    assert wait_task(x, task) == "failure"
    assert x.task.get_error_info(task) == [
        "VM_BAD_POWER_STATE", vm, state_word(sim, "Halted"), state_word(sim, "Running")]
    x.task.destroy(task)
    session.xenapi.session.logout()


def test_async_result_is_parseable_by_xmlrpc_client(xapi_sim):
    session = login(xapi_sim)
    x = session.xenapi
    task = x.Async.VM.get_all()
    assert wait_task(x, task) == "success"
    fragment = x.task.get_result(task)
    # The fragment is a <value>: wrap it as a response and let xmlrpc.client decode it.
    doc = "<?xml version='1.0'?><methodResponse><params><param>%s</param></params></methodResponse>" % fragment
    (decoded,), _ = xmlrpc.client.loads(doc)
    assert sorted(decoded) == sorted(x.VM.get_all())
    session.xenapi.session.logout()


def test_event_from_sees_another_sessions_change(sim):
    watcher = login(sim)
    actor = login(sim)
    # `from` is a Python keyword: reach event.from through getattr.
    event_from = getattr(watcher.xenapi.event, "from")
    first = event_from(["vm"], "", 0.0)
    assert len(first["events"]) == 5
    token = first["token"]
    vm = vm_by_name(actor.xenapi, "vm02")
    start(sim, actor.xenapi, vm)
    batch = event_from(["vm"], token, 5.0)
    mods = [e for e in batch["events"] if e["ref"] == vm]
    assert mods, batch
    assert mods[-1]["operation"] == "mod"
    assert mods[-1]["snapshot"]["power_state"] == "Running"
    watcher.xenapi.session.logout()
    actor.xenapi.session.logout()


# --- the talk's raw xmlrpclib style ---------------------------------------------------------


def test_raw_xmlrpc_talk_style(sim):
    xend = xmlrpc.client.ServerProxy(sim.url + "/")
    session = xend.session.login_with_password("root", "password")["Value"]
    vms = xend.VM.get_all(session)["Value"]
    assert len(vms) == 5
    for vm in vms:
        rec = xend.VM.get_record(session, vm)
        assert rec["Status"] == "Success"
        assert rec["Value"]["power_state"] in ("Running", "Halted")
    host = xend.host.get_all(session)["Value"][0]
    assert "Xen version" in xend.host.dmesg(session, host)["Value"]
    bad = xend.session.login_with_password("root", "nope")
    assert bad["Status"] == "Failure"
    assert bad["ErrorDescription"][0] == "SESSION_AUTHENTICATION_FAILED"
    assert xend.session.logout(session) == {"Status": "Success", "Value": ""}


def test_raw_malformed_request_gets_http_500(xapi_sim):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(xapi_sim.url + "/", data=b"<not-xml", method="POST",
                                 headers={"Content-Type": "text/xml"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 500


# --- TLS and scale --------------------------------------------------------------------------


def test_tls_with_ignore_ssl():
    s = start_sim("xapi", "--tls")
    try:
        assert s.url.startswith("https://")
        assert s.fingerprint and len(s.fingerprint.replace(":", "")) == 64
        session = XenAPI.Session(s.url + "/", ignore_ssl=True)
        session.xenapi.login_with_password("root", "password", "1.0", "pytest")
        assert len(session.xenapi.VM.get_all()) == 5
        session.xenapi.session.logout()
        # Default verification refuses the self-signed certificate.
        import ssl
        strict = XenAPI.Session(s.url + "/")
        with pytest.raises(ssl.SSLError):
            strict.xenapi.login_with_password("root", "password", "1.0", "pytest")
    finally:
        s.close()


def test_datetimes_are_xenapi_iso8601(sim):
    import re
    session = login(sim)
    x = session.xenapi
    m = x.VM.get_metrics(vm_by_name(x, "vm01"))
    for name in ("start_time", "install_time", "last_updated"):
        v = x.VM_metrics.get_record(m)[name]
        assert isinstance(v, xmlrpc.client.DateTime), name
        assert re.fullmatch(r"\d{8}T\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)?", v.value), v.value
    session.xenapi.session.logout()


def test_many_vm_records():
    # 300 VMs (3.6 MB): XenAPI.py parses ~1 MB/s, 2,000 VMs would take ~15 s.
    s = start_sim("xapi", "--vms", "300")
    try:
        session = XenAPI.Session(s.url + "/")
        session.xenapi.login_with_password("root", "password", "1.0", "pytest")
        records = session.xenapi.VM.get_all_records()
        assert len(records) == 301
        names = {r["name_label"] for r in records.values()}
        assert "vm001" in names and "vm300" in names
        running = sum(1 for r in records.values() if r["power_state"] == "Running")
        assert running == 151  # dom0 and the odd guests
        session.xenapi.session.logout()
    finally:
        s.close()


# --- users' own automation: the provisioning flow -------------------------------------------


def task_result(x, task, timeout=10.0):
    deadline = time.time() + timeout
    while x.task.get_status(task) == "pending":
        assert time.time() < deadline, "the task never finished"
        time.sleep(0.02)
    assert x.task.get_status(task) == "success", x.task.get_error_info(task)
    result = x.task.get_result(task)
    x.task.destroy(task)
    return result.replace("<value>", "").replace("</value>", "")


@pytest.mark.parametrize("client", ["XenAPI", "xenapi_rs"])
def test_provisioning_flow_with_the_official_client(client):
    """Clone a template, give it a disk on the default SR and a VIF, start it, snapshot it, shut
    it down, destroy the VM, its snapshot and their disks: the SR's space comes back. Through the
    official client, and the same script through xenapi_rs, its drop-in."""
    mod = pytest.importorskip(client)
    s = start_sim("xapi", "--templates", "2")
    try:
        session = mod.Session(s.url + "/")
        session.xenapi.login_with_password("root", "password", "2.21", "pytest-official")
        x = session.xenapi
        pool = x.pool.get_all()[0]
        sr = x.pool.get_default_SR(pool)
        used = int(x.SR.get_physical_utilisation(sr))

        template = vm_by_name(x, "Debian Bookworm 12")
        vm = task_result(x, x.Async.VM.clone(template, "web01"))
        disks = x.VM.get_other_config(vm)["disks"]
        x.VM.remove_from_other_config(vm, "disks")
        x.VM.add_to_other_config(vm, "disks", disks.replace('sr=""', 'sr="%s"' % x.SR.get_uuid(sr)))
        x.VM.provision(vm)
        assert x.VM.get_is_a_template(vm) is False

        vdi = x.VDI.create({
            "name_label": "web01 data", "name_description": "", "SR": sr,
            "virtual_size": str(GIB), "type": "user", "sharable": False, "read_only": False,
            "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": [],
        })
        x.VBD.create({
            "VM": vm, "VDI": vdi, "userdevice": "autodetect", "bootable": False, "mode": "RW",
            "type": "Disk", "unpluggable": True, "empty": False, "other_config": {},
            "qos_algorithm_type": "", "qos_algorithm_params": {},
        })
        network = x.network.get_by_name_label("Pool-wide network associated with eth0")[0]
        vif = x.VIF.create({
            "device": "0", "network": network, "VM": vm, "MAC": "", "MTU": "1500",
            "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
        })
        assert vif in x.network.get_VIFs(network)
        assert int(x.SR.get_physical_utilisation(sr)) == used + 11 * GIB

        task_result(x, x.Async.VM.start(vm, False, False))
        assert x.VM.get_power_state(vm) == "Running"
        with pytest.raises(mod.Failure) as e:
            x.VM.destroy(vm)
        assert details(e) == ["VM_BAD_POWER_STATE", vm, "halted, suspended", "running"]

        snap = x.VM.snapshot(vm, "web01 snap", [])
        assert x.VM.get_snapshot_of(snap) == vm and x.VM.get_is_a_snapshot(snap)
        x.VM.clean_shutdown(vm)

        vdis = [x.VBD.get_VDI(b) for v in (vm, snap) for b in x.VM.get_VBDs(v)
                if x.VBD.get_type(b) == "Disk"]
        assert len(vdis) == 4
        x.VM.destroy(snap)
        x.VM.destroy(vm)
        for v in vdis:  # VM.destroy leaves the disks, as xapi does
            x.VDI.destroy(v)
        assert int(x.SR.get_physical_utilisation(sr)) == used
        session.xenapi.session.logout()
    finally:
        s.close()


@pytest.mark.parametrize("client", ["XenAPI", "xenapi_rs"])
def test_provisioning_flow_in_the_xend_dialect(client):
    """The parts xend 3.x has: VM.create, a disk with VDI.create and VBD.create, start, shut
    down, destroy (VM.clone is unsupported there, VM.snapshot unknown)."""
    mod = pytest.importorskip(client)
    s = start_sim("xend", "--vms", "1")
    try:
        session = mod.Session(s.url + "/")
        session.xenapi.login_with_password("root", "password")
        x = session.xenapi
        sr = [r for r in x.SR.get_all() if x.SR.get_content_type(r) == "user"][0]
        mib = 1 << 20
        vm = x.VM.create({
            "name_label": "xend guest", "memory_static_min": str(256 * mib),
            "memory_dynamic_min": str(256 * mib), "memory_dynamic_max": str(512 * mib),
            "memory_static_max": str(512 * mib), "VCPUs_max": "1", "VCPUs_at_startup": "1",
            "PV_kernel": "/boot/vmlinuz",
        })
        assert not vm.startswith("OpaqueRef:"), "xend references are UUIDs"
        vdi = x.VDI.create({"name_label": "disk", "SR": sr, "virtual_size": str(GIB),
                            "type": "system"})
        x.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "mode": "RW", "type": "Disk"})
        x.VM.start(vm, False)  # xend 3.x: start(vm, start_paused)
        with pytest.raises(mod.Failure) as e:
            x.VM.destroy(vm)
        assert details(e) == ["VM_BAD_POWER_STATE", vm, "Halted", "Running"]
        with pytest.raises(mod.Failure) as e:
            x.VM.clone(vm, "c")
        assert details(e)[0] == "EUNSUPPORTED"
        x.VM.hard_shutdown(vm)
        x.VM.destroy(vm)
        x.VDI.destroy(vdi)
        assert vm not in x.VM.get_all()
        session.xenapi.session.logout()
    finally:
        s.close()
