//! Storage: SRs with their PBDs and space accounting, VDIs and VBDs (sim/MODEL.md lists each
//! rule and where in xapi it comes from).
//!
//! Space is thick-provisioned: a VDI occupies its whole `virtual_size` in its SR
//! (`physical_utilisation`), snapshots and clones included, so that what a test creates and
//! destroys shows up in the SR's `physical_utilisation` byte for byte.

use xenapi::{DateTime, Value};

use crate::dispatch::{arg_str, Failure};
use crate::objects::{
    bool_of, exists, get_str, i64_of, link, map_value, need, put, record_from_args, refs_of, s,
    unlink,
};
use crate::state::{int, set_field, str_field, Record, State};
use crate::vm::RUNNING;

/// The operations an SR of content type `content` allows.
pub(crate) fn sr_allowed_operations(content: &str) -> Value {
    let ops: &[&str] = if content == "iso" {
        &[
            "scan",
            "forget",
            "plug",
            "unplug",
            "update",
            "pbd_create",
            "pbd_destroy",
        ]
    } else {
        &[
            "scan",
            "destroy",
            "forget",
            "plug",
            "unplug",
            "update",
            "vdi_create",
            "vdi_introduce",
            "vdi_destroy",
            "vdi_resize",
            "vdi_clone",
            "vdi_snapshot",
            "vdi_mirror",
            "vdi_enable_cbt",
            "vdi_disable_cbt",
            "vdi_data_destroy",
            "vdi_list_changed_blocks",
            "vdi_set_on_boot",
            "pbd_create",
            "pbd_destroy",
        ]
    };
    Value::Array(ops.iter().map(|o| s(o)).collect())
}

/// A VDI's `allowed_operations`: everything while no VBD holds it attached; only the
/// operations xapi allows on a live disk while one does (xapi_vdi.ml,
/// `operation_can_be_performed_live`).
fn vdi_allowed_operations(attached: bool, iso: bool) -> Value {
    let ops: &[&str] = match (iso, attached) {
        (true, _) => &["forget", "generate_config", "update"],
        (false, true) => &["snapshot", "clone", "resize_online", "mirror", "blocked"],
        (false, false) => &[
            "clone",
            "copy",
            "resize",
            "snapshot",
            "mirror",
            "destroy",
            "forget",
            "update",
            "generate_config",
            "data_destroy",
            "set_on_boot",
            "blocked",
        ],
    };
    Value::Array(ops.iter().map(|o| s(o)).collect())
}

/// Brings `SR.physical_utilisation` and `virtual_allocation` in line with its VDIs.
pub(crate) fn recount(st: &mut State, sr: &str) {
    let Some(rec) = st.get("SR", sr) else { return };
    let vdis = refs_of(rec, "VDIs");
    let (mut used, mut virt) = (0i64, 0i64);
    for v in &vdis {
        if let Some(vr) = st.get("VDI", v) {
            used += i64_of(vr, "physical_utilisation");
            virt += i64_of(vr, "virtual_size");
        }
    }
    let old_used = i64_of(rec, "physical_utilisation");
    let old_virt = i64_of(rec, "virtual_allocation");
    if old_used != used || old_virt != virt {
        st.modify("SR", sr, |r| {
            set_field(r, "physical_utilisation", int(used));
            set_field(r, "virtual_allocation", int(virt));
        });
    }
}

/// Adds `size` bytes (negative: frees them) to the SR's utilisation and allocation, without
/// walking its VDIs (thick provisioning: both move together).
fn account(st: &mut State, sr: &str, size: i64) {
    if size == 0 || st.get("SR", sr).is_none() {
        return;
    }
    st.modify("SR", sr, |r| {
        let used = i64_of(r, "physical_utilisation") + size;
        let virt = i64_of(r, "virtual_allocation") + size;
        set_field(r, "physical_utilisation", int(used));
        set_field(r, "virtual_allocation", int(virt));
    });
}

/// Free bytes in `sr`.
pub(crate) fn free_space(st: &State, sr: &str) -> i64 {
    st.get("SR", sr)
        .map(|r| i64_of(r, "physical_size") - i64_of(r, "physical_utilisation"))
        .unwrap_or(0)
}

