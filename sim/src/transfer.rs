//! Disk transfers over HTTP, as xapi serves them beside the API: `PUT /import_raw_vdi` and
//! `GET /export_raw_vdi` (ocaml/xapi/import_raw_vdi.ml, export_raw_vdi.ml, importexport.ml;
//! requests checked as xapi_http.ml and http_svr.ml check them). Both stream: the body is written
//! to the disk as it arrives and the disk read as the reply goes out, one [`STEP`] at a time.
//!
//! What a request goes through, in xapi's order, and what each refusal answers:
//! 1. `session_id` (cookie or query): missing or not a live session, `401` with
//!    `WWW-Authenticate: Basic realm="VDI.import"` (or `VDI.export_raw`); no task is touched.
//! 2. `vdi`, a reference or a uuid: absent, an import answers `400` and fails `task_id` with
//!    `VDI_MISSING`, an export `500`; not a VDI, `500` (`UUID_INVALID`, the task left as it is,
//!    as xapi leaves it).
//! 3. The VDI's SR must be plugged on the host that took the request; when it is plugged only on
//!    another (a local SR), `302` with `Location:` that host's address, same path and query.
//! 4. The task: `task_id` (a task made with `task.create`), or one the handler makes
//!    ("Importing raw VDI", "Exporting raw VDI") and destroys at the end, as xapi does.
//! 5. `format` (`raw` by default, `vhd`): anything else fails the task with
//!    `INTERNAL_ERROR ["Unknown format X"]` and answers `404`. An HTTP-chunked upload fails it with
//!    `INTERNAL_ERROR ["Cannot handle encoding: chunked"]`, `404`.
//! 6. An import into a read-only VDI fails the task with `VDI_READONLY [vdi]`, one into a VDI
//!    attached read-write to a running VM with `VDI_IN_USE [vdi, "import_raw_vdi"]`; both answer
//!    `500` (xapi's answer to a handler that fails; xapi itself finds out when it attaches the
//!    disk).
//! 7. `200` with `task-id:` and `Connection: close`, then the data. An export has a
//!    `Content-Length` (raw: the disk's size; VHD: worked out from the blocks with data first;
//!    xapi sends none and closes at the end, which a client reading to the close also handles). The task's `progress`
//!    moves (one step per percent); the end sets it `success` (an import's `result` is the VDI)
//!    or `failure` (`error_info`); a task cancelled meanwhile ends `cancelled`, the transfer
//!    stopped. An import writes into a staging copy and replaces the disk only once the whole
//!    body is in, so a truncated or failed upload leaves the disk as it was.

use std::io::{self, Read, Write};
use std::sync::Arc;

use xenapi::Value;

use crate::dialect::Dialect;
use crate::disks::{Disk, Staging, STEP};
use crate::dispatch::Failure;
use crate::http::{page, reason, Conn, Head};
use crate::objects::{bool_of, i64_of, refs_of};
use crate::session;
use crate::shared::Shared;
use crate::state::{str_field, State};
use crate::tasks;
use crate::vm::RUNNING;

/// How long a transfer that broke off waits for its task's cancel (see `Transfer::failed`).
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

/// Whether this request is a transfer (served by [`serve`], not read whole).
pub(crate) fn handles(shared: &Shared, head: &Head) -> bool {
    shared.settings.dialect == Dialect::Xapi
        && matches!(
            (head.method.as_str(), head.path.as_str()),
            ("PUT", "/import_raw_vdi") | ("GET", "/export_raw_vdi")
        )
}

/// A query's parameters, percent-decoded.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// The cookie's pairs first, then the query's, as xapi looks them up.
    pub(crate) fn of(head: &Head) -> Query {
        let mut q = Query(
            head.cookie
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .map(|(k, v)| (k.to_owned(), decode(v)))
                .collect(),
        );
        q.0.extend(Query::parse(&head.query).0);
        q
    }

    pub(crate) fn parse(q: &str) -> Query {
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a transfer stopped before its end.
pub(crate) enum Stop {
    /// The task was cancelled (it is `cancelled` already).
    Cancelled,
    /// The transfer failed: the task's `INTERNAL_ERROR` message.
    Failed(String),
}

/// The disk format asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Raw,
    Vhd,
}

/// One transfer's request, checked.
struct Transfer<'a> {
    shared: &'a Arc<Shared>,
    vdi: String,
    uuid: String,
    size: u64,
    task: TransferTask<'a>,
}

