//! Where a VM may run, and moving it there: the placement check (`can_boot_here`) that
//! `host.evacuate` shares, `VM.assert_can_boot_here`, `VM.get_possible_hosts`,
//! `VM.start_on`/`resume_on`, `host.compute_free_memory`; `VM.pool_migrate`, and
//! `VM.migrate_send` / `VM.assert_can_migrate` when the destination is a host of this pool.
//! Cross-pool migration is not modelled.

use xenapi::Value;

use crate::dispatch::{arg_str, Failure};
use crate::lifecycle;
use crate::objects::{bool_of, exists, get_str, i64_of, link, need, put, refs_of, s, unlink};
use crate::state::{str_field, State};
use crate::vm::{add_to_set, remove_from_set};

/// What `host` has free for guests: its total less its own overhead and what the VMs resident
/// on it need (each VM's `memory_dynamic_min` plus `memory_overhead`, the "maximum
/// compression" xapi's Memory_check counts), less `reserved` (VMs already planned to move
/// there).
pub(crate) fn free_memory(st: &State, host: &str, reserved: i64) -> i64 {
    let Some(rec) = st.get("host", host) else {
        return 0;
    };
    let total = st
        .get("host_metrics", str_field(rec, "metrics"))
        .map_or(0, |m| i64_of(m, "memory_total"));
    let used: i64 = refs_of(rec, "resident_VMs")
        .iter()
        .filter_map(|vm| st.get("VM", vm))
        .map(memory_needed)
        .sum();
    total - i64_of(rec, "memory_overhead") - used - reserved
}

/// What a VM needs on a host (xapi_vm_helpers.ml `assert_enough_memory_available`, policy
/// `Dynamic_min`: dynamic_min plus the shadow/overhead).
pub(crate) fn memory_needed(vm: &crate::state::Record) -> i64 {
    i64_of(vm, "memory_dynamic_min") + i64_of(vm, "memory_overhead")
}

/// Whether `vm` may run on `host` apart from memory (xapi_vm_helpers.ml
/// `assert_can_boot_here`, in its order): the host is live, enabled (unless the VM already
/// runs there), sees every SR of the VM's disks (`VM_REQUIRES_SR`) and every network of its
/// VIFs (`VM_REQUIRES_NETWORK`).
pub(crate) fn can_boot_here(st: &State, vm: &str, host: &str) -> Result<(), Failure> {
    boot_check(st, vm, host, true)
}

fn boot_check(st: &State, vm: &str, host: &str, check_srs: bool) -> Result<(), Failure> {
    let hrec = need(st, "host", host)?;
    let live = st
        .get("host_metrics", str_field(hrec, "metrics"))
        .is_some_and(|m| bool_of(m, "live"));
    if !live {
        return Err(Failure::new("HOST_NOT_LIVE", &[]));
    }
    let vrec = need(st, "VM", vm)?;
    let local = str_field(vrec, "resident_on") == host;
    if !bool_of(hrec, "enabled") && !local && !bool_of(vrec, "is_control_domain") {
        return Err(Failure::new("HOST_DISABLED", &[host]));
    }
    let visible_srs: Vec<String> = refs_of(hrec, "PBDs")
        .iter()
        .filter_map(|p| st.get("PBD", p))
        .filter(|p| bool_of(p, "currently_attached"))
        .map(|p| str_field(p, "SR").to_owned())
        .collect();
    let vbds = if check_srs {
        refs_of(vrec, "VBDs")
    } else {
        Vec::new()
    };
    for b in vbds {
        let Some(vbd) = st.get("VBD", &b) else {
            continue;
        };
        if bool_of(vbd, "empty") {
            continue;
        }
        let sr = get_str(st, "VDI", str_field(vbd, "VDI"), "SR");
        if !visible_srs.contains(&sr) {
            return Err(Failure::new("VM_REQUIRES_SR", &[vm, &sr]));
        }
    }
    for v in refs_of(vrec, "VIFs") {
        let net = get_str(st, "VIF", &v, "network");
        let pifs = st.get("network", &net).map(|n| refs_of(n, "PIFs"));
        // A network without PIFs (internal) is on every host; else the host needs a PIF on it.
        let seen = pifs.map_or(true, |pifs| {
            pifs.is_empty() || pifs.iter().any(|p| get_str(st, "PIF", p, "host") == host)
        });
        if !seen {
            return Err(Failure::new("VM_REQUIRES_NETWORK", &[vm, &net]));
        }
    }
    Ok(())
}

