"""Automation written for XenAPI.py, run unchanged against the simulator: host maintenance,
storage repair, migration within a pool, installation from a template, client-made tasks, the
underscore spelling of method names and calls that leave defaulted parameters out. Each flow
runs through the official XenAPI.py and through xenapi_rs, its drop-in."""

from __future__ import annotations

import time

import pytest
from simfixture import start_sim

CLIENTS = ["XenAPI", "xenapi_rs"]


def connect(mod, s):
    session = mod.Session(s.url + "/")
    session.xenapi.login_with_password("root", "password", "2.21", "automation")
    return session


def fails(mod, call, *args):
    """The ErrorDescription of a call that must fail."""
    with pytest.raises(mod.Failure) as e:
        call(*args)
    return e.value.details


def wait(x, task, timeout=10.0):
    deadline = time.time() + timeout
    while x.task.get_status(task) == "pending":
        assert time.time() < deadline, "the task never finished"
        time.sleep(0.02)
    return x.task.get_status(task)


def guests_on(x, host):
    return [vm for vm in x.host.get_resident_VMs(host) if not x.VM.get_is_control_domain(vm)]


@pytest.fixture(params=CLIENTS)
def pool(request):
    """(client module, session.xenapi, [host refs]) on a fresh two-host pool."""
    mod = pytest.importorskip(request.param)
    s = start_sim("xapi", "--hosts", "2")
    session = connect(mod, s)
    x = session.xenapi
    yield mod, x, x.host.get_all()
    session.xenapi.session.logout()
    s.close()


def test_host_maintenance(pool):
    mod, x, (h0, h1) = pool
    moving = guests_on(x, h0)
    assert moving
    assert fails(mod, x.host.reboot, h0) == ["HOST_NOT_DISABLED"]
    x.host.disable(h0)
    assert x.host.get_enabled(h0) is False
    assert "reboot" in x.host.get_allowed_operations(h0)
    assert x.host.get_vms_which_prevent_evacuation(h0) == {}
    x.host.evacuate(h0)  # without network and batch size, as older scripts call it
    assert guests_on(x, h0) == []
    for vm in moving:
        assert x.VM.get_resident_on(vm) == h1
    x.host.reboot(h0)
    assert x.host.get_enabled(h0) is True

    # Every guest is on h1 now; with h0 disabled they have nowhere to go, and each says why.
    x.host.disable(h0)
    blockers = x.host.get_vms_which_prevent_evacuation(h1)
    assert sorted(blockers) == sorted(guests_on(x, h1))
    for vm, reason in blockers.items():
        assert reason == ["NO_HOSTS_AVAILABLE", vm]
    assert fails(mod, x.host.evacuate, h1)[0] == "NO_HOSTS_AVAILABLE"
    assert fails(mod, x.host.assert_can_evacuate, h1)[0] == "CANNOT_EVACUATE_HOST"

    x.host.enable(h0)

    # Shutting the member h1 down halts its guests; it stays down, and the coordinator no
    # longer forwards calls to it.
    x.host.disable(h1)
    x.host.shutdown(h1)
    assert guests_on(x, h1) == []
    assert x.host_metrics.get_live(x.host.get_metrics(h1)) is False
    assert fails(mod, x.host.enable, h1) == ["HOST_OFFLINE", h1]


def test_pool_migrate_and_migrate_send(pool):
    mod, x, (h0, h1) = pool
    vm = guests_on(x, h0)[0]
    status = wait(x, x.Async.VM.pool_migrate(vm, h1, {}))
    assert status == "success"
    assert x.VM.get_resident_on(vm) == h1
    halted = x.VM.get_by_name_label("vm02")[0]
    assert fails(mod, x.VM.pool_migrate, halted, h0, {}) == [
        "VM_BAD_POWER_STATE", halted, "running", "halted"]
    assert fails(mod, x.VM.pool_migrate, vm, "OpaqueRef:nowhere", {}) == [
        "HANDLE_INVALID", "host", "OpaqueRef:nowhere"]

    disks = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(vm) if x.VBD.get_type(b) == "Disk"]
    vdi_map = {d: x.VDI.get_SR(d) for d in disks}
    dest = {"host": h0}
    assert fails(mod, x.VM.assert_can_migrate, vm, dest, True, {}, {}, {}) == [
        "VDI_NOT_IN_MAP", disks[0]]
    # Without vgpu_map: xapi fills in its default.
    x.VM.assert_can_migrate(vm, dest, True, vdi_map, {}, {})
    assert x.VM.migrate_send(vm, dest, True, vdi_map, {}, {}) == vm
    assert x.VM.get_resident_on(vm) == h0

    # Placement: where a halted VM may start, and starting it there.
    assert sorted(x.VM.get_possible_hosts(halted)) == sorted([h0, h1])
    free = int(x.host.compute_free_memory(h1))
    x.VM.start_on(halted, h1, False, False)
    assert x.VM.get_resident_on(halted) == h1
    assert int(x.host.compute_free_memory(h1)) < free
    assert fails(mod, x.VM.start_on, halted, h0, False, False) == [
        "VM_BAD_POWER_STATE", halted, "halted", "running"]