/// A transfer's task (disk or XVA): the caller's `task_id`, or the handler's own, destroyed at
/// the end.
pub(crate) struct TransferTask<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) id: String,
    /// The task is the handler's own: destroyed at the end.
    pub(crate) own: bool,
}

impl TransferTask<'_> {
    /// Ends the task (then destroys it when it is the handler's own). A transfer that broke off
    /// after a cancel (the client cancels, then closes) ends cancelled.
    pub(crate) fn end(&self, result: Result<Value, Failure>) {
        if result.is_ok() || !tasks::cancel_if_asked(self.shared, &self.id) {
            tasks::finish(self.shared, &self.id, result);
        }
        self.drop_own();
    }

    pub(crate) fn drop_own(&self) {
        if self.own {
            self.shared.lock().remove("task", &self.id);
            self.shared.notify();
        }
    }

    /// Reports progress, one step per percent; `false` when the task was cancelled.
    pub(crate) fn moved(&self, done: u64, total: u64, last: &mut u64) -> bool {
        let pct = (done.saturating_mul(100)).checked_div(total).unwrap_or(100);
        if pct == *last {
            return true;
        }
        *last = pct;
        tasks::progress(self.shared, &self.id, pct as f64 / 100.0)
    }

    /// The head of a 200 that closes at the end, naming the task as xapi does.
    pub(crate) fn ok_head<S: Read + Write>(&self, c: &mut Conn<S>, extra: &str) -> io::Result<()> {
        let head = format!(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nCache-Control: no-cache, no-store\r\ntask-id: {}\r\n{extra}\r\n",
            self.id
        );
        c.s.write_all(head.as_bytes())?;
        c.s.flush()
    }
}

/// Answers an error page and closes (xapi's `response_error_html`).
pub(crate) fn refuse<S: Read + Write>(
    c: &mut Conn<S>,
    status: u16,
    extra: &[(&str, &str)],
    detail: &str,
) {
    let body = page(status, detail);
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/html\r\nConnection: close\r\nCache-Control: no-cache, no-store\r\n",
        reason(status)
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = c.s.write_all(head.as_bytes());
    let _ = c.s.write_all(&body);
    let _ = c.s.flush();
}

/// Headers only, then the connection closes (xapi's `Http_svr.headers` with
/// `http_404_missing`, `http_400_badrequest`, `http_302_redirect`).
pub(crate) fn bare<S: Read + Write>(c: &mut Conn<S>, status: u16, extra: &[(&str, &str)]) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\nCache-Control: no-cache, no-store\r\n",
        reason(status)
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Content-Length: 0\r\n\r\n");
    let _ = c.s.write_all(head.as_bytes());
    let _ = c.s.flush();
}

/// A VDI by reference or uuid (importexport.ml `vdi_of_req`).
fn find_vdi(st: &State, v: &str) -> Option<String> {
    if st.get("VDI", v).is_some() {
        return Some(v.to_owned());
    }
    st.table("VDI")?
        .iter()
        .find(|(_, rec)| str_field(rec, "uuid") == v)
        .map(|(r, _)| r.clone())
}

/// The hosts on which `sr` is plugged (a currently attached PBD).
fn hosts_seeing(st: &State, sr: &str) -> Vec<String> {
    st.get("SR", sr)
        .map(|rec| refs_of(rec, "PBDs"))
        .unwrap_or_default()
        .iter()
        .filter_map(|p| st.get("PBD", p))
        .filter(|p| bool_of(p, "currently_attached"))
        .map(|p| str_field(p, "host").to_owned())
        .collect()
}

/// Whether a running guest has `vdi` attached read-write (dom0's own VBDs do not count).
fn in_use_rw(st: &State, vdi: &str) -> bool {
    let vbds = st
        .get("VDI", vdi)
        .map(|r| refs_of(r, "VBDs"))
        .unwrap_or_default();
    vbds.iter().filter_map(|b| st.get("VBD", b)).any(|b| {
        bool_of(b, "currently_attached")
            && str_field(b, "mode") == "RW"
            && st.get("VM", str_field(b, "VM")).is_some_and(|vm| {
                !bool_of(vm, "is_control_domain") && str_field(vm, "power_state") == RUNNING
            })
    })
}

