//! VM export and import (XVA, `GET /export` and `PUT /import`) against the simulator, through
//! the core's transfers: a VM with two disks with content exports and imports back as a new VM
//! with the same metadata and the same bytes, plain, gzipped and zstd-compressed; xapi's
//! refusals (a running VM, a truncated or damaged upload, which leave nothing behind).

use xenapi::transfer::{self, Compression, Control, DiskFormat};
use xenapi::{Session, Value};
use xenapi_tests::*;

const MIB: u64 = 1 << 20;
const SIZES: [u64; 2] = [3 * MIB + 4096, 2 * MIB];

fn call(s: &Session, method: &str, args: Vec<Value>) -> Value {
    s.call(method, args)
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

fn text(s: &Session, method: &str, r: &str) -> String {
    call(s, method, vec![r.into()]).as_str().unwrap().to_owned()
}

fn count(s: &Session, class: &str) -> usize {
    call(s, &format!("{class}.get_all"), vec![])
        .as_array()
        .unwrap()
        .len()
}

/// Disk `i`'s content: data in its first chunk, its third, and its last bytes; zeros between.
fn content(i: usize) -> Vec<u8> {
    let mut d = vec![0u8; SIZES[i] as usize];
    for (k, b) in d[..5000].iter_mut().enumerate() {
        *b = (k * 7 + i) as u8;
    }
    if d.len() > 2 * MIB as usize + 10 {
        d[2 * MIB as usize..2 * MIB as usize + 10].copy_from_slice(b"third mib!");
    }
    let n = d.len();
    d[n - 3..].copy_from_slice(b"end");
    d
}

/// A Halted VM "xva-source" with two disks of SIZES holding [`content`], and a VIF.
fn source_vm(s: &Session) -> String {
    let gib = (1i64 << 30).to_string();
    let vm = call(
        s,
        "VM.create",
        vec![Value::structure([
            ("name_label", Value::from("xva-source")),
            ("name_description", "exported and imported".into()),
            ("memory_static_min", gib.as_str().into()),
            ("memory_dynamic_min", gib.as_str().into()),
            ("memory_dynamic_max", gib.as_str().into()),
            ("memory_static_max", gib.as_str().into()),
            ("VCPUs_max", "2".into()),
            ("VCPUs_at_startup", "2".into()),
            (
                "other_config",
                Value::structure([("purpose", Value::from("xva test"))]),
            ),
        ])],
    );
    let vm = vm.as_str().unwrap().to_owned();
    let pool = call(s, "pool.get_all", vec![]).as_array().unwrap()[0].clone();
    let sr = call(s, "pool.get_default_SR", vec![pool]);
    for (i, size) in SIZES.iter().enumerate() {
        let vdi = call(
            s,
            "VDI.create",
            vec![Value::structure([
                ("name_label", Value::from(format!("disk {i}").as_str())),
                ("SR", sr.clone()),
                ("virtual_size", size.to_string().as_str().into()),
                ("type", "user".into()),
                ("sharable", false.into()),
                ("read_only", false.into()),
            ])],
        );
        let vdi = vdi.as_str().unwrap().to_owned();
        call(
            s,
            "VBD.create",
            vec![Value::structure([
                ("VM", Value::from(vm.as_str())),
                ("VDI", vdi.as_str().into()),
                ("userdevice", i.to_string().as_str().into()),
                ("bootable", (i == 0).into()),
                ("mode", "RW".into()),
                ("type", "Disk".into()),
                ("empty", false.into()),
            ])],
        );
        let data = content(i);
        transfer::import_vdi(
            s,
            &vdi,
            DiskFormat::Raw,
            &mut data.as_slice(),
            Some(data.len() as u64),
            Control::default(),
        )
        .unwrap();
    }
    let net = call(s, "network.get_all", vec![]).as_array().unwrap()[0].clone();
    call(
        s,
        "VIF.create",
        vec![Value::structure([
            ("VM", Value::from(vm.as_str())),
            ("network", net),
            ("device", "0".into()),
            ("MAC", "02:00:00:00:00:42".into()),
            ("MTU", "1500".into()),
        ])],
    );
    vm
}

/// The VM's disks as (userdevice, VDI), by userdevice.
fn disks(s: &Session, vm: &str) -> Vec<(String, String)> {
    let vbds = call(s, "VM.get_VBDs", vec![vm.into()]);
    let mut out: Vec<(String, String)> = vbds
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let b = b.as_str().unwrap();
            (text(s, "VBD.get_userdevice", b), text(s, "VBD.get_VDI", b))
        })
        .collect();
    out.sort();
    out
}

fn bytes_of(s: &Session, vdi: &str) -> Vec<u8> {
    let mut out = Vec::new();
    transfer::export_vdi(s, vdi, DiskFormat::Raw, &mut out, Control::default()).unwrap();
    out
}