/// `SR_FULL [requested; maximum]` unless `sr` has `bytes` free.
fn assert_space(st: &State, sr: &str, bytes: i64) -> Result<(), Failure> {
    let free = free_space(st, sr);
    if bytes > free {
        return Err(Failure::new(
            "SR_FULL",
            &[&bytes.to_string(), &free.max(0).to_string()],
        ));
    }
    Ok(())
}

/// `SR_NO_PBDS` unless some PBD of `sr` is plugged (Sm.assert_pbd_is_plugged).
fn assert_plugged(st: &State, sr: &str) -> Result<(), Failure> {
    let rec = need(st, "SR", sr)?;
    let plugged = refs_of(rec, "PBDs").iter().any(|p| {
        st.get("PBD", p)
            .is_some_and(|pr| bool_of(pr, "currently_attached"))
    });
    if plugged {
        Ok(())
    } else {
        Err(Failure::new("SR_NO_PBDS", &[sr]))
    }
}

fn is_iso_sr(st: &State, sr: &str) -> bool {
    get_str(st, "SR", sr, "content_type") == "iso"
}

/// Stores a new VDI record (already filled in) in `sr`, after the space check; keeps
/// `SR.VDIs` and the SR's accounting.
fn store_vdi(st: &mut State, r: String, mut rec: Record, sr: &str) -> Result<String, Failure> {
    let size = i64_of(&rec, "virtual_size");
    if size < 0 {
        return Err(Failure::new(
            "INVALID_VALUE",
            &["virtual_size", &size.to_string()],
        ));
    }
    if !is_iso_sr(st, sr) {
        assert_space(st, sr, size)?;
    }
    let uuid = str_field(&rec, "uuid").to_owned();
    set_field(&mut rec, "SR", s(sr));
    set_field(&mut rec, "location", s(&uuid));
    set_field(&mut rec, "managed", Value::Bool(true));
    set_field(&mut rec, "physical_utilisation", int(size));
    set_field(&mut rec, "VBDs", Value::Array(Vec::new()));
    set_field(&mut rec, "snapshots", Value::Array(Vec::new()));
    set_field(&mut rec, "crash_dumps", Value::Array(Vec::new()));
    set_field(&mut rec, "current_operations", Value::Struct(Vec::new()));
    set_field(
        &mut rec,
        "allowed_operations",
        vdi_allowed_operations(false, is_iso_sr(st, sr)),
    );
    st.add("VDI", r.clone(), rec);
    link(st, "SR", sr, "VDIs", &r);
    account(st, sr, size);
    Ok(r)
}

/// A new VDI of `size` bytes in `sr`, for the world builder and provisioning.
pub(crate) fn new_vdi(
    st: &mut State,
    sr: &str,
    name: &str,
    description: &str,
    size: i64,
    ty: &str,
    other_config: &[(String, String)],
) -> Result<String, Failure> {
    let (r, mut rec) = st.blank("VDI");
    set_field(&mut rec, "name_label", s(name));
    set_field(&mut rec, "name_description", s(description));
    set_field(&mut rec, "virtual_size", int(size));
    set_field(&mut rec, "type", s(ty));
    set_field(&mut rec, "other_config", map_value(other_config));
    store_vdi(st, r, rec, sr)
}

/// `VDI.create(args)`.
pub(crate) fn vdi_create(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let a = args
        .first()
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["args"]))?;
    let (r, rec) = record_from_args(
        st,
        "VDI",
        a,
        &[
            "VBDs",
            "snapshots",
            "crash_dumps",
            "physical_utilisation",
            "location",
            "allowed_operations",
            "current_operations",
            "is_a_snapshot",
            "snapshot_of",
        ],
    )?;
    let sr = str_field(&rec, "SR").to_owned();
    need(st, "SR", &sr)?;
    if str_field(&rec, "type") == "cbt_metadata" {
        return Err(Failure::new("VDI_INCOMPATIBLE_TYPE", &["", "cbt_metadata"]));
    }
    assert_plugged(st, &sr)?;
    if is_iso_sr(st, &sr) {
        return Err(Failure::new("SR_OPERATION_NOT_SUPPORTED", &[&sr]));
    }
    let r = store_vdi(st, r, rec, &sr)?;
    st.log(format!("VDI.create {r} in SR {sr}"));
    Ok(s(&r))
}

