//! The simulator's disk transfers, `PUT /import_raw_vdi` and `GET /export_raw_vdi`, driven with a
//! plain HTTP client (std's TcpStream) so that they test the server alone: round trips byte for
//! byte, the task a transfer reports on, and xapi's answers to bad requests.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use xenapi::{Session, Value};
use xenapi_tests::*;

const MIB: usize = 1 << 20;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a new connection; `body` is sent whole unless `cut` says how many of its bytes
/// to send before closing our side. The reply is read to the end of the connection.
fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    cut: Option<usize>,
) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "PUT" && !headers.iter().any(|(k, _)| k.starts_with("Transfer")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let send = &body[..cut.unwrap_or(body.len())];
    // The server may stop reading early (a refusal): a failed write is its answer.
    let _ = s.write_all(send);
    if cut.is_some() {
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no reply head in {:?}", String::from_utf8_lossy(raw)));
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn str_of(v: Value) -> String {
    v.as_str().expect("a string").to_owned()
}

fn new_task(s: &Session) -> String {
    str_of(
        s.call("task.create", vec!["transfer".into(), "".into()])
            .unwrap(),
    )
}

fn task_field(s: &Session, task: &str, field: &str) -> Value {
    s.call(&format!("task.get_{field}"), vec![task.into()])
        .unwrap()
}

fn error_info(s: &Session, task: &str) -> Vec<String> {
    task_field(s, task, "error_info")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn query(s: &Session, vdi: &str, task: Option<&str>, format: &str) -> String {
    let mut q = format!(
        "session_id={}&vdi={vdi}&format={format}",
        s.handle().unwrap()
    );
    if let Some(t) = task {
        q.push_str(&format!("&task_id={t}"));
    }
    q
}

fn import(addr: SocketAddr, q: &str, body: &[u8], cut: Option<usize>) -> Reply {
    request(addr, "PUT", &format!("/import_raw_vdi?{q}"), &[], body, cut)
}

fn export(addr: SocketAddr, q: &str) -> Reply {
    request(addr, "GET", &format!("/export_raw_vdi?{q}"), &[], &[], None)
}

/// A disk image of `size` bytes: a pattern in its first and last 4 KiB, zeros between.
fn image(size: usize, seed: u8) -> Vec<u8> {
    let mut d = vec![0u8; size];
    for (i, b) in d[..4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed) | 1;
    }
    for (i, b) in d[size - 4096..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(13).wrapping_add(seed) | 1;
    }
    d
}

#[test]
fn raw_round_trip_with_a_task_byte_for_byte() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let size = 8 * MIB + 4096;
    let vdi = new_vdi(&s, None, size);
    // A new disk reads as zeros.
    let r = export(sim.addr(), &query(&s, &vdi, None, "raw"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), size);
    assert!(r.body.iter().all(|b| *b == 0));
    let data = image(size, 1);
    let task = new_task(&s);
    let r = import(
        sim.addr(),
        &query(&s, &vdi, Some(&task), "raw"),
        &data,
        None,
    );
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("task-id"), Some(task.as_str()));
    assert_eq!(str_of(task_field(&s, &task, "status")), "success");
    assert_eq!(task_field(&s, &task, "progress").as_f64(), Some(1.0));
    assert!(
        str_of(task_field(&s, &task, "result")).contains(&vdi),
        "an import's result is the VDI"
    );
    // By uuid too, as xapi takes it.
    let uuid = str_of(s.call("VDI.get_uuid", vec![vdi.as_str().into()]).unwrap());
    let task = new_task(&s);
    let r = export(sim.addr(), &query(&s, &uuid, Some(&task), "raw"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
    assert_eq!(r.header("task-id"), Some(task.as_str()));
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"{uuid}.raw\"").as_str())
    );
    assert!(r.body == data, "the export is the import, byte for byte");
    assert_eq!(str_of(task_field(&s, &task, "status")), "success");
    // A shorter upload writes the start and keeps the rest.
    let r = import(
        sim.addr(),
        &query(&s, &vdi, None, "raw"),
        &[0xAB; 1000],
        None,
    );
    assert_eq!(r.status, 200);
    let r = export(sim.addr(), &query(&s, &vdi, None, "raw"));
    assert!(r.body[..1000].iter().all(|b| *b == 0xAB));
    assert!(r.body[1000..] == data[1000..]);
    // A clone has the content; the handler's own tasks are gone.
    let clone = str_of(
        s.call(
            "VDI.clone",
            vec![vdi.as_str().into(), Value::Struct(vec![])],
        )
        .unwrap(),
    );
    let c = export(sim.addr(), &query(&s, &clone, None, "raw"));
    assert!(c.body == r.body, "a clone copies the content");
    let tasks = s.call("task.get_all", vec![]).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 2, "only the two made here");
}

