//! The VM life cycle beyond power states: which operation a VM allows (xapi_vm_lifecycle.ml),
//! create, clone, copy, snapshot, revert, provision and destroy, and the memory and VCPU
//! setters with their constraints. sim/MODEL.md lists each rule and where it comes from.

use xenapi::{DateTime, Value};

use crate::dialect::Dialect;
use crate::dispatch::{arg_str, Failure};
use crate::net;
use crate::objects::{
    bool_of, exists, get_str, i64_of, link, map_of, map_value, need, put, random_mac,
    record_from_args, refs_of, s, unlink,
};
use crate::state::{field, int, set_field, str_field, Record, State};
use crate::storage;
use crate::template_disks;
use crate::vm::{HALTED, PAUSED, RUNNING, SUSPENDED};

const ALL: &[&str] = &[HALTED, PAUSED, SUSPENDED, RUNNING];

/// The power states `op` may start from (xapi_vm_lifecycle.ml, `allowed_power_states`), in
/// the order `VM_BAD_POWER_STATE` lists them.
fn allowed_power_states(rec: &Record, op: &str) -> Vec<&'static str> {
    let control = bool_of(rec, "is_control_domain");
    match op {
        "changing_VCPUs" | "changing_static_range" | "changing_memory_limits" => {
            if control {
                vec![HALTED, RUNNING]
            } else {
                vec![HALTED]
            }
        }
        "make_into_template" | "provision" | "start" | "start_on" => vec![HALTED],
        "unpause" => vec![PAUSED],
        "resume" | "resume_on" => vec![SUSPENDED],
        "clean_reboot" | "clean_shutdown" | "pause" | "suspend" | "pool_migrate" => {
            vec![RUNNING]
        }
        "migrate_send" => vec![HALTED, SUSPENDED, RUNNING],
        "changing_dynamic_range" => vec![HALTED, RUNNING],
        "clone" | "copy" => {
            if bool_of(rec, "is_a_snapshot") {
                vec![HALTED, SUSPENDED]
            } else {
                vec![HALTED]
            }
        }
        "destroy" | "export" => vec![HALTED, SUSPENDED],
        "hard_reboot" => vec![PAUSED, RUNNING],
        "shutdown" | "hard_shutdown" | "checkpoint" => vec![PAUSED, SUSPENDED, RUNNING],
        _ => ALL.to_vec(),
    }
}

/// The first reason `op` may not run on `vm` now, in xapi's order
/// (xapi_vm_lifecycle.ml, `check_operation_error`): blocked operations, the power state,
/// template and snapshot exceptions, provision/revert on the wrong kind of VM, control domains.
pub(crate) fn check(st: &State, vm: &str, op: &str) -> Result<(), Failure> {
    let rec = need(st, "VM", vm)?;
    if let Some((_, v)) = map_of(rec, "blocked_operations")
        .into_iter()
        .find(|(k, _)| k == op)
    {
        return Err(Failure::new("OPERATION_BLOCKED", &[vm, &v]));
    }
    let power = str_field(rec, "power_state");
    let dialect = st.dialect;
    let expected = if dialect == Dialect::Xend && op == "destroy" {
        // xend 3.x deletes only a Halted domain (XendDomain.py, `domain_delete`).
        vec![HALTED]
    } else {
        allowed_power_states(rec, op)
    };
    if !expected.contains(&power) {
        let e: Vec<String> = expected.iter().map(|p| dialect.state_name(p)).collect();
        return Err(Failure::new(
            "VM_BAD_POWER_STATE",
            &[vm, &e.join(", "), &dialect.state_name(power)],
        ));
    }
    let template = bool_of(rec, "is_a_template");
    let snapshot = bool_of(rec, "is_a_snapshot");
    if template && !snapshot {
        let default_template = map_of(rec, "other_config")
            .iter()
            .any(|(k, v)| k == "default_template" && v == "true");
        let ok = matches!(
            op,
            "changing_dynamic_range"
                | "changing_static_range"
                | "changing_memory_limits"
                | "changing_shadow_memory"
                | "changing_VCPUs"
                | "changing_NVRAM"
                | "clone"
                | "copy"
                | "export"
                | "metadata_export"
                | "provision"
        ) || (matches!(op, "destroy" | "migrate_send") && !default_template);
        if !ok {
            return Err(Failure::new("VM_IS_TEMPLATE", &[vm, op]));
        }
    }
    if snapshot
        && !matches!(
            op,
            "revert"
                | "clone"
                | "copy"
                | "export"
                | "destroy"
                | "hard_shutdown"
                | "metadata_export"
        )
    {
        return Err(Failure::new("VM_IS_SNAPSHOT", &[vm, op]));
    }
    if op == "provision" && !template {
        return Err(Failure::new("PROVISION_ONLY_ALLOWED_ON_TEMPLATE", &[]));
    }
    if op == "revert" && !snapshot {
        return Err(Failure::new("REVERT_ONLY_ALLOWED_ON_SNAPSHOT", &[]));
    }
    if bool_of(rec, "is_control_domain") {
        let dom0 = i64_of(rec, "domid") == 0;
        if dom0 && matches!(op, "changing_VCPUs" | "destroy") {
            return Err(Failure::new(
                "OPERATION_NOT_ALLOWED",
                &["This operation is not allowed on dom0"],
            ));
        }
        if !matches!(
            op,
            "data_source_op"
                | "changing_memory_live"
                | "awaiting_memory_live"
                | "metadata_export"
                | "changing_dynamic_range"
                | "changing_memory_limits"
                | "changing_static_range"
                | "start"
                | "start_on"
                | "changing_VCPUs"
                | "destroy"
        ) {
            return Err(Failure::new(
                "OPERATION_NOT_ALLOWED",
                &["This operation is not allowed on a control domain"],
            ));
        }
    }
    if matches!(
        op,
        "checkpoint" | "snapshot" | "suspend" | "snapshot_with_quiesce"
    ) {
        let reset = refs_of(rec, "VBDs").iter().any(|b| {
            let vdi = get_str(st, "VBD", b, "VDI");
            get_str(st, "VDI", &vdi, "on_boot") == "reset"
        });
        if reset {
            return Err(Failure::new(
                "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION",
                &[],
            ));
        }
    }
    Ok(())
}

