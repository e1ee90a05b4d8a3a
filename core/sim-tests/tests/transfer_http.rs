//! HTTP transfers against a scripted server: the API calls (login, `task.*`) go through to the
//! simulator, the transfer requests to a handler each test writes, which sees the wire as sent
//! and answers as xapi would, or wouldn't (a 302, a 500, a cut reply, silence), and sets the
//! transfer's task through its own session to the simulator.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use xenapi::api::{Task, TaskStatusType};
use xenapi::transfer::{
    self, Cancel, Compression, Control, DiskFormat, Progress, CHUNK, UNKNOWN_LENGTH,
};
use xenapi::{ErrorKind, Options, Ref, Session};
use xenapi_tests::*;

/// One request as the handler sees it.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn task(&self) -> Ref<Task> {
        Ref::new(self.query.get("task_id").cloned().unwrap_or_default())
    }

    /// Reads the body: `Content-Length` bytes, or up to the close when it is the 1 PiB one.
    fn body(&self, s: &mut TcpStream) -> Vec<u8> {
        let n: u64 = self.header("content-length").unwrap().parse().unwrap();
        let mut out = Vec::new();
        if n == UNKNOWN_LENGTH {
            s.read_to_end(&mut out).unwrap();
        } else {
            s.take(n).read_to_end(&mut out).unwrap();
        }
        out
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    Some(String::from_utf8(buf).unwrap())
}

fn parse(head: &str) -> Req {
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap().split(' ');
    let method = first.next().unwrap().to_owned();
    let target = first.next().unwrap();
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let query = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Req {
        method,
        path: path.to_owned(),
        query,
        headers,
    }
}

type Handler = dyn Fn(&Req, &mut TcpStream) + Send + Sync;

/// A scripted server: API calls to the simulator, the rest to `handler`; every transfer request
/// recorded.
struct Script {
    url: String,
    seen: Arc<Mutex<Vec<Req>>>,
}

fn script(
    api: Option<std::net::SocketAddr>,
    handler: impl Fn(&Req, &mut TcpStream) + Send + Sync + 'static,
) -> Script {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let record = Arc::clone(&seen);
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            let handler = Arc::clone(&handler);
            let record = Arc::clone(&record);
            thread::spawn(move || {
                let Some(head) = read_head(&mut s) else {
                    return;
                };
                let req = parse(&head);
                if req.method == "POST" {
                    forward(api.expect("no API here"), &head, &req, &mut s);
                    return;
                }
                record.lock().unwrap().push(req.clone());
                handler(&req, &mut s);
            });
        }
    });
    Script { url, seen }
}

/// One API call passed to the simulator on a connection of its own.
fn forward(api: std::net::SocketAddr, head: &str, req: &Req, s: &mut TcpStream) {
    let n: u64 = req.header("content-length").unwrap_or("0").parse().unwrap();
    let mut body = Vec::new();
    s.take(n).read_to_end(&mut body).unwrap();
    let head: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:") && !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect();
    // The simulator may be gone at the end of a test (a logout on drop).
    let Ok(mut up) = TcpStream::connect(api) else {
        return;
    };
    up.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .unwrap();
    up.write_all(&body).unwrap();
    let mut reply = Vec::new();
    up.read_to_end(&mut reply).unwrap();
    let _ = s.write_all(&reply);
}

fn reply(s: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
    let _ = s.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let _ = s.write_all(body);
}

/// The content of a test disk: not all zeros, not periodic in CHUNK.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 1000) as u8).collect()
}

struct World {
    _sim: Running,
    /// The test's session, through the script.
    s: Session,
    /// The handler's own session, straight to the simulator.
    admin: Arc<Session>,
}

