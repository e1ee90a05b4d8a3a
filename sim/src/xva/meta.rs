//! An XVA's `ova.xml`: the exported VM and the objects it refers to, as xapi's `export.ml` and
//! `importexport.ml` write them, and their import as new objects (`import.ml`).
//!
//! `ova.xml` is one XML-RPC struct: `version` (hostname, date, product_version, product_brand,
//! build_number, xapi_major, xapi_minor, export_vsn) and `objects`, an array of
//! `{class, id, snapshot}` where `id` is `Ref:N` (numbered in the order the export walks the
//! graph: the VM, its VIFs and their networks, its VBDs and their VDIs and SRs) and `snapshot` is
//! the object's record with every reference rewritten to such an id, or to the null reference
//! when the object is not exported.

use xenapi::codec::{decode_value, encode_value, Limits};
use xenapi::Value;

use crate::datamodel::{self, Ty};
use crate::dispatch::Failure;
use crate::lifecycle;
use crate::net;
use crate::objects::{bool_of, get_str, need, refs_of, s};
use crate::state::{field, set_field, str_field, Record, State};
use crate::storage;

/// What an export sends: `ova.xml` and each disk's tar prefix, VDI and size, in xapi's order
/// (prefixes sorted as strings, `stream_vdi.ml`'s `for_each_vdi`).
pub(crate) struct Plan {
    pub ova_xml: String,
    pub disks: Vec<Disk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Disk {
    /// `Ref:N`, the directory of its chunks in the tar.
    pub id: String,
    pub vdi: String,
    pub size: u64,
}

/// The export version xapi writes (`Xapi_globs.export_vsn`): inline checksums.
const EXPORT_VSN: i64 = 2;

/// Plans the export of `vm`: refused as xapi refuses it (`VM_BAD_POWER_STATE` unless the VM is
/// Halted or Suspended, `OPERATION_BLOCKED`, …: `Xapi_vm_lifecycle.assert_operation_valid`
/// for `export`).
pub(crate) fn plan_export(st: &State, vm: &str) -> Result<Plan, Failure> {
    need(st, "VM", vm)?;
    lifecycle::check(st, vm, "export")?;
    // The table of exported objects: (class, ref, id), in xapi's walk order.
    let mut table: Vec<(&'static str, String, String)> = Vec::new();
    let add = |table: &mut Vec<(&'static str, String, String)>, class: &'static str, r: &str| {
        if r.is_empty() || r == st.dialect.null_ref() || table.iter().any(|(_, x, _)| x == r) {
            return;
        }
        if st.get(class, r).is_none() {
            return;
        }
        let id = format!("Ref:{}", table.len());
        table.push((class, r.to_owned(), id));
    };
    add(&mut table, "VM", vm);
    let vm_rec = need(st, "VM", vm)?;
    for vif in refs_of(vm_rec, "VIFs") {
        add(&mut table, "VIF", &vif);
        let network = get_str(st, "VIF", &vif, "network");
        add(&mut table, "network", &network);
    }
    let mut disks = Vec::new();
    for vbd in refs_of(vm_rec, "VBDs") {
        add(&mut table, "VBD", &vbd);
        let Some(b) = st.get("VBD", &vbd) else {
            continue;
        };
        if bool_of(b, "empty") {
            continue;
        }
        let vdi = str_field(b, "VDI").to_owned();
        add(&mut table, "VDI", &vdi);
        let sr = get_str(st, "VDI", &vdi, "SR");
        add(&mut table, "SR", &sr);
        // Disks only: not CDs, nor anything in an ISO SR (export.ml, `export`).
        let iso = get_str(st, "SR", &sr, "content_type") == "iso";
        if str_field(b, "type") != "CD" && !iso && st.get("VDI", &vdi).is_some() {
            if let Some((_, _, id)) = table.iter().find(|(_, r, _)| *r == vdi) {
                let size = get_str(st, "VDI", &vdi, "virtual_size")
                    .parse::<u64>()
                    .unwrap_or(0);
                disks.push(Disk {
                    id: id.clone(),
                    vdi: vdi.clone(),
                    size,
                });
            }
        }
    }
    disks.sort_by(|a, b| a.id.cmp(&b.id));
    disks.dedup_by(|a, b| a.vdi == b.vdi);

    let lookup = |r: &str| -> String {
        table
            .iter()
            .find(|(_, x, _)| x == r)
            .map(|(_, _, id)| id.clone())
            .unwrap_or_else(|| st.dialect.null_ref().to_owned())
    };
    let mut objects = Vec::new();
    for class in ["VM", "VBD", "VIF", "network", "VDI", "SR"] {
        for (_, r, id) in table.iter().filter(|(c, _, _)| *c == class) {
            let Some(rec) = st.get(class, r) else {
                continue;
            };
            let snapshot = snapshot_of(st, class, rec, &lookup);
            objects.push(Value::Struct(vec![
                ("class".to_owned(), s(class)),
                ("id".to_owned(), s(id)),
                ("snapshot".to_owned(), Value::Struct(snapshot)),
            ]));
        }
    }
    let header = Value::Struct(vec![
        ("version".to_owned(), version(st)),
        ("objects".to_owned(), Value::Array(objects)),
    ]);
    Ok(Plan {
        ova_xml: encode_value(&header, &st.dialect.encoder()),
        disks,
    })
}

/// The record as exported: references to exported objects as their ids, others null (sets
/// keep only exported members); what is about the running system cleared, as `make_vm` and
/// its siblings do (operations, attachment, power state Halted, metrics).
fn snapshot_of(st: &State, class: &str, rec: &Record, lookup: &dyn Fn(&str) -> String) -> Record {
    let null = st.dialect.null_ref();
    let Some(c) = datamodel::model().class(class) else {
        return rec.clone();
    };
    let mut out = Record::new();
    for (name, value) in rec {
        let ty = c.fields.iter().find(|f| &f.name == name).map(|f| &f.ty);
        let v = match (ty, value) {
            (Some(Ty::Ref(_)), Value::String(r)) => s(&lookup(r)),
            (Some(Ty::Set(inner)), Value::Array(items)) if matches!(**inner, Ty::Ref(_)) => {
                Value::Array(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(lookup)
                        .filter(|id| id != null)
                        .map(|id| s(&id))
                        .collect(),
                )
            }
            _ => value.clone(),
        };
        out.push((name.clone(), v));
    }
    set_field(&mut out, "current_operations", Value::Struct(Vec::new()));
    set_field(&mut out, "allowed_operations", Value::Array(Vec::new()));
    match class {
        "VM" => {
            set_field(&mut out, "power_state", s("Halted"));
            set_field(&mut out, "is_a_snapshot", Value::Bool(false));
            set_field(&mut out, "snapshots", Value::Array(Vec::new()));
            set_field(&mut out, "blobs", Value::Struct(Vec::new()));
        }
        "VBD" | "VIF" => set_field(&mut out, "currently_attached", Value::Bool(false)),
        _ => {}
    }
    out
}

fn version(st: &State) -> Value {
    let host = st.coordinator.clone();
    let sv = st
        .get("host", &host)
        .and_then(|h| field(h, "software_version"))
        .cloned()
        .unwrap_or(Value::Struct(Vec::new()));
    let pick = |k: &str, default: &str| -> Value {
        s(sv.get(k).and_then(Value::as_str).unwrap_or(default))
    };
    let api = |f: &str| {
        st.get("host", &host)
            .and_then(|h| field(h, f))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    Value::Struct(vec![
        ("hostname".to_owned(), pick("hostname", "xenapi-sim")),
        ("date".to_owned(), pick("date", "")),
        ("product_version".to_owned(), pick("product_version", "")),
        ("product_brand".to_owned(), pick("product_brand", "")),
        ("build_number".to_owned(), pick("build_number", "")),
        (
            "xapi_major".to_owned(),
            Value::Int(api("API_version_major")),
        ),
        (
            "xapi_minor".to_owned(),
            Value::Int(api("API_version_minor")),
        ),
        ("export_vsn".to_owned(), Value::Int(EXPORT_VSN)),
    ])
}

/// One object of `ova.xml`.
#[derive(Debug, Clone)]
pub(crate) struct Obj {
    pub class: String,
    pub id: String,
    pub snapshot: Record,
}

/// A parsed `ova.xml`.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// `version.export_vsn`: 0 when missing (no inline checksums then).
    pub export_vsn: i64,
    pub objects: Vec<Obj>,
}

fn import_error(msg: &str) -> Failure {
    Failure::new("IMPORT_ERROR", &[msg])
}

pub(crate) fn parse(xml: &[u8]) -> Result<Header, Failure> {
    let text = std::str::from_utf8(xml).map_err(|_| import_error("ova.xml is not UTF-8"))?;
    let v = decode_value(text, Limits::default())
        .map_err(|e| import_error(&format!("ova.xml is not an XML-RPC value: {e}")))?;
    let version = v
        .get("version")
        .ok_or_else(|| import_error("ova.xml has no version"))?;
    let export_vsn = version
        .get("export_vsn")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let objects = v
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| import_error("ova.xml has no objects"))?;
    let mut out = Vec::new();
    for o in objects {
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(class), Some(id), Some(snapshot)) = (
            text("class"),
            text("id"),
            o.get("snapshot").and_then(Value::as_struct),
        ) else {
            return Err(import_error(
                "an object of ova.xml lacks class, id or snapshot",
            ));
        };
        out.push(Obj {
            class,
            id,
            snapshot: snapshot.to_vec(),
        });
    }
    if !out.iter().any(|o| o.class == "VM") {
        return Err(import_error("ova.xml holds no VM"));
    }
    Ok(Header {
        export_vsn,
        objects: out,
    })
}

/// What an import made: the new VMs (the task's result) and each disk to fill: its tar
/// prefix, new VDI and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Imported {
    pub vms: Vec<String>,
    pub disks: Vec<Disk>,
    /// Every object made, in order, for [`undo`].
    pub made: Vec<(&'static str, String)>,
}

/// Destroys what an import made, newest first: after its disks failed (a truncated or damaged
/// upload, a cancel), as xapi's import cleans up on any error.
pub(crate) fn undo(st: &mut State, made: &[(&'static str, String)]) {
    for (class, r) in made.iter().rev() {
        let _ = match *class {
            "VBD" => storage::vbd_destroy(st, r),
            "VIF" => net::vif_destroy(st, r),
            "VDI" => storage::vdi_destroy(st, r),
            "VM" => lifecycle::destroy(st, r).map(|_| ()),
            "network" => net::network_destroy(st, r),
            _ => Ok(()),
        };
    }
}

/// A record's fields as a `create` argument: every reference nulled (the caller sets the ones it
/// maps), sets of references emptied.
fn as_args(st: &State, class: &str, rec: &Record) -> Record {
    let null = st.dialect.null_ref();
    let Some(c) = datamodel::model().class(class) else {
        return rec.clone();
    };
    rec.iter()
        .map(|(k, v)| {
            let ty = c.fields.iter().find(|f| &f.name == k).map(|f| &f.ty);
            let v = match ty {
                Some(Ty::Ref(_)) => s(null),
                Some(Ty::Set(inner)) if matches!(**inner, Ty::Ref(_)) => Value::Array(Vec::new()),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Creates the objects of `header` as new ones (new UUIDs and references; names and metadata
/// kept): the VMs Halted, their disks in `sr` (the pool's default SR when `None`), VIFs on the
/// network of the same UUID or name, else a new network. `restore` keeps a VM's UUID when no
/// VM has it (xapi's full restore). On a failure nothing is left behind.
pub(crate) fn create(
    st: &mut State,
    header: &Header,
    sr: Option<&str>,
    restore: bool,
) -> Result<Imported, Failure> {
    let null = st.dialect.null_ref().to_owned();
    let sr = match sr {
        Some(sr) if !sr.is_empty() && sr != null => {
            need(st, "SR", sr)?;
            sr.to_owned()
        }
        _ => default_sr(st)?,
    };
    let mut made: Vec<(&'static str, String)> = Vec::new();
    match create_all(st, header, &sr, restore, &mut made) {
        Ok((vms, disks)) => Ok(Imported { vms, disks, made }),
        Err(e) => {
            undo(st, &made);
            Err(e)
        }
    }
}

fn default_sr(st: &State) -> Result<String, Failure> {
    let pool = st
        .table("pool")
        .and_then(|t| t.refs().first().cloned())
        .unwrap_or_default();
    let sr = get_str(st, "pool", &pool, "default_SR");
    if st.get("SR", &sr).is_none() {
        return Err(Failure::new("DEFAULT_SR_NOT_FOUND", &[&sr]));
    }
    Ok(sr)
}

fn create_all(
    st: &mut State,
    header: &Header,
    sr: &str,
    restore: bool,
    made: &mut Vec<(&'static str, String)>,
) -> Result<(Vec<String>, Vec<Disk>), Failure> {
    // id -> new reference
    let mut map: Vec<(String, String)> = Vec::new();
    let find = |map: &Vec<(String, String)>, id: &str| {
        map.iter().find(|(i, _)| i == id).map(|(_, r)| r.clone())
    };
    let of = |class: &'static str| header.objects.iter().filter(move |o| o.class == class);

    let mut vms = Vec::new();
    for o in of("VM") {
        let args = as_args(st, "VM", &o.snapshot);
        let r = lifecycle::create(st, &[Value::Struct(args)])?;
        let r = r.as_str().unwrap_or_default().to_owned();
        made.push(("VM", r.clone()));
        let wanted = str_field(&o.snapshot, "uuid").to_owned();
        if restore && !wanted.is_empty() {
            let taken = st
                .table("VM")
                .is_some_and(|t| t.iter().any(|(_, rec)| str_field(rec, "uuid") == wanted));
            if !taken {
                st.modify("VM", &r, |rec| set_field(rec, "uuid", s(&wanted)));
            }
        }
        map.push((o.id.clone(), r.clone()));
        vms.push(r);
    }
    for o in of("network") {
        let uuid = str_field(&o.snapshot, "uuid");
        let name = str_field(&o.snapshot, "name_label");
        let existing = st.table("network").and_then(|t| {
            t.iter()
                .find(|(_, rec)| str_field(rec, "uuid") == uuid)
                .or_else(|| {
                    t.iter()
                        .find(|(_, rec)| str_field(rec, "name_label") == name)
                })
                .map(|(r, _)| r.clone())
        });
        let r = match existing {
            Some(r) => r,
            None => {
                let args = as_args(st, "network", &o.snapshot);
                let r = net::network_create(st, &[Value::Struct(args)])?;
                let r = r.as_str().unwrap_or_default().to_owned();
                made.push(("network", r.clone()));
                r
            }
        };
        map.push((o.id.clone(), r));
    }
    let mut disks = Vec::new();
    for o in of("VDI") {
        let mut args = as_args(st, "VDI", &o.snapshot);
        set_field(&mut args, "SR", s(sr));
        let r = storage::vdi_create(st, &[Value::Struct(args)])?;
        let r = r.as_str().unwrap_or_default().to_owned();
        made.push(("VDI", r.clone()));
        let size = str_field(&o.snapshot, "virtual_size").parse().unwrap_or(0);
        map.push((o.id.clone(), r.clone()));
        disks.push((o.id.clone(), r, size));
    }
    let mut streamed = Vec::new();
    for o in of("VBD") {
        let mut args = as_args(st, "VBD", &o.snapshot);
        let vm = find(&map, str_field(&o.snapshot, "VM")).ok_or_else(|| {
            Failure::new(
                "IMPORT_ERROR_FAILED_TO_FIND_OBJECT",
                &[str_field(&o.snapshot, "VM")],
            )
        })?;
        set_field(&mut args, "VM", s(&vm));
        let vdi_id = str_field(&o.snapshot, "VDI");
        let empty = bool_of(&o.snapshot, "empty");
        match find(&map, vdi_id) {
            Some(vdi) if !empty => set_field(&mut args, "VDI", s(&vdi)),
            _ if str_field(&o.snapshot, "type") == "CD" => {
                // A CD whose ISO was not exported: an empty drive, as import.ml makes it.
                set_field(&mut args, "empty", Value::Bool(true));
            }
            _ if !empty => {
                return Err(Failure::new(
                    "IMPORT_ERROR_FAILED_TO_FIND_OBJECT",
                    &[vdi_id],
                ));
            }
            _ => {}
        }
        if str_field(&o.snapshot, "type") != "CD" && !empty {
            streamed.push(vdi_id.to_owned());
        }
        let r = storage::vbd_create(st, &[Value::Struct(args)])?;
        made.push(("VBD", r.as_str().unwrap_or_default().to_owned()));
    }
    for o in of("VIF") {
        let mut args = as_args(st, "VIF", &o.snapshot);
        let vm = find(&map, str_field(&o.snapshot, "VM")).ok_or_else(|| {
            Failure::new(
                "IMPORT_ERROR_FAILED_TO_FIND_OBJECT",
                &[str_field(&o.snapshot, "VM")],
            )
        })?;
        let network = find(&map, str_field(&o.snapshot, "network")).ok_or_else(|| {
            Failure::new(
                "IMPORT_ERROR_FAILED_TO_FIND_OBJECT",
                &[str_field(&o.snapshot, "network")],
            )
        })?;
        set_field(&mut args, "VM", s(&vm));
        set_field(&mut args, "network", s(&network));
        let r = net::vif_create(st, &[Value::Struct(args)])?;
        made.push(("VIF", r.as_str().unwrap_or_default().to_owned()));
    }
    // Disks in the tar: those behind a disk VBD, in prefix order.
    let mut out: Vec<Disk> = disks
        .into_iter()
        .filter(|(id, _, _)| streamed.contains(id))
        .map(|(id, vdi, size)| Disk { id, vdi, size })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((vms, out))
}
