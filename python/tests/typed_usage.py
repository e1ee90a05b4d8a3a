"""Code as users write it against the type stubs; `make lint` type-checks it with mypy (strict),
so a stub that stops describing the API fails there. Not a test module: pytest never imports it."""

from typing import Dict, List, Optional

import xenapi_rs
from xenapi_rs import Failure, Session


def halted_guests(session: Session) -> List[str]:
    records = session.xenapi.VM.get_all_records()
    names: List[str] = []
    for ref, record in records.items():
        if record["power_state"] == "Halted" and not record["is_a_template"]:
            names.append(record["name_label"])
            session.xenapi.VM.start(ref, False, False)
    return names


def host_memory(session: Session) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for host in session.xenapi.host.get_all():
        metrics = session.xenapi.host.get_metrics(host)
        # int64s travel as strings over XML-RPC, as XenAPI.py returns them.
        out[session.xenapi.host.get_name_label(host)] = int(session.xenapi.host_metrics.get_memory_free(metrics))
    return out


def main(url: str) -> None:
    session = xenapi_rs.Session(url)
    session.xenapi.login_with_password("root", "password", "1.0", "typed-usage")
    try:
        print(halted_guests(session), host_memory(session))
    except Failure as f:
        print(f.details[0])
    finally:
        session.xenapi.session.logout()


def cpu_and_backup(session: Session, vm_uuid: str, vdi: str) -> int:
    from xenapi_rs import rrd, transfer

    usage = rrd.vm_usage(session, vm_uuid, minutes=1)
    if usage.cpu_average is not None and usage.memory_used is not None:
        print("%.0f%% of a CPU, %d MiB" % (usage.cpu_average * 100, usage.memory_used // 2**20))
    updates = rrd.fetch_updates(session, start=-60, cf=None, vm_uuid=vm_uuid, host=False)
    col = updates.column("vm", vm_uuid, "cpu0")
    if col is not None:
        for t, value in updates.series(col):
            print(t, value)

    def report(done: int, total: Optional[int]) -> bool:
        print(done, total)
        return True

    cancel = xenapi_rs.Cancel()
    moved = transfer.export_vdi(session, vdi, "disk.raw", progress=report, cancel=cancel)
    with open("disk.vhd", "rb") as f:
        moved += transfer.import_vdi(session, vdi, f, format="vhd")
    moved += transfer.import_vdi(session, vdi, [b"\0" * 512, bytearray(512)])
    refs: List[str] = transfer.import_vm(session, "vm.xva", sr=None)
    print(refs)
    return moved


async def aio_usage(url: str) -> List[str]:
    import asyncio

    import xenapi_rs.aio

    async with xenapi_rs.aio.Session(url, max_concurrent_calls=5) as s:
        await s.xenapi.login_with_password("root", "password", "1.0", "typed-usage")
        vms = await s.xenapi.VM.get_all()
        names: List[str] = list(
            await asyncio.gather(*(s.xenapi.VM.get_name_label(vm) for vm in vms))
        )
        record = await s.xenapi.VM.get_record(vms[0])
        if record["power_state"] == "Halted":
            task: str = await s.xenapi.Async.VM.start(vms[0], False, False)
            await s.wait_task(task, timeout=60.0)
        asyncio.ensure_future(s.xenapi.VM.get_all()).cancel()
        try:
            await s.xenapi.VM.get_name_label("OpaqueRef:nosuch")
        except Failure as f:
            print(f.details)
        async with await xenapi_rs.aio.watch(s, ["VM"]) as cache:
            print(len(cache["VM"]))
            async for change in cache.changes(timeout=1.0):
                print(change.operation, change.ref)
            first: Optional[xenapi_rs.Change] = await cache.next_change(0.5)
            print(first)
        await s.xenapi.session.logout()
    return names
