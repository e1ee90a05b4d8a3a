//! Realistic XML-RPC payloads for the codec benchmark and the `decode_speed` example.
//!
//! `vm_records_reply(n)` is what xapi sends for `VM.get_all_records` on a pool with `n` VMs: the
//! `{Status, Value}` envelope around a map from `OpaqueRef:<uuid>` to a record with every field of
//! the `VM` class in `spec/datamodel.json`, in xapi's style (untyped strings, int64s as strings,
//! maps as structs, sets as arrays). 2,000 VMs make about 18 MB of XML, like a real pool.
//!
//! Shared by `benches/codec.rs` and `examples/decode_speed.rs` through `#[path]`; it lives in a
//! subdirectory so that Cargo does not take it for a benchmark of its own.
#![allow(dead_code)]

use std::collections::HashMap;

use xenapi::codec::{self, Encoder};
use xenapi::{DateTime, Value};
use xenapi_spec::{Model, Ty};

/// How xapi writes values: untyped strings, int64s as strings.
pub const XAPI_STYLE: Encoder = Encoder {
    untyped_strings: true,
    i8_for_wide_ints: false,
};

/// A small deterministic generator (splitmix64), so every run builds the same payload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48 & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
    fn opaque_ref(&mut self) -> String {
        format!("OpaqueRef:{}", self.uuid())
    }
    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        &items[self.below(items.len() as u64) as usize]
    }
}

struct Field {
    name: String,
    ty: Ty,
}

/// The `VM` class's fields and every enum of the datamodel (crate `xenapi-spec`).
fn datamodel() -> (Vec<Field>, HashMap<String, Vec<String>>) {
    let model = Model::embedded().expect("the embedded datamodel parses");
    let enums = model
        .classes
        .iter()
        .flat_map(|c| &c.enums)
        .map(|e| (e.name.clone(), e.values.clone()))
        .collect();
    let vm = model.class("VM").expect("class VM");
    let fields = vm
        .fields
        .iter()
        .map(|f| Field {
            name: f.name.clone(),
            ty: f.ty.clone(),
        })
        .collect();
    (fields, enums)
}

fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

fn map(pairs: &[(&str, String)]) -> Value {
    Value::Struct(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), s(v.clone())))
            .collect(),
    )
}

/// The S-expression xapi stores in `last_booted_record`: a few KB of quoted text per running VM.
fn last_booted_record(rng: &mut Rng, uuid: &str, label: &str) -> String {
    let mut out = format!("('uuid' '{uuid}') ('name_label' '{label}') ('power_state' 'Running')");
    out.push_str(" ('allowed_operations' ('changing_dynamic_range' 'migrate_send' 'pool_migrate' 'changing_VCPUs_live' 'suspend' 'hard_reboot' 'hard_shutdown' 'clean_reboot' 'clean_shutdown' 'pause' 'checkpoint' 'snapshot'))");
    for key in [
        "memory_static_max",
        "memory_dynamic_max",
        "memory_dynamic_min",
        "memory_static_min",
        "memory_overhead",
        "memory_target",
    ] {
        out.push_str(&format!(
            " ('{key}' '{}')",
            (1u64 << 30) * (1 + rng.below(16))
        ));
    }
    for key in ["VIFs", "VBDs"] {
        out.push_str(&format!(
            " ('{key}' ('{}' '{}'))",
            rng.opaque_ref(),
            rng.opaque_ref()
        ));
    }
    out.push_str(" ('HVM_boot_params' (('order' 'cdn') ('firmware' 'uefi'))) ('HVM_boot_policy' 'BIOS order') ('PV_args' '') ('PV_bootloader' '') ('PV_kernel' '') ('PV_ramdisk' '') ('PCI_bus' '') ('domarch' '') ('is_a_template' 'false') ('is_control_domain' 'false') ('ha_always_run' 'false') ('ha_restart_priority' '')");
    out.push_str(&format!(" ('resident_on' '{}') ('affinity' '{}') ('metrics' '{}') ('guest_metrics' '{}') ('suspend_VDI' 'OpaqueRef:NULL') ('snapshot_of' 'OpaqueRef:NULL') ('parent' 'OpaqueRef:NULL')", rng.opaque_ref(), rng.opaque_ref(), rng.opaque_ref(), rng.opaque_ref()));
    out.push_str(&format!(
        " ('generation_id' '{}:{}') ('domain_type' 'hvm')",
        rng.next(),
        rng.next()
    ));
    out
}

