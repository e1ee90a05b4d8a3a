//! HTTP transfers beside the API: disks and VMs in and out (`/export_raw_vdi`,
//! `/import_raw_vdi`, `/export`, `/import`), streamed both ways in bounded memory, with progress,
//! cancellation and the task xapi reports the outcome on.
//!
//! Every transfer follows xapi's rules (see `ocaml/xapi/import_raw_vdi.ml`, `export_raw_vdi.ml`,
//! `importexport.ml` and xen-orchestra's `packages/xen-api`):
//! - the request carries `session_id` and `task_id`; when the caller gives no task, one is made
//!   with `task.create` and destroyed at the end, and the outcome (a failure's XenAPI code, an
//!   import's new VMs) is read from it;
//! - a `302` to the host that holds the disk or runs the VM is followed, the query kept;
//! - an upload is never HTTP-chunked (xapi refuses it): a body of unknown length is sent with a
//!   large `Content-Length`, as xen-orchestra does, and the connection closed at its end;
//! - memory stays bounded: one buffer of [`CHUNK`] bytes per transfer, whatever the size;
//! - cancelling (a [`Cancel`] from any thread, or the progress callback returning `false`)
//!   closes the connection, cancels the task and returns [`Error::Api`] `TASK_CANCELLED`;
//! - `session_id` never appears in an error or in Debug output.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{Task, TaskStatusType};
use crate::client::percent_encode;
pub use crate::task::Cancel;
use crate::transport::raw::{self, Url};
use crate::{codes, Error, Failure, Options, Ref, Session, Value};

/// Bytes moved per read or write: the transfer's whole buffer.
pub const CHUNK: usize = 1 << 20;

/// The `Content-Length` of an upload whose length is not known (1 PiB, as xen-orchestra sends):
/// xapi refuses chunked bodies, so the body is sent this way and the connection's sending half
/// closed at its end.
pub const UNKNOWN_LENGTH: u64 = 1 << 50;

/// xapi's `Api_errors.vdi_io_error`, which spec/errors.json does not list.
const VDI_IO_ERROR: &str = "VDI_IO_ERROR";

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// A disk image format xapi's `/import_raw_vdi` and `/export_raw_vdi` take (`format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskFormat {
    /// The disk's bytes, end to end.
    Raw,
    /// A VHD (a dynamic disk: only allocated blocks travel).
    Vhd,
}

impl DiskFormat {
    /// The value of `format=`.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Vhd => "vhd",
        }
    }

    /// `raw` or `vhd` (any case); anything else is refused with a message naming both.
    pub fn parse(text: &str) -> crate::Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "raw" => Ok(DiskFormat::Raw),
            "vhd" => Ok(DiskFormat::Vhd),
            _ => Err(Error::InvalidArgument(format!(
                "unknown disk format {text:?}: use raw or vhd"
            ))),
        }
    }
}

/// How `/export` compresses an XVA (`use_compression=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None,
    /// `use_compression=true` (gzip).
    Gzip,
    /// `use_compression=zstd` (xapi 1.249 and later).
    Zstd,
}

/// How far a transfer is: bytes moved so far, of `total` when known (an upload from a file, a
/// download whose reply has a `Content-Length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
}

/// Called as bytes move (at most once per [`CHUNK`], and once at the end); returning `false`
/// cancels the transfer, as [`Cancel::cancel`] does.
pub type ProgressFn<'a> = dyn FnMut(Progress) -> bool + Send + 'a;

/// What a transfer may be given besides its source or sink; all optional.
#[derive(Default)]
pub struct Control<'a> {
    /// Called as bytes move; `false` cancels.
    pub progress: Option<Box<ProgressFn<'a>>>,
    /// Cancels from another thread.
    pub cancel: Option<Cancel>,
    /// A task the caller made (`task.create`) and watches; `None`: the transfer makes its own
    /// and destroys it at the end. A caller's task is left for the caller to destroy.
    pub task: Option<String>,
    /// The longest the server may stay silent (no byte moved either way) before the transfer
    /// fails with [`Error::Timeout`]; `None`: the session's call deadline. A transfer as a whole
    /// has no deadline: a 4 GiB disk takes as long as it takes.
    pub idle_timeout: Option<Duration>,
}

/// What a finished transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes of body moved.
    pub bytes: u64,
    /// The task's result (`task.get_result`), as xapi gives it: for `/import`, the new VMs'
    /// references in an XML-RPC array; empty for most transfers.
    pub result: String,
}