fn world(
    handler: impl Fn(&Req, &mut TcpStream, &Session) + Send + Sync + 'static,
) -> (World, Script) {
    let sim = sim(Dialect::Xapi);
    let admin = Arc::new(connect(&sim));
    let a = Arc::clone(&admin);
    let script = script(Some(sim.addr()), move |req, s| handler(req, s, &a));
    let s = Session::connect(
        Options::new(&script.url)
            .timeout(Duration::from_secs(20))
            .protocol(xenapi::Protocol::XmlRpc)
            .failover(false),
        "root",
        "password",
    )
    .unwrap();
    (
        World {
            _sim: sim,
            s,
            admin,
        },
        script,
    )
}

fn succeed(admin: &Session, task: &Ref<Task>, result: &str) {
    Task::set_result(admin, task, result).unwrap();
    Task::set_status(admin, task, TaskStatusType::Success).unwrap();
}

fn fail(admin: &Session, task: &Ref<Task>, info: &[&str]) {
    let info: Vec<String> = info.iter().map(|s| s.to_string()).collect();
    Task::set_error_info(admin, task, &info).unwrap();
    Task::set_status(admin, task, TaskStatusType::Failure).unwrap();
}

fn tasks(s: &Session) -> usize {
    Task::get_all(s).unwrap().len()
}

#[test]
fn a_download_follows_a_302_keeps_its_query_and_reports_progress() {
    let data = pattern(3 * CHUNK + 12345);
    let served = data.clone();
    let sim = sim(Dialect::Xapi);
    let admin = Arc::new(connect(&sim));
    let a = Arc::clone(&admin);
    // The member that holds the disk.
    let member = script(None, move |req, s| {
        assert_eq!(req.path, "/export_raw_vdi");
        succeed(&a, &req.task(), "");
        reply(s, "200 OK", "", &served);
    });
    let location = format!("{}export_raw_vdi?session_id=theirs", member.url);
    let coordinator = script(Some(sim.addr()), move |_, s| {
        reply(s, "302 Found", &format!("Location: {location}\r\n"), b"");
    });
    let s = Session::connect(
        Options::new(&coordinator.url).protocol(xenapi::Protocol::XmlRpc),
        "root",
        "password",
    )
    .unwrap();
    let before = tasks(&admin);
    let mut out = Vec::new();
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let log = Arc::clone(&seen);
    let done = transfer::export_vdi(
        &s,
        "OpaqueRef:disk",
        DiskFormat::Vhd,
        &mut out,
        Control {
            progress: Some(Box::new(move |p| {
                log.lock().unwrap().push(p);
                true
            })),
            ..Control::default()
        },
    )
    .unwrap();
    assert_eq!(done.bytes, data.len() as u64);
    assert!(out == data, "byte for byte");
    let first = coordinator.seen.lock().unwrap()[0].clone();
    let second = member.seen.lock().unwrap()[0].clone();
    assert_eq!(
        first.query, second.query,
        "the same query after the redirect"
    );
    assert_eq!(second.query["session_id"], s.handle().unwrap());
    assert_eq!(second.query["vdi"], "OpaqueRef:disk");
    assert_eq!(second.query["format"], "vhd");
    assert!(second.query["task_id"].starts_with("OpaqueRef:"));
    let p = seen.lock().unwrap();
    assert!(
        p.len() >= 3 && p.len() <= 5,
        "once per CHUNK and at the end: {p:?}"
    );
    assert!(p.windows(2).all(|w| w[0].done <= w[1].done));
    assert_eq!(
        *p.last().unwrap(),
        Progress {
            done: data.len() as u64,
            total: Some(data.len() as u64)
        }
    );
    assert_eq!(tasks(&admin), before, "its own task destroyed");
}

