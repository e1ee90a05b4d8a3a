//! Attaching storage to hosts, as installers and repair scripts drive it: `PBD.create`/
//! `destroy`/`plug`/`unplug` (xapi_pbd.ml, message_forwarding.ml `PBD`), the SR's
//! `allowed_operations` that follow its PBDs (xapi_sr_operations.ml `valid_operations`), and
//! `SR.create` / `destroy` / `forget` / `introduce` (xapi_sr.ml).

use xenapi::Value;

use crate::dispatch::{arg_str, Failure};
use crate::objects::{
    bool_of, get_str, link, map_of, need, put, record_from_args, refs_of, s, unlink,
};
use crate::state::{field, set_field, str_field, State};
use crate::storage;

/// The size the simulated SM backend reports for an SR it did not create: 1 TiB.
const INTRODUCED_SR_SIZE: i64 = 1 << 40;

/// `SR.allowed_operations`: the SR type's operations, less `destroy` and `forget` while a PBD
/// is attached (`SR_HAS_PBD`) and `destroy` when it has no PBD at all (`SR_NO_PBDS`).
pub(crate) fn sr_refresh(st: &mut State, sr: &str) {
    let Some(rec) = st.get("SR", sr) else {
        return;
    };
    let pbds = refs_of(rec, "PBDs");
    let attached = pbds.iter().any(|p| {
        st.get("PBD", p)
            .is_some_and(|r| bool_of(r, "currently_attached"))
    });
    let all = storage::sr_allowed_operations(str_field(rec, "content_type"));
    let ops: Vec<Value> = all
        .as_array()
        .map(|a| a.to_vec())
        .unwrap_or_default()
        .into_iter()
        .filter(|op| match op.as_str() {
            Some("destroy") => !attached && !pbds.is_empty(),
            Some("forget") => !attached,
            _ => true,
        })
        .collect();
    if field(rec, "allowed_operations") != Some(&Value::Array(ops.clone())) {
        put(st, "SR", sr, "allowed_operations", Value::Array(ops));
    }
}

/// `SR.destroy` / `SR.forget` refused by the SR's state: `SR_HAS_PBD [sr]` while a PBD is
/// attached, `SR_NO_PBDS [sr]` for destroy without any PBD.
fn assert_sr_operation(st: &State, sr: &str, op: &str) -> Result<(), Failure> {
    let rec = need(st, "SR", sr)?;
    let pbds = refs_of(rec, "PBDs");
    let attached = pbds.iter().any(|p| {
        st.get("PBD", p)
            .is_some_and(|r| bool_of(r, "currently_attached"))
    });
    if attached {
        return Err(Failure::new("SR_HAS_PBD", &[sr]));
    }
    if op == "destroy" && pbds.is_empty() {
        return Err(Failure::new("SR_NO_PBDS", &[sr]));
    }
    Ok(())
}

/// `PBD.create({host, SR, device_config, other_config})`: one PBD per host and SR
/// (`PBD_EXISTS [sr; host; pbd]`), no `SRmaster` key in `device_config` (`VALUE_NOT_SUPPORTED`);
/// the new PBD is not attached (xapi_pbd.ml `create_common`).
pub(crate) fn create(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let arg = args
        .first()
        .ok_or_else(|| Failure::new("FIELD_TYPE_ERROR", &["args"]))?;
    let (r, mut rec) = record_from_args(st, "PBD", arg, &["currently_attached"])?;
    let host = str_field(&rec, "host").to_owned();
    let sr = str_field(&rec, "SR").to_owned();
    need(st, "host", &host)?;
    let existing = refs_of(need(st, "SR", &sr)?, "PBDs")
        .into_iter()
        .find(|p| get_str(st, "PBD", p, "host") == host);
    if let Some(p) = existing {
        return Err(Failure::new("PBD_EXISTS", &[&sr, &host, &p]));
    }
    if let Some((_, v)) = map_of(&rec, "device_config")
        .into_iter()
        .find(|(k, _)| k == "SRmaster")
    {
        return Err(Failure::new(
            "VALUE_NOT_SUPPORTED",
            &["SRmaster", &v, "This key is for internal use only"],
        ));
    }
    set_field(&mut rec, "currently_attached", Value::Bool(false));
    st.add("PBD", r.clone(), rec);
    link(st, "SR", &sr, "PBDs", &r);
    link(st, "host", &host, "PBDs", &r);
    sr_refresh(st, &sr);
    Ok(s(&r))
}