#[test]
fn a_truncated_upload_leaves_the_disk_and_fails_the_task() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let size = 4 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = image(size, 2);
    assert_eq!(
        import(sim.addr(), &query(&s, &vdi, None, "raw"), &data, None).status,
        200
    );
    let task = new_task(&s);
    let other = image(size, 9);
    let r = import(
        sim.addr(),
        &query(&s, &vdi, Some(&task), "raw"),
        &other,
        Some(3 * MIB),
    );
    assert_eq!(r.status, 200, "xapi answers before it reads");
    assert!(wait_until(Duration::from_secs(5), || str_of(task_field(
        &s, &task, "status"
    )) == "failure"));
    let info = error_info(&s, &task);
    assert_eq!(info[0], "INTERNAL_ERROR", "{info:?}");
    assert!(info[1].contains("ended after"), "{info:?}");
    let r = export(sim.addr(), &query(&s, &vdi, None, "raw"));
    assert!(r.body == data, "the disk is as it was");
}

#[test]
fn bad_requests_get_xapis_answers() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vdi = new_vdi(&s, None, MIB);
    let addr = sim.addr();
    // A bad format: 404 and the task failed.
    let task = new_task(&s);
    let r = export(addr, &query(&s, &vdi, Some(&task), "qcow3"));
    assert_eq!(r.status, 404);
    assert_eq!(str_of(task_field(&s, &task, "status")), "failure");
    assert_eq!(
        error_info(&s, &task),
        ["INTERNAL_ERROR", "Unknown format qcow3"]
    );
    // An unknown VDI: 500, xapi's UUID_INVALID from its lookup.
    let r = export(addr, &query(&s, "no-such-vdi", None, "raw"));
    assert_eq!(r.status, 500);
    assert!(String::from_utf8_lossy(&r.body).contains("UUID_INVALID"));
    // No VDI at all: an import fails the task with VDI_MISSING, 400.
    let task = new_task(&s);
    let q = format!("session_id={}&task_id={task}", s.handle().unwrap());
    assert_eq!(import(addr, &q, b"x", None).status, 400);
    assert_eq!(error_info(&s, &task), ["VDI_MISSING"]);
    // A bad or missing session: 401 with the realm, and nothing read.
    for q in [
        format!("session_id=OpaqueRef:nope&vdi={vdi}"),
        format!("vdi={vdi}"),
    ] {
        let r = export(addr, &q);
        assert_eq!(r.status, 401);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"VDI.export_raw\"")
        );
        let r = import(addr, &q, b"data", None);
        assert_eq!(r.status, 401);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"VDI.import\"")
        );
    }
    // The session in a cookie, as xapi takes it.
    let r = request(
        addr,
        "GET",
        &format!("/export_raw_vdi?vdi={vdi}"),
        &[("Cookie", &format!("session_id={}", s.handle().unwrap()))],
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), MIB);
    // An expired session too.
    let s2 = connect(&sim);
    let q = query(&s2, &vdi, None, "raw");
    sim.expire_sessions();
    assert_eq!(export(addr, &q).status, 401);
    let s = connect(&sim);
    // An HTTP-chunked upload is refused: 404, the task failed, the disk untouched.
    let task = new_task(&s);
    let r = request(
        addr,
        "PUT",
        &format!("/import_raw_vdi?{}", query(&s, &vdi, Some(&task), "raw")),
        &[("Transfer-Encoding", "chunked")],
        b"5\r\nhello\r\n0\r\n\r\n",
        None,
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        error_info(&s, &task),
        ["INTERNAL_ERROR", "Cannot handle encoding: chunked"]
    );
    let r = export(addr, &query(&s, &vdi, None, "raw"));
    assert!(r.body.iter().all(|b| *b == 0));
    // Too much data for the disk.
    let task = new_task(&s);
    let r = import(
        addr,
        &query(&s, &vdi, Some(&task), "raw"),
        &vec![1u8; MIB + 1],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(wait_until(Duration::from_secs(5), || str_of(task_field(
        &s, &task, "status"
    )) == "failure"));
    let r = export(addr, &query(&s, &vdi, None, "raw"));
    assert!(r.body.iter().all(|b| *b == 0), "the disk is as it was");
}