#[test]
fn a_failed_task_gives_its_xenapi_error_and_a_bare_500_its_status() {
    let (w, _script) = world(|req, s, admin| {
        if req.query.get("vdi").map(String::as_str) == Some("busy") {
            fail(
                admin,
                &req.task(),
                &["VDI_IN_USE", "OpaqueRef:busy", "export"],
            );
        }
        reply(s, "500 Internal Server Error", "", b"");
    });
    let handle = w.s.handle().unwrap();
    let e = transfer::export_vdi(
        &w.s,
        "busy",
        DiskFormat::Raw,
        &mut Vec::new(),
        Control::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), Some("VDI_IN_USE"), "{e}");
    let e = transfer::export_vdi(
        &w.s,
        "other",
        DiskFormat::Raw,
        &mut Vec::new(),
        Control::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http, "{e}");
    assert!(matches!(e, xenapi::Error::Http { status: 500, .. }), "{e}");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(&handle), "no session reference: {text}");
        assert!(text.contains("/export_raw_vdi"), "{text}");
    }
}

#[test]
fn a_reply_cut_short_fails() {
    let (w, _script) = world(|req, s, admin| {
        succeed(admin, &req.task(), "");
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        let _ = s.write_all(&[7u8; 5000]);
    });
    let mut out = Vec::new();
    let e =
        transfer::export_vdi(&w.s, "v", DiskFormat::Raw, &mut out, Control::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.to_string().contains("5000 of its 100000"), "{e}");
}

#[test]
fn a_silent_server_meets_the_idle_timeout() {
    let (w, _script) = world(|_, s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        thread::sleep(Duration::from_secs(5));
    });
    let start = Instant::now();
    let e = transfer::export_vdi(
        &w.s,
        "v",
        DiskFormat::Raw,
        &mut Vec::new(),
        Control {
            idle_timeout: Some(Duration::from_millis(300)),
            ..Control::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

/// A server that sends 2 MiB of an endless body, then nothing.
fn stalling(req: &Req, s: &mut TcpStream, _: &Session) {
    let _ = req;
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
    let _ = s.write_all(&vec![1u8; 2 * CHUNK]);
    thread::sleep(Duration::from_secs(10));
}

#[test]
fn a_cancel_from_another_thread_stops_a_stalled_download_and_cancels_the_task() {
    let (w, _script) = world(stalling);
    let task = Task::create(&w.s, "mine", "").unwrap();
    let cancel = Cancel::new();
    let c = cancel.clone();
    let start = Instant::now();
    let e = transfer::export_vdi(
        &w.s,
        "v",
        DiskFormat::Raw,
        &mut Vec::new(),
        Control {
            progress: Some(Box::new(move |p| {
                if p.done >= CHUNK as u64 {
                    let c = c.clone();
                    thread::spawn(move || {
                        thread::sleep(Duration::from_millis(200));
                        c.cancel();
                    });
                }
                true
            })),
            task: Some(task.as_str().to_owned()),
            cancel: Some(cancel),
            ..Control::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), Some(xenapi::codes::TASK_CANCELLED), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            Task::get_status(&w.admin, &task).unwrap(),
            TaskStatusType::Cancelled | TaskStatusType::Cancelling
        ),
        "the caller's task cancelled, and left for the caller"
    );
    Task::destroy(&w.s, &task).unwrap();
}

#[test]
fn a_progress_callback_returning_false_cancels() {
    let (w, _script) = world(stalling);
    let before = tasks(&w.admin);
    let e = transfer::export_vdi(
        &w.s,
        "v",
        DiskFormat::Raw,
        &mut Vec::new(),
        Control {
            progress: Some(Box::new(|p| p.done < CHUNK as u64)),
            ..Control::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), Some(xenapi::codes::TASK_CANCELLED), "{e}");
    assert_eq!(tasks(&w.admin), before, "its own task destroyed");
}

#[test]
fn an_upload_has_its_content_length_and_is_never_chunked() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&got);
    let (w, script) = world(move |req, s, admin| {
        if req.query.contains_key("task_id") {
            // xapi answers before it reads the body.
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
            let body = req.body(s);
            *keep.lock().unwrap() = body;
            succeed(admin, &req.task(), "");
        } else {
            let body = req.body(s);
            assert!(body.is_empty(), "the redirect probe has no body");
            reply(s, "200 OK", "", b"");
        }
    });
    let data = pattern(2 * CHUNK + 777);
    let done = transfer::import_vdi(
        &w.s,
        "OpaqueRef:d",
        DiskFormat::Raw,
        &mut &data[..],
        Some(data.len() as u64),
        Control::default(),
    )
    .unwrap();
    assert_eq!(done.bytes, data.len() as u64);
    assert!(*got.lock().unwrap() == data);
    let seen = script.seen.lock().unwrap();
    let put = seen
        .iter()
        .find(|r| r.query.contains_key("task_id"))
        .unwrap();
    assert_eq!(put.method, "PUT");
    assert_eq!(put.header("content-length"), Some(&*data.len().to_string()));
    assert_eq!(put.header("transfer-encoding"), None);
    assert_eq!(put.query["format"], "raw");
}