/// One VM record with every field of the class.
fn vm_record(
    rng: &mut Rng,
    i: usize,
    fields: &[Field],
    enums: &HashMap<String, Vec<String>>,
) -> Value {
    let uuid = rng.uuid();
    let label = format!("vm-{i:05} (app tier {})", i % 7);
    let running = rng.below(3) != 0;
    let mut members = Vec::with_capacity(fields.len());
    for f in fields {
        let name = f.name.as_str();
        let v = match (name, &f.ty) {
            ("uuid", _) => s(uuid.clone()),
            ("name_label", _) => s(label.clone()),
            ("name_description", _) => s(format!("Created by the provisioning service for tenant {} & team <ops>", i % 13)),
            ("power_state", _) => s(if running { "Running" } else { "Halted" }),
            ("domid", _) => s(if running { (i + 1).to_string() } else { "-1".into() }),
            // Older xapi versions keep a boot record; only some VMs have one.
            ("last_booted_record", _) => s(if running && i % 4 == 0 { last_booted_record(rng, &uuid, &label) } else { String::new() }),
            ("recommendations", _) => s("<restrictions><restriction field=\"memory-static-max\" max=\"1649267441664\" /><restriction field=\"vcpus-max\" max=\"32\" /><restriction field=\"has-vendor-device\" value=\"false\" /><restriction field=\"allow-gpu-passthrough\" value=\"1\" /><restriction field=\"allow-vgpu\" value=\"1\" /></restrictions>"),
            ("HVM_boot_policy", _) => s("BIOS order"),
            ("snapshot_metadata" | "PV_args" | "PV_bootloader" | "PV_kernel" | "PV_ramdisk" | "PV_bootloader_args" | "PV_legacy_args" | "PCI_bus" | "domarch" | "transportable_snapshot_id" | "ha_restart_priority", _) => s(""),
            ("generation_id", _) => s(format!("{}:{}", rng.next(), rng.next())),
            ("reference_label", _) => s("debian-12"),
            ("platform", _) => map(&[
                ("timeoffset", "0".into()), ("nx", "true".into()), ("acpi", "1".into()),
                ("apic", "true".into()), ("pae", "true".into()), ("viridian", "true".into()),
                ("hpet", "true".into()), ("device-model", "qemu-upstream-compat".into()),
                ("secureboot", "false".into()), ("cores-per-socket", "2".into()),
            ]),
            ("other_config", _) => map(&[
                ("base_template_name", "Debian Bookworm 12".into()),
                ("import_task", rng.opaque_ref()),
                ("mac_seed", rng.uuid()),
                ("install-methods", "cdrom,nfs,http,ftp".into()),
                ("linux_template", "true".into()),
            ]),
            ("HVM_boot_params", _) => map(&[("order", "cdn".into()), ("firmware", "uefi".into())]),
            ("VCPUs_params", _) => map(&[("weight", "256".into()), ("cap", "0".into())]),
            ("bios_strings", _) => map(&[
                ("bios-vendor", "Xen".into()), ("bios-version", String::new()),
                ("system-manufacturer", "Xen".into()), ("system-product-name", "HVM domU".into()),
                ("system-version", String::new()), ("system-serial-number", String::new()),
                ("baseboard-manufacturer", String::new()), ("hp-rombios", String::new()),
                ("oem-1", "Xen".into()), ("oem-2", "MS_VM_CERT/SHA1/bdbeb6e0a816d43fa6d3fe8aaef04c2bad9d3e3d".into()),
            ]),
            ("xenstore_data", _) => map(&[
                ("vm-data/networks/0/mac", format!("{:02x}:16:3e:{:02x}:{:02x}:{:02x}", 0xaa, rng.below(256), rng.below(256), rng.below(256))),
                ("vm-data/networks/0/name", "Pool-wide network associated with eth0".into()),
            ]),
            ("NVRAM", _) if i % 2 == 0 => map(&[]),
            ("NVRAM", _) => map(&[("EFI-variables", "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB".repeat(2))]),
            ("last_boot_CPU_flags", _) if !running => map(&[]),
            ("last_boot_CPU_flags", _) => map(&[
                ("vendor", "GenuineIntel".into()),
                ("features", "1fcbfbff-f7fa3223-2d93fbff-00000023-00000001-000007ab-00000000-00000000-00001000-ac000400-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000".into()),
            ]),
            ("tags", _) => Value::Array(vec![s("production"), s(format!("tenant-{}", i % 13))]),
            ("snapshot_time", _) => Value::DateTime(DateTime::from_unix(0)),
            ("HVM_shadow_multiplier", _) => Value::Double(1.0),
            (_, Ty::Int) => s(match name {
                n if n.starts_with("memory") => ((1u64 << 30) * (1 + rng.below(16))).to_string(),
                "VCPUs_max" | "VCPUs_at_startup" => (1 + rng.below(8)).to_string(),
                _ => rng.below(4).to_string(),
            }),
            (_, Ty::Bool) => Value::Bool(rng.below(4) == 0),
            (_, Ty::String) => s(""),
            (_, Ty::Float) => Value::Double(rng.below(1000) as f64 / 8.0),
            (_, Ty::DateTime) => Value::DateTime(DateTime::from_unix(1_700_000_000 + rng.below(10_000_000) as i64)),
            (_, Ty::Set(t)) if **t == Ty::String => Value::Array(vec![]),
            (_, ty) => typed(rng, name, ty, enums, running),
        };
        members.push((f.name.clone(), v));
    }
    Value::Struct(members)
}