/// Whether any VBD of `vdi` is currently attached.
fn vdi_attached(st: &State, vdi: &str) -> Vec<String> {
    st.get("VDI", vdi)
        .map(|r| refs_of(r, "VBDs"))
        .unwrap_or_default()
        .into_iter()
        .filter(|b| {
            st.get("VBD", b)
                .is_some_and(|br| bool_of(br, "currently_attached"))
        })
        .collect()
}

/// Refreshes a VDI's `allowed_operations` after a VBD attach or detach.
pub(crate) fn vdi_refresh(st: &mut State, vdi: &str) {
    if !exists(st, "VDI", vdi) {
        return;
    }
    let attached = !vdi_attached(st, vdi).is_empty();
    let sr = get_str(st, "VDI", vdi, "SR");
    let ops = vdi_allowed_operations(attached, is_iso_sr(st, &sr));
    put(st, "VDI", vdi, "allowed_operations", ops);
}

/// `VDI.destroy`: refused while attached; its (detached) VBDs go with it (xapi_vdi.ml,
/// `destroy_and_data_destroy_common`).
pub(crate) fn vdi_destroy(st: &mut State, vdi: &str) -> Result<(), Failure> {
    let rec = need(st, "VDI", vdi)?;
    let sr = str_field(rec, "SR").to_owned();
    let vbds = refs_of(rec, "VBDs");
    let snapshot_of = str_field(rec, "snapshot_of").to_owned();
    let snapshots = refs_of(rec, "snapshots");
    assert_plugged(st, &sr)?;
    if !vdi_attached(st, vdi).is_empty() {
        return Err(Failure::new("VDI_IN_USE", &[vdi, "destroy"]));
    }
    let gone = st.remove("VDI", vdi);
    let freed = gone
        .as_ref()
        .map_or(0, |r| i64_of(r, "physical_utilisation"));
    if let Some(r) = &gone {
        // Its content goes with it (crate::disks).
        if let Err(e) = st.disks.remove(str_field(r, "uuid")) {
            st.log(format!("VDI.destroy {vdi}: its content stays behind: {e}"));
        }
    }
    unlink(st, "SR", &sr, "VDIs", vdi);
    unlink(st, "VDI", &snapshot_of, "snapshots", vdi);
    let null = st.dialect.null_ref().to_owned();
    for snap in snapshots {
        if exists(st, "VDI", &snap) {
            put(st, "VDI", &snap, "snapshot_of", s(&null));
        }
    }
    for b in vbds {
        if let Some(br) = st.remove("VBD", &b) {
            let vm = str_field(&br, "VM").to_owned();
            unlink(st, "VM", &vm, "VBDs", &b);
            let m = str_field(&br, "metrics").to_owned();
            st.remove("VBD_metrics", &m);
        }
    }
    // A VM whose suspend image this was forgets it.
    let holders: Vec<String> = st
        .table("VM")
        .map(|t| {
            t.iter()
                .filter(|(_, r)| str_field(r, "suspend_VDI") == vdi)
                .map(|(r, _)| r.clone())
                .collect()
        })
        .unwrap_or_default();
    for h in holders {
        put(st, "VM", &h, "suspend_VDI", s(&null));
    }
    account(st, &sr, -freed);
    st.log(format!("VDI.destroy {vdi}"));
    Ok(())
}