/// The operations `allowed_operations` may list: the ones the simulator models.
const MODELLED: &[&str] = &[
    "snapshot",
    "clone",
    "copy",
    "revert",
    "provision",
    "start",
    "pause",
    "unpause",
    "clean_shutdown",
    "clean_reboot",
    "hard_shutdown",
    "hard_reboot",
    "suspend",
    "resume",
    "shutdown",
    "changing_dynamic_range",
    "changing_static_range",
    "changing_memory_limits",
    "changing_VCPUs",
    "destroy",
    "pool_migrate",
    "migrate_send",
];

/// Recomputes `VM.allowed_operations` (and its devices'), as xapi's
/// `update_allowed_operations` does after every change. The control domain keeps none.
pub(crate) fn refresh(st: &mut State, vm: &str) {
    let Some(rec) = st.get("VM", vm) else { return };
    let ops: Vec<Value> = if bool_of(rec, "is_control_domain") {
        Vec::new()
    } else {
        MODELLED
            .iter()
            .filter(|op| check(st, vm, op).is_ok())
            .map(|op| s(op))
            .collect()
    };
    let vbds = refs_of(rec, "VBDs");
    let vifs = refs_of(rec, "VIFs");
    if field(rec, "allowed_operations") != Some(&Value::Array(ops.clone())) {
        put(st, "VM", vm, "allowed_operations", Value::Array(ops));
    }
    for b in vbds {
        storage::vbd_refresh(st, &b);
    }
    for v in vifs {
        net::vif_refresh(st, &v);
    }
}

/// Follows a power-state change: devices attached while a domain exists (and detached when
/// the VM halts: xapi_vm_lifecycle.ml, `force_state_reset`), a console while it runs, guest
/// metrics once it has booted.
pub(crate) fn after_power(st: &mut State, vm: &str, from: &str, to: &str) {
    let Some(rec) = st.get("VM", vm) else { return };
    if bool_of(rec, "is_control_domain") {
        return;
    }
    let live = |p: &str| p == RUNNING || p == PAUSED;
    let vbds = refs_of(rec, "VBDs");
    let vifs = refs_of(rec, "VIFs");
    let consoles = refs_of(rec, "consoles");
    let gm = str_field(rec, "guest_metrics").to_owned();
    let uuid = str_field(rec, "uuid").to_owned();
    if live(to) && !live(from) && from != SUSPENDED {
        for b in &vbds {
            storage::vbd_set_attached(st, b, true);
        }
        for v in &vifs {
            net::vif_set_attached(st, v, true);
        }
    }
    if to == HALTED {
        for b in &vbds {
            storage::vbd_set_attached(st, b, false);
        }
        for v in &vifs {
            net::vif_set_attached(st, v, false);
        }
    }
    if live(to) && consoles.is_empty() {
        add_console(st, vm, &uuid);
    }
    if !live(to) {
        for c in consoles {
            st.remove("console", &c);
            unlink(st, "VM", vm, "consoles", &c);
        }
    }
    if to == RUNNING && !exists(st, "VM_guest_metrics", &gm) {
        add_guest_metrics(st, vm);
    }
    refresh(st, vm);
}

pub(crate) fn add_console(st: &mut State, vm: &str, vm_uuid: &str) {
    let (c_ref, mut c) = st.blank("console");
    let addr = if st.coordinator_addr.is_empty() {
        "127.0.0.1".to_owned()
    } else {
        st.coordinator_addr.clone()
    };
    let cu = str_field(&c, "uuid").to_owned();
    set_field(&mut c, "protocol", s("rfb"));
    set_field(
        &mut c,
        "location",
        s(&format!("https://{addr}/console?uuid={cu}")),
    );
    set_field(&mut c, "VM", s(vm));
    set_field(
        &mut c,
        "other_config",
        map_value(&[("vm_uuid".to_owned(), vm_uuid.to_owned())]),
    );
    st.add("console", c_ref.clone(), c);
    link(st, "VM", vm, "consoles", &c_ref);
}