/// Refs, sets, enums and maps, by the datamodel type.
fn typed(
    rng: &mut Rng,
    name: &str,
    ty: &Ty,
    enums: &HashMap<String, Vec<String>>,
    running: bool,
) -> Value {
    match ty {
        Ty::Set(t) => match &**t {
            Ty::Enum(e) => {
                let values = &enums[e];
                let n = if name == "allowed_operations" {
                    values.len().min(if running { 20 } else { 12 })
                } else {
                    rng.below(2) as usize
                };
                Value::Array(values.iter().take(n).map(|v| s(v.clone())).collect())
            }
            Ty::Ref(_) => {
                // A VM typically has a couple of disks, a NIC and a console, and few other
                // devices.
                let n = match name {
                    "VBDs" => 2 + rng.below(2),
                    "VIFs" | "consoles" => 1,
                    _ => u64::from(rng.below(5) == 0),
                };
                Value::Array((0..n).map(|_| s(rng.opaque_ref())).collect())
            }
            _ => panic!("no generator for VM.{name}: {ty:?}"),
        },
        Ty::Enum(e) => s(rng.pick(&enums[e]).to_owned()),
        Ty::Ref(_) => {
            // Only a VM's host and metrics refs are usually set; the rest are mostly NULL.
            let set = match name {
                "resident_on" | "metrics" | "guest_metrics" => running || name == "metrics",
                _ => rng.below(6) == 0,
            };
            s(if !set {
                "OpaqueRef:NULL".to_owned()
            } else {
                rng.opaque_ref()
            })
        }
        Ty::Map(..) => {
            // current_operations, blocked_operations, blobs, snapshot_info: mostly empty or
            // small.
            let n = rng.below(2);
            Value::Struct(
                (0..n)
                    .map(|_| (rng.opaque_ref(), s("clean_shutdown")))
                    .collect(),
            )
        }
        _ => panic!("no generator for VM.{name}: {ty:?}"),
    }
}

/// `{Status: Success, Value: {ref: record}}` for `n` VMs.
pub fn vm_records_reply(n: usize) -> Value {
    let (fields, enums) = datamodel();
    let mut rng = Rng(0x5EED);
    let records = (0..n)
        .map(|i| {
            let r = rng.opaque_ref();
            (r, vm_record(&mut rng, i, &fields, &enums))
        })
        .collect();
    Value::structure([("Status", s("Success")), ("Value", Value::Struct(records))])
}

/// The reply above as xapi writes it.
pub fn vm_records_xml(n: usize) -> Vec<u8> {
    codec::encode_response(&vm_records_reply(n), &XAPI_STYLE)
}

/// A `session.login_with_password` reply.
pub fn login_reply_xml() -> Vec<u8> {
    codec::encode_response(
        &Value::structure([
            ("Status", s("Success")),
            ("Value", s("OpaqueRef:2c0d9a4e-53c6-4b1c-8e58-9f3c5b0f1a7d")),
        ]),
        &XAPI_STYLE,
    )
}