#[test]
fn a_disk_a_running_guest_writes_is_in_use() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vm = vm_ref(&s, "vm01");
    let vbds = s.call("VM.get_VBDs", vec![vm.as_str().into()]).unwrap();
    let disk = vbds
        .as_array()
        .unwrap()
        .iter()
        .find(|b| str_of(s.call("VBD.get_type", vec![(*b).clone()]).unwrap()) == "Disk")
        .cloned()
        .expect("vm01 has a disk");
    let vdi = str_of(s.call("VBD.get_VDI", vec![disk]).unwrap());
    let task = new_task(&s);
    let r = import(
        sim.addr(),
        &query(&s, &vdi, Some(&task), "raw"),
        b"data",
        None,
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        error_info(&s, &task),
        ["VDI_IN_USE", &vdi, "import_raw_vdi"]
    );
    // A read-only disk takes no import either.
    let ro = new_vdi(&s, None, MIB);
    s.call("VDI.set_read_only", vec![ro.as_str().into(), true.into()])
        .unwrap();
    let task = new_task(&s);
    let r = import(
        sim.addr(),
        &query(&s, &ro, Some(&task), "raw"),
        b"data",
        None,
    );
    assert_eq!(r.status, 500);
    assert_eq!(error_info(&s, &task), ["VDI_READONLY", &ro]);
    // Reading it is fine (the head is enough: the disk is large).
    let mut c = TcpStream::connect(sim.addr()).unwrap();
    let q = query(&s, &vdi, None, "raw");
    write!(c, "GET /export_raw_vdi?{q} HTTP/1.1\r\n\r\n").unwrap();
    let mut head = [0u8; 12];
    c.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
}

#[test]
fn a_disk_on_another_members_local_sr_is_redirected_there() {
    let sim = sim_with(Dialect::Xapi, |c| c.hosts = 2);
    let s = connect(&sim);
    let hosts = s.call("host.get_all", vec![]).unwrap();
    let member = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .find(|h| {
            str_of(
                s.call("host.get_name_label", vec![h.as_str().into()])
                    .unwrap(),
            ) == "host02"
        })
        .unwrap();
    let srs = s.call("SR.get_all_records", vec![]).unwrap();
    let local =
        srs.as_struct()
            .unwrap()
            .iter()
            .find(|(_, rec)| {
                let rec = rec.as_struct().unwrap();
                let get = |k: &str| rec.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                get("name_label")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref()
                    == Some("Local storage")
                    && get("PBDs").is_some_and(|p| {
                        p.as_array().unwrap().iter().any(|p| {
                            str_of(s.call("PBD.get_host", vec![p.clone()]).unwrap()) == member
                        })
                    })
            })
            .map(|(r, _)| r.clone())
            .expect("host02's local SR");
    let vdi = new_vdi(&s, Some(&local), MIB);
    let task = new_task(&s);
    let q = query(&s, &vdi, Some(&task), "raw");
    let data = image(MIB, 5);
    let r = import(sim.addr(), &q, &data, None);
    assert_eq!(r.status, 302);
    let member_url = sim.member_urls()[0].trim_end_matches('/').to_owned();
    let location = r.header("location").expect("a Location").to_owned();
    assert_eq!(
        location,
        format!("{member_url}/import_raw_vdi?{q}"),
        "same path and query"
    );
    assert_eq!(
        str_of(task_field(&s, &task, "status")),
        "pending",
        "the task is left for the member"
    );
    let member_addr: SocketAddr = member_url.trim_start_matches("http://").parse().unwrap();
    let r = import(member_addr, &q, &data, None);
    assert_eq!(r.status, 200);
    assert_eq!(str_of(task_field(&s, &task, "status")), "success");
    let r = export(sim.addr(), &query(&s, &vdi, None, "raw"));
    assert_eq!(r.status, 302);
    let r = export(member_addr, &query(&s, &vdi, None, "raw"));
    assert!(r.body == data);
}