pub(crate) fn add_guest_metrics(st: &mut State, vm: &str) {
    let n = st
        .get("VM", vm)
        .map(|r| refs_of(r, "VIFs"))
        .unwrap_or_default();
    let (g_ref, mut g) = st.blank("VM_guest_metrics");
    let x = (st.rng.next_u64() % 200) as u8 + 20;
    set_field(
        &mut g,
        "os_version",
        map_value(&[
            ("name".into(), "Debian GNU/Linux 12 (bookworm)".into()),
            ("distro".into(), "debian".into()),
            ("major".into(), "12".into()),
            ("uname".into(), "6.1.0-28-amd64".into()),
        ]),
    );
    set_field(
        &mut g,
        "PV_drivers_version",
        map_value(&[
            ("major".into(), "9".into()),
            ("minor".into(), "4".into()),
            ("micro".into(), "0".into()),
        ]),
    );
    // xapi copies each `control/feature-*` key a guest's PV drivers write in xenstore into
    // `other` (xapi_guest_agent.ml); programs check `feature-suspend` before VM.suspend.
    set_field(
        &mut g,
        "other",
        map_value(&[
            ("feature-poweroff".into(), "1".into()),
            ("feature-reboot".into(), "1".into()),
            ("feature-suspend".into(), "1".into()),
            ("feature-sysrq".into(), "1".into()),
        ]),
    );
    set_field(&mut g, "PV_drivers_up_to_date", Value::Bool(true));
    set_field(&mut g, "PV_drivers_detected", Value::Bool(true));
    set_field(&mut g, "can_use_hotplug_vbd", s("yes"));
    set_field(&mut g, "can_use_hotplug_vif", s("yes"));
    let nets: Vec<(String, String)> = (0..n.len())
        .map(|i| (format!("{i}/ip"), format!("10.0.{i}.{x}")))
        .collect();
    set_field(&mut g, "networks", map_value(&nets));
    set_field(&mut g, "live", Value::Bool(true));
    set_field(&mut g, "last_updated", Value::DateTime(DateTime::now()));
    st.add("VM_guest_metrics", g_ref.clone(), g);
    put(st, "VM", vm, "guest_metrics", s(&g_ref));
}

fn new_metrics(st: &mut State) -> String {
    let (m_ref, mut m) = st.blank("VM_metrics");
    set_field(&mut m, "install_time", Value::DateTime(DateTime::now()));
    set_field(&mut m, "last_updated", Value::DateTime(DateTime::now()));
    st.add("VM_metrics", m_ref.clone(), m);
    m_ref
}

/// The fields a new VM record never takes from its source or from `VM.create`'s argument:
/// the server's bookkeeping and the reverse sides of references.
const OWNED: &[&str] = &[
    "uuid",
    "allowed_operations",
    "current_operations",
    "power_state",
    "VBDs",
    "VIFs",
    "consoles",
    "crash_dumps",
    "VTPMs",
    "VGPUs",
    "VUSBs",
    "attached_PCIs",
    "snapshots",
    "children",
    "metrics",
    "guest_metrics",
    "resident_on",
    "scheduled_to_be_resident_on",
    "domid",
    "domarch",
    "is_control_domain",
    "is_a_snapshot",
    "snapshot_of",
    "snapshot_time",
    "suspend_VDI",
];

/// `VM.create(args)`: a Halted VM from the given record, with metrics; memory and VCPU
/// constraints checked as xapi's `create` does (xapi_vm_helpers.ml, `validate_basic_parameters`).
pub(crate) fn create(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let a = args
        .first()
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["args"]))?;
    let (r, mut rec) = record_from_args(st, "VM", a, OWNED)?;
    validate_vcpus(i64_of(&rec, "VCPUs_max"), i64_of(&rec, "VCPUs_at_startup"))?;
    let c = Memory::of(&rec);
    if !c.valid() {
        return Err(Failure::new("MEMORY_CONSTRAINT_VIOLATION", &[]));
    }
    let m = new_metrics(st);
    set_field(&mut rec, "metrics", s(&m));
    set_field(&mut rec, "power_state", s(HALTED));
    set_field(&mut rec, "domid", int(-1));
    let null = st.dialect.null_ref().to_owned();
    for f in [
        "resident_on",
        "scheduled_to_be_resident_on",
        "suspend_VDI",
        "guest_metrics",
        "snapshot_of",
    ] {
        set_field(&mut rec, f, s(&null));
    }
    let given = a.get("domain_type").and_then(Value::as_str).unwrap_or("");
    if given.is_empty() || given == "unspecified" {
        // xapi derives it from HVM_boot_policy (xapi_vm.ml, `create`).
        let hvm = !str_field(&rec, "HVM_boot_policy").is_empty();
        set_field(&mut rec, "domain_type", s(if hvm { "hvm" } else { "pv" }));
    }
    st.add("VM", r.clone(), rec);
    let parent = get_str(st, "VM", &r, "parent");
    link(st, "VM", &parent, "children", &r);
    refresh(st, &r);
    st.log(format!("VM.create {r}"));
    Ok(s(&r))
}

fn validate_vcpus(max: i64, at_startup: i64) -> Result<(), Failure> {
    if max < 1 {
        return Err(Failure::new(
            "INVALID_VALUE",
            &["VCPUs_max", &max.to_string()],
        ));
    }
    if at_startup < 1 {
        return Err(Failure::new(
            "INVALID_VALUE",
            &["VCPUs-at-startup", &at_startup.to_string()],
        ));
    }
    if at_startup > max {
        return Err(Failure::new(
            "VALUE_NOT_SUPPORTED",
            &[
                "VCPUs-at-startup",
                &at_startup.to_string(),
                "value greater than VCPUs-max",
            ],
        ));
    }
    Ok(())
}