/// Where a transfer goes: a handler path beside the API and its query, without `session_id`
/// and `task_id` (the transfer adds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl Target {
    pub fn new(path: impl Into<String>) -> Self {
        Target {
            path: path.into(),
            query: Vec::new(),
        }
    }

    pub fn arg(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }
}

/// GETs `target` into `sink`, streaming.
pub fn download(
    session: &Session,
    target: &Target,
    sink: &mut dyn Write,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    with_task(session, target, control, |options, url, idle, mover| {
        get(options, url, idle, sink, mover).map(|n| (n, false))
    })
}

/// PUTs `source` to `target`, streaming. `length` is the body's size when known (a file's); a
/// source of unknown length is sent as xen-orchestra does (see the module's notes).
pub fn upload(
    session: &Session,
    target: &Target,
    source: &mut dyn Read,
    length: Option<u64>,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    with_task(session, target, control, |options, url, idle, mover| {
        put(options, url, idle, source, length, mover).map(|n| (n, length.is_none()))
    })
}

/// A disk's content, from `/export_raw_vdi?vdi=REF&format=`. `vdi` is a reference or a UUID.
pub fn export_vdi(
    session: &Session,
    vdi: &str,
    format: DiskFormat,
    sink: &mut dyn Write,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    let target = Target::new("/export_raw_vdi")
        .arg("vdi", vdi)
        .arg("format", format.as_str());
    download(session, &target, sink, control)
}

/// Replaces a disk's content, by `/import_raw_vdi?vdi=REF&format=`. On a failure or a cancel
/// the server leaves the disk as it was.
pub fn import_vdi(
    session: &Session,
    vdi: &str,
    format: DiskFormat,
    source: &mut dyn Read,
    length: Option<u64>,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    let target = Target::new("/import_raw_vdi")
        .arg("vdi", vdi)
        .arg("format", format.as_str());
    upload(session, &target, source, length, control)
}

/// A VM as an XVA, from `/export?uuid=&use_compression=`. `vm` is a UUID or a reference.
pub fn export_vm(
    session: &Session,
    vm: &str,
    compression: Compression,
    sink: &mut dyn Write,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    let by = if vm.starts_with("OpaqueRef:") {
        "ref"
    } else {
        "uuid"
    };
    let mut target = Target::new("/export").arg(by, vm);
    match compression {
        Compression::None => {}
        Compression::Gzip => target = target.arg("use_compression", "true"),
        Compression::Zstd => target = target.arg("use_compression", "zstd"),
    }
    download(session, &target, sink, control)
}

/// Imports an XVA by `/import?sr_id=` (the default SR when `sr` is `None`) and returns the new
/// VMs' references, read from the task's result. `sr` is a reference or a UUID.
pub fn import_vm(
    session: &Session,
    source: &mut dyn Read,
    length: Option<u64>,
    sr: Option<&str>,
    control: Control<'_>,
) -> crate::Result<Vec<String>> {
    let mut target = Target::new("/import");
    if let Some(sr) = sr {
        let sr = if sr.starts_with("OpaqueRef:") {
            sr.to_owned()
        } else {
            crate::api::Sr::get_by_uuid(session, sr)?.into_string()
        };
        target = target.arg("sr_id", sr);
    }
    let done = upload(session, &target, source, length, control)?;
    refs_of_result(&done.result)
}

/// The references in an import task's result: an XML-RPC array of them (xapi), or one.
pub fn refs_of_result(result: &str) -> crate::Result<Vec<String>> {
    let t = result.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    if !t.starts_with('<') {
        return Ok(t
            .split(',')
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect());
    }
    let value = crate::codec::decode_value(t, crate::codec::Limits::default())
        .map_err(|e| Error::Protocol(format!("the import task's result is not a value: {e:?}")))?;
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            other => Err(Error::Protocol(format!(
                "the import task's result holds {other:?}, not a reference"
            ))),
        })
        .collect()
}

/// GETs a whole URL (`https://host/path?session_id=…&task_id=…`, the caller's query as is) into
/// `sink` under `options` (TLS policy, proxy, timeouts), without a session: XenServer.NET's
/// `HTTP_actions` style, where the caller passes the session reference and task itself.
/// `control.task` is not used (the task is the URL's `task_id`, the caller's to follow); a cancel
/// closes the connection and answers `TASK_CANCELLED`.
pub fn download_url(
    options: &crate::Options,
    url: &str,
    sink: &mut dyn Write,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    without_session(options, url, control, |options, url, idle, mover| {
        get(options, url, idle, sink, mover)
    })
}