/// The memory check of `assert_can_boot_here`: `HOST_NOT_ENOUGH_FREE_MEMORY [needed;
/// available]`.
pub(crate) fn enough_memory(st: &State, vm: &str, host: &str) -> Result<(), Failure> {
    let vrec = need(st, "VM", vm)?;
    if str_field(vrec, "resident_on") == host {
        return Ok(());
    }
    let needed = memory_needed(vrec);
    let free = free_memory(st, host, 0);
    if free < needed {
        return Err(Failure::new(
            "HOST_NOT_ENOUGH_FREE_MEMORY",
            &[&needed.to_string(), &free.to_string()],
        ));
    }
    Ok(())
}

/// Makes `host` the VM's `resident_on`, keeping both hosts' `resident_VMs`; whether it moved.
fn relocate(st: &mut State, vm: &str, host: &str) -> bool {
    let old = get_str(st, "VM", vm, "resident_on");
    if old == host {
        return false;
    }
    st.modify("host", &old, |r| remove_from_set(r, "resident_VMs", vm));
    st.modify("host", host, |r| add_to_set(r, "resident_VMs", vm));
    put(st, "VM", vm, "resident_on", s(host));
    true
}

/// Moves a running VM to `host`, as a migration (logged).
pub(crate) fn move_to(st: &mut State, vm: &str, host: &str) {
    let old = get_str(st, "VM", vm, "resident_on");
    if !relocate(st, vm, host) {
        return;
    }
    let (name, from, to) = (
        get_str(st, "VM", vm, "name_label"),
        get_str(st, "host", &old, "name_label"),
        get_str(st, "host", host, "name_label"),
    );
    st.log(format!("VM.pool_migrate {name}: {from} -> {to}"));
}

/// `VM.pool_migrate(vm, host, options)` (message_forwarding.ml `pool_migrate`): the
/// `pool_migrate` operation's checks (Running only, not a template, snapshot or control
/// domain, not blocked), then `assert_can_boot_here` on the target with memory, then the VM
/// is resident there.
pub(crate) fn pool_migrate(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let vm = arg_str(args, 0, "vm")?;
    let host = arg_str(args, 1, "host")?;
    need(st, "VM", vm)?;
    need(st, "host", host)?;
    lifecycle::check(st, vm, "pool_migrate")?;
    can_boot_here(st, vm, host)?;
    enough_memory(st, vm, host)?;
    move_to(st, vm, host);
    lifecycle::refresh(st, vm);
    Ok(s(""))
}

/// The host a `migrate_send`/`assert_can_migrate` destination names (the `host` key of what
/// `host.migrate_receive` returns), when it is a host of this pool.
fn destination_host(st: &State, dest: &[(String, Value)]) -> Result<String, Failure> {
    let host = dest
        .iter()
        .find(|(k, _)| k == "host")
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default();
    if exists(st, "host", host) {
        Ok(host.to_owned())
    } else {
        Err(Failure::not_implemented(
            "VM.migrate_send to another pool (the simulator migrates within its pool only)",
        ))
    }
}

fn struct_arg<'a>(
    args: &'a [Value],
    i: usize,
    name: &str,
) -> Result<&'a [(String, Value)], Failure> {
    match args.get(i) {
        Some(Value::Struct(m)) => Ok(m),
        _ => Err(Failure::new("FIELD_TYPE_ERROR", &[name])),
    }
}

/// A checked migration within the pool: the VM, the destination host, the VDI map.
type Migration = (String, String, Vec<(String, String)>);

/// `VM.assert_can_migrate(vm, dest, live, vdi_map, vif_map, options, vgpu_map)` within the
/// pool (xapi_vm_migrate.ml `assert_can_migrate`, `intra_pool`): the `migrate_send` operation
/// (Halted, Suspended or Running), every disk VDI in the VDI map (`VDI_NOT_IN_MAP [vdi]`) to an
/// existing SR, `assert_can_boot_here` on the destination without the SR check (the disks
/// move) but with memory, and no VIF map (`OPERATION_NOT_ALLOWED`). Returns the VM, the
/// destination host and the VDI map.
fn check_migrate(st: &State, args: &[Value]) -> Result<Migration, Failure> {
    let vm = arg_str(args, 0, "vm")?.to_owned();
    let vrec = need(st, "VM", &vm)?;
    let host = destination_host(st, struct_arg(args, 1, "dest")?)?;
    let mut vdi_map = Vec::new();
    for (vdi, sr) in struct_arg(args, 3, "vdi_map")? {
        let sr = sr.as_str().unwrap_or_default();
        need(st, "VDI", vdi)?;
        need(st, "SR", sr)?;
        vdi_map.push((vdi.clone(), sr.to_owned()));
    }
    let vif_map = struct_arg(args, 4, "vif_map")?;
    lifecycle::check(st, &vm, "migrate_send")?;
    for b in refs_of(vrec, "VBDs") {
        let Some(vbd) = st.get("VBD", &b) else {
            continue;
        };
        if bool_of(vbd, "empty") || str_field(vbd, "type") == "CD" {
            continue;
        }
        let vdi = str_field(vbd, "VDI");
        if !vdi_map.iter().any(|(v, _)| v == vdi) {
            return Err(Failure::new("VDI_NOT_IN_MAP", &[vdi]));
        }
    }
    if str_field(vrec, "power_state") != crate::vm::HALTED {
        boot_check(st, &vm, &host, false)?;
        enough_memory(st, &vm, &host)?;
    }
    if !vif_map.is_empty() {
        return Err(Failure::new(
            "OPERATION_NOT_ALLOWED",
            &["VIF mapping is not allowed for intra-pool migration -all VIFs must be on the same network"],
        ));
    }
    Ok((vm, host, vdi_map))
}