/// A VM's memory constraints.
#[derive(Clone, Copy)]
struct Memory {
    static_min: i64,
    dynamic_min: i64,
    target: i64,
    dynamic_max: i64,
    static_max: i64,
}

impl Memory {
    fn of(rec: &Record) -> Memory {
        Memory {
            static_min: i64_of(rec, "memory_static_min"),
            dynamic_min: i64_of(rec, "memory_dynamic_min"),
            target: i64_of(rec, "memory_target"),
            dynamic_max: i64_of(rec, "memory_dynamic_max"),
            static_max: i64_of(rec, "memory_static_max"),
        }
    }

    /// static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max (vm_memory_constraints.ml,
    /// `are_valid`; the target is not part of the order since it is now unused).
    fn valid(&self) -> bool {
        self.static_min <= self.dynamic_min
            && self.dynamic_min <= self.dynamic_max
            && self.dynamic_max <= self.static_max
    }

    fn store(&self, st: &mut State, vm: &str) {
        let m = *self;
        st.modify("VM", vm, |r| {
            set_field(r, "memory_static_min", int(m.static_min));
            set_field(r, "memory_dynamic_min", int(m.dynamic_min));
            set_field(r, "memory_target", int(m.target));
            set_field(r, "memory_dynamic_max", int(m.dynamic_max));
            set_field(r, "memory_static_max", int(m.static_max));
        });
    }
}

fn int_arg(args: &[Value], i: usize, name: &str) -> Result<i64, Failure> {
    args.get(i)
        .and_then(Value::as_i64)
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &[name]))
}

/// The memory setters: every form goes through one of the range setters, as xapi's message
/// forwarding does (message_forwarding.ml, `set_memory_static_max` etc.), then the order
/// check (`MEMORY_CONSTRAINT_VIOLATION_ORDER`) and the power-state check of the operation.
pub(crate) fn set_memory(st: &mut State, message: &str, args: &[Value]) -> Result<Value, Failure> {
    let vm = arg_str(args, 0, "self")?.to_owned();
    let rec = need(st, "VM", &vm)?;
    let mut c = Memory::of(rec);
    let op = match message {
        "set_memory_limits" => {
            c.static_min = int_arg(args, 1, "static_min")?;
            c.static_max = int_arg(args, 2, "static_max")?;
            c.dynamic_min = int_arg(args, 3, "dynamic_min")?;
            c.dynamic_max = int_arg(args, 4, "dynamic_max")?;
            c.target = c.dynamic_min;
            "changing_memory_limits"
        }
        "set_memory" => {
            let v = int_arg(args, 1, "value")?;
            c.static_max = v;
            c.dynamic_min = v;
            c.dynamic_max = v;
            c.target = v;
            "changing_memory_limits"
        }
        "set_memory_static_range" => {
            c.static_min = int_arg(args, 1, "min")?;
            c.static_max = int_arg(args, 2, "max")?;
            "changing_static_range"
        }
        "set_memory_static_min" => {
            c.static_min = int_arg(args, 1, "value")?;
            "changing_static_range"
        }
        "set_memory_static_max" => {
            c.static_max = int_arg(args, 1, "value")?;
            "changing_static_range"
        }
        "set_memory_dynamic_range" => {
            c.dynamic_min = int_arg(args, 1, "min")?;
            c.dynamic_max = int_arg(args, 2, "max")?;
            c.target = c.dynamic_min;
            "changing_dynamic_range"
        }
        "set_memory_dynamic_min" => {
            c.dynamic_min = int_arg(args, 1, "value")?;
            c.target = c.dynamic_min;
            "changing_dynamic_range"
        }
        "set_memory_dynamic_max" => {
            c.dynamic_max = int_arg(args, 1, "value")?;
            c.target = c.dynamic_min;
            "changing_dynamic_range"
        }
        _ => return Err(Failure::not_implemented(&format!("VM.{message}"))),
    };
    check(st, &vm, op)?;
    if !c.valid() {
        return Err(Failure::new("MEMORY_CONSTRAINT_VIOLATION_ORDER", &[]));
    }
    c.store(st, &vm);
    let overhead = c.static_max / 128 + 8 * (1 << 20);
    put(st, "VM", &vm, "memory_overhead", int(overhead));
    st.log(format!("VM.{message} {vm}"));
    Ok(s(""))
}

/// `VM.set_VCPUs_max` / `VM.set_VCPUs_at_startup` (xapi_vm.ml): 0 < at_startup ≤ max.
pub(crate) fn set_vcpus(st: &mut State, message: &str, args: &[Value]) -> Result<Value, Failure> {
    let vm = arg_str(args, 0, "self")?.to_owned();
    let value = int_arg(args, 1, "value")?;
    let rec = need(st, "VM", &vm)?;
    let dom0 = bool_of(rec, "is_control_domain") && i64_of(rec, "domid") == 0;
    let max = i64_of(rec, "VCPUs_max");
    let at_startup = i64_of(rec, "VCPUs_at_startup");
    if message == "set_VCPUs_max" {
        // Through the changing_VCPUs operation (message_forwarding.ml); at_startup is not,
        // so it may change on a running VM or a template, for the next boot.
        check(st, &vm, "changing_VCPUs")?;
    } else if dom0 {
        return Err(Failure::new(
            "OPERATION_NOT_ALLOWED",
            &["set_VCPUs_at_startup is not allowed on dom0"],
        ));
    }
    let bad = if message == "set_VCPUs_max" {
        value < 1 || value < at_startup
    } else {
        value < 1 || value > max
    };
    if bad {
        return Err(Failure::new(
            "INVALID_VALUE",
            &[
                "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max",
                &value.to_string(),
            ],
        ));
    }
    let f = if message == "set_VCPUs_max" {
        "VCPUs_max"
    } else {
        "VCPUs_at_startup"
    };
    put(st, "VM", &vm, f, int(value));
    st.log(format!("VM.{message} {vm} {value}"));
    Ok(s(""))
}

