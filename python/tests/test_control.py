"""Issue 13 through xenapi_rs: task waits (events on xapi, polling on xend), pool failover
(the simulator's HA control), per-call deadlines and the cap on calls in flight."""

import threading
import time

import pytest

from conftest import PASSWORD, USER


def login(xr, url, **kw):
    s = xr.Session(url, **kw)
    s.xenapi.login_with_password(USER, PASSWORD, "1.0", "xenapi-rs-tests")
    return s


def vm_named(x, name):
    return x.VM.get_by_name_label(name)[0]


def task_gone(x, task):
    return task not in x.task.get_all()


@pytest.mark.parametrize("dialect", ["xapi", "xend"])
def test_wait_task_returns_what_the_call_returns(start_sim, xr, dialect):
    sim = start_sim("--vms", "4", "--dialect", dialect)
    s = login(xr, sim.url)
    x = s.xenapi
    vm = vm_named(x, "vm02")
    if dialect == "xapi":
        task = x.Async.VM.clone(vm, "copy")
        copy = s.wait_task(task, timeout=20)
        assert type(copy) is str and x.VM.get_name_label(copy) == "copy"
        assert task_gone(x, task)
        # A record-returning message gives the dict get_record gives.
        task = x.Async.VM.get_record(vm)
        rec = s.wait_task(task, timeout=20)
        assert rec["name_label"] == "vm02" and rec == x.VM.get_record(vm)
    task = x.Async.VM.start(vm, False, False)
    assert s.wait_task(task, timeout=20) == ""
    assert x.VM.get_power_state(vm) == "Running"
    # A failing task raises its Failure.
    task = x.Async.VM.start(vm, False, False)
    with pytest.raises(xr.Failure) as e:
        s.wait_task(task, timeout=20)
    assert e.value.details[0] == "VM_BAD_POWER_STATE"
    assert task_gone(x, task)


@pytest.mark.parametrize("dialect", ["xapi", "xend"])
def test_deadline_and_cancel_destroy_the_task(start_sim, xr, dialect):
    sim = start_sim("--vms", "4", "--dialect", dialect, "--task-delay-ms", "2500")
    s = login(xr, sim.url)
    x = s.xenapi
    vm = vm_named(x, "vm02")
    task = x.Async.VM.start(vm, False, False)
    t0 = time.monotonic()
    with pytest.raises(xr.Timeout) as e:
        s.wait_task(task, timeout=0.3)
    assert time.monotonic() - t0 < 1.5
    assert "cancelled" in str(e.value) and "destroyed" in str(e.value)
    assert task_gone(x, task)

    task = x.Async.VM.start(vm, False, False)
    cancel = xr.Cancel()
    threading.Timer(0.2, cancel.cancel).start()
    t0 = time.monotonic()
    with pytest.raises(xr.Failure) as e:
        s.wait_task(task, timeout=30, cancel=cancel)
    assert time.monotonic() - t0 < 1.5
    assert e.value.details[0] == "TASK_CANCELLED" and cancel.cancelled
    assert task_gone(x, task)
    time.sleep(2.6)
    assert x.VM.get_power_state(vm) == "Halted", "neither task ran"


def test_failover_to_the_new_coordinator(start_sim, xr):
    sim = start_sim("--vms", "4", "--hosts", "3")
    s = login(xr, sim.url)
    x = s.xenapi
    assert sorted(s.pool_addresses) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    n = len(x.VM.get_all())
    logins = sim.stats()["logins"]
    new = sim.failover()
    assert new == sim.members[0]
    assert len(x.VM.get_all()) == n
    assert s.url.rstrip("/") == new
    assert sim.stats()["logins"] == logins + 1


def test_a_side_effect_call_in_flight_is_not_retried(start_sim, xr):
    sim = start_sim("--vms", "4", "--hosts", "2")
    s = login(xr, sim.url)
    x = s.xenapi
    vm = vm_named(x, "vm02")
    out = {}

    def run(name, f):
        try:
            out[name] = f()
        except Exception as e:  # noqa: BLE001 (the test looks at it)
            out[name] = e

    sim.delay(0.8)
    threads = [
        threading.Thread(target=run, args=("read", x.VM.get_all_records)),
        threading.Thread(target=run, args=("write", lambda: x.VM.clone(vm, "in-flight"))),
    ]
    for t in threads:
        t.start()
    time.sleep(0.3)
    sim.failover()
    sim.delay(0)
    for t in threads:
        t.join()
    assert isinstance(out["read"], dict) and len(out["read"]) >= 5
    assert isinstance(out["write"], xr.ConnectError), out["write"]
    assert "may have been carried out" in str(out["write"])
    assert len(x.VM.get_by_name_label("in-flight")) == 1


def test_failover_can_be_turned_off(start_sim, xr):
    sim = start_sim("--vms", "4", "--hosts", "2")
    s = login(xr, sim.url, failover=False)
    sim.failover()
    with pytest.raises(xr.ConnectError):
        s.xenapi.VM.get_all()


def test_a_per_call_deadline(sim, xr):
    s = login(xr, sim.url, timeout=0.7)
    x = s.xenapi
    sim.delay(1.2)
    with pytest.raises(xr.Timeout):
        x.VM.get_all()
    with s.timeout(10):
        assert s.call_timeout == 10
        assert x.VM.get_all()
        with s.timeout(0.3):
            with pytest.raises(xr.Timeout):
                x.VM.get_all()
        assert x.VM.get_all(), "the outer block's deadline is back"
    assert s.call_timeout == pytest.approx(0.7)
    # Another thread keeps the session's deadline while this one has its own.
    seen = []
    with s.timeout(10):
        t = threading.Thread(target=lambda: seen.append(s.call_timeout))
        t.start()
        t.join()
    assert seen == [pytest.approx(0.7)]
    sim.delay(0)


@pytest.mark.parametrize("cap", [3, None])
def test_the_cap_on_calls_in_flight(start_sim, xr, cap):
    sim = start_sim("--vms", "4")
    kw = {} if cap is None else {"max_concurrent_calls": cap}
    s = login(xr, sim.url, **kw)
    expected = cap or 20
    assert s.max_concurrent_calls == expected
    sim.delay(0.15)
    threads = [threading.Thread(target=s.xenapi.VM.get_all) for _ in range(expected + 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sim.delay(0)
    assert sim.stats()["max_in_flight"] == expected