#[test]
fn a_vm_exports_and_imports_back_with_its_metadata_and_disks() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm = source_vm(&s);
    // What /import_raw_vdi stored (a failure here is the raw transfer's, not the XVA's).
    for (i, (_, vdi)) in disks(&s, &vm).iter().enumerate() {
        assert!(bytes_of(&s, vdi) == content(i), "the source's disk {i}");
    }
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let mut xva = Vec::new();
        let done = transfer::export_vm(
            &s,
            &text(&s, "VM.get_uuid", &vm),
            compression,
            &mut xva,
            Control::default(),
        )
        .unwrap();
        assert_eq!(done.bytes, xva.len() as u64);
        match compression {
            Compression::Gzip => assert_eq!(&xva[..2], &[0x1f, 0x8b], "gzip"),
            Compression::Zstd => assert_eq!(&xva[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
            _ => assert_eq!(&xva[..7], b"ova.xml", "a tar, ova.xml first"),
        }
        let vms = count(&s, "VM");
        let new = transfer::import_vm(
            &s,
            &mut xva.as_slice(),
            Some(xva.len() as u64),
            None,
            Control::default(),
        )
        .unwrap();
        assert_eq!(new.len(), 1, "{new:?}");
        let new = &new[0];
        assert_eq!(count(&s, "VM"), vms + 1);
        assert_ne!(new, &vm);
        assert_ne!(text(&s, "VM.get_uuid", new), text(&s, "VM.get_uuid", &vm));
        for f in [
            "name_label",
            "name_description",
            "memory_static_max",
            "VCPUs_max",
            "VCPUs_at_startup",
        ] {
            let get = format!("VM.get_{f}");
            assert_eq!(
                call(&s, &get, vec![new.as_str().into()]),
                call(&s, &get, vec![vm.as_str().into()]),
                "{f}"
            );
        }
        assert_eq!(
            call(&s, "VM.get_other_config", vec![new.as_str().into()]),
            call(&s, "VM.get_other_config", vec![vm.as_str().into()])
        );
        assert_eq!(text(&s, "VM.get_power_state", new), "Halted");
        let vifs = call(&s, "VM.get_VIFs", vec![new.as_str().into()]);
        assert_eq!(vifs.as_array().unwrap().len(), 1);
        let (old_disks, new_disks) = (disks(&s, &vm), disks(&s, new));
        assert_eq!(new_disks.len(), 2);
        for (i, ((ud, a), (ud2, b))) in old_disks.iter().zip(&new_disks).enumerate() {
            assert_eq!(ud, ud2);
            assert_ne!(a, b, "a new VDI");
            assert_eq!(
                text(&s, "VDI.get_virtual_size", b),
                SIZES[i].to_string(),
                "disk {i}"
            );
            assert!(
                bytes_of(&s, b) == content(i),
                "{compression:?}: disk {i}'s bytes"
            );
        }
    }
}

#[test]
fn a_running_vm_is_refused_as_xapi_refuses_it() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let running = vm_ref(&s, "vm01");
    assert_eq!(power_state(&s, &running), "Running");
    let mut out = Vec::new();
    let e = transfer::export_vm(
        &s,
        &running,
        Compression::None,
        &mut out,
        Control::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), Some("VM_BAD_POWER_STATE"), "{e}");
    let p = e.failure().unwrap().params();
    assert_eq!(&p[1..], ["halted, suspended", "running"]);
}

#[test]
fn a_truncated_or_damaged_upload_leaves_nothing_behind() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm = source_vm(&s);
    let mut xva = Vec::new();
    transfer::export_vm(&s, &vm, Compression::None, &mut xva, Control::default()).unwrap();
    let before = (count(&s, "VM"), count(&s, "VDI"), count(&s, "VBD"));
    let half = &xva[..xva.len() / 2];
    let e = transfer::import_vm(
        &s,
        &mut &half[..],
        Some(half.len() as u64),
        None,
        Control::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), Some("IMPORT_ERROR_PREMATURE_EOF"), "{e}");
    assert_eq!(
        (count(&s, "VM"), count(&s, "VDI"), count(&s, "VBD")),
        before
    );

    // A byte of a disk changed: its chunk's checksum fails.
    let at = xva.windows(10).position(|w| w == b"third mib!").unwrap();
    let mut bad = xva.clone();
    bad[at] ^= 0x20;
    let e = transfer::import_vm(
        &s,
        &mut bad.as_slice(),
        Some(bad.len() as u64),
        None,
        Control::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), Some("IMPORT_ERROR_SOME_CHECKSUMS_FAILED"), "{e}");
    assert_eq!(
        (count(&s, "VM"), count(&s, "VDI"), count(&s, "VBD")),
        before
    );
}

#[test]
fn an_import_goes_to_the_sr_asked_for() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm = source_vm(&s);
    let mut xva = Vec::new();
    transfer::export_vm(&s, &vm, Compression::None, &mut xva, Control::default()).unwrap();
    let pool = call(&s, "pool.get_all", vec![]).as_array().unwrap()[0].clone();
    let default = text(&s, "pool.get_default_SR", pool.as_str().unwrap());
    // Another SR that takes disks: a local one of this host.
    let other = call(&s, "SR.get_all", vec![])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .find(|r| {
            *r != default
                && text(&s, "SR.get_content_type", r) != "iso"
                && text(&s, "SR.get_type", r) != "udev"
        })
        .expect("a second SR");
    let new = transfer::import_vm(
        &s,
        &mut xva.as_slice(),
        Some(xva.len() as u64),
        Some(&text(&s, "SR.get_uuid", &other)),
        Control::default(),
    )
    .unwrap();
    for (_, vdi) in disks(&s, &new[0]) {
        assert_eq!(text(&s, "VDI.get_SR", &vdi), other);
    }
}
