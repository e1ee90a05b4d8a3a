//! The VM power-state machine (spec/WIRE.md, Power states): which state each operation needs,
//! where it leads, and what changes with it (domid, resident_on, metrics, allowed_operations,
//! logs).

use xenapi::{DateTime, Value};

use crate::dialect::Dialect;
use crate::dispatch::Failure;
use crate::state::{field, int, set_field, str_field, State};

pub(crate) const HALTED: &str = "Halted";
pub(crate) const PAUSED: &str = "Paused";
pub(crate) const RUNNING: &str = "Running";
pub(crate) const SUSPENDED: &str = "Suspended";

/// A power operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Start {
        paused: bool,
    },
    CleanShutdown,
    HardShutdown,
    /// `VM.shutdown`: clean, then hard if needed.
    Shutdown,
    CleanReboot,
    HardReboot,
    Pause,
    Unpause,
    Suspend,
    Resume {
        paused: bool,
    },
}

impl Op {
    /// The operation for `VM.<message>`, without its arguments (start/resume get `paused` later).
    pub fn from_message(m: &str) -> Option<Op> {
        Some(match m {
            "start" => Op::Start { paused: false },
            "clean_shutdown" => Op::CleanShutdown,
            "hard_shutdown" => Op::HardShutdown,
            "shutdown" => Op::Shutdown,
            "clean_reboot" => Op::CleanReboot,
            "hard_reboot" => Op::HardReboot,
            "pause" => Op::Pause,
            "unpause" => Op::Unpause,
            "suspend" => Op::Suspend,
            "resume" => Op::Resume { paused: false },
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Start { .. } => "start",
            Op::CleanShutdown => "clean_shutdown",
            Op::HardShutdown => "hard_shutdown",
            Op::Shutdown => "shutdown",
            Op::CleanReboot => "clean_reboot",
            Op::HardReboot => "hard_reboot",
            Op::Pause => "pause",
            Op::Unpause => "unpause",
            Op::Suspend => "suspend",
            Op::Resume { .. } => "resume",
        }
    }

    /// The states the operation starts from, in the order `VM_BAD_POWER_STATE` lists them.
    fn allowed(self, dialect: Dialect) -> &'static [&'static str] {
        match (self, dialect) {
            (Op::Start { .. }, _) => &[HALTED],
            (Op::CleanShutdown | Op::CleanReboot | Op::Pause | Op::Suspend, _) => &[RUNNING],
            (Op::Unpause, _) => &[PAUSED],
            (Op::Resume { .. }, _) => &[SUSPENDED],
            (Op::HardShutdown | Op::Shutdown, Dialect::Xapi) => &[PAUSED, SUSPENDED, RUNNING],
            // xend: hard shutdown works from any live state.
            (Op::HardShutdown | Op::Shutdown, Dialect::Xend) => &[PAUSED, RUNNING],
            (Op::HardReboot, _) => &[PAUSED, RUNNING],
        }
    }

    fn target(self) -> &'static str {
        match self {
            Op::Start { paused: true } | Op::Resume { paused: true } | Op::Pause => PAUSED,
            Op::Start { .. } | Op::Resume { .. } | Op::Unpause => RUNNING,
            Op::CleanReboot | Op::HardReboot => RUNNING,
            Op::CleanShutdown | Op::HardShutdown | Op::Shutdown => HALTED,
            Op::Suspend => SUSPENDED,
        }
    }
}

/// Runs `op` on `vm` (the caller has checked that the ref exists and is a VM).
pub(crate) fn power(st: &mut State, vm: &str, op: Op, user: &str) -> Result<(), Failure> {
    let dialect = st.dialect;
    let Some(rec) = st.get("VM", vm) else {
        return Err(Failure::new("HANDLE_INVALID", &["VM", vm]));
    };
    let name = str_field(rec, "name_label").to_owned();
    let uuid = str_field(rec, "uuid").to_owned();
    if field(rec, "is_control_domain") == Some(&Value::Bool(true)) {
        return Err(Failure::new(
            "OPERATION_NOT_ALLOWED",
            &["power operations on the control domain are not allowed"],
        ));
    }
    let current = str_field(rec, "power_state").to_owned();
    let allowed = op.allowed(dialect);
    if !allowed.contains(&current.as_str()) {
        let expected = allowed
            .iter()
            .map(|s| dialect.state_name(s))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Failure::new(
            "VM_BAD_POWER_STATE",
            &[vm, &expected, &dialect.state_name(&current)],
        ));
    }
    // Templates and snapshots refuse what xapi refuses them (after the power state).
    crate::lifecycle::check(st, vm, op.name())?;
    // Starting needs a host to start on (xapi_vm_helpers.ml `choose_host_for_vm`).
    if matches!(op, Op::Start { .. } | Op::Resume { .. }) && usable_hosts(st).is_empty() {
        return Err(Failure::new("NO_HOSTS_AVAILABLE", &[]));
    }
    set_power(
        st,
        vm,
        &current,
        op.target(),
        matches!(op, Op::CleanReboot | Op::HardReboot),
    );
    let domid = st
        .get("VM", vm)
        .and_then(|r| field(r, "domid"))
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    st.log(format!(
        "VM.{} {name} ({uuid}) by {user}: {current} -> {}, domid {domid}",
        op.name(),
        op.target()
    ));
    Ok(())
}

