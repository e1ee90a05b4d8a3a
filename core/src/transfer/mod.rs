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
use std::time::Duration;

pub use crate::task::Cancel;
use crate::{Error, Session};

/// Bytes moved per read or write: the transfer's whole buffer.
pub const CHUNK: usize = 1 << 20;

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
    let _ = (session, target, sink, control);
    Err(unbuilt())
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
    let _ = (session, target, source, length, control);
    Err(unbuilt())
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
    let _ = (session, vm, compression, sink, control);
    Err(unbuilt())
}

/// Imports an XVA by `/import?sr_id=` (the default SR when `sr` is `None`) and returns the new
/// VMs' references, read from the task's result.
pub fn import_vm(
    session: &Session,
    source: &mut dyn Read,
    length: Option<u64>,
    sr: Option<&str>,
    control: Control<'_>,
) -> crate::Result<Vec<String>> {
    let _ = (session, source, length, sr, control);
    Err(unbuilt())
}

/// GETs a whole URL (`https://host/path?session_id=…&task_id=…`, the caller's query as is) into
/// `sink` under `options` (TLS policy, proxy, timeouts), without a session: XenServer.NET's
/// `HTTP_actions` style, where the caller passes the session reference and task itself.
pub fn download_url(
    options: &crate::Options,
    url: &str,
    sink: &mut dyn Write,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    let _ = (options, url, sink, control);
    Err(unbuilt())
}

/// PUTs `source` to a whole URL; see [`download_url`].
pub fn upload_url(
    options: &crate::Options,
    url: &str,
    source: &mut dyn Read,
    length: Option<u64>,
    control: Control<'_>,
) -> crate::Result<Transferred> {
    let _ = (options, url, source, length, control);
    Err(unbuilt())
}

fn unbuilt() -> Error {
    Error::InvalidArgument("HTTP transfers are being built".into())
}