/// A copy of VDI `vdi`'s record into `sr` (`snapshot`: as its snapshot), stored.
fn duplicate(st: &mut State, vdi: &str, sr: &str, snapshot: bool) -> Result<String, Failure> {
    let src = need(st, "VDI", vdi)?.clone();
    need(st, "SR", sr)?;
    assert_plugged(st, sr)?;
    let (r, mut rec) = st.blank("VDI");
    let uuid = str_field(&rec, "uuid").to_owned();
    for (k, v) in &src {
        if k != "uuid" {
            set_field(&mut rec, k, v.clone());
        }
    }
    set_field(&mut rec, "uuid", s(&uuid));
    let null = st.dialect.null_ref().to_owned();
    set_field(&mut rec, "is_a_snapshot", Value::Bool(snapshot));
    set_field(
        &mut rec,
        "snapshot_of",
        s(if snapshot { vdi } else { &null }),
    );
    if snapshot {
        set_field(&mut rec, "snapshot_time", Value::DateTime(DateTime::now()));
    } else {
        set_field(
            &mut rec,
            "snapshot_time",
            Value::DateTime(DateTime::from_unix(0)),
        );
    }
    // The copy has the original's content (crate::disks), holes kept.
    let size = u64::try_from(i64_of(&src, "virtual_size")).unwrap_or(0);
    st.disks
        .duplicate(str_field(&src, "uuid"), &uuid, size)
        .map_err(|e| Failure::new("VDI_IO_ERROR", &[&format!("copying the content: {e}")]))?;
    let r = match store_vdi(st, r, rec, sr) {
        Ok(r) => r,
        Err(f) => {
            let _ = st.disks.remove(&uuid);
            return Err(f);
        }
    };
    if snapshot {
        link(st, "VDI", vdi, "snapshots", &r);
    }
    Ok(r)
}

/// `VDI.snapshot(vdi, driver_params)`: same SR, `is_a_snapshot`, `snapshot_of` the original.
pub(crate) fn vdi_snapshot(st: &mut State, vdi: &str) -> Result<String, Failure> {
    let sr = str_field(need(st, "VDI", vdi)?, "SR").to_owned();
    let r = duplicate(st, vdi, &sr, true)?;
    st.log(format!("VDI.snapshot {vdi} -> {r}"));
    Ok(r)
}

/// `VDI.clone(vdi, driver_params)`: a new, independent VDI in the same SR.
pub(crate) fn vdi_clone(st: &mut State, vdi: &str) -> Result<String, Failure> {
    let sr = str_field(need(st, "VDI", vdi)?, "SR").to_owned();
    let r = duplicate(st, vdi, &sr, false)?;
    st.log(format!("VDI.clone {vdi} -> {r}"));
    Ok(r)
}

/// `VDI.copy(vdi, sr, base_vdi, into_vdi)`: only the plain form (no base, no target VDI).
pub(crate) fn vdi_copy(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let vdi = arg_str(args, 0, "vdi")?;
    let sr = arg_str(args, 1, "sr")?;
    let base = args.get(2).and_then(Value::as_str).unwrap_or("");
    let into = args.get(3).and_then(Value::as_str).unwrap_or("");
    let null = st.dialect.null_ref();
    if (!base.is_empty() && base != null) || (!into.is_empty() && into != null) {
        return Err(Failure::not_implemented(
            "VDI.copy with base_vdi or into_vdi (the simulator copies into a new VDI only)",
        ));
    }
    need(st, "VDI", vdi)?;
    if is_iso_sr(st, sr) {
        return Err(Failure::new("SR_OPERATION_NOT_SUPPORTED", &[sr]));
    }
    let r = duplicate(st, vdi, sr, false)?;
    st.log(format!("VDI.copy {vdi} -> {r} in SR {sr}"));
    Ok(s(&r))
}

/// `VDI.resize(vdi, size)`: not while attached (not a live operation); growth needs space.
pub(crate) fn vdi_resize(
    st: &mut State,
    vdi: &str,
    size: i64,
    online: bool,
) -> Result<(), Failure> {
    let rec = need(st, "VDI", vdi)?;
    let sr = str_field(rec, "SR").to_owned();
    let old = i64_of(rec, "virtual_size");
    assert_plugged(st, &sr)?;
    if !online && !vdi_attached(st, vdi).is_empty() {
        return Err(Failure::new("VDI_IN_USE", &[vdi, "resize"]));
    }
    if size < old {
        // SM refuses to shrink (the LVM and VHD drivers: "VDI Invalid size").
        return Err(Failure::new(
            "SR_BACKEND_FAILURE_79",
            &["", "VDI Invalid size", "shrinking is not supported"],
        ));
    }
    assert_space(st, &sr, size - old)?;
    st.modify("VDI", vdi, |r| {
        set_field(r, "virtual_size", int(size));
        set_field(r, "physical_utilisation", int(size));
    });
    account(st, &sr, size - old);
    st.log(format!("VDI.resize {vdi} to {size}"));
    Ok(())
}