#[test]
fn an_upload_of_unknown_length_sends_the_large_content_length_and_closes() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&got);
    let (w, script) = world(move |req, s, admin| {
        if !req.query.contains_key("task_id") {
            req.body(s);
            return reply(s, "200 OK", "", b"");
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
        *keep.lock().unwrap() = req.body(s);
        // What xapi's handler says of a body shorter than its Content-Length.
        fail(admin, &req.task(), &["VDI_IO_ERROR", "Device I/O errors"]);
    });
    let data = pattern(CHUNK + 5);
    // A reader that does not know its length.
    let mut source = std::io::Cursor::new(data.clone()).chain(std::io::empty());
    let done = transfer::import_vdi(
        &w.s,
        "d",
        DiskFormat::Vhd,
        &mut source,
        None,
        Control::default(),
    )
    .unwrap();
    assert_eq!(done.bytes, data.len() as u64);
    assert!(*got.lock().unwrap() == data);
    let seen = script.seen.lock().unwrap();
    let put = seen
        .iter()
        .find(|r| r.query.contains_key("task_id"))
        .unwrap();
    assert_eq!(put.header("content-length"), Some("1125899906842624"));
    assert_eq!(put.header("transfer-encoding"), None);
}

#[test]
fn an_upload_follows_the_probes_302_and_a_short_source_fails() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&got);
    let sim = sim(Dialect::Xapi);
    let admin = Arc::new(connect(&sim));
    let a = Arc::clone(&admin);
    let member = script(None, move |req, s| {
        if !req.query.contains_key("task_id") {
            req.body(s);
            return reply(s, "200 OK", "", b"");
        }
        let body = req.body(s);
        let full = body.len() as u64
            == req
                .header("content-length")
                .unwrap()
                .parse::<u64>()
                .unwrap();
        if full {
            succeed(&a, &req.task(), "");
            *keep.lock().unwrap() = body;
        } else {
            fail(&a, &req.task(), &["VDI_IO_ERROR", "short"]);
        }
        reply(s, "200 OK", "", b"");
    });
    let location = format!("{}import_raw_vdi", member.url);
    let coordinator = script(Some(sim.addr()), move |req, s| {
        assert!(
            !req.query.contains_key("task_id"),
            "only the probe comes here"
        );
        reply(s, "302 Found", &format!("Location: {location}\r\n"), b"");
    });
    let s = Session::connect(
        Options::new(&coordinator.url).protocol(xenapi::Protocol::XmlRpc),
        "root",
        "password",
    )
    .unwrap();
    let data = pattern(100_000);
    transfer::import_vdi(
        &s,
        "d",
        DiskFormat::Raw,
        &mut &data[..],
        Some(100_000),
        Control::default(),
    )
    .unwrap();
    assert!(*got.lock().unwrap() == data);
    let e = transfer::import_vdi(
        &s,
        "d",
        DiskFormat::Raw,
        &mut &data[..5000],
        Some(100_000),
        Control::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("5000 of the 100000"), "{e}");
}

