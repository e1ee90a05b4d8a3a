//! The client's transfers against the simulator's handlers: disks in and out byte for byte, raw
//! and VHD, over HTTP and TLS; a cancel that leaves the disk as it was; xapi's refusals as
//! XenAPI errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use xenapi::api::{Pool, Task, TaskStatusType, Vbd, Vdi, VdiRecord, Vm};
use xenapi::transfer::{self, Control, DiskFormat, CHUNK};
use xenapi::{Options, Ref, Session, TlsPolicy};
use xenapi_tests::*;

const MIB: u64 = 1 << 20;

/// A new VDI of `size` bytes in the pool's default SR.
fn new_vdi(s: &Session, size: u64) -> Ref<Vdi> {
    let pool = Pool::get_all(s).unwrap().remove(0);
    let sr = Pool::get_default_sr(s, &pool).unwrap();
    let rec = VdiRecord {
        name_label: "transfer".into(),
        sr,
        virtual_size: size as i64,
        type_: xenapi::api::VdiType::User,
        ..VdiRecord::default()
    };
    Vdi::create(s, &rec).unwrap()
}

/// Half zeros (sparse), half a pattern.
fn content(size: u64) -> Vec<u8> {
    (0..size as usize)
        .map(|i| {
            if i < size as usize / 2 {
                0
            } else {
                (i * 31 + i / 4096) as u8
            }
        })
        .collect()
}

fn export(s: &Session, vdi: &Ref<Vdi>, format: DiskFormat) -> Vec<u8> {
    let mut out = Vec::new();
    transfer::export_vdi(s, vdi.as_str(), format, &mut out, Control::default()).unwrap();
    out
}

fn import(s: &Session, vdi: &Ref<Vdi>, format: DiskFormat, data: &[u8]) -> xenapi::Result<u64> {
    transfer::import_vdi(
        s,
        vdi.as_str(),
        format,
        &mut &data[..],
        Some(data.len() as u64),
        Control::default(),
    )
    .map(|t| t.bytes)
}

fn tasks(s: &Session) -> usize {
    Task::get_all(s).unwrap().len()
}

#[test]
fn a_raw_disk_round_trips_byte_for_byte() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vdi = new_vdi(&s, 8 * MIB);
    let data = content(8 * MIB);
    let before = tasks(&s);
    assert_eq!(import(&s, &vdi, DiskFormat::Raw, &data).unwrap(), 8 * MIB);
    let back = export(&s, &vdi, DiskFormat::Raw);
    assert!(back == data, "byte for byte");
    assert_eq!(tasks(&s), before, "the transfers' tasks destroyed");
    // By UUID as well as by reference.
    let uuid = Vdi::get_uuid(&s, &vdi).unwrap();
    let mut out = Vec::new();
    transfer::export_vdi(&s, &uuid, DiskFormat::Raw, &mut out, Control::default()).unwrap();
    assert!(out == data);
}

#[test]
fn a_vhd_round_trips_into_another_disk() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let a = new_vdi(&s, 8 * MIB);
    let data = content(8 * MIB);
    import(&s, &a, DiskFormat::Raw, &data).unwrap();
    let vhd = export(&s, &a, DiskFormat::Vhd);
    assert!(
        (vhd.len() as u64) < 8 * MIB,
        "a dynamic VHD carries only allocated blocks: {}",
        vhd.len()
    );
    let b = new_vdi(&s, 8 * MIB);
    import(&s, &b, DiskFormat::Vhd, &vhd).unwrap();
    assert!(export(&s, &b, DiskFormat::Raw) == data);
}

#[test]
fn a_cancelled_import_leaves_the_disk_as_it_was() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vdi = new_vdi(&s, 8 * MIB);
    let first = content(8 * MIB);
    import(&s, &vdi, DiskFormat::Raw, &first).unwrap();
    let task = Task::create(&s, "mine", "").unwrap();
    let other = vec![0x5a; 8 * MIB as usize];
    let e = transfer::import_vdi(
        &s,
        vdi.as_str(),
        DiskFormat::Raw,
        &mut &other[..],
        Some(other.len() as u64),
        Control {
            progress: Some(Box::new(|p| p.done < 2 * CHUNK as u64)),
            task: Some(task.as_str().to_owned()),
            ..Control::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), Some(xenapi::codes::TASK_CANCELLED), "{e}");
    assert!(wait_until(Duration::from_secs(5), || matches!(
        Task::get_status(&s, &task).unwrap(),
        TaskStatusType::Cancelled | TaskStatusType::Failure
    )));
    assert!(export(&s, &vdi, DiskFormat::Raw) == first, "unchanged");
    Task::destroy(&s, &task).unwrap();
}