#[test]
fn content_is_kept_across_a_restart_with_state() {
    let dir = std::env::temp_dir().join(format!("xenapi-transfers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pool.json");
    let sim1 = sim(Dialect::Xapi);
    let s = connect(&sim1);
    let size = 2 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = image(size, 3);
    assert_eq!(
        import(sim1.addr(), &query(&s, &vdi, None, "raw"), &data, None).status,
        200
    );
    sim1.save_state(&path).unwrap();
    sim1.stop();
    let sim2 = sim_with(Dialect::Xapi, |c| c.state = Some(path.clone()));
    let s = connect(&sim2);
    let r = export(sim2.addr(), &query(&s, &vdi, None, "raw"));
    assert_eq!(r.status, 200);
    assert!(r.body == data, "the content came back with the pool");
    sim2.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cancelled_transfer_stops_and_leaves_the_disk() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let size = 64 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = image(size, 4);
    assert_eq!(
        import(sim.addr(), &query(&s, &vdi, None, "raw"), &data, None).status,
        200
    );
    // An export cancelled part-way: the connection closes early, the task is cancelled.
    let task = new_task(&s);
    let mut c = TcpStream::connect(sim.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let q = query(&s, &vdi, Some(&task), "raw");
    write!(c, "GET /export_raw_vdi?{q} HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = vec![0u8; MIB];
    c.read_exact(&mut buf).unwrap();
    s.call("task.cancel", vec![task.as_str().into()]).unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.len() + MIB < size, "the export stopped early");
    assert_eq!(str_of(task_field(&s, &task, "status")), "cancelled");
    // An import cancelled part-way: the disk is as it was.
    let task = new_task(&s);
    let mut c = TcpStream::connect(sim.addr()).unwrap();
    let q = query(&s, &vdi, Some(&task), "raw");
    write!(
        c,
        "PUT /import_raw_vdi?{q} HTTP/1.1\r\nContent-Length: {size}\r\n\r\n"
    )
    .unwrap();
    let other = vec![0x5Au8; size];
    c.write_all(&other[..size / 2]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        task_field(&s, &task, "progress").as_f64().unwrap_or(0.0) > 0.2
    }));
    s.call("task.cancel", vec![task.as_str().into()]).unwrap();
    let _ = c.write_all(&other[size / 2..]);
    drop(c);
    assert!(wait_until(Duration::from_secs(10), || {
        str_of(task_field(&s, &task, "status")) == "cancelled"
    }));
    let r = export(sim.addr(), &query(&s, &vdi, None, "raw"));
    assert!(r.body == data, "the disk is as it was");
}

#[test]
fn the_event_stream_shows_a_transfers_task() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let vdi = new_vdi(&s, None, 4 * MIB);
    let task = new_task(&s);
    let from = s
        .call(
            "event.from",
            vec![
                Value::Array(vec!["task".into()]),
                "".into(),
                Value::Double(0.0),
            ],
        )
        .unwrap();
    let token = from
        .as_struct()
        .unwrap()
        .iter()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .clone();
    let r = import(
        sim.addr(),
        &query(&s, &vdi, Some(&task), "raw"),
        &image(4 * MIB, 6),
        None,
    );
    assert_eq!(r.status, 200);
    let ev = s
        .call(
            "event.from",
            vec![Value::Array(vec!["task".into()]), token, Value::Double(1.0)],
        )
        .unwrap();
    let events = ev
        .as_struct()
        .unwrap()
        .iter()
        .find(|(k, _)| k == "events")
        .unwrap()
        .1
        .as_array()
        .unwrap();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e.as_struct()
                .unwrap()
                .iter()
                .any(|(k, v)| k == "ref" && v.as_str() == Some(task.as_str()))
        })
        .collect();
    assert!(!ours.is_empty(), "events for the task: {events:?}");
    let last = ours.last().unwrap().as_struct().unwrap();
    let snapshot = last
        .iter()
        .find(|(k, _)| k == "snapshot")
        .unwrap()
        .1
        .as_struct()
        .unwrap();
    let status = snapshot
        .iter()
        .find(|(k, _)| k == "status")
        .unwrap()
        .1
        .as_str();
    assert_eq!(status, Some("success"), "the last event has the outcome");
}

/// `disk` as a dynamic VHD (the blocks with data), made by the core's format module.
fn to_vhd(disk: &[u8]) -> Vec<u8> {
    let block = xenapi::vhd::BLOCK_SIZE as usize;
    let blocks = (0..disk.len().div_ceil(block))
        .filter(|b| {
            disk[b * block..((b + 1) * block).min(disk.len())]
                .iter()
                .any(|x| *x != 0)
        })
        .map(|b| b as u64);
    let mut out = Vec::new();
    let options = xenapi::vhd::WriteOptions {
        uuid: [9; 16],
        timestamp: 1,
    };
    let mut src = disk.to_vec();
    xenapi::vhd::write_dynamic(&mut out, disk.len() as u64, blocks, &mut src, &options).unwrap();
    out
}