/// `PBD.destroy(self)`: not while attached (`OPERATION_NOT_ALLOWED ["PBD is currently
/// attached"]`).
pub(crate) fn destroy(st: &mut State, pbd: &str) -> Result<Value, Failure> {
    let rec = need(st, "PBD", pbd)?;
    if bool_of(rec, "currently_attached") {
        return Err(Failure::new(
            "OPERATION_NOT_ALLOWED",
            &["PBD is currently attached"],
        ));
    }
    let (sr, host) = (
        str_field(rec, "SR").to_owned(),
        str_field(rec, "host").to_owned(),
    );
    st.remove("PBD", pbd);
    unlink(st, "SR", &sr, "PBDs", pbd);
    unlink(st, "host", &host, "PBDs", pbd);
    sr_refresh(st, &sr);
    Ok(s(""))
}

/// `PBD.plug(self)`: nothing when attached; a non-shared SR attached on another host refuses
/// (`SR_NOT_SHARABLE [sr; other host]`, xapi_pbd.ml `check_sharing_constraint`).
pub(crate) fn plug(st: &mut State, pbd: &str) -> Result<Value, Failure> {
    let rec = need(st, "PBD", pbd)?;
    if bool_of(rec, "currently_attached") {
        return Ok(s(""));
    }
    let (sr, host) = (
        str_field(rec, "SR").to_owned(),
        str_field(rec, "host").to_owned(),
    );
    if !bool_of(need(st, "SR", &sr)?, "shared") {
        let other = refs_of(need(st, "SR", &sr)?, "PBDs")
            .into_iter()
            .filter_map(|p| st.get("PBD", &p))
            .find(|p| bool_of(p, "currently_attached") && str_field(p, "host") != host)
            .map(|p| str_field(p, "host").to_owned());
        if let Some(other) = other {
            return Err(Failure::new("SR_NOT_SHARABLE", &[&sr, &other]));
        }
    }
    put(st, "PBD", pbd, "currently_attached", Value::Bool(true));
    // xapi reads an introduced SR's size from its SM backend once plugged (`SR.update`);
    // the simulator's backend reports 1 TiB.
    if crate::objects::i64_of(need(st, "SR", &sr)?, "physical_size") < 0 {
        put(
            st,
            "SR",
            &sr,
            "physical_size",
            crate::state::int(INTRODUCED_SR_SIZE),
        );
        put(st, "SR", &sr, "physical_utilisation", crate::state::int(0));
    }
    sr_refresh(st, &sr);
    storage::recount(st, &sr);
    st.log(format!("PBD.plug {pbd}: SR {sr} attached"));
    Ok(s(""))
}