/// `SR.scan`: re-reads the SR, which here means recomputing its accounting.
pub(crate) fn sr_scan(st: &mut State, sr: &str) -> Result<(), Failure> {
    need(st, "SR", sr)?;
    assert_plugged(st, sr)?;
    recount(st, sr);
    st.modify("SR", sr, |_| ());
    Ok(())
}

// ---- VBDs ----

/// The userdevice numbers a VM's VBDs use.
fn used_userdevices(st: &State, vm: &str) -> Vec<String> {
    st.get("VM", vm)
        .map(|r| refs_of(r, "VBDs"))
        .unwrap_or_default()
        .iter()
        .filter_map(|b| {
            st.get("VBD", b)
                .map(|r| str_field(r, "userdevice").to_owned())
        })
        .collect()
}

/// `xvda`, `xvdb`, … for userdevice 0, 1, …
pub(crate) fn device_name(userdevice: &str) -> String {
    match userdevice.parse::<u8>() {
        Ok(n) if n < 26 => format!("xvd{}", (b'a' + n) as char),
        _ => userdevice.to_owned(),
    }
}

fn valid_userdevice(d: &str) -> bool {
    // A number (0..15) or a device name (xvda, hda, sda, …) (xapi_vbd_helpers.ml).
    let named = ["xvd", "hd", "sd"].iter().any(|p| {
        d.strip_prefix(p)
            .is_some_and(|rest| rest.len() == 1 && rest.as_bytes()[0].is_ascii_lowercase())
    });
    d == "autodetect" || d.parse::<u32>().is_ok_and(|n| n < 16) || named
}

/// A VBD's `allowed_operations` (xapi_vbd_helpers.ml, `valid_operations`, the parts that
/// depend on the VBD and its VM's power state).
pub(crate) fn vbd_allowed_operations(st: &State, vbd: &str) -> Value {
    let Some(rec) = st.get("VBD", vbd) else {
        return Value::Array(Vec::new());
    };
    let vm = str_field(rec, "VM");
    let running = get_str(st, "VM", vm, "power_state") == RUNNING;
    let cd = str_field(rec, "type") == "CD";
    let empty = bool_of(rec, "empty");
    let attached = bool_of(rec, "currently_attached");
    let mut ops = Vec::new();
    if cd {
        ops.push(if empty { "insert" } else { "eject" });
    }
    if running {
        if attached {
            if bool_of(rec, "unpluggable") {
                ops.push("unplug");
                ops.push("unplug_force");
            }
        } else {
            ops.push("plug");
        }
    }
    if !attached {
        ops.push("attach");
    }
    Value::Array(ops.into_iter().map(s).collect())
}

pub(crate) fn vbd_refresh(st: &mut State, vbd: &str) {
    if exists(st, "VBD", vbd) {
        let ops = vbd_allowed_operations(st, vbd);
        put(st, "VBD", vbd, "allowed_operations", ops);
    }
}

/// Stores a VBD (record filled in apart from the bookkeeping) and links both sides.
pub(crate) fn store_vbd(st: &mut State, r: String, mut rec: Record) -> String {
    let (m_ref, m) = st.blank("VBD_metrics");
    st.add("VBD_metrics", m_ref.clone(), m);
    set_field(&mut rec, "metrics", s(&m_ref));
    set_field(&mut rec, "current_operations", Value::Struct(Vec::new()));
    let vm = str_field(&rec, "VM").to_owned();
    let vdi = str_field(&rec, "VDI").to_owned();
    let empty = bool_of(&rec, "empty");
    st.add("VBD", r.clone(), rec);
    link(st, "VM", &vm, "VBDs", &r);
    if !empty {
        link(st, "VDI", &vdi, "VBDs", &r);
    }
    vbd_refresh(st, &r);
    r
}

