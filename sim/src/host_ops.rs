//! Host maintenance as xapi does it (xapi_host.ml, xapi_host_helpers.ml, message_forwarding.ml):
//! `host.disable`/`enable`, the evacuation plan (`get_vms_which_prevent_evacuation`,
//! `assert_can_evacuate`, `evacuate` moving resident VMs to other hosts), and `reboot` /
//! `shutdown`, which a host allows only while disabled.

use xenapi::Value;

use crate::dispatch::{arg_str, Failure};
use crate::lifecycle;
use crate::migrate;
use crate::objects::{bool_of, get_str, need, put, refs_of, s};
use crate::state::{str_field, State};
use crate::vm;

/// `host.allowed_operations` (xapi_host_helpers.ml `valid_operations`, the parts the simulator
/// models): reboot, shutdown and apply_updates only while disabled; power_on never (the
/// simulated hosts have no power-on mode).
pub(crate) fn refresh(st: &mut State, host: &str) {
    let Some(rec) = st.get("host", host) else {
        return;
    };
    let enabled = bool_of(rec, "enabled");
    let ops: Vec<Value> = [
        "provision",
        "evacuate",
        "shutdown",
        "reboot",
        "vm_start",
        "vm_resume",
        "vm_migrate",
        "apply_updates",
        "enable",
    ]
    .iter()
    .filter(|op| !enabled || !matches!(**op, "shutdown" | "reboot" | "apply_updates"))
    .map(|op| s(op))
    .collect();
    if crate::state::field(rec, "allowed_operations") != Some(&Value::Array(ops.clone())) {
        put(st, "host", host, "allowed_operations", Value::Array(ops));
    }
}

fn set_enabled(st: &mut State, host: &str, enabled: bool) {
    if bool_of(need(st, "host", host).expect("checked"), "enabled") != enabled {
        put(st, "host", host, "enabled", Value::Bool(enabled));
        let name = get_str(st, "host", host, "name_label");
        let what = if enabled { "enabled" } else { "disabled" };
        st.log(format!("host {name} {what}"));
    }
    refresh(st, host);
}

/// `host.disable(host, auto_enable)`: no new VMs start there; with `auto_enable` false it stays
/// disabled after a reboot.
pub(crate) fn disable(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let host = arg_str(args, 0, "host")?;
    check_live(st, host)?;
    let auto_enable = !matches!(args.get(1), Some(Value::Bool(false)));
    if bool_of(need(st, "host", host)?, "enabled") && !auto_enable {
        st.no_auto_enable.push(host.to_owned());
    }
    set_enabled(st, host, false);
    Ok(s(""))
}

/// `host.enable(host)`.
pub(crate) fn enable(st: &mut State, host: &str) -> Result<Value, Failure> {
    check_live(st, host)?;
    st.no_auto_enable.retain(|h| h != host);
    set_enabled(st, host, true);
    Ok(s(""))
}

/// What the coordinator checks before forwarding a call to a member: a member that is down
/// gives `HOST_OFFLINE [host]`; the coordinator itself counts as live (message_forwarding.ml
/// `do_op_on`, `check_live`).
fn check_live(st: &State, host: &str) -> Result<(), Failure> {
    need(st, "host", host)?;
    if host != st.coordinator && !is_live(st, host) {
        return Err(Failure::new("HOST_OFFLINE", &[host]));
    }
    Ok(())
}

fn is_live(st: &State, host: &str) -> bool {
    let metrics = get_str(st, "host", host, "metrics");
    st.get("host_metrics", &metrics)
        .is_some_and(|m| bool_of(m, "live"))
}

/// The evacuation plan (xapi_host.ml `compute_evacuation_plan_no_wlb`): for each guest
/// resident on `host`, the host it would move to or why it cannot. Targets are the other
/// enabled hosts; none gives `NO_HOSTS_AVAILABLE [vm]`; then the `pool_migrate` operation's
/// checks, `assert_can_boot_here` on every target without memory, and a first-fit placement
/// by memory (`HOST_NOT_ENOUGH_FREE_MEMORY [vm]` when nothing fits; xapi bin-packs).
fn plan(st: &State, host: &str) -> Vec<(String, Result<String, Failure>)> {
    let targets: Vec<String> = st
        .table("host")
        .map(|t| {
            t.iter()
                .filter(|(h, r)| *h != host && bool_of(r, "enabled"))
                .map(|(h, _)| h.clone())
                .collect()
        })
        .unwrap_or_default();
    let guests: Vec<String> = st
        .get("host", host)
        .map(|r| refs_of(r, "resident_VMs"))
        .unwrap_or_default()
        .into_iter()
        .filter(|vm| {
            st.get("VM", vm)
                .is_some_and(|r| !bool_of(r, "is_control_domain"))
        })
        .collect();
    let mut reserved: Vec<(String, i64)> = targets.iter().map(|t| (t.clone(), 0)).collect();
    guests
        .into_iter()
        .map(|vm| {
            let placed = (|| {
                if targets.is_empty() {
                    return Err(Failure::new("NO_HOSTS_AVAILABLE", &[&vm]));
                }
                // xapi records the operation's error over a placement error.
                lifecycle::check(st, &vm, "pool_migrate")?;
                for t in &targets {
                    migrate::can_boot_here(st, &vm, t)?;
                }
                let needed = st.get("VM", &vm).map_or(0, migrate::memory_needed);
                let slot = reserved
                    .iter_mut()
                    .find(|(t, r)| migrate::free_memory(st, t, *r) >= needed)
                    .ok_or_else(|| Failure::new("HOST_NOT_ENOUGH_FREE_MEMORY", &[&vm]))?;
                slot.1 += needed;
                Ok(slot.0.clone())
            })();
            (vm, placed)
        })
        .collect()
}

