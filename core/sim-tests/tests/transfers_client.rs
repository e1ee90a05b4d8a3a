//! The core's `xenapi::transfer` against the simulator's disk handlers: both ends of the
//! project's transfers together (the server alone is in transfers_server.rs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use xenapi::transfer::{self, Control, DiskFormat, Target};
use xenapi::{Session, Value};
use xenapi_tests::*;

const MIB: usize = 1 << 20;

fn str_of(v: Value) -> String {
    v.as_str().expect("a string").to_owned()
}

fn pattern(size: usize, seed: u8) -> Vec<u8> {
    let mut d = vec![0u8; size];
    for (i, b) in d[..4096].iter_mut().enumerate() {
        *b = (i as u8) ^ seed | 1;
    }
    d[size - 3..].copy_from_slice(b"end");
    d
}

fn export(s: &Session, vdi: &str, format: DiskFormat) -> Vec<u8> {
    let mut out = Vec::new();
    transfer::export_vdi(s, vdi, format, &mut out, Control::default()).expect("export");
    out
}

#[test]
fn raw_and_vhd_round_trip_through_the_core() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let size = 6 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = pattern(size, 3);
    let moved = Arc::new(AtomicU64::new(0));
    let m = Arc::clone(&moved);
    let control = Control {
        progress: Some(Box::new(move |p| {
            m.store(p.done, Ordering::SeqCst);
            true
        })),
        ..Control::default()
    };
    let done = transfer::import_vdi(
        &s,
        &vdi,
        DiskFormat::Raw,
        &mut data.as_slice(),
        Some(size as u64),
        control,
    )
    .expect("import");
    assert_eq!(done.bytes, size as u64);
    assert!(
        done.result.contains(&vdi),
        "the task's result names the VDI"
    );
    assert_eq!(moved.load(Ordering::SeqCst), size as u64);
    assert!(
        export(&s, &vdi, DiskFormat::Raw) == data,
        "raw, byte for byte"
    );
    // VHD out, then into another disk, of unknown length (xen-orchestra's way).
    let vhd = export(&s, &vdi, DiskFormat::Vhd);
    assert!(vhd.len() < size, "only blocks with data travel");
    let other = new_vdi(&s, None, size);
    transfer::import_vdi(
        &s,
        &other,
        DiskFormat::Vhd,
        &mut vhd.as_slice(),
        None,
        Control::default(),
    )
    .expect("VHD import of unknown length");
    assert!(
        export(&s, &other, DiskFormat::Raw) == data,
        "VHD in, raw out"
    );
    // The handler's own tasks go as its connections close.
    assert!(
        wait_until(std::time::Duration::from_secs(5), || {
            let tasks = s.call("task.get_all", vec![]).unwrap();
            tasks.as_array().unwrap().is_empty()
        }),
        "no task left behind"
    );
}

#[test]
fn failures_and_cancels_come_back_with_the_disk_unchanged() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let size = 8 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = pattern(size, 5);
    transfer::import_vdi(
        &s,
        &vdi,
        DiskFormat::Raw,
        &mut data.as_slice(),
        Some(size as u64),
        Control::default(),
    )
    .unwrap();
    // A bad format: the task's error comes back.
    let mut sink = Vec::new();
    let target = Target::new("/export_raw_vdi")
        .arg("vdi", vdi.as_str())
        .arg("format", "qcow3");
    let err =
        transfer::download(&s, &target, &mut sink, Control::default()).expect_err("bad format");
    assert!(
        err.to_string().contains("qcow3") || err.code() == Some("INTERNAL_ERROR"),
        "{err}"
    );
    // Not a VHD.
    let junk = vec![1u8; MIB];
    let err = transfer::import_vdi(
        &s,
        &vdi,
        DiskFormat::Vhd,
        &mut junk.as_slice(),
        Some(MIB as u64),
        Control::default(),
    )
    .expect_err("junk is no VHD");
    assert_eq!(err.code(), Some("INTERNAL_ERROR"), "{err}");
    // Cancelled half-way, in the caller's task.
    let task = str_of(
        s.call("task.create", vec!["mine".into(), "".into()])
            .unwrap(),
    );
    let other = vec![0x77u8; size];
    let control = Control {
        progress: Some(Box::new(|p| p.done < (size / 2) as u64)),
        task: Some(task.clone()),
        ..Control::default()
    };
    let err = transfer::import_vdi(
        &s,
        &vdi,
        DiskFormat::Raw,
        &mut other.as_slice(),
        Some(size as u64),
        control,
    )
    .expect_err("cancelled");
    assert_eq!(err.code(), Some("TASK_CANCELLED"), "{err}");
    assert!(wait_until(std::time::Duration::from_secs(5), || {
        str_of(
            s.call("task.get_status", vec![task.as_str().into()])
                .unwrap(),
        ) == "cancelled"
    }));
    assert!(
        export(&s, &vdi, DiskFormat::Raw) == data,
        "the disk is as it was"
    );
}

#[test]
fn the_core_follows_a_redirect_to_the_member_with_the_disk() {
    let sim = sim_with(Dialect::Xapi, |c| c.hosts = 2);
    let s = connect(&sim);
    let srs = s
        .call("SR.get_by_name_label", vec!["Local storage".into()])
        .unwrap();
    let member = s
        .call("host.get_by_name_label", vec!["host02".into()])
        .unwrap()
        .as_array()
        .unwrap()[0]
        .clone();
    let local = srs
        .as_array()
        .unwrap()
        .iter()
        .find(|sr| {
            let pbds = s.call("SR.get_PBDs", vec![(*sr).clone()]).unwrap();
            pbds.as_array()
                .unwrap()
                .iter()
                .any(|p| s.call("PBD.get_host", vec![p.clone()]).unwrap() == member)
        })
        .map(|sr| str_of(sr.clone()))
        .expect("host02's local SR");
    let size = 2 * MIB;
    let vdi = new_vdi(&s, Some(&local), size);
    let data = pattern(size, 9);
    transfer::import_vdi(
        &s,
        &vdi,
        DiskFormat::Raw,
        &mut data.as_slice(),
        Some(size as u64),
        Control::default(),
    )
    .expect("import through the redirect");
    assert!(export(&s, &vdi, DiskFormat::Raw) == data);
}

#[test]
fn transfers_over_tls_with_a_pinned_certificate() {
    let sim = sim_with(Dialect::Xapi, |c| c.tls = true);
    let pin = xenapi::TlsPolicy::fingerprint(sim.fingerprint().unwrap()).unwrap();
    let options = xenapi::Options::new(sim.url())
        .tls(pin)
        .timeout(std::time::Duration::from_secs(20));
    let s = Session::connect(options, "root", "password").unwrap();
    let size = 4 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = pattern(size, 11);
    transfer::import_vdi(
        &s,
        &vdi,
        DiskFormat::Vhd,
        &mut to_vhd_via_sim(&s, &data).as_slice(),
        None,
        Control::default(),
    )
    .expect("VHD import over TLS");
    assert!(
        export(&s, &vdi, DiskFormat::Raw) == data,
        "over TLS, byte for byte"
    );
}

/// `data` as a VHD, made by the simulator itself (raw in, VHD out of a scratch disk).
fn to_vhd_via_sim(s: &Session, data: &[u8]) -> Vec<u8> {
    let scratch = new_vdi(s, None, data.len());
    transfer::import_vdi(
        s,
        &scratch,
        DiskFormat::Raw,
        &mut &data[..],
        Some(data.len() as u64),
        Control::default(),
    )
    .unwrap();
    export(s, &scratch, DiskFormat::Vhd)
}