/// `VBD.create(args)` (xapi_vbd.ml, `create`).
pub(crate) fn vbd_create(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let a = args
        .first()
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["args"]))?;
    let (r, mut rec) = record_from_args(
        st,
        "VBD",
        a,
        &[
            "metrics",
            "allowed_operations",
            "current_operations",
            "device",
        ],
    )?;
    let vm = str_field(&rec, "VM").to_owned();
    let vdi = str_field(&rec, "VDI").to_owned();
    let ty = str_field(&rec, "type").to_owned();
    let mode = str_field(&rec, "mode").to_owned();
    let empty = bool_of(&rec, "empty");
    let vm_rec = need(st, "VM", &vm)?;
    let suspended = str_field(vm_rec, "power_state") == "Suspended";
    if !empty {
        let vdi_rec = need(st, "VDI", &vdi)?;
        if mode == "RW" && bool_of(vdi_rec, "read_only") {
            if ty == "CD" {
                return Err(Failure::new("VBD_CDS_MUST_BE_READONLY", &[]));
            }
            return Err(Failure::new("VDI_READONLY", &[&vdi]));
        }
    }
    if ty == "CD" && mode != "RO" {
        return Err(Failure::new("VBD_CDS_MUST_BE_READONLY", &[]));
    }
    if ty != "CD" && empty {
        return Err(Failure::new("VBD_NOT_REMOVABLE_MEDIA", &["in constructor"]));
    }
    let mut userdevice = str_field(&rec, "userdevice").to_owned();
    if !valid_userdevice(&userdevice) {
        return Err(Failure::new("INVALID_DEVICE", &[&userdevice]));
    }
    let used = used_userdevices(st, &vm);
    if userdevice == "autodetect" {
        userdevice = (0..16)
            .map(|n| n.to_string())
            .find(|d| !used.contains(d))
            .ok_or_else(|| Failure::new("INVALID_DEVICE", &["autodetect"]))?;
    } else if used.contains(&userdevice) {
        return Err(Failure::new("DEVICE_ALREADY_EXISTS", &[&userdevice]));
    }
    set_field(&mut rec, "userdevice", s(&userdevice));
    if !suspended {
        // xapi ignores device and currently_attached unless the VM is suspended.
        set_field(&mut rec, "device", s(""));
        set_field(&mut rec, "currently_attached", Value::Bool(false));
    }
    if empty {
        let null = st.dialect.null_ref().to_owned();
        set_field(&mut rec, "VDI", s(&null));
    }
    let r = store_vbd(st, r, rec);
    st.log(format!("VBD.create {r} for VM {vm}"));
    Ok(s(&r))
}

/// The first reason `op` is not allowed on `vbd`, in xapi's order.
fn vbd_check(st: &State, vbd: &str, op: &str) -> Result<(), Failure> {
    let rec = need(st, "VBD", vbd)?;
    let vm = str_field(rec, "VM").to_owned();
    let cd = str_field(rec, "type") == "CD";
    let empty = bool_of(rec, "empty");
    let attached = bool_of(rec, "currently_attached");
    let power = get_str(st, "VM", &vm, "power_state");
    if matches!(op, "unplug" | "unplug_force") && !bool_of(rec, "unpluggable") {
        return Err(Failure::new("VBD_NOT_UNPLUGGABLE", &[vbd]));
    }
    if matches!(op, "insert" | "eject") && !cd {
        return Err(Failure::new("VBD_NOT_REMOVABLE_MEDIA", &[vbd]));
    }
    if op == "eject" && empty {
        return Err(Failure::new("VBD_IS_EMPTY", &[vbd]));
    }
    if op == "insert" && !empty {
        return Err(Failure::new("VBD_NOT_EMPTY", &[vbd]));
    }
    if matches!(op, "plug" | "unplug" | "unplug_force") {
        match (power.as_str(), attached) {
            (RUNNING, true) if op == "plug" => {
                return Err(Failure::new("DEVICE_ALREADY_ATTACHED", &[vbd]))
            }
            (RUNNING, false) if op != "plug" => {
                return Err(Failure::new("DEVICE_ALREADY_DETACHED", &[vbd]))
            }
            (RUNNING, _) => {}
            (p, _) => {
                return Err(Failure::new(
                    "VM_BAD_POWER_STATE",
                    &[&vm, "running", &p.to_ascii_lowercase()],
                ))
            }
        }
        if cd && power == RUNNING && get_str(st, "VM", &vm, "domain_type") == "hvm" {
            return Err(Failure::new(
                "OPERATION_NOT_ALLOWED",
                &["HVM CDROMs cannot be hotplugged/unplugged, only inserted or ejected"],
            ));
        }
    }
    if cd && power == "Suspended" && matches!(op, "insert" | "eject") {
        return Err(Failure::new(
            "VM_BAD_POWER_STATE",
            &[&vm, "halted, running", "suspended"],
        ));
    }
    Ok(())
}