/// `VM.set_is_a_template`: making a template is the `make_into_template` operation (Halted,
/// not already a template or a snapshot: message_forwarding.ml `set_is_a_template`); turning one
/// into a VM is "install time" (xapi_vm_helpers.ml `set_is_a_template` sets
/// `VM_metrics.install_time`).
pub(crate) fn set_is_a_template(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let vm = arg_str(args, 0, "self")?.to_owned();
    let value = match args.get(1) {
        Some(Value::Bool(b)) => *b,
        _ => return Err(Failure::new("FIELD_TYPE_ERROR", &["value"])),
    };
    let rec = need(st, "VM", &vm)?;
    let metrics = str_field(rec, "metrics").to_owned();
    if value {
        check(st, &vm, "make_into_template")?;
    } else if exists(st, "VM_metrics", &metrics) {
        put(
            st,
            "VM_metrics",
            &metrics,
            "install_time",
            Value::DateTime(DateTime::now()),
        );
    }
    put(st, "VM", &vm, "is_a_template", Value::Bool(value));
    refresh(st, &vm);
    st.log(format!("VM.set_is_a_template {vm} {value}"));
    Ok(s(""))
}

/// What happens to the disks when a VM is duplicated (xapi_vm_clone.ml, `disk_op`).
#[derive(Clone, PartialEq)]
pub(crate) enum DiskOp {
    Clone,
    /// Copy into this SR (`None`: each disk's own SR).
    Copy(Option<String>),
    Snapshot,
}