/// Serves one transfer on `c` for the host `host` whose listener took it; the connection closes
/// afterwards.
pub(crate) fn serve<S: Read + Write>(
    c: &mut Conn<S>,
    shared: &Arc<Shared>,
    host: &str,
    head: &Head,
) {
    let import = head.method == "PUT";
    let realm = if import {
        "VDI.import"
    } else {
        "VDI.export_raw"
    };
    let q = Query::of(head);
    // 1. Credentials (Xapi_http.assert_credentials_ok). A handler on a pool member takes the
    // pool's sessions (it asks the coordinator).
    let authorised = q
        .get("session_id")
        .is_some_and(|s| session::check(shared, false, s).is_ok());
    if !authorised {
        let challenge = format!("Basic realm=\"{realm}\"");
        refuse(
            c,
            401,
            &[("WWW-Authenticate", &challenge)],
            "Please check your credentials and retry.",
        );
        return;
    }
    let given_task = q
        .get("task_id")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    // 2. The VDI.
    let Some(vdi_param) = q.get("vdi") else {
        if import {
            if let Some(t) = &given_task {
                tasks::finish(shared, t, Err(Failure::new("VDI_MISSING", &[])));
            }
            bare(c, 400, &[]);
        } else {
            refuse(c, 500, &[], "Missing vdi query parameter");
        }
        return;
    };
    let mut st = shared.lock();
    let Some(vdi) = find_vdi(&st, vdi_param) else {
        drop(st);
        refuse(
            c,
            500,
            &[],
            &format!("Server_error(UUID_INVALID, [ VDI; {vdi_param} ])"),
        );
        return;
    };
    let (sr, uuid, size) = {
        let rec = st.get("VDI", &vdi).expect("found above");
        (
            str_field(rec, "SR").to_owned(),
            str_field(rec, "uuid").to_owned(),
            u64::try_from(i64_of(rec, "virtual_size")).unwrap_or(0),
        )
    };
    // 3. The SR must be plugged here; else a redirect to a host where it is.
    let seeing = hosts_seeing(&st, &sr);
    if !seeing.iter().any(|h| h == host) {
        drop(st);
        let target = seeing.iter().find_map(|h| {
            shared
                .listeners()
                .into_iter()
                .find(|l| l.host == *h && !l.stopped())
        });
        match target {
            Some(l) => {
                let scheme = if shared.settings.tls { "https" } else { "http" };
                let mut url = format!("{scheme}://{}{}", l.addr, head.path);
                if !head.query.is_empty() {
                    url.push('?');
                    url.push_str(&head.query);
                }
                bare(c, 302, &[("Location", &url)]);
            }
            None => refuse(
                c,
                500,
                &[],
                &format!("Server_error(NO_HOSTS_AVAILABLE, [ ]) for SR {sr}"),
            ),
        }
        return;
    }
    // 4. The task.
    let (task, own_task) = match &given_task {
        Some(t) if st.get("task", t).is_some() => (t.clone(), false),
        Some(t) => {
            drop(st);
            refuse(
                c,
                500,
                &[],
                &format!("Server_error(HANDLE_INVALID, [ task; {t} ])"),
            );
            return;
        }
        None => {
            let label = if import {
                "Importing raw VDI"
            } else {
                "Exporting raw VDI"
            };
            let t = tasks::create(&mut st, label, "");
            let t = t.as_str().unwrap_or_default().to_owned();
            // Made by the host that serves the transfer, as xapi's context makes it.
            st.touch("task", &t, |rec| {
                crate::state::set_field(rec, "resident_on", Value::String(host.to_owned()))
            });
            (t, true)
        }
    };
    let busy = import && in_use_rw(&st, &vdi);
    let read_only = import
        && st
            .get("VDI", &vdi)
            .is_some_and(|rec| bool_of(rec, "read_only"));
    drop(st);
    shared.notify();
    let t = Transfer {
        shared,
        vdi,
        uuid,
        size,
        task: TransferTask {
            shared,
            id: task,
            own: own_task,
        },
    };
    // 5. Format and encoding.
    let format = match q.get("format").map(str::to_ascii_lowercase).as_deref() {
        None | Some("raw") => Format::Raw,
        Some("vhd") => Format::Vhd,
        Some(other) => {
            let why = if matches!(other, "tar" | "qcow2") {
                format!("Format {other} is not simulated")
            } else {
                format!("Unknown format {}", q.get("format").unwrap_or_default())
            };
            t.end(Err(Failure::new("INTERNAL_ERROR", &[&why])));
            bare(c, 404, &[]);
            return;
        }
    };
    if import {
        if let Some(te) = &head.transfer_encoding {
            t.end(Err(Failure::new(
                "INTERNAL_ERROR",
                &[&format!("Cannot handle encoding: {te}")],
            )));
            bare(c, 404, &[]);
            return;
        }
        if q.get("chunked").is_some() {
            let why = if format == Format::Raw {
                "vhd-tool's chunked protocol is not simulated"
            } else {
                "Cannot handle chunked VHD"
            };
            t.end(Err(Failure::new("INTERNAL_ERROR", &[why])));
            bare(c, 404, &[]);
            return;
        }
        // 6. Not into a read-only disk (xapi cannot attach it read-write), nor one a running
        // guest writes to.
        if read_only {
            t.end(Err(Failure::new("VDI_READONLY", &[&t.vdi])));
            refuse(c, 500, &[], "VDI_READONLY");
            return;
        }
        if busy {
            t.end(Err(Failure::new("VDI_IN_USE", &[&t.vdi, "import_raw_vdi"])));
            refuse(c, 500, &[], "VDI_IN_USE");
            return;
        }
    }
    // 7. The data.
    let result = if import {
        t.import(c, head, format)
    } else {
        t.export(c, format)
    };
    if let Some(result) = result {
        t.end(result);
    }
}

