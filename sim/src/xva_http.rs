//! `GET /export` and `PUT /import`: a VM as an XVA (see [`crate::xva`]) over HTTP, as xapi's
//! `export.ml` and `import.ml` handlers serve them, streamed both ways.
//!
//! - Credentials: `session_id` (query); without a live session, `401` with
//!   `WWW-Authenticate: Basic realm="VM.export"` (`VM.import`).
//! - The task: `task_id` (made with `task.create`), or one the handler makes and destroys at
//!   the end. Its progress moves with the disks' bytes; it ends `success` (an import's `result`
//!   is the new VMs' references as an XML-RPC array), `failure` with the XenAPI error, or
//!   `cancelled` (the transfer stops, an import undoes what it made).
//! - Export: the VM by `uuid=` (or `ref=`); refused with the task failed and `500` when xapi
//!   refuses it (`VM_BAD_POWER_STATE` for a running VM: xapi exports a Halted or Suspended VM
//!   only). `use_compression=true|gzip` gzips, `zstd` compresses with zstd.
//!   `200` with `Content-Type: application/octet-stream`, `Content-Disposition: attachment;
//!   filename="export.xva"`, `task-id`, no length; the connection closes at the end.
//! - Import: `sr_id=` (a reference; or `sr_uuid=`), else the pool's default SR; `restore=true`
//!   keeps the VM's UUID when free; `force=true` ignores checksum failures. An HTTP-chunked body
//!   fails with `IMPORT_ERROR_CANNOT_HANDLE_CHUNKED`. The disks are written to staging copies and
//!   committed only once the whole XVA is in: a truncated or damaged upload leaves no VM, no VDI,
//!   no content behind.

use std::io::{self, Read, Write};
use std::sync::Arc;

use xenapi::Value;

use crate::dialect::Dialect;
use crate::disks::{Disks, Staging};
use crate::dispatch::Failure;
use crate::http::{Conn, Head};
use crate::session;
use crate::shared::Shared;
use crate::state::{str_field, State};
use crate::tasks;
use crate::transfer::{bare, refuse, Query, TransferTask as Task};
use crate::xva::{self, Compression, DiskContent, DiskStore};

/// Whether this request is an XVA transfer.
pub(crate) fn handles(shared: &Shared, head: &Head) -> bool {
    shared.settings.dialect == Dialect::Xapi
        && matches!(
            (head.method.as_str(), head.path.as_str()),
            ("GET", "/export") | ("PUT", "/import")
        )
}

/// The store's disks by VDI reference, read side.
struct ReadStore {
    disks: Arc<Disks>,
    uuids: Vec<(String, String)>,
}

struct ReadDisk(crate::disks::Disk);

impl DiskContent for ReadDisk {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.0.read_at(offset + done as u64, &mut buf[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        buf[done..].fill(0);
        Ok(())
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("an exported disk is read only"))
    }
}

fn uuid_of(uuids: &[(String, String)], vdi: &str) -> io::Result<String> {
    uuids
        .iter()
        .find(|(r, _)| r == vdi)
        .map(|(_, u)| u.clone())
        .ok_or_else(|| io::Error::other(format!("no disk for {vdi}")))
}

impl DiskStore for ReadStore {
    fn open(&mut self, vdi: &str, size: u64) -> io::Result<Box<dyn DiskContent + '_>> {
        let uuid = uuid_of(&self.uuids, vdi)?;
        Ok(Box::new(ReadDisk(self.disks.open(&uuid, size)?)))
    }
}

/// The write side: a staging copy per new disk, committed together at the end.
struct WriteStore {
    disks: Arc<Disks>,
    uuids: Vec<(String, String)>,
    stagings: Vec<Staging>,
}

struct WriteDisk<'a>(&'a Staging);

impl DiskContent for WriteDisk<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let n = self.0.read_at(offset, buf)?;
        buf[n..].fill(0);
        Ok(())
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write_at(offset, data)
    }
}