/// PUTs `source` to a whole URL; see [`download_url`].
pub fn upload_url(
    options: &crate::Options,
    url: &str,
    source: &mut dyn Read,
    length: Option<u64>,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    without_session(options, url, control, |options, url, idle, mover| {
        put(options, url, idle, source, length, mover)
    })
}

/// GETs a whole URL into memory, at most `max` bytes of body (more is [`Error::Protocol`]): for
/// the small replies fetched beside the API through the same connection (RRDs from a pool
/// member).
pub(crate) fn get_bounded(options: &Options, url: &str, max: u64) -> crate::Result<Vec<u8>> {
    struct Bounded {
        buf: Vec<u8>,
        max: u64,
        over: bool,
    }
    impl Write for Bounded {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if (self.buf.len() + data.len()) as u64 > self.max {
                self.over = true;
                return Err(std::io::Error::other("over the limit"));
            }
            self.buf.extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Bounded {
        buf: Vec::new(),
        max,
        over: false,
    };
    match download_url(options, url, &mut sink, Control::default()) {
        Ok(_) => Ok(sink.buf),
        Err(_) if sink.over => Err(Error::Protocol(format!(
            "the reply is larger than the limit of {max} bytes"
        ))),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------

/// Why a transfer stopped before its end.
enum Stop {
    /// The caller cancelled ([`Cancel`] or the progress callback).
    Cancelled,
    /// The server or the connection failed: the task may say why.
    Failed(Error),
    /// The caller's side failed (the source ended short, the sink refused a write): that is the
    /// reason, whatever the task says after.
    Local(Error),
}

/// The caller's progress callback and cancel, and the count of bytes moved.
struct Mover<'a> {
    progress: Option<Box<ProgressFn<'a>>>,
    cancel: Cancel,
    done: u64,
    total: Option<u64>,
}

impl Mover<'_> {
    /// Reports progress; `false` when the transfer is to stop.
    fn report(&mut self) -> bool {
        if self.cancel.is_cancelled() {
            return false;
        }
        let p = Progress {
            done: self.done,
            total: self.total,
        };
        if let Some(f) = self.progress.as_mut() {
            if !f(p) {
                self.cancel.cancel();
                return false;
            }
        }
        true
    }

    /// An error as a stop: a cancel when the caller cancelled (the watcher closed the socket).
    fn stop(&self, e: Error) -> Stop {
        if self.cancel.is_cancelled() {
            Stop::Cancelled
        } else {
            Stop::Failed(e)
        }
    }

    fn check(&self) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            Err(Stop::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Closes a connection's socket when the caller cancels, from a thread of its own, so that a
/// transfer blocked on a silent server stops at once.
struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn new(cancel: &Cancel, conn: &raw::Conn) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = conn.closer().and_then(|sock| {
            let cancel = cancel.clone();
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("xenapi-transfer-cancel".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        if cancel.is_cancelled() {
                            sock.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                })
                .ok()
        });
        Watch { stop, thread }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect leads: the `Location`'s server and path, with our own query (xapi's
/// `Location` repeats it; keeping ours keeps `session_id` and `task_id` whatever it says).
fn redirected(from: &Url, location: &str) -> Result<Url, Stop> {
    let mut next = from.join(location).map_err(Stop::Failed)?;
    next.query = from.query.clone();
    Ok(next)
}

fn status_error(url: &Url, head: &raw::Head) -> Error {
    let path = url.path.as_str();
    let message = match head.status {
        401 | 403 => format!("{path}: the server refused the session (expired or invalid)"),
        404 => format!("{path}: the server has no such object or handler"),
        s if is_redirect(s) => {
            format!("{path}: a redirect without a Location, or more than {MAX_REDIRECTS} of them")
        }
        _ if head.reason.is_empty() => format!("{path}: the transfer failed"),
        _ => format!("{path}: {}", head.reason),
    };
    Error::Http {
        url: url.shown(),
        status: head.status,
        message,
    }
}

/// Reads as much of `source` as fits in `buf` (short only at its end).
fn fill(source: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The GET: follows redirects, then streams the body into `sink`.
fn get(
    options: &Options,
    mut url: Url,
    idle: Duration,
    sink: &mut dyn Write,
    mover: &mut Mover<'_>,
) -> Result<u64, Stop> {
    for _ in 0..=MAX_REDIRECTS {
        mover.check()?;
        let mut conn = raw::connect(options, &url, idle).map_err(|e| mover.stop(e))?;
        let _watch = Watch::new(&mover.cancel, &conn);
        conn.send_head("GET", None).map_err(|e| mover.stop(e))?;
        let (head, mut body) = conn.read_reply().map_err(|e| mover.stop(e))?;
        if is_redirect(head.status) {
            if let Some(loc) = &head.location {
                url = redirected(&url, loc)?;
                continue;
            }
        }
        if head.status != 200 {
            return Err(Stop::Failed(status_error(&url, &head)));
        }
        mover.total = head.length;
        let shown = url.shown();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = fill(&mut body, &mut buf).map_err(|e| {
                mover.stop(raw::map_io(
                    e,
                    &shown,
                    idle,
                    &format!("after {} bytes of the reply", mover.done),
                ))
            })?;
            if n > 0 {
                sink.write_all(&buf[..n]).map_err(|e| {
                    Stop::Local(Error::InvalidArgument(format!(
                        "writing the download failed after {} bytes: {e}",
                        mover.done
                    )))
                })?;
                mover.done += n as u64;
            }
            if n < buf.len() {
                break;
            }
            if !mover.report() {
                return Err(Stop::Cancelled);
            }
        }
        mover.check()?;
        if !body.complete() {
            return Err(Stop::Failed(Error::Connect {
                url: shown,
                message: match head.length {
                    Some(total) => format!(
                        "the reply was cut short: {} of its {total} bytes arrived",
                        mover.done
                    ),
                    None => format!(
                        "the reply was cut short after {} bytes (its last chunk never came)",
                        mover.done
                    ),
                },
            }));
        }
        sink.flush().map_err(|e| {
            Stop::Local(Error::InvalidArgument(format!(
                "writing the download failed at its end: {e}"
            )))
        })?;
        if !mover.report() {
            return Err(Stop::Cancelled);
        }
        return Ok(mover.done);
    }
    Err(Stop::Failed(Error::Http {
        url: url.shown(),
        status: 302,
        message: format!("more than {MAX_REDIRECTS} redirects"),
    }))
}

/// `query` without its `name=` pairs.
fn without_param(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(name))
        .collect::<Vec<_>>()
        .join("&")
}

/// Where an upload goes after the redirects: a body cannot be sent twice, so it asks first with
/// an empty `PUT` (no `task_id`, so that the transfer's task sees nothing of it), as
/// xen-orchestra does, and follows the `302`s that answers.
fn upload_target(
    options: &Options,
    url: Url,
    idle: Duration,
    mover: &Mover<'_>,
) -> Result<Url, Stop> {
    let mut url = url;
    for _ in 0..=MAX_REDIRECTS {
        mover.check()?;
        let probe = Url {
            query: without_param(&url.query, "task_id"),
            ..url.clone()
        };
        let mut conn = raw::connect(options, &probe, idle).map_err(|e| mover.stop(e))?;
        let _watch = Watch::new(&mover.cancel, &conn);
        conn.send_head("PUT", Some(0)).map_err(|e| mover.stop(e))?;
        let head = match conn.read_reply() {
            Ok((head, _)) => head,
            // A server that closes on an empty upload has not redirected it.
            Err(_) => return Ok(url),
        };
        match (&head.location, is_redirect(head.status)) {
            (Some(loc), true) => url = redirected(&url, loc)?,
            _ => return Ok(url),
        }
    }
    Err(Stop::Failed(Error::Http {
        url: url.shown(),
        status: 302,
        message: format!("more than {MAX_REDIRECTS} redirects"),
    }))
}

/// The PUT: `Content-Length` from `length` (or [`UNKNOWN_LENGTH`], the sending half closed at
/// the end), the body from `source` a [`CHUNK`] at a time, then the reply.
fn put(
    options: &Options,
    url: Url,
    idle: Duration,
    source: &mut dyn Read,
    length: Option<u64>,
    mover: &mut Mover<'_>,
) -> Result<u64, Stop> {
    let url = upload_target(options, url, idle, mover)?;
    mover.total = length;
    let shown = url.shown();
    let mut conn = raw::connect(options, &url, idle).map_err(|e| mover.stop(e))?;
    let watch = Watch::new(&mover.cancel, &conn);
    conn.send_head("PUT", Some(length.unwrap_or(UNKNOWN_LENGTH)))
        .map_err(|e| mover.stop(e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut broke = None;
    loop {
        let room = match length {
            Some(total) => (total - mover.done).min(CHUNK as u64) as usize,
            None => CHUNK,
        };
        if room == 0 {
            break;
        }
        let n = fill(source, &mut buf[..room]).map_err(|e| {
            Stop::Local(Error::InvalidArgument(format!(
                "reading the upload failed after {} bytes: {e}",
                mover.done
            )))
        })?;
        if n > 0 {
            if let Err(e) = conn.write_body(&buf[..n]) {
                broke = Some(e);
                break;
            }
            mover.done += n as u64;
        }
        if n < room {
            if let Some(total) = length {
                // Closing now leaves the server a short body: it fails the task and keeps the
                // disk as it was.
                return Err(Stop::Local(Error::InvalidArgument(format!(
                    "the upload's source ended after {} of the {total} bytes announced",
                    mover.done
                ))));
            }
            break;
        }
        if !mover.report() {
            return Err(Stop::Cancelled);
        }
    }
    drop(buf);
    mover.check()?;
    if broke.is_none() && length.is_none() {
        broke = conn.finish_body().err();
    }
    // The reply (xapi sends its head before reading the body, and closes when done); after a
    // broken write, it may say why.
    let reply = conn.read_reply();
    drop(watch);
    mover.check()?;
    let broken = |e: std::io::Error, mover: &Mover<'_>| {
        mover.stop(raw::map_io(
            e,
            &shown,
            idle,
            &format!("after {} bytes of the upload", mover.done),
        ))
    };
    let (head, mut body) = match reply {
        Ok(r) => r,
        Err(e) => {
            return Err(match broke {
                Some(b) => broken(b, mover),
                None => mover.stop(e),
            })
        }
    };
    if head.status != 200 {
        return Err(Stop::Failed(status_error(&url, &head)));
    }
    if let Some(b) = broke {
        return Err(broken(b, mover));
    }
    // Wait for the server to finish (it closes the connection), reading at most a little.
    let mut sink = [0u8; 4096];
    let mut kept = 0usize;
    loop {
        match body.read(&mut sink) {
            Ok(0) => break,
            Ok(n) => {
                kept += n;
                if kept > 1 << 20 {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    if !mover.report() {
        return Err(Stop::Cancelled);
    }
    Ok(mover.done)
}

/// Builds the URL of `target` at the session's server, with `session_id` and `task_id`.
fn target_url(session: &Session, target: &Target, handle: &str, task: &str) -> crate::Result<Url> {
    let base = Url::parse(&session.url())?;
    let mut query = String::new();
    let mut add = |k: &str, v: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&percent_encode(k));
        query.push('=');
        query.push_str(&percent_encode(v));
    };
    add("session_id", handle);
    add("task_id", task);
    for (k, v) in &target.query {
        add(k, v);
    }
    Ok(base.with_target(&target.path, &query))
}

/// Runs a transfer under a task (the caller's, or one made here and destroyed after) and reads
/// its outcome.
fn with_task<'a>(
    session: &Session,
    target: &Target,
    control: Control<'a>,
    run: impl FnOnce(&Options, Url, Duration, &mut Mover<'a>) -> Result<(u64, bool), Stop>,
) -> crate::Result<Transferred> {
    let handle = session.handle().ok_or_else(|| {
        Error::InvalidArgument("not logged in: call login_with_password first".into())
    })?;
    let idle = control.idle_timeout.unwrap_or_else(|| session.timeout());
    if idle.is_zero() {
        return Err(Error::InvalidArgument(
            "the idle timeout must be longer than zero".into(),
        ));
    }
    let (task, ours) = match &control.task {
        Some(t) => (Ref::<Task>::new(t.as_str()), false),
        None => (
            Task::create(
                session,
                &format!("xenapi-rs {}", target.path),
                "an HTTP transfer beside the API",
            )?,
            true,
        ),
    };
    let outcome = (|| {
        let url = target_url(session, target, &handle, task.as_str())?;
        let options = session.client().options().clone();
        let mut mover = Mover {
            progress: control.progress,
            cancel: control.cancel.unwrap_or_default(),
            done: 0,
            total: None,
        };
        let moved = run(&options, url, idle, &mut mover);
        let cancelled = || {
            let _ = Task::cancel(session, &task);
            Error::Api(Failure::with_code(
                codes::TASK_CANCELLED,
                &[task.as_str(), "the transfer was cancelled by the caller"],
            ))
        };
        match moved {
            Ok((bytes, unknown_length)) => match settle(session, &task, idle) {
                Ok(result) => Ok(Transferred { bytes, result }),
                // A body of unknown length ends with the connection, which xapi's handler
                // takes for an I/O error after the last byte: xen-orchestra ignores it too.
                Err(Error::Api(f)) if unknown_length && f.code() == VDI_IO_ERROR => {
                    Ok(Transferred {
                        bytes,
                        result: String::new(),
                    })
                }
                Err(e) => Err(e),
            },
            Err(Stop::Cancelled) => Err(cancelled()),
            Err(Stop::Local(e)) => {
                let _ = Task::cancel(session, &task);
                Err(e)
            }
            Err(Stop::Failed(e)) => {
                // The task may say why better than the connection did (VDI_IN_USE, …).
                match settle(session, &task, Duration::from_secs(1).min(idle)) {
                    Err(api @ Error::Api(_)) => Err(api),
                    _ => {
                        let _ = Task::cancel(session, &task);
                        Err(e)
                    }
                }
            }
        }
    })();
    if ours {
        let _ = Task::destroy(session, &task);
    }
    outcome
}

/// Waits up to `limit` for `task` to end: its result on success, its `error_info` as
/// [`Error::Api`] on failure, `TASK_CANCELLED` when cancelled, [`Error::Timeout`] when still
/// pending.
fn settle(session: &Session, task: &Ref<Task>, limit: Duration) -> crate::Result<String> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match Task::get_status(session, task)? {
            TaskStatusType::Success => return Task::get_result(session, task),
            TaskStatusType::Failure => {
                return Err(Error::Api(Failure::new(Task::get_error_info(
                    session, task,
                )?)))
            }
            TaskStatusType::Cancelled | TaskStatusType::Cancelling => {
                return Err(Error::Api(Failure::with_code(
                    codes::TASK_CANCELLED,
                    &[task.as_str()],
                )))
            }
            _ => {}
        }
        if start.elapsed() >= limit {
            return Err(Error::Timeout {
                url: session.url(),
                message: format!(
                    "the transfer's task did not end within {} s of its last byte",
                    limit.as_secs_f64()
                ),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Runs a transfer to a whole URL, without a session or task.
fn without_session<'a>(
    options: &Options,
    url: &str,
    control: Control<'a>,
    run: impl FnOnce(&Options, Url, Duration, &mut Mover<'a>) -> Result<u64, Stop>,
) -> crate::Result<Transferred> {
    let parsed = Url::parse(url)?;
    let idle = control.idle_timeout.unwrap_or(options.timeout);
    if idle.is_zero() {
        return Err(Error::InvalidArgument(
            "the idle timeout must be longer than zero".into(),
        ));
    }
    let task = parsed
        .query
        .split('&')
        .find_map(|p| p.strip_prefix("task_id="))
        .map(|t| String::from_utf8_lossy(&url_decode(t)).into_owned());
    let mut mover = Mover {
        progress: control.progress,
        cancel: control.cancel.unwrap_or_default(),
        done: 0,
        total: None,
    };
    match run(options, parsed, idle, &mut mover) {
        Ok(bytes) => Ok(Transferred {
            bytes,
            result: String::new(),
        }),
        Err(Stop::Cancelled) => {
            let mut params = vec![];
            if let Some(t) = &task {
                params.push(t.as_str());
            }
            params.push("the transfer was cancelled by the caller");
            Err(Error::Api(Failure::with_code(
                codes::TASK_CANCELLED,
                &params,
            )))
        }
        Err(Stop::Failed(e) | Stop::Local(e)) => Err(e),
    }
}

fn url_decode(s: &str) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_results_give_references() {
        let xml = "<value><array><data><value>OpaqueRef:a</value><value>OpaqueRef:b</value>\
                   </data></array></value>";
        assert_eq!(refs_of_result(xml).unwrap(), ["OpaqueRef:a", "OpaqueRef:b"]);
        assert_eq!(
            refs_of_result("<value>OpaqueRef:c</value>").unwrap(),
            ["OpaqueRef:c"]
        );
        assert!(refs_of_result("").unwrap().is_empty());
        assert_eq!(refs_of_result("OpaqueRef:d").unwrap(), ["OpaqueRef:d"]);
    }

    #[test]
    fn queries_lose_a_parameter_and_decode() {
        assert_eq!(
            without_param("session_id=s&task_id=t&vdi=v", "task_id"),
            "session_id=s&vdi=v"
        );
        assert_eq!(url_decode("OpaqueRef%3Aab+c"), b"OpaqueRef:ab c");
    }
}