impl Transfer<'_> {
    fn end(&self, result: Result<Value, Failure>) {
        self.task.end(result);
    }

    /// A transfer that broke off part-way. A client that cancels closes the connection first
    /// and cancels the task next: the cancel is given a moment to arrive, so that the task ends
    /// `cancelled` rather than `failure` (on xapi, vhd-tool's exit takes that long).
    fn failed(&self, why: &str) -> Result<Value, Failure> {
        tasks::wait_for_cancel(self.shared, &self.task.id, CANCEL_GRACE);
        Err(io_failure(why))
    }

    /// Streams the request body into a staging copy of the disk; the disk takes it only once
    /// the whole body is in. `None` when the task was cancelled (it is `cancelled` already).
    fn import<S: Read + Write>(
        &self,
        c: &mut Conn<S>,
        head: &Head,
        format: Format,
    ) -> Option<Result<Value, Failure>> {
        if head.expect_continue && c.s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
            return Some(Err(io_failure("the client went away")));
        }
        if self
            .task
            .ok_head(c, "Content-Type: application/octet-stream\r\n")
            .is_err()
        {
            return Some(Err(io_failure("the client went away")));
        }
        if head.length == Some(0) {
            // Nothing to write (a client's probe for redirects, as xen-orchestra sends).
            return Some(match format {
                Format::Raw => Ok(Value::String(self.vdi.clone())),
                Format::Vhd => Err(io_failure("reading the VHD: an empty body is not a VHD")),
            });
        }
        let disks = Arc::clone(&self.shared.lock().disks);
        // Raw data lands over the disk's content (what it does not cover stays); a VHD is the
        // whole disk (what it leaves out reads as zeros).
        let staging = match disks.staging(&self.uuid, self.size, format == Format::Raw) {
            Ok(s) => s,
            Err(e) => return Some(Err(io_failure(&format!("no staging copy: {e}")))),
        };
        let mut last = 0;
        let mut moved = |done, total| self.task.moved(done, total, &mut last);
        let outcome = match format {
            Format::Raw => receive_raw(c, head.length, &staging, &mut moved),
            Format::Vhd => crate::transfer_vhd::receive(c, head.length, &staging, &mut moved),
        };
        match outcome {
            Ok(()) => {}
            Err(Stop::Cancelled) => {
                self.task.drop_own();
                return None;
            }
            Err(Stop::Failed(why)) => return Some(self.failed(&why)),
        }
        // The task may have been cancelled after the last byte: then the disk stays.
        if !tasks::progress(self.shared, &self.task.id, 1.0) {
            self.task.drop_own();
            return None;
        }
        if let Err(e) = staging.sync() {
            return Some(Err(io_failure(&format!("writing the disk: {e}"))));
        }
        // Under the lock, so that a VDI.destroy meanwhile does not leave content behind.
        let st = self.shared.lock();
        if st.get("VDI", &self.vdi).is_none() {
            return Some(Err(Failure::new("HANDLE_INVALID", &["VDI", &self.vdi])));
        }
        if let Err(e) = staging.commit() {
            return Some(Err(io_failure(&format!("replacing the disk: {e}"))));
        }
        drop(st);
        Some(Ok(Value::String(self.vdi.clone())))
    }

    /// Streams the disk out. `None` when the task was cancelled.
    fn export<S: Read + Write>(
        &self,
        c: &mut Conn<S>,
        format: Format,
    ) -> Option<Result<Value, Failure>> {
        let disks = Arc::clone(&self.shared.lock().disks);
        let disk = match disks.open(&self.uuid, self.size) {
            Ok(d) => d,
            Err(e) => return Some(Err(io_failure(&format!("opening the disk: {e}")))),
        };
        let (content_type, ext) = match format {
            Format::Raw => ("application/octet-stream", "raw"),
            Format::Vhd => ("application/vhd", "vhd"),
        };
        let plan = match format {
            Format::Raw => None,
            Format::Vhd => match crate::transfer_vhd::plan(&disk, &self.uuid) {
                Ok(p) => Some(p),
                Err(e) => return Some(Err(io_failure(&format!("reading the disk: {e}")))),
            },
        };
        let length = plan.as_ref().map_or(self.size, |p| p.length);
        let mut extra = format!(
            "Content-Type: {content_type}\r\nContent-Disposition: attachment; filename=\"{}.{ext}\"\r\n",
            self.uuid
        );
        extra.push_str(&format!("Content-Length: {length}\r\n"));
        if self.task.ok_head(c, &extra).is_err() {
            return Some(Err(io_failure("the client went away")));
        }
        let mut last = 0;
        let mut moved = |done, total| self.task.moved(done, total, &mut last);
        let outcome = match &plan {
            None => send_raw(&disk, &mut c.s, &mut moved),
            Some(plan) => crate::transfer_vhd::send(plan, &disk, &mut c.s, &mut moved),
        };
        let _ = c.s.flush();
        match outcome {
            Ok(()) => Some(Ok(Value::String(String::new()))),
            Err(Stop::Cancelled) => {
                self.task.drop_own();
                None
            }
            Err(Stop::Failed(why)) => Some(self.failed(&why)),
        }
    }
}