/// Duplicates `vm` (xapi_vm_clone.ml, `clone`): its disks by `op`, then the VM record, its
/// VBDs (disk VBDs marked `owner`) and VIFs. Disks made before a failure are destroyed again.
pub(crate) fn duplicate(
    st: &mut State,
    vm: &str,
    new_name: &str,
    op: DiskOp,
    ignore_vdis: &[String],
) -> Result<String, Failure> {
    let src = need(st, "VM", vm)?.clone();
    let is_snapshot = op == DiskOp::Snapshot;
    let power = str_field(&src, "power_state").to_owned();
    let new_power = if !is_snapshot && power == SUSPENDED {
        SUSPENDED
    } else {
        HALTED
    };
    let null = st.dialect.null_ref().to_owned();
    // The disks first.
    let mut made: Vec<(String, String)> = Vec::new(); // (source VBD, new VDI or "")
    for b in refs_of(&src, "VBDs") {
        let Some(br) = st.get("VBD", &b) else {
            continue;
        };
        let vdi = str_field(br, "VDI").to_owned();
        if is_snapshot && ignore_vdis.contains(&vdi) {
            continue;
        }
        let new_vdi = if bool_of(br, "empty") {
            String::new()
        } else if str_field(br, "type") == "CD" {
            vdi.clone()
        } else {
            let res = match &op {
                DiskOp::Clone => storage::vdi_clone(st, &vdi),
                DiskOp::Snapshot => storage::vdi_snapshot(st, &vdi),
                DiskOp::Copy(sr) => {
                    let target = sr.clone().unwrap_or_else(|| get_str(st, "VDI", &vdi, "SR"));
                    storage::vdi_copy(st, &[s(&vdi), s(&target)])
                        .map(|v| v.as_str().unwrap_or_default().to_owned())
                }
            };
            match res {
                Ok(v) => v,
                Err(e) => {
                    for (vb, nv) in &made {
                        let was_cd = st
                            .get("VBD", vb)
                            .is_some_and(|r| str_field(r, "type") == "CD");
                        if !nv.is_empty() && !was_cd {
                            let _ = storage::vdi_destroy(st, nv);
                        }
                    }
                    return Err(e);
                }
            }
        };
        made.push((b, new_vdi));
    }
    // The VM record.
    let (r, mut rec) = st.blank("VM");
    let uuid = str_field(&rec, "uuid").to_owned();
    for (k, v) in &src {
        if !OWNED.contains(&k.as_str()) {
            set_field(&mut rec, k, v.clone());
        }
    }
    set_field(&mut rec, "uuid", s(&uuid));
    set_field(&mut rec, "name_label", s(new_name));
    set_field(&mut rec, "power_state", s(new_power));
    set_field(&mut rec, "domid", int(-1));
    set_field(&mut rec, "domarch", s(""));
    for f in [
        "resident_on",
        "scheduled_to_be_resident_on",
        "suspend_VDI",
        "guest_metrics",
    ] {
        set_field(&mut rec, f, s(&null));
    }
    for f in [
        "appliance",
        "protection_policy",
        "snapshot_schedule",
        "suspend_SR",
    ] {
        set_field(&mut rec, f, s(&null));
    }
    for f in ["start_delay", "shutdown_delay", "order", "version"] {
        set_field(&mut rec, f, int(0));
    }
    set_field(
        &mut rec,
        "is_a_template",
        Value::Bool(is_snapshot || bool_of(&src, "is_a_template")),
    );
    set_field(&mut rec, "is_a_snapshot", Value::Bool(is_snapshot));
    set_field(
        &mut rec,
        "snapshot_of",
        s(if is_snapshot { vm } else { &null }),
    );
    set_field(
        &mut rec,
        "snapshot_time",
        Value::DateTime(if is_snapshot {
            DateTime::now()
        } else {
            DateTime::from_unix(0)
        }),
    );
    let info: Vec<(String, String)> = if is_snapshot {
        vec![
            ("disk-snapshot-type".into(), "crash_consistent".into()),
            ("power-state-at-snapshot".into(), power.clone()),
        ]
    } else {
        Vec::new()
    };
    set_field(&mut rec, "snapshot_info", map_value(&info));
    set_field(&mut rec, "snapshot_metadata", s(""));
    set_field(
        &mut rec,
        "parent",
        s(if is_snapshot {
            str_field(&src, "parent")
        } else {
            &null
        }),
    );
    let mut oc = map_of(&src, "other_config");
    if !is_snapshot {
        let seed = st.rng.uuid();
        oc.retain(|(k, _)| k != "mac_seed");
        oc.push(("mac_seed".into(), seed));
    }
    oc.retain(|(k, _)| k != "default_template" && k != "xensource_internal");
    if bool_of(&src, "is_a_template") && !oc.iter().any(|(k, _)| k == "base_template_name") {
        oc.push((
            "base_template_name".into(),
            str_field(&src, "name_label").to_owned(),
        ));
    }
    set_field(&mut rec, "other_config", map_value(&oc));
    let g = format!("{}:{}", st.rng.next_u64() >> 1, st.rng.next_u64() >> 1);
    set_field(&mut rec, "generation_id", s(&g));
    let m = new_metrics(st);
    set_field(&mut rec, "metrics", s(&m));
    st.add("VM", r.clone(), rec);
    // Devices.
    for (b, new_vdi) in made {
        let Some(br) = st.get("VBD", &b).cloned() else {
            continue;
        };
        let (nb, mut nr) = st.blank("VBD");
        let nu = str_field(&nr, "uuid").to_owned();
        for (k, v) in &br {
            set_field(&mut nr, k, v.clone());
        }
        set_field(&mut nr, "uuid", s(&nu));
        set_field(&mut nr, "VM", s(&r));
        let empty = new_vdi.is_empty();
        set_field(&mut nr, "VDI", s(if empty { &null } else { &new_vdi }));
        set_field(&mut nr, "currently_attached", Value::Bool(false));
        set_field(&mut nr, "device", s(""));
        if str_field(&br, "type") == "Disk" {
            let mut voc = map_of(&br, "other_config");
            if !voc.iter().any(|(k, _)| k == "owner") {
                voc.push(("owner".into(), String::new()));
            }
            set_field(&mut nr, "other_config", map_value(&voc));
        }
        storage::store_vbd(st, nb, nr);
    }
    for v in refs_of(&src, "VIFs") {
        let Some(vr) = st.get("VIF", &v).cloned() else {
            continue;
        };
        let (nv, mut nr) = st.blank("VIF");
        let nu = str_field(&nr, "uuid").to_owned();
        for (k, val) in &vr {
            set_field(&mut nr, k, val.clone());
        }
        set_field(&mut nr, "uuid", s(&nu));
        set_field(&mut nr, "VM", s(&r));
        set_field(&mut nr, "currently_attached", Value::Bool(false));
        if !is_snapshot {
            let mac = random_mac(st);
            set_field(&mut nr, "MAC", s(&mac));
            set_field(&mut nr, "MAC_autogenerated", Value::Bool(true));
        }
        net::store_vif(st, nv, nr);
    }
    if is_snapshot {
        link(st, "VM", vm, "snapshots", &r);
        // The snapshot becomes the VM's parent (xapi_vm_clone.ml, `copy_vm_record`).
        let old_parent = str_field(&src, "parent").to_owned();
        unlink(st, "VM", &old_parent, "children", vm);
        link(st, "VM", &old_parent, "children", &r);
        put(st, "VM", vm, "parent", s(&r));
        link(st, "VM", &r, "children", vm);
    }
    refresh(st, &r);
    Ok(r)
}

/// `VM.clone`, `VM.copy`, `VM.snapshot`.
pub(crate) fn clone_like(st: &mut State, message: &str, args: &[Value]) -> Result<Value, Failure> {
    let vm = arg_str(args, 0, "vm")?.to_owned();
    let new_name = arg_str(args, 1, "new_name")?.to_owned();
    let (op, ignore) = match message {
        "clone" => (DiskOp::Clone, Vec::new()),
        "copy" => {
            let sr = arg_str(args, 2, "sr")?;
            let sr = if exists(st, "SR", sr) {
                if get_str(st, "SR", sr, "content_type") == "iso" {
                    return Err(Failure::new(
                        "OPERATION_NOT_ALLOWED",
                        &["Cannot copy a VM's disks to an ISO SR"],
                    ));
                }
                Some(sr.to_owned())
            } else {
                None
            };
            (DiskOp::Copy(sr), Vec::new())
        }
        _ => {
            let ignore = args
                .get(2)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (DiskOp::Snapshot, ignore)
        }
    };
    check(st, &vm, message)?;
    let r = duplicate(st, &vm, &new_name, op, &ignore)?;
    st.log(format!("VM.{message} {vm} -> {r} ({new_name})"));
    Ok(s(&r))
}