/// `PBD.unplug(self)`: nothing when detached; refused while a VM resident on the PBD's host
/// has a disk of the SR attached (`VDI_IN_USE [vdi…]`, xapi_pbd.ml `get_active_vdis_by_pbd`).
pub(crate) fn unplug(st: &mut State, pbd: &str) -> Result<Value, Failure> {
    let rec = need(st, "PBD", pbd)?;
    if !bool_of(rec, "currently_attached") {
        return Ok(s(""));
    }
    let (sr, host) = (
        str_field(rec, "SR").to_owned(),
        str_field(rec, "host").to_owned(),
    );
    let in_use: Vec<String> = get_field_refs(st, "host", &host, "resident_VMs")
        .iter()
        .flat_map(|vm| get_field_refs(st, "VM", vm, "VBDs"))
        .filter_map(|b| st.get("VBD", &b))
        .filter(|b| bool_of(b, "currently_attached") && !bool_of(b, "empty"))
        .map(|b| str_field(b, "VDI").to_owned())
        .filter(|vdi| get_str(st, "VDI", vdi, "SR") == sr)
        .collect();
    if !in_use.is_empty() {
        let params: Vec<&str> = in_use.iter().map(String::as_str).collect();
        return Err(Failure::new("VDI_IN_USE", &params));
    }
    put(st, "PBD", pbd, "currently_attached", Value::Bool(false));
    sr_refresh(st, &sr);
    st.log(format!("PBD.unplug {pbd}: SR {sr} detached"));
    Ok(s(""))
}

fn get_field_refs(st: &State, class: &str, r: &str, f: &str) -> Vec<String> {
    st.get(class, r)
        .map(|rec| refs_of(rec, f))
        .unwrap_or_default()
}

/// `SR.forget(sr)`: with no PBD attached, the SR's PBDs, its VDI records (and the VBDs that
/// pointed at them: xapi leaves those to its database GC) and the SR go.
pub(crate) fn sr_forget(st: &mut State, sr: &str) -> Result<Value, Failure> {
    assert_sr_operation(st, sr, "forget")?;
    let rec = need(st, "SR", sr)?;
    for p in refs_of(rec, "PBDs") {
        destroy(st, &p)?;
    }
    for vdi in get_field_refs(st, "SR", sr, "VDIs") {
        for b in get_field_refs(st, "VDI", &vdi, "VBDs") {
            storage::remove_vbd(st, &b);
        }
        st.remove("VDI", &vdi);
    }
    st.remove("SR", sr);
    let null = st.dialect.null_ref().to_owned();
    for key in ["default_SR", "suspend_image_SR", "crash_dump_SR"] {
        let pools: Vec<String> = st
            .table("pool")
            .map(|t| t.refs().to_vec())
            .unwrap_or_default();
        for pool in pools {
            if get_str(st, "pool", &pool, key) == sr {
                put(st, "pool", &pool, key, s(&null));
            }
        }
    }
    st.log(format!("SR.forget {sr}"));
    Ok(s(""))
}

/// `SR.destroy(sr)`: the checks of the SR's `destroy` operation, and not an SR whose
/// `other_config:indestructible` is `true` (`SR_INDESTRUCTIBLE [sr]`, message_forwarding.ml
/// `SR.destroy`); the simulator has no SM backend to tell, so it then forgets the SR.
pub(crate) fn sr_destroy(st: &mut State, sr: &str) -> Result<Value, Failure> {
    assert_sr_operation(st, sr, "destroy")?;
    let indestructible = map_of(need(st, "SR", sr)?, "other_config")
        .iter()
        .any(|(k, v)| k == "indestructible" && v == "true");
    if indestructible {
        return Err(Failure::new("SR_INDESTRUCTIBLE", &[sr]));
    }
    sr_forget(st, sr)
}

/// The SM drivers the simulated hosts have (those of a XenServer 8 host, **not confirmed**
/// as complete); another type is `SR_UNKNOWN_DRIVER [type]` (storage_access.ml).
const SM_DRIVERS: &[&str] = &[
    "ext",
    "file",
    "nfs",
    "lvm",
    "lvmoiscsi",
    "lvmohba",
    "lvmofcoe",
    "gfs2",
    "iso",
    "udev",
    "smb",
    "largeblock",
    "dummy",
];