/// Moves `vm` from `from` to `to`; `reboot` gives it a new domain. Updates the VM, its metrics,
/// the host's `resident_VMs` and the console ring.
pub(crate) fn set_power(st: &mut State, vm: &str, from: &str, to: &str, reboot: bool) {
    let null = st.dialect.null_ref().to_owned();
    let live = |s: &str| s == RUNNING || s == PAUSED;
    let Some(rec) = st.get("VM", vm) else { return };
    let old_domid = field(rec, "domid").and_then(Value::as_i64).unwrap_or(-1);
    let old_host = str_field(rec, "resident_on").to_owned();
    let metrics = str_field(rec, "metrics").to_owned();
    let name = str_field(rec, "name_label").to_owned();
    let vcpus = field(rec, "VCPUs_at_startup")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let memory = field(rec, "memory_target")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let affinity = str_field(rec, "affinity").to_owned();

    let new_domid = if live(to) && (!live(from) || reboot) {
        let d = st.next_domid;
        st.next_domid += 1;
        d
    } else if live(to) {
        old_domid
    } else {
        -1
    };
    let host = if live(to) {
        if live(from) && !old_host.is_empty() && old_host != null {
            old_host.clone()
        } else {
            pick_host(st, &affinity, new_domid)
        }
    } else {
        null.clone()
    };

    st.modify("VM", vm, |r| {
        set_field(r, "power_state", Value::String(to.to_owned()));
        set_field(r, "domid", int(new_domid));
        set_field(r, "resident_on", Value::String(host.clone()));
        set_field(
            r,
            "domarch",
            Value::String(if live(to) { "x64" } else { "" }.to_owned()),
        );
    });
    let now = DateTime::now();
    let control = st
        .get("VM", vm)
        .and_then(|r| crate::state::field(r, "is_control_domain"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let util = crate::metrics::vcpus_utilisation(
        st,
        &metrics,
        vcpus,
        crate::state::unix_now(),
        to == RUNNING,
        control,
    );
    st.modify("VM_metrics", &metrics, |r| {
        set_field(r, "memory_actual", int(if live(to) { memory } else { 0 }));
        set_field(r, "VCPUs_number", int(if live(to) { vcpus } else { 0 }));
        set_field(r, "VCPUs_utilisation", util);
        let cpu = (0..vcpus)
            .map(|i| (i.to_string(), int(if live(to) { i % 8 } else { -1 })))
            .collect();
        set_field(r, "VCPUs_CPU", Value::Struct(cpu));
        let state: &[&str] = match to {
            RUNNING => &["running"],
            PAUSED => &["paused"],
            _ => &[],
        };
        set_field(
            r,
            "state",
            Value::Array(
                state
                    .iter()
                    .map(|s| Value::String((*s).to_owned()))
                    .collect(),
            ),
        );
        if live(to) && (!live(from) || reboot) {
            set_field(r, "start_time", Value::DateTime(now.clone()));
        }
        set_field(r, "last_updated", Value::DateTime(now.clone()));
    });
    if old_host != host {
        if !old_host.is_empty() && old_host != null {
            st.modify("host", &old_host, |r| {
                remove_from_set(r, "resident_VMs", vm)
            });
        }
        if live(to) {
            st.modify("host", &host, |r| add_to_set(r, "resident_VMs", vm));
        }
    }
    if live(from) && (!live(to) || reboot) && old_domid >= 0 {
        st.dmesg(format!("Domain {old_domid} ({name}) destroyed"));
    }
    if live(to) && (!live(from) || reboot) {
        st.dmesg(format!(
            "Domain {new_domid} ({name}) created: {vcpus} vCPUs, {} MiB",
            memory >> 20
        ));
    }
    crate::lifecycle::after_power(st, vm, from, to);
    match (from, to) {
        (RUNNING, PAUSED) => st.dmesg(format!("Domain {new_domid} ({name}) paused")),
        (PAUSED, RUNNING) => st.dmesg(format!("Domain {new_domid} ({name}) unpaused")),
        (_, SUSPENDED) => st.dmesg(format!("Domain {old_domid} ({name}) suspended to disk")),
        _ => {}
    }
}

/// The hosts a VM may start on: enabled and live (xapi_vm_helpers.ml `assert_can_boot_here`:
/// `assert_host_is_live`, `assert_host_is_enabled`).
fn usable_hosts(st: &State) -> Vec<String> {
    let Some(hosts) = st.table("host") else {
        return Vec::new();
    };
    hosts
        .iter()
        .filter(|(_, r)| field(r, "enabled") == Some(&Value::Bool(true)))
        .filter(|(_, r)| {
            st.get("host_metrics", str_field(r, "metrics"))
                .is_some_and(|m| field(m, "live") == Some(&Value::Bool(true)))
        })
        .map(|(h, _)| h.clone())
        .collect()
}

/// The host a starting VM runs on: its affinity if that host is usable, else round-robin over
/// the usable ones.
fn pick_host(st: &State, affinity: &str, domid: i64) -> String {
    let usable = usable_hosts(st);
    if usable.iter().any(|h| h == affinity) {
        return affinity.to_owned();
    }
    if usable.is_empty() {
        return st.dialect.null_ref().to_owned();
    }
    usable[(domid.unsigned_abs() as usize) % usable.len()].clone()
}

pub(crate) fn add_to_set(r: &mut crate::state::Record, name: &str, item: &str) {
    if let Some((_, Value::Array(items))) = r.iter_mut().find(|(k, _)| k == name) {
        if !items.iter().any(|v| v.as_str() == Some(item)) {
            items.push(Value::String(item.to_owned()));
        }
    }
}

pub(crate) fn remove_from_set(r: &mut crate::state::Record, name: &str, item: &str) {
    if let Some((_, Value::Array(items))) = r.iter_mut().find(|(k, _)| k == name) {
        items.retain(|v| v.as_str() != Some(item));
    }
}