/// `VM.provision` (xapi_vm.ml `provision`, xapi_templates.ml `pre_install`/`post_install`):
/// the template stops being one, each disk of its `disks` key becomes a VDI (in the SR the
/// `sr` attribute names by UUID) with a VBD marked `owner`, and the install keys are removed.
pub(crate) fn provision(st: &mut State, vm: &str) -> Result<Value, Failure> {
    check(st, vm, "provision")?;
    let rec = need(st, "VM", vm)?;
    let uuid = str_field(rec, "uuid").to_owned();
    let oc = map_of(rec, "other_config");
    put(st, "VM", vm, "is_a_template", Value::Bool(false));
    let disks = match oc.iter().find(|(k, _)| k == "disks") {
        Some((_, xml)) => template_disks::parse(xml).map_err(|why| {
            Failure::new(
                "INTERNAL_ERROR",
                &[&format!(
                    "Xapi_templates.Parse_failure: the disks key is not a <provision> document ({why})"
                )],
            )
        })?,
        None => Vec::new(),
    };
    let mut created: Vec<(String, String)> = Vec::new();
    let mut fail = None;
    for d in &disks {
        let sr = st.table("SR").and_then(|t| {
            t.iter()
                .find(|(_, r)| str_field(r, "uuid") == d.sr)
                .map(|(r, _)| r.clone())
        });
        let Some(sr) = sr else {
            fail = Some(Failure::new("UUID_INVALID", &["sr", &d.sr]));
            break;
        };
        let vdi = match storage::new_vdi(
            st,
            &sr,
            &d.device,
            "Created by template provisioner",
            d.size,
            &d.ty,
            &[],
        ) {
            Ok(v) => v,
            Err(e) => {
                fail = Some(e);
                break;
            }
        };
        put(
            st,
            "VDI",
            &vdi,
            "sm_config",
            map_value(&[("vmhint".into(), uuid.clone())]),
        );
        let (b, mut br) = st.blank("VBD");
        set_field(&mut br, "VM", s(vm));
        set_field(&mut br, "VDI", s(&vdi));
        set_field(&mut br, "userdevice", s(&d.device));
        set_field(&mut br, "bootable", Value::Bool(d.bootable));
        set_field(&mut br, "mode", s("RW"));
        set_field(&mut br, "type", s("Disk"));
        set_field(&mut br, "unpluggable", Value::Bool(d.ty != "system"));
        set_field(
            &mut br,
            "other_config",
            map_value(&[("owner".into(), String::new())]),
        );
        let b = storage::store_vbd(st, b, br);
        created.push((b, vdi));
    }
    if let Some(e) = fail {
        for (b, v) in created {
            storage::remove_vbd(st, &b);
            let _ = storage::vdi_destroy(st, &v);
        }
        refresh(st, vm);
        return Err(e);
    }
    let rest: Vec<(String, String)> = oc
        .into_iter()
        .filter(|(k, _)| k != "disks" && k != "postinstall")
        .collect();
    put(st, "VM", vm, "other_config", map_value(&rest));
    refresh(st, vm);
    st.log(format!("VM.provision {vm}: {} disk(s)", disks.len()));
    Ok(s(""))
}

/// `VM.destroy` (xapi_vm.ml `destroy`, xapi_vm_helpers.ml `destroy`): Halted or Suspended
/// only; its VBDs, VIFs, metrics, guest metrics and consoles go with it, its VDIs stay.
pub(crate) fn destroy(st: &mut State, vm: &str) -> Result<Value, Failure> {
    check(st, vm, "destroy")?;
    let rec = need(st, "VM", vm)?.clone();
    let default_template = map_of(&rec, "other_config")
        .iter()
        .any(|(k, v)| k == "default_template" && v == "true");
    if default_template {
        return Err(Failure::new("VM_CANNOT_DELETE_DEFAULT_TEMPLATE", &[vm]));
    }
    let parent = str_field(&rec, "parent").to_owned();
    for child in refs_of(&rec, "children") {
        if exists(st, "VM", &child) {
            put(st, "VM", &child, "parent", s(&parent));
            link(st, "VM", &parent, "children", &child);
        }
    }
    unlink(st, "VM", &parent, "children", vm);
    for b in refs_of(&rec, "VBDs") {
        storage::remove_vbd(st, &b);
    }
    for v in refs_of(&rec, "VIFs") {
        net::remove_vif(st, &v);
    }
    for c in refs_of(&rec, "consoles") {
        st.remove("console", &c);
    }
    st.remove("VM_metrics", str_field(&rec, "metrics"));
    st.remove("VM_guest_metrics", str_field(&rec, "guest_metrics"));
    let snapshot_of = str_field(&rec, "snapshot_of").to_owned();
    unlink(st, "VM", &snapshot_of, "snapshots", vm);
    let host = str_field(&rec, "resident_on").to_owned();
    unlink(st, "host", &host, "resident_VMs", vm);
    st.remove("VM", vm);
    st.log(format!(
        "VM.destroy {vm} ({})",
        str_field(&rec, "name_label")
    ));
    Ok(s(""))
}