#[test]
fn vhd_in_raw_out_and_raw_in_vhd_out() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let size = 10 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = image(size, 7);
    // VHD in, raw out.
    let task = new_task(&s);
    let r = import(
        sim.addr(),
        &query(&s, &vdi, Some(&task), "vhd"),
        &to_vhd(&data),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        str_of(task_field(&s, &task, "status")),
        "success",
        "{:?}",
        error_info(&s, &task)
    );
    let r = export(sim.addr(), &query(&s, &vdi, None, "raw"));
    assert!(r.body == data, "the VHD's content, byte for byte");
    // Raw in (another disk), VHD out: parsed back, it is the disk; only blocks with data travel.
    let other = new_vdi(&s, None, size);
    let mut data2 = vec![0u8; size];
    data2[size - 10..].copy_from_slice(b"at the end");
    assert_eq!(
        import(sim.addr(), &query(&s, &other, None, "raw"), &data2, None).status,
        200
    );
    let r = export(sim.addr(), &query(&s, &other, None, "vhd"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vhd"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let mut back = vec![0u8; size];
    let info = xenapi::vhd::read(r.body.as_slice(), back.as_mut_slice()).expect("a VHD");
    assert_eq!(info.virtual_size, size as u64);
    assert_eq!(info.allocated_blocks, 1, "one block with data");
    assert!(back == data2);
    // The same disk exports to the same bytes.
    let again = export(sim.addr(), &query(&s, &other, None, "vhd"));
    assert!(again.body == r.body, "byte-identical repeated export");
    // And it imports back as it was.
    let third = new_vdi(&s, None, size);
    assert_eq!(
        import(sim.addr(), &query(&s, &third, None, "vhd"), &r.body, None).status,
        200
    );
    assert!(export(sim.addr(), &query(&s, &third, None, "raw")).body == data2);
}

#[test]
fn a_bad_or_cut_vhd_fails_and_leaves_the_disk() {
    let sim = sim(Dialect::Xapi);
    let s = connect(&sim);
    let size = 4 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = image(size, 8);
    assert_eq!(
        import(sim.addr(), &query(&s, &vdi, None, "raw"), &data, None).status,
        200
    );
    // Not a VHD at all.
    let task = new_task(&s);
    let r = import(
        sim.addr(),
        &query(&s, &vdi, Some(&task), "vhd"),
        &vec![7u8; 4096],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(wait_until(Duration::from_secs(5), || str_of(task_field(
        &s, &task, "status"
    )) == "failure"));
    let info = error_info(&s, &task);
    assert_eq!(info[0], "INTERNAL_ERROR");
    assert!(info[1].contains("VHD"), "{info:?}");
    // A VHD cut short.
    let vhd = to_vhd(&image(size, 1));
    let task = new_task(&s);
    let r = import(
        sim.addr(),
        &query(&s, &vdi, Some(&task), "vhd"),
        &vhd,
        Some(vhd.len() - 600),
    );
    assert_eq!(r.status, 200);
    assert!(wait_until(Duration::from_secs(5), || str_of(task_field(
        &s, &task, "status"
    )) == "failure"));
    // A VHD of a larger disk.
    let task = new_task(&s);
    let big = to_vhd(&image(2 * size, 1));
    import(sim.addr(), &query(&s, &vdi, Some(&task), "vhd"), &big, None);
    assert!(wait_until(Duration::from_secs(5), || str_of(task_field(
        &s, &task, "status"
    )) == "failure"));
    assert!(
        export(sim.addr(), &query(&s, &vdi, None, "raw")).body == data,
        "unchanged"
    );
}

#[test]
fn disk_dir_keeps_content_in_sparse_files_by_uuid() {
    let dir = std::env::temp_dir().join(format!("xenapi-disk-dir-{}", std::process::id()));
    let sim = sim_with(Dialect::Xapi, |c| c.disk_dir = Some(dir.clone()));
    let s = connect(&sim);
    let size = 64 * MIB;
    let vdi = new_vdi(&s, None, size);
    let data = image(size, 4);
    assert_eq!(
        import(sim.addr(), &query(&s, &vdi, None, "raw"), &data, None).status,
        200
    );
    let uuid = str_of(s.call("VDI.get_uuid", vec![vdi.as_str().into()]).unwrap());
    let file = dir.join(format!("{uuid}.img"));
    let meta = std::fs::metadata(&file).expect("the disk's file");
    assert_eq!(meta.len(), size as u64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert!(
            meta.blocks() * 512 < (size / 4) as u64,
            "sparse: {} blocks",
            meta.blocks()
        );
    }
    s.call("VDI.destroy", vec![vdi.as_str().into()]).unwrap();
    assert!(!file.exists(), "destroyed with its VDI");
    sim.stop();
    assert!(dir.exists(), "a disk directory given is kept");
    let _ = std::fs::remove_dir_all(&dir);
}