impl DiskStore for WriteStore {
    fn open(&mut self, vdi: &str, size: u64) -> io::Result<Box<dyn DiskContent + '_>> {
        let uuid = uuid_of(&self.uuids, vdi)?;
        self.stagings.push(self.disks.staging(&uuid, size, false)?);
        let staging = self.stagings.last().expect("pushed");
        Ok(Box::new(WriteDisk(staging)))
    }
}

fn failure_page(f: &Failure) -> String {
    format!("Server_error({}, [ {} ])", f.0[0], f.0[1..].join("; "))
}

/// Serves one XVA transfer; the connection closes afterwards.
pub(crate) fn serve<S: Read + Write>(
    c: &mut Conn<S>,
    shared: &Arc<Shared>,
    host: &str,
    head: &Head,
) {
    let import = head.method == "PUT";
    let realm = if import { "VM.import" } else { "VM.export" };
    let q = Query::of(head);
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
    let mut st = shared.lock();
    let task = match q.get("task_id").filter(|t| !t.is_empty()) {
        Some(t) if st.get("task", t).is_some() => Task {
            shared,
            id: t.to_owned(),
            own: false,
        },
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
            let t = tasks::create(&mut st, realm, "");
            let id = t.as_str().unwrap_or_default().to_owned();
            // Made by the host that serves the transfer, as xapi's context makes it.
            st.touch("task", &id, |rec| {
                crate::state::set_field(rec, "resident_on", Value::String(host.to_owned()))
            });
            Task {
                shared,
                id,
                own: true,
            }
        }
    };
    drop(st);
    shared.notify();
    if import {
        import_xva(c, head, &q, &task);
    } else {
        export_xva(c, &q, &task);
    }
}

fn find_vm(st: &State, q: &Query) -> Result<String, Failure> {
    if let Some(r) = q.get("ref") {
        return st
            .get("VM", r)
            .map(|_| r.to_owned())
            .ok_or_else(|| Failure::new("HANDLE_INVALID", &["VM", r]));
    }
    let uuid = q.get("uuid").unwrap_or_default();
    st.table("VM")
        .and_then(|t| t.iter().find(|(_, rec)| str_field(rec, "uuid") == uuid))
        .map(|(r, _)| r.clone())
        .ok_or_else(|| Failure::new("UUID_INVALID", &["VM", uuid]))
}

fn export_xva<S: Read + Write>(c: &mut Conn<S>, q: &Query, task: &Task<'_>) {
    let planned = (|| {
        let compression = Compression::from_query(q.get("use_compression"));
        let st = task.shared.lock();
        let vm = find_vm(&st, q)?;
        let plan = xva::plan_export(&st, &vm)?;
        let uuids = plan
            .disks
            .iter()
            .map(|d| {
                let uuid = st
                    .get("VDI", &d.vdi)
                    .map(|r| str_field(r, "uuid").to_owned())
                    .unwrap_or_default();
                (d.vdi.clone(), uuid)
            })
            .collect();
        Ok::<_, Failure>((plan, uuids, compression, Arc::clone(&st.disks)))
    })();
    let (plan, uuids, compression, disks) = match planned {
        Ok(p) => p,
        Err(f) => {
            task.end(Err(f.clone()));
            refuse(c, 500, &[], &failure_page(&f));
            return;
        }
    };
    let extra = "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"export.xva\"\r\n";
    if task.ok_head(c, extra).is_err() {
        task.end(Err(Failure::new(
            "INTERNAL_ERROR",
            &["the client went away"],
        )));
        return;
    }
    let mut store = ReadStore { disks, uuids };
    let mut last = 0;
    let mut cancelled = false;
    let outcome = xva::write(
        &plan,
        &mut store,
        &mut c.s,
        compression,
        &mut |done, total| {
            let go = task.moved(done, total, &mut last);
            cancelled |= !go;
            go
        },
    );
    let _ = c.s.flush();
    match outcome {
        Ok(()) => task.end(Ok(Value::String(String::new()))),
        Err(_) if cancelled => task.drop_own(),
        Err(e) => task.end(Err(Failure::new("INTERNAL_ERROR", &[&e.to_string()]))),
    }
}