/// The error a failed transfer leaves on its task (xapi fails it with the exception that
/// stopped vhd-tool, an `INTERNAL_ERROR`).
fn io_failure(why: &str) -> Failure {
    Failure::new("INTERNAL_ERROR", &[why])
}

/// Raw data from the body into `staging` from offset 0. A `Content-Length` beyond the disk is
/// xen-orchestra's "until the end" (a body of unknown length); up to the disk's size, the body
/// must be whole.
fn receive_raw(
    body: &mut dyn Read,
    length: Option<u64>,
    staging: &Staging,
    moved: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<(), Stop> {
    let size = staging.size();
    let expected = length.filter(|n| *n <= size);
    let limit = length.unwrap_or(u64::MAX);
    let mut buf = vec![0u8; STEP];
    let mut done = 0u64;
    while done < limit {
        let want = (limit - done).min(STEP as u64) as usize;
        let n = match body.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Failed(format!("reading the upload: {e}"))),
        };
        if done + n as u64 > size {
            return Err(Stop::Failed(format!(
                "the upload is larger than the disk ({size} bytes)"
            )));
        }
        staging
            .write_sparse_at(done, &buf[..n])
            .map_err(|e| Stop::Failed(format!("writing the disk: {e}")))?;
        done += n as u64;
        if !moved(done, expected.unwrap_or(size)) {
            return Err(Stop::Cancelled);
        }
    }
    match expected {
        Some(n) if done < n => Err(Stop::Failed(format!(
            "the upload ended after {done} of {n} bytes"
        ))),
        _ => Ok(()),
    }
}

/// The disk's bytes end to end, one step at a time.
fn send_raw(
    disk: &Disk,
    out: &mut dyn Write,
    moved: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<(), Stop> {
    let size = disk.size();
    let mut buf = vec![0u8; STEP];
    let mut off = 0u64;
    while off < size {
        let n = disk
            .read_at(off, &mut buf)
            .map_err(|e| Stop::Failed(format!("reading the disk: {e}")))?;
        out.write_all(&buf[..n])
            .map_err(|e| Stop::Failed(format!("sending the disk: {e}")))?;
        off += n as u64;
        if !moved(off, size) {
            return Err(Stop::Cancelled);
        }
    }
    Ok(())
}
