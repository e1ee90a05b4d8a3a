"""xenapi_rs.watch: the live object cache against xenapi-sim: full at once, records shaped as
get_record gives them, changes in order, and each recovery (lost events, refused token, expired
session, dropped connection, xend)."""

import time

import pytest

from conftest import PASSWORD, USER


def login(xr, url):
    s = xr.Session(url)
    s.xenapi.login_with_password(USER, PASSWORD, "1.0", "xenapi-rs-cache-tests")
    return s


def vm_named(s, name):
    (ref,) = s.xenapi.VM.get_by_name_label(name)
    return ref


def wait_change(cache, want, limit=10.0):
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < limit:
        c = cache.next_change(0.2)
        if c is None:
            continue
        if want(c):
            return c
        seen.append(c)
    raise AssertionError("no such change in %ss; saw %r; status %r" % (limit, seen, cache.status()))


def power(c):
    return c.record and c.record.get("power_state")


def test_watch_is_full_and_shaped_like_get_record(sim, xr):
    s = login(xr, sim.url)
    with xr.watch(s, ["VM", "host"], poll_timeout=1.0) as cache:
        assert cache.classes == ["VM", "host"]
        server = s.xenapi.VM.get_all_records()
        vms = cache["VM"]
        assert len(vms) == len(server) and set(vms) == set(server)
        for ref, rec in server.items():
            assert vms[ref] == rec
        assert vms.to_dict() == server
        assert len(cache["host"]) == 1
        assert "OpaqueRef:nosuch" not in vms
        with pytest.raises(KeyError):
            vms["OpaqueRef:nosuch"]
        # A record read is a copy: changing it leaves the cache alone.
        ref = next(iter(server))
        vms[ref]["name_label"] = "changed here"
        assert cache["VM"][ref] == server[ref]
    assert cache.closed


def test_changes_come_in_order(sim, xr):
    s = login(xr, sim.url)
    cache = xr.watch(s, ["VM"], poll_timeout=1.0)
    vm = vm_named(s, "vm02")
    old = cache["VM"]  # a snapshot: it keeps the state it was taken at
    s.xenapi.VM.start(vm, False, False)
    s.xenapi.VM.pause(vm)
    first = wait_change(cache, lambda c: c.ref == vm)
    assert (first.operation, first.cls) == ("mod", "VM")
    states = [power(first)]
    if states[-1] != "Paused":
        states.append(power(wait_change(cache, lambda c: c.ref == vm and power(c) == "Paused")))
    assert states[-1] == "Paused" and "Halted" not in states
    assert cache["VM"][vm]["power_state"] == "Paused"
    assert old[vm]["power_state"] == "Halted"
    clone = s.xenapi.VM.clone(vm_named(s, "vm04"), "copy")
    added = wait_change(cache, lambda c: c.ref == clone)
    assert added.operation == "add" and added.record["name_label"] == "copy"
    s.xenapi.VM.destroy(clone)
    deleted = wait_change(cache, lambda c: c.ref == clone and c.operation != "mod")
    assert deleted.operation == "del"
    assert cache.get("VM", clone) is None
    # changes(timeout) yields what comes and stops when nothing does.
    s.xenapi.VM.unpause(vm)
    got = list(cache.changes(1.0))
    assert any(c.ref == vm and power(c) == "Running" for c in got), got
    assert cache.status()["errors"] == 0
    cache.close()
    assert cache.next_change(5) is None
    assert list(cache.changes()) == []


def test_lost_events_and_refused_tokens_refetch(sim, xr):
    s = login(xr, sim.url)
    with xr.watch(s, ["VM"], poll_timeout=1.0) as cache:
        sim.lose_events()
        vm = vm_named(s, "vm02")
        s.xenapi.VM.start(vm, False, False)
        c = wait_change(cache, lambda c: c.operation == "refetched")
        assert (c.cls, c.ref, c.record) == ("", "", None)
        # The start is in the refetch, or told after it.
        t0 = time.monotonic()
        while cache["VM"][vm]["power_state"] != "Running" and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        assert cache["VM"][vm]["power_state"] == "Running"
        sim.invalidate_event_tokens()
        wait_change(cache, lambda c: c.operation == "refetched")
        s.xenapi.VM.pause(vm)
        wait_change(cache, lambda c: c.ref == vm and power(c) == "Paused")
        assert cache.status()["refetches"] == 2


def test_expired_session_and_dropped_connection_recover(sim, xr):
    s = login(xr, sim.url)
    with xr.watch(s, ["VM"], poll_timeout=1.0) as cache:
        vm = vm_named(s, "vm02")
        sim.expire_sessions()
        s.xenapi.VM.start(vm, False, False)
        wait_change(cache, lambda c: c.ref == vm and power(c) == "Running")
        sim.fault("reset", 1000)
        t0 = time.monotonic()
        while cache.status()["errors"] < 2 and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        st = cache.status()
        assert st["errors"] >= 2 and not st["connected"] and st["last_error"], st
        sim._side("POST", "/sim/fault?kind=none")
        s.xenapi.VM.pause(vm)
        wait_change(cache, lambda c: c.ref == vm and power(c) == "Paused", limit=20)
        assert cache.status()["connected"]


def test_xend_follows_event_next(start_sim, xr):
    sim = start_sim("--vms", "4", "--dialect", "xend", "--event-next-wait-ms", "500")
    s = login(xr, sim.url)
    with xr.watch(s, ["VM"]) as cache:
        assert len(cache["VM"]) == len(s.xenapi.VM.get_all())
        vm = vm_named(s, "vm02")
        s.xenapi.VM.start(vm, False)
        wait_change(cache, lambda c: c.ref == vm and power(c) == "Running")
        sim.lose_events()
        wait_change(cache, lambda c: c.operation == "refetched")


def test_watch_refuses_unknown_classes(sim, xr):
    s = login(xr, sim.url)
    with pytest.raises(xr.InvalidArgument, match="nosuch"):
        xr.watch(s, ["VM", "nosuch"])