/// Fields a revert copies from the snapshot to the VM (xapi_vm_snapshot.ml, everything but
/// `do_not_copy`; here, the configuration a test can observe).
const REVERTED: &[&str] = &[
    "name_description",
    "user_version",
    "memory_static_min",
    "memory_dynamic_min",
    "memory_target",
    "memory_dynamic_max",
    "memory_static_max",
    "memory_overhead",
    "VCPUs_max",
    "VCPUs_at_startup",
    "VCPUs_params",
    "actions_after_shutdown",
    "actions_after_reboot",
    "actions_after_crash",
    "PV_bootloader",
    "PV_kernel",
    "PV_ramdisk",
    "PV_args",
    "PV_bootloader_args",
    "HVM_boot_policy",
    "HVM_boot_params",
    "platform",
    "other_config",
    "xenstore_data",
    "domain_type",
];

/// `VM.revert(snapshot)` (xapi_vm_snapshot.ml, `revert`): the VM's domain goes, its disks
/// that have a snapshot in this one are destroyed and replaced by clones of the snapshot's
/// (disks without one are detached and kept), its VIFs by the snapshot's (same MACs), its
/// configuration by the snapshot's; it ends in the snapshot's power state.
pub(crate) fn revert(st: &mut State, snap: &str) -> Result<Value, Failure> {
    check(st, snap, "revert")?;
    let srec = need(st, "VM", snap)?.clone();
    let vm = str_field(&srec, "snapshot_of").to_owned();
    if !exists(st, "VM", &vm) {
        return Err(Failure::not_implemented(
            "VM.revert of a snapshot whose VM is gone (xapi would re-create it from the snapshot)",
        ));
    }
    check(st, &vm, "reverting")?;
    let vrec = need(st, "VM", &vm)?.clone();
    let power = str_field(&vrec, "power_state").to_owned();
    if power != HALTED {
        crate::vm::set_power(st, &vm, &power, HALTED, false);
    }
    let snap_disks: Vec<String> = refs_of(&srec, "VBDs")
        .iter()
        .filter(|b| get_str(st, "VBD", b, "type") == "Disk")
        .map(|b| get_str(st, "VBD", b, "VDI"))
        .collect();
    let originals: Vec<String> = snap_disks
        .iter()
        .map(|v| get_str(st, "VDI", v, "snapshot_of"))
        .collect();
    // Clone the snapshot's disks first, so a full SR leaves the VM as it was.
    let mut clones: Vec<(Record, String)> = Vec::new();
    for b in refs_of(&srec, "VBDs") {
        let Some(br) = st.get("VBD", &b).cloned() else {
            continue;
        };
        let new_vdi = if str_field(&br, "type") == "Disk" && !bool_of(&br, "empty") {
            match storage::vdi_clone(st, str_field(&br, "VDI")) {
                Ok(v) => v,
                Err(e) => {
                    for (_, v) in clones {
                        let _ = storage::vdi_destroy(st, &v);
                    }
                    return Err(e);
                }
            }
        } else {
            str_field(&br, "VDI").to_owned()
        };
        clones.push((br, new_vdi));
    }
    for b in refs_of(&vrec, "VBDs") {
        let Some(br) = st.get("VBD", &b).cloned() else {
            continue;
        };
        let vdi = str_field(&br, "VDI").to_owned();
        let disk = str_field(&br, "type") == "Disk";
        storage::remove_vbd(st, &b);
        if disk && originals.contains(&vdi) {
            let _ = storage::vdi_destroy(st, &vdi);
        }
    }
    let null = st.dialect.null_ref().to_owned();
    for (br, new_vdi) in clones {
        let (nb, mut nr) = st.blank("VBD");
        let nu = str_field(&nr, "uuid").to_owned();
        for (k, v) in &br {
            set_field(&mut nr, k, v.clone());
        }
        set_field(&mut nr, "uuid", s(&nu));
        set_field(&mut nr, "VM", s(&vm));
        let empty = bool_of(&br, "empty");
        set_field(&mut nr, "VDI", s(if empty { &null } else { &new_vdi }));
        set_field(&mut nr, "currently_attached", Value::Bool(false));
        set_field(&mut nr, "device", s(""));
        storage::store_vbd(st, nb, nr);
    }
    for v in refs_of(&vrec, "VIFs") {
        net::remove_vif(st, &v);
    }
    for v in refs_of(&srec, "VIFs") {
        let Some(vr) = st.get("VIF", &v).cloned() else {
            continue;
        };
        let (nv, mut nr) = st.blank("VIF");
        let nu = str_field(&nr, "uuid").to_owned();
        for (k, val) in &vr {
            set_field(&mut nr, k, val.clone());
        }
        set_field(&mut nr, "uuid", s(&nu));
        set_field(&mut nr, "VM", s(&vm));
        set_field(&mut nr, "currently_attached", Value::Bool(false));
        net::store_vif(st, nv, nr);
    }
    st.modify("VM", &vm, |r| {
        for f in REVERTED {
            if let Some(v) = field(&srec, f) {
                set_field(r, f, v.clone());
            }
        }
    });
    let old_parent = str_field(&vrec, "parent").to_owned();
    unlink(st, "VM", &old_parent, "children", &vm);
    put(st, "VM", &vm, "parent", s(snap));
    link(st, "VM", snap, "children", &vm);
    let target = str_field(&srec, "power_state").to_owned();
    put(st, "VM", &vm, "power_state", s(&target));
    refresh(st, &vm);
    st.log(format!("VM.revert {vm} to {snap}"));
    Ok(s(""))
}