#[test]
fn a_vm_export_asks_by_uuid_and_an_import_gives_the_new_vms() {
    let (w, script) = world(|req, s, admin| match req.path.as_str() {
        "/export" => {
            succeed(admin, &req.task(), "");
            reply(s, "200 OK", "", b"xva!");
        }
        "/import" if req.query.contains_key("task_id") => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
            req.body(s);
            succeed(
                admin,
                &req.task(),
                "<value><array><data><value>OpaqueRef:new</value></data></array></value>",
            );
        }
        _ => {
            req.body(s);
            reply(s, "200 OK", "", b"");
        }
    });
    let mut out = Vec::new();
    transfer::export_vm(
        &w.s,
        "0000-uuid",
        Compression::Zstd,
        &mut out,
        Control::default(),
    )
    .unwrap();
    assert_eq!(out, b"xva!");
    let refs =
        transfer::import_vm(&w.s, &mut &b"xva!"[..], Some(4), None, Control::default()).unwrap();
    assert_eq!(refs, ["OpaqueRef:new"]);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].query["uuid"], "0000-uuid");
    assert_eq!(seen[0].query["use_compression"], "zstd");
}

#[test]
fn whole_urls_go_without_a_session() {
    let script = script(None, |req, s| match req.method.as_str() {
        "GET" => reply(s, "200 OK", "", b"hello"),
        _ => {
            let body = req.body(s);
            reply(s, "200 OK", "", &body);
        }
    });
    let options = Options::new(&script.url);
    let url = format!(
        "{}export_raw_vdi?session_id=OpaqueRef:secret&task_id=OpaqueRef:t",
        script.url
    );
    let mut out = Vec::new();
    let done = transfer::download_url(&options, &url, &mut out, Control::default()).unwrap();
    assert_eq!((done.bytes, out.as_slice()), (5, &b"hello"[..]));
    let done = transfer::upload_url(
        &options,
        &url,
        &mut &b"abc"[..],
        Some(3),
        Control::default(),
    )
    .unwrap();
    assert_eq!(done.bytes, 3);
    // A refused connection names the URL without its query.
    let e = transfer::download_url(
        &options,
        "http://127.0.0.1:1/x?session_id=OpaqueRef:secret",
        &mut out,
        Control::default(),
    )
    .unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Connect);
}

#[test]
fn memory_stays_bounded_whatever_the_size() {
    // 64 MiB through a sink that only counts: the client holds one CHUNK, not the body.
    const SIZE: u64 = 64 << 20;
    let script = script(None, |_, s| {
        let _ =
            s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").as_bytes());
        let block = vec![3u8; CHUNK];
        for _ in 0..SIZE / CHUNK as u64 {
            if s.write_all(&block).is_err() {
                return;
            }
        }
    });
    struct Count(u64, usize);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            self.1 = self.1.max(b.len());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Count(0, 0);
    transfer::download_url(
        &Options::new(&script.url),
        &format!("{}x", script.url),
        &mut sink,
        Control::default(),
    )
    .unwrap();
    assert_eq!(sink.0, SIZE);
    assert_eq!(sink.1, CHUNK, "written a CHUNK at a time");
}

#[test]
fn plain_http_goes_through_the_proxy_with_an_absolute_url_and_its_credentials() {
    let proxy = script(None, |_, s| reply(s, "200 OK", "", b"via proxy"));
    let authority = proxy
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let options = Options::new("http://unused").proxy(format!("http://bob:s3cret@{authority}"));
    assert!(!format!("{options:?}").contains("s3cret"));
    let mut out = Vec::new();
    transfer::download_url(
        &options,
        "http://xs.invalid:81/export_raw_vdi?session_id=OpaqueRef:x",
        &mut out,
        Control::default(),
    )
    .unwrap();
    assert_eq!(out, b"via proxy");
    let seen = proxy.seen.lock().unwrap()[0].clone();
    assert_eq!(
        seen.path, "http://xs.invalid:81/export_raw_vdi",
        "an absolute URL"
    );
    assert_eq!(seen.query["session_id"], "OpaqueRef:x");
    assert_eq!(
        seen.header("proxy-authorization"),
        Some("Basic Ym9iOnMzY3JldA==")
    );
}