/// Sets a VBD's `currently_attached` (and `device`), refreshing both ends' operations.
pub(crate) fn vbd_set_attached(st: &mut State, vbd: &str, attached: bool) {
    let Some(rec) = st.get("VBD", vbd) else {
        return;
    };
    let vdi = str_field(rec, "VDI").to_owned();
    let dev = device_name(str_field(rec, "userdevice"));
    st.modify("VBD", vbd, |r| {
        set_field(r, "currently_attached", Value::Bool(attached));
        set_field(r, "device", s(if attached { &dev } else { "" }));
    });
    vbd_refresh(st, vbd);
    vdi_refresh(st, &vdi);
}

pub(crate) fn vbd_plug(st: &mut State, vbd: &str, plug: bool) -> Result<(), Failure> {
    vbd_check(st, vbd, if plug { "plug" } else { "unplug" })?;
    vbd_set_attached(st, vbd, plug);
    st.log(format!(
        "VBD.{} {vbd}",
        if plug { "plug" } else { "unplug" }
    ));
    Ok(())
}

/// `VBD.insert(vbd, vdi)` / `VBD.eject(vbd)`.
pub(crate) fn vbd_media(st: &mut State, vbd: &str, vdi: Option<&str>) -> Result<(), Failure> {
    vbd_check(st, vbd, if vdi.is_some() { "insert" } else { "eject" })?;
    let null = st.dialect.null_ref().to_owned();
    let old = get_str(st, "VBD", vbd, "VDI");
    match vdi {
        Some(v) => {
            need(st, "VDI", v)?;
            st.modify("VBD", vbd, |r| {
                set_field(r, "VDI", s(v));
                set_field(r, "empty", Value::Bool(false));
            });
            link(st, "VDI", v, "VBDs", vbd);
        }
        None => {
            st.modify("VBD", vbd, |r| {
                set_field(r, "VDI", s(&null));
                set_field(r, "empty", Value::Bool(true));
            });
            unlink(st, "VDI", &old, "VBDs", vbd);
        }
    }
    vbd_refresh(st, vbd);
    Ok(())
}

/// `VBD.destroy`: refused while attached (xapi_vbd_helpers.ml, `destroy`).
pub(crate) fn vbd_destroy(st: &mut State, vbd: &str) -> Result<(), Failure> {
    let rec = need(st, "VBD", vbd)?;
    let vm = str_field(rec, "VM").to_owned();
    if bool_of(rec, "currently_attached") {
        let msg = format!(
            "VBD '{}' still attached to '{}'",
            str_field(rec, "uuid"),
            get_str(st, "VM", &vm, "uuid")
        );
        return Err(Failure::new("OPERATION_NOT_ALLOWED", &[&msg]));
    }
    remove_vbd(st, vbd);
    Ok(())
}

/// Removes a VBD and its metrics, unlinking both sides.
pub(crate) fn remove_vbd(st: &mut State, vbd: &str) {
    if let Some(rec) = st.remove("VBD", vbd) {
        let vm = str_field(&rec, "VM").to_owned();
        let vdi = str_field(&rec, "VDI").to_owned();
        unlink(st, "VM", &vm, "VBDs", vbd);
        unlink(st, "VDI", &vdi, "VBDs", vbd);
        let m = str_field(&rec, "metrics").to_owned();
        st.remove("VBD_metrics", &m);
    }
}