/// `host.get_vms_which_prevent_evacuation(self)`: each VM that cannot move, with the error
/// (code first) that stops it.
pub(crate) fn vms_which_prevent_evacuation(st: &State, host: &str) -> Result<Value, Failure> {
    need(st, "host", host)?;
    Ok(Value::Struct(
        plan(st, host)
            .into_iter()
            .filter_map(|(vm, p)| p.err().map(|f| (vm, f.to_value())))
            .collect(),
    ))
}

/// `host.assert_can_evacuate(host)`: `CANNOT_EVACUATE_HOST ["code,param,…|code,…"]`, xapi's
/// older encoding of the same plan.
pub(crate) fn assert_can_evacuate(st: &State, host: &str) -> Result<Value, Failure> {
    need(st, "host", host)?;
    let errors: Vec<String> = plan(st, host)
        .into_iter()
        .filter_map(|(_, p)| p.err().map(|f| f.0.join(",")))
        .collect();
    if errors.is_empty() {
        Ok(s(""))
    } else {
        Err(Failure::new("CANNOT_EVACUATE_HOST", &[&errors.join("|")]))
    }
}

/// `host.evacuate(host, network, evacuate_batch_size)`: the plan's first error, else every
/// guest moves as `VM.pool_migrate` moves it. A `network` other than the null ref must have
/// an attached PIF with an address on each destination (xapi_network_attach_helpers.ml
/// `assert_valid_ip_configuration_on_network_for_host`: `PIF_NOT_PRESENT [host; network]`,
/// `REQUIRED_PIF_IS_UNPLUGGED [pif]`, `INTERFACE_HAS_NO_IP [pif]`). The batch size changes
/// nothing here: the simulator moves VMs one after the other.
pub(crate) fn evacuate(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let host = arg_str(args, 0, "host")?;
    let network = arg_str(args, 1, "network")?;
    need(st, "host", host)?;
    let mut moves = Vec::new();
    for (vm, p) in plan(st, host) {
        moves.push((vm, p?));
    }
    if network != st.dialect.null_ref() {
        need(st, "network", network)?;
        for (_, target) in &moves {
            network_usable(st, network, target)?;
        }
    }
    for (vm, target) in moves {
        migrate::move_to(st, &vm, &target);
        lifecycle::refresh(st, &vm);
    }
    Ok(s(""))
}

fn network_usable(st: &State, network: &str, host: &str) -> Result<(), Failure> {
    let pif = refs_of(need(st, "network", network)?, "PIFs")
        .into_iter()
        .find(|p| get_str(st, "PIF", p, "host") == host)
        .ok_or_else(|| Failure::new("PIF_NOT_PRESENT", &[host, network]))?;
    let rec = need(st, "PIF", &pif)?;
    if !bool_of(rec, "currently_attached") {
        return Err(Failure::new("REQUIRED_PIF_IS_UNPLUGGED", &[&pif]));
    }
    if str_field(rec, "IP").is_empty() && str_field(rec, "IPv6").is_empty() {
        return Err(Failure::new("INTERFACE_HAS_NO_IP", &[&pif]));
    }
    Ok(())
}

/// `host.reboot(host)` / `host.shutdown(host)` (xapi_host.ml `shutdown_and_reboot_common`):
/// a member that is down `HOST_OFFLINE [host]`; the host must be disabled (`HOST_NOT_DISABLED []`); the guests still resident are shut
/// down (`Vm_evacuation.ensure_no_vms` in `prepare_for_poweroff`). A rebooted host comes back
/// at once, enabled unless it was disabled with `auto_enable` false; a shut-down host stays
/// down (`host_metrics.live` false), as nothing here powers it on.
pub(crate) fn power_off(st: &mut State, host: &str, reboot: bool) -> Result<Value, Failure> {
    check_live(st, host)?;
    let rec = need(st, "host", host)?;
    if bool_of(rec, "enabled") {
        return Err(Failure::new("HOST_NOT_DISABLED", &[]));
    }
    let guests: Vec<String> = refs_of(rec, "resident_VMs")
        .into_iter()
        .filter(|vm| {
            st.get("VM", vm)
                .is_some_and(|r| !bool_of(r, "is_control_domain"))
        })
        .collect();
    for g in guests {
        let from = get_str(st, "VM", &g, "power_state");
        vm::set_power(st, &g, &from, vm::HALTED, false);
    }
    let name = get_str(st, "host", host, "name_label");
    if reboot {
        st.log(format!("host {name} rebooted"));
        let auto = !st.no_auto_enable.iter().any(|h| h == host);
        set_enabled(st, host, auto);
    } else {
        st.log(format!("host {name} shut down"));
        let metrics = get_str(st, "host", host, "metrics");
        put(st, "host_metrics", &metrics, "live", Value::Bool(false));
        refresh(st, host);
    }
    Ok(s(""))
}