#[test]
fn a_disk_in_use_is_refused_with_its_xenapi_code() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm = Ref::<Vm>::new(vm_ref(&s, "vm01"));
    let vdi = Vm::get_vbds(&s, &vm)
        .unwrap()
        .iter()
        .map(|b| Vbd::get_vdi(&s, b).unwrap())
        .find(|v| !v.is_null())
        .expect("vm01 has a disk");
    let size = Vdi::get_virtual_size(&s, &vdi).unwrap() as u64;
    let data = vec![1u8; size.min(MIB) as usize];
    let e = transfer::import_vdi(
        &s,
        vdi.as_str(),
        DiskFormat::Raw,
        &mut &data[..],
        Some(data.len() as u64),
        Control::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), Some("VDI_IN_USE"), "{e}");
    assert!(!e.to_string().contains(&s.handle().unwrap()));
    let e = transfer::export_vdi(
        &s,
        "no-such-vdi",
        DiskFormat::Raw,
        &mut Vec::new(),
        Control::default(),
    )
    .unwrap_err();
    assert!(!e.to_string().contains(&s.handle().unwrap()), "{e}");
}

#[test]
fn transfers_go_over_tls_with_the_sessions_policy() {
    let dir = std::env::temp_dir().join(format!("xenapi-transfer-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let sim = sim_with(Dialect::Xapi, |c| {
        c.tls = true;
        c.cert_out = Some(cert.clone());
    });
    let s = Session::connect(
        Options::new(sim.url()).tls(TlsPolicy::CaFile(cert.clone())),
        "root",
        "password",
    )
    .unwrap();
    let vdi = new_vdi(&s, 2 * MIB);
    let data = content(2 * MIB);
    import(&s, &vdi, DiskFormat::Raw, &data).unwrap();
    assert!(export(&s, &vdi, DiskFormat::Raw) == data);
    // A session that skips verification transfers under that policy too, with progress.
    let lax = Session::connect(
        Options::new(sim.url()).tls(TlsPolicy::InsecureSkipVerify),
        "root",
        "password",
    )
    .unwrap();
    let progress = Arc::new(Mutex::new(0u64));
    let p = Arc::clone(&progress);
    let mut out = Vec::new();
    transfer::export_vdi(
        &lax,
        vdi.as_str(),
        DiskFormat::Raw,
        &mut out,
        Control {
            progress: Some(Box::new(move |x| {
                *p.lock().unwrap() = x.done;
                true
            })),
            ..Control::default()
        },
    )
    .unwrap();
    assert_eq!(*progress.lock().unwrap(), 2 * MIB);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CONNECT proxy: records each tunnel's target and pipes bytes both ways.
fn tunnel() -> (String, Arc<Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut down) = c else { return };
            let record = Arc::clone(&record);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if down.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned();
                let target = line.split(' ').nth(1).unwrap().to_owned();
                record.lock().unwrap().push(line);
                let Ok(mut up) = TcpStream::connect(&target) else {
                    return;
                };
                down.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut d2, mut u2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut d2, &mut u2);
                    let _ = u2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut up, &mut down);
                let _ = down.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (url, seen)
}

#[test]
fn https_transfers_go_through_a_connect_tunnel_checked_end_to_end() {
    let dir = std::env::temp_dir().join(format!("xenapi-transfer-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let sim = sim_with(Dialect::Xapi, |c| {
        c.tls = true;
        c.cert_out = Some(cert.clone());
    });
    let (proxy, seen) = tunnel();
    let s = Session::connect(
        Options::new(sim.url())
            .tls(TlsPolicy::CaFile(cert.clone()))
            .proxy(&proxy),
        "root",
        "password",
    )
    .unwrap();
    let vdi = new_vdi(&s, MIB);
    let data = content(MIB);
    import(&s, &vdi, DiskFormat::Raw, &data).unwrap();
    assert!(export(&s, &vdi, DiskFormat::Raw) == data);
    let port = sim.addr().port();
    let lines = seen.lock().unwrap().clone();
    assert!(lines.len() >= 3, "probe, upload, download: {lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l == &format!("CONNECT 127.0.0.1:{port} HTTP/1.1")),
        "{lines:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