/// `VM.assert_can_migrate`: the checks of `migrate_send`, changing nothing.
pub(crate) fn assert_can_migrate(st: &State, args: &[Value]) -> Result<Value, Failure> {
    check_migrate(st, args)?;
    Ok(s(""))
}

/// `VM.migrate_send` within the pool: after `assert_can_migrate`'s checks, each disk the VDI
/// map sends to another SR moves there, and a live VM becomes resident on the destination.
/// Simplification: a moved VDI keeps its reference (xapi mirrors it into a new VDI and
/// destroys the old one).
pub(crate) fn migrate_send(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let (vm, host, vdi_map) = check_migrate(st, args)?;
    for (vdi, sr) in vdi_map {
        let old = get_str(st, "VDI", &vdi, "SR");
        if old != sr {
            unlink(st, "SR", &old, "VDIs", &vdi);
            link(st, "SR", &sr, "VDIs", &vdi);
            put(st, "VDI", &vdi, "SR", s(&sr));
            crate::storage::recount(st, &old);
            crate::storage::recount(st, &sr);
        }
    }
    if get_str(st, "VM", &vm, "power_state") != crate::vm::HALTED {
        move_to(st, &vm, &host);
    }
    lifecycle::refresh(st, &vm);
    Ok(s(&vm))
}

/// `VM.assert_can_boot_here(self, host)`: `assert_can_boot_here` with memory, whatever the
/// VM's power state (xapi_vm.ml `assert_can_boot_here`).
pub(crate) fn assert_can_boot_here(st: &State, vm: &str, host: &str) -> Result<Value, Failure> {
    need(st, "VM", vm)?;
    can_boot_here(st, vm, host)?;
    enough_memory(st, vm, host)?;
    Ok(s(""))
}

/// `VM.get_possible_hosts(vm)`: the hosts that pass `assert_can_boot_here` (xapi_vm_helpers.ml
/// `get_possible_hosts_for_vm`, `possible_hosts`).
pub(crate) fn possible_hosts(st: &State, vm: &str) -> Result<Value, Failure> {
    need(st, "VM", vm)?;
    let hosts = st
        .table("host")
        .map(|t| t.refs().to_vec())
        .unwrap_or_default();
    Ok(Value::Array(
        hosts
            .into_iter()
            .filter(|h| can_boot_here(st, vm, h).is_ok() && enough_memory(st, vm, h).is_ok())
            .map(|h| s(&h))
            .collect(),
    ))
}

/// `host.compute_free_memory(host)`: what [`free_memory`] counts (xapi_host.ml
/// `compute_free_memory`: `host_compute_free_memory_with_maximum_compression`).
pub(crate) fn compute_free_memory(st: &State, host: &str) -> Result<Value, Failure> {
    need(st, "host", host)?;
    Ok(crate::state::int(free_memory(st, host, 0)))
}

/// `VM.start_on(vm, host, start_paused, force)` / `VM.resume_on(vm, host, start_paused,
/// force)`: the operation's power state first (Halted; Suspended), then `assert_can_boot_here`
/// on that host with memory, then the VM starts there (message_forwarding.ml `start_on`,
/// `resume_on`).
pub(crate) fn power_on_host(
    st: &mut State,
    message: &str,
    args: &[Value],
    user: &str,
) -> Result<Value, Failure> {
    let vm = arg_str(args, 0, "vm")?;
    let host = arg_str(args, 1, "host")?;
    let paused = matches!(args.get(2), Some(Value::Bool(true)));
    need(st, "VM", vm)?;
    need(st, "host", host)?;
    lifecycle::check(st, vm, message)?;
    can_boot_here(st, vm, host)?;
    enough_memory(st, vm, host)?;
    let op = if message == "start_on" {
        crate::vm::Op::Start { paused }
    } else {
        crate::vm::Op::Resume { paused }
    };
    crate::vm::power(st, vm, op, user)?;
    relocate(st, vm, host);
    Ok(s(""))
}