/// `SR.create(host, device_config, physical_size, name_label, name_description, type,
/// content_type, shared, sm_config)` (xapi_sr.ml `create`): the SR as `SR.introduce` makes it,
/// a PBD for `host` (for every host, the coordinator's first, when shared) with
/// `device_config`, then each PBD plugged. Its size is `physical_size`, or 1 TiB when 0 (the
/// simulated SM backend's answer).
pub(crate) fn sr_create(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let host = arg_str(args, 0, "host")?.to_owned();
    need(st, "host", &host)?;
    let device_config = args.get(1).cloned().unwrap_or(Value::Struct(Vec::new()));
    let size = args.get(2).and_then(Value::as_i64).unwrap_or(0);
    let ty = arg_str(args, 5, "type")?.to_ascii_lowercase();
    if !SM_DRIVERS.contains(&ty.as_str()) {
        return Err(Failure::new("SR_UNKNOWN_DRIVER", &[&ty]));
    }
    let shared = matches!(args.get(7), Some(Value::Bool(true)));
    let introduce_args = [
        s(""),
        args.get(3).cloned().unwrap_or(s("")),
        args.get(4).cloned().unwrap_or(s("")),
        s(&ty),
        args.get(6).cloned().unwrap_or(s("")),
        Value::Bool(shared),
        args.get(8).cloned().unwrap_or(Value::Struct(Vec::new())),
    ];
    let sr = sr_introduce(st, &introduce_args)?
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    let size = if size > 0 { size } else { INTRODUCED_SR_SIZE };
    put(st, "SR", &sr, "physical_size", crate::state::int(size));
    put(st, "SR", &sr, "physical_utilisation", crate::state::int(0));
    let hosts = if shared {
        let mut all: Vec<String> = st
            .table("host")
            .map(|t| t.refs().to_vec())
            .unwrap_or_default();
        let coordinator = st.coordinator.clone();
        all.retain(|h| *h != coordinator);
        all.insert(0, coordinator);
        all
    } else {
        vec![host]
    };
    for h in hosts {
        let record = Value::structure([
            ("host", s(&h)),
            ("SR", s(&sr)),
            ("device_config", device_config.clone()),
        ]);
        let pbd = create(st, &[record])?;
        plug(st, pbd.as_str().unwrap_or_default())?;
    }
    st.log(format!("SR.create {sr} ({ty})"));
    Ok(s(&sr))
}

/// `SR.introduce(uuid, name_label, name_description, type, content_type, shared, sm_config)`:
/// an SR record without PBDs (its `type` lower-cased, a new UUID when empty); a UUID in use
/// gives `SR_UUID_EXISTS [uuid]`.
pub(crate) fn sr_introduce(st: &mut State, args: &[Value]) -> Result<Value, Failure> {
    let mut uuid = arg_str(args, 0, "uuid")?.to_owned();
    let shared = matches!(args.get(5), Some(Value::Bool(true)));
    let sm_config = args.get(6).cloned().unwrap_or(Value::Struct(Vec::new()));
    let taken = st
        .table("SR")
        .is_some_and(|t| t.iter().any(|(_, r)| str_field(r, "uuid") == uuid));
    if taken {
        return Err(Failure::new("SR_UUID_EXISTS", &[&uuid]));
    }
    let (r, mut rec) = st.blank("SR");
    if uuid.is_empty() {
        uuid = str_field(&rec, "uuid").to_owned();
    }
    set_field(&mut rec, "uuid", s(&uuid));
    set_field(&mut rec, "name_label", s(arg_str(args, 1, "name_label")?));
    set_field(
        &mut rec,
        "name_description",
        s(arg_str(args, 2, "name_description")?),
    );
    set_field(
        &mut rec,
        "type",
        s(&arg_str(args, 3, "type")?.to_ascii_lowercase()),
    );
    set_field(
        &mut rec,
        "content_type",
        s(arg_str(args, 4, "content_type")?),
    );
    set_field(&mut rec, "shared", Value::Bool(shared));
    set_field(&mut rec, "sm_config", sm_config);
    set_field(&mut rec, "physical_size", crate::state::int(-1));
    set_field(&mut rec, "physical_utilisation", crate::state::int(-1));
    st.add("SR", r.clone(), rec);
    sr_refresh(st, &r);
    Ok(s(&r))
}