def test_storage_repair(pool):
    mod, x, (h0, h1) = pool
    local = [sr for sr in x.SR.get_by_name_label("Local storage")
             if x.PBD.get_host(x.SR.get_PBDs(sr)[0]) == h0][0]
    record = x.SR.get_record(local)
    pbd = record["PBDs"][0]
    config = x.PBD.get_device_config(pbd)
    assert fails(mod, x.SR.forget, local) == ["SR_HAS_PBD", local]
    assert fails(mod, x.PBD.destroy, pbd) == ["OPERATION_NOT_ALLOWED", "PBD is currently attached"]
    x.PBD.unplug(pbd)
    assert x.PBD.get_currently_attached(pbd) is False
    assert "forget" in x.SR.get_allowed_operations(local)
    x.PBD.destroy(pbd)
    x.SR.forget(local)
    sr = x.SR.introduce(record["uuid"], record["name_label"], "", record["type"],
                        record["content_type"], False, {})
    pbd = x.PBD.create({"host": h0, "SR": sr, "device_config": config, "other_config": {}})
    assert fails(mod, x.PBD.create, {"host": h0, "SR": sr, "device_config": config}) == [
        "PBD_EXISTS", sr, h0, pbd]
    x.PBD.plug(pbd)
    assert x.PBD.get_currently_attached(pbd) is True
    assert x.SR.get_uuid(sr) == record["uuid"]

    # An installer's shared SR: a PBD per host, plugged.
    nfs = x.SR.create(h0, {"server": "filer", "serverpath": "/vol"}, "0", "NFS", "", "nfs",
                      "user", True, {})
    assert sorted(x.PBD.get_host(p) for p in x.SR.get_PBDs(nfs)) == sorted([h0, h1])
    assert all(x.PBD.get_currently_attached(p) for p in x.SR.get_PBDs(nfs))
    assert fails(mod, x.SR.create, h0, {}, "0", "bad", "", "bogus", "user", True, {}) == [
        "SR_UNKNOWN_DRIVER", "bogus"]

    # A running guest's disk keeps its SR plugged on its host.
    vm = guests_on(x, h1)[0] if guests_on(x, h1) else guests_on(x, h0)[0]
    host = x.VM.get_resident_on(vm)
    disk = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(vm) if x.VBD.get_type(b) == "Disk"][0]
    shared_pbd = [p for p in x.SR.get_PBDs(x.VDI.get_SR(disk)) if x.PBD.get_host(p) == host][0]
    assert fails(mod, x.PBD.unplug, shared_pbd) == ["VDI_IN_USE", disk]


@pytest.mark.parametrize("client", CLIENTS)
def test_underscore_names_defaults_tasks_and_xml_disks(client):
    mod = pytest.importorskip(client)
    s = start_sim("xapi", "--templates", "2")
    try:
        session = connect(mod, s)
        x = session.xenapi
        # The underscore spelling xapi's dispatcher also takes.
        assert sorted(x.VM_get_all()) == sorted(x.VM.get_all())
        assert x.event_get_current_id() == x.event.get_current_id()

        # Shorter calls: xapi fills in ignore_vdis, driver_params and the blob's public flag.
        vm = x.VM.get_by_name_label("vm01")[0]
        snap = x.VM.snapshot(vm, "before upgrade")
        assert x.VM.get_snapshot_of(snap) == vm
        disk = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(vm) if x.VBD.get_type(b) == "Disk"][0]
        assert x.VDI.get_is_a_snapshot(x.VDI.snapshot(disk)) is True
        assert x.VDI.get_SR(x.VDI.clone(disk)) == x.VDI.get_SR(disk)

        # A task the script runs itself.
        task = x.task.create("upload", "a script's own task")
        x.task.set_progress(task, 0.5)
        assert x.task.get_progress(task) == 0.5
        x.task.set_status(task, "success")
        assert x.task.get_status(task) == "success"
        x.task.destroy(task)
        assert fails(mod, x.task.get_record, task)[0] == "HANDLE_INVALID"

        # An installer's pretty-printed disks document, with its XML declaration.
        template = x.VM.get_by_name_label("Debian Bookworm 12")[0]
        new = x.VM.clone(template, "installed")
        sr = x.pool.get_default_SR(x.pool.get_all()[0])
        x.VM.remove_from_other_config(new, "disks")
        x.VM.add_to_other_config(new, "disks", (
            '<?xml version="1.0" ?>\n<provision>\n'
            '  <disk bootable="true" device="0" size="%d" sr="%s" type="system"/>\n'
            "</provision>\n") % (4 << 30, x.SR.get_uuid(sr)))
        x.VM.provision(new)
        vbds = x.VM.get_VBDs(new)
        assert [x.VBD.get_userdevice(b) for b in vbds] == ["0"]
        assert x.VDI.get_virtual_size(x.VBD.get_VDI(vbds[0])) == str(4 << 30)
        session.xenapi.session.logout()
    finally:
        s.close()