fn import_xva<S: Read + Write>(c: &mut Conn<S>, head: &Head, q: &Query, task: &Task<'_>) {
    if head.chunked() {
        task.end(Err(Failure::new("IMPORT_ERROR_CANNOT_HANDLE_CHUNKED", &[])));
        bare(c, 404, &[]);
        return;
    }
    let sr = {
        let st = task.shared.lock();
        match (q.get("sr_id"), q.get("sr_uuid")) {
            (Some(r), _) if !r.is_empty() => Some(r.to_owned()),
            (_, Some(u)) => match st
                .table("SR")
                .and_then(|t| t.iter().find(|(_, rec)| str_field(rec, "uuid") == u))
            {
                Some((r, _)) => Some(r.clone()),
                None => {
                    drop(st);
                    let f = Failure::new("UUID_INVALID", &["SR", u]);
                    task.end(Err(f.clone()));
                    refuse(c, 500, &[], &failure_page(&f));
                    return;
                }
            },
            _ => None,
        }
    };
    let flag = |k: &str| q.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let (restore, force) = (flag("restore"), flag("force"));
    if head.expect_continue && c.s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
        task.end(Err(Failure::new(
            "INTERNAL_ERROR",
            &["the client went away"],
        )));
        return;
    }
    if task
        .ok_head(c, "Content-Type: application/octet-stream\r\n")
        .is_err()
    {
        task.end(Err(Failure::new(
            "INTERNAL_ERROR",
            &["the client went away"],
        )));
        return;
    }
    let mut body: Box<dyn Read + '_> = match head.length {
        Some(n) => Box::new(Read::take(&mut *c, n)),
        None => Box::new(&mut *c),
    };
    let reader = match xva::Reader::open(&mut body) {
        Ok(r) => r,
        Err(f) => return task.end(Err(f)),
    };
    let made = {
        let mut st = task.shared.lock();
        xva::create_objects(&mut st, &reader.header, sr.as_deref(), restore).map(|imported| {
            let uuids = imported
                .disks
                .iter()
                .map(|d| {
                    let uuid = st
                        .get("VDI", &d.vdi)
                        .map(|r| str_field(r, "uuid").to_owned())
                        .unwrap_or_default();
                    (d.vdi.clone(), uuid)
                })
                .collect::<Vec<_>>();
            (imported, uuids, Arc::clone(&st.disks))
        })
    };
    task.shared.notify();
    let (imported, uuids, disks) = match made {
        Ok(m) => m,
        Err(f) => return task.end(Err(f)),
    };
    let mut store = WriteStore {
        disks,
        uuids,
        stagings: Vec::new(),
    };
    let mut last = 0;
    let mut cancelled = false;
    let outcome = reader.read_disks(&imported.disks, &mut store, force, &mut |done, total| {
        let go = task.moved(done, total, &mut last);
        cancelled |= !go;
        go
    });
    let io = |e: io::Error| Failure::new("VDI_IO_ERROR", &[&e.to_string()]);
    let committed = outcome.and_then(|()| {
        for s in &store.stagings {
            s.sync().map_err(io)?;
        }
        // Under the lock, so that a VDI destroyed meanwhile gets no content back.
        let st = task.shared.lock();
        if let Some(d) = imported
            .disks
            .iter()
            .find(|d| st.get("VDI", &d.vdi).is_none())
        {
            return Err(Failure::new("HANDLE_INVALID", &["VDI", &d.vdi]));
        }
        for s in store.stagings.drain(..) {
            s.commit().map_err(io)?;
        }
        Ok(())
    });
    match committed {
        Ok(()) => {
            let vms = imported
                .vms
                .iter()
                .map(|r| Value::String(r.clone()))
                .collect();
            task.end(Ok(Value::Array(vms)));
        }
        Err(f) => {
            xva::undo(&mut task.shared.lock(), &imported.made);
            task.shared.notify();
            if cancelled {
                task.drop_own();
            } else {
                task.end(Err(f));
            }
        }
    }
}
