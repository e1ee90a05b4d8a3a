//! `vdi-export`, `vdi-import`, `vm-export`, `vm-import`: files to and from the HTTP handlers
//! beside the API, through `xenapi::transfer`, with a progress bar on a terminal and Ctrl-C to
//! cancel.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use xenapi::api::{Vdi, Vm};
use xenapi::transfer::{self, Cancel, Compression, Control, DiskFormat, Progress};
use xenapi::{Error, Ref, Session};

type Result<T> = std::result::Result<T, Error>;

/// A progress bar on stderr, when stderr is a terminal (nothing otherwise).
struct Bar {
    label: String,
    start: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Bar {
    fn new(label: &str) -> Option<Bar> {
        std::io::stderr().is_terminal().then(|| Bar {
            label: label.to_owned(),
            start: Instant::now(),
            last: None,
            drawn: false,
        })
    }

    fn draw(&mut self, p: Progress) {
        let end = p.total == Some(p.done);
        if !end
            && self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(Instant::now());
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        let rate = p.done as f64 / secs / 1e6;
        let line = match p.total {
            Some(total) if total > 0 => {
                let share = (p.done as f64 / total as f64).min(1.0);
                let filled = (share * 30.0) as usize;
                format!(
                    "{} [{}{}] {:>3.0}% {} of {} {rate:.1} MB/s",
                    self.label,
                    "#".repeat(filled),
                    ".".repeat(30 - filled),
                    share * 100.0,
                    size(p.done),
                    size(total)
                )
            }
            _ => format!("{} {} {rate:.1} MB/s", self.label, size(p.done)),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.drawn = true;
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}

fn size(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n as f64 >= 1024.0 * MIB {
        format!("{:.2} GiB", n as f64 / (1024.0 * MIB))
    } else {
        format!("{:.1} MiB", n as f64 / MIB)
    }
}

/// Runs `run` with a progress bar labelled `label` and Ctrl-C cancelling.
fn with_control<T>(label: &str, run: impl FnOnce(Control<'_>) -> Result<T>) -> Result<T> {
    let cancel = Cancel::new();
    let _guard = crate::interrupt::cancel_on_interrupt(&cancel);
    let mut bar = Bar::new(label);
    let control = Control {
        progress: Some(Box::new(move |p| {
            if let Some(b) = bar.as_mut() {
                b.draw(p);
            }
            true
        })),
        cancel: Some(cancel),
        ..Control::default()
    };
    let r = run(control);
    if crate::interrupt::interrupted() {
        eprintln!("xenctl: interrupted: the transfer and its task were cancelled");
    }
    r
}

fn io(what: &str, file: &str, e: std::io::Error) -> Error {
    Error::InvalidArgument(format!("cannot {what} {file}: {e}"))
}

fn vdi(s: &Session, uuid: &str) -> Result<Ref<Vdi>> {
    if uuid.starts_with("OpaqueRef:") {
        return Ok(Ref::new(uuid));
    }
    Vdi::get_by_uuid(s, uuid)
}

/// Writes into `file` with `run`; removes the file when `run` fails.
fn into_file(file: &str, run: impl FnOnce(&mut File) -> Result<u64>) -> Result<u64> {
    let mut f = File::create(file).map_err(|e| io("create", file, e))?;
    match run(&mut f) {
        Ok(n) => {
            f.sync_all().map_err(|e| io("write", file, e))?;
            Ok(n)
        }
        Err(e) => {
            drop(f);
            let _ = std::fs::remove_file(file);
            Err(e)
        }
    }
}

fn open(file: &str) -> Result<(File, u64)> {
    let f = File::open(file).map_err(|e| io("open", file, e))?;
    let len = f.metadata().map_err(|e| io("read", file, e))?.len();
    Ok((f, len))
}

pub fn vdi_export(
    s: &Session,
    out: &mut dyn Write,
    uuid: &str,
    file: &str,
    format: DiskFormat,
) -> Result<()> {
    let r = vdi(s, uuid)?;
    let n = into_file(file, |f| {
        with_control(&format!("export {uuid}"), |c| {
            transfer::export_vdi(s, r.as_str(), format, f, c).map(|t| t.bytes)
        })
    })?;
    super::commands::say(
        out,
        &format!("{uuid}: {n} bytes ({}) written to {file}", format.as_str()),
    )
}

pub fn vdi_import(
    s: &Session,
    out: &mut dyn Write,
    uuid: &str,
    file: &str,
    format: DiskFormat,
) -> Result<()> {
    let r = vdi(s, uuid)?;
    let (mut f, len) = open(file)?;
    let t = with_control(&format!("import {uuid}"), |c| {
        transfer::import_vdi(s, r.as_str(), format, &mut f, Some(len), c)
    })?;
    super::commands::say(
        out,
        &format!(
            "{uuid}: {} bytes ({}) imported from {file}",
            t.bytes,
            format.as_str()
        ),
    )
}

pub fn vm_export(
    s: &Session,
    out: &mut dyn Write,
    vm: &Ref<Vm>,
    name: &str,
    file: &str,
    compress: bool,
) -> Result<()> {
    let uuid = Vm::get_uuid(s, vm)?;
    let compression = if compress {
        Compression::Gzip
    } else {
        Compression::None
    };
    let n = into_file(file, |f| {
        with_control(&format!("export {name}"), |c| {
            transfer::export_vm(s, &uuid, compression, f, c).map(|t| t.bytes)
        })
    })?;
    super::commands::say(out, &format!("{name}: {n} bytes (XVA) written to {file}"))
}

pub fn vm_import(s: &Session, out: &mut dyn Write, file: &str, sr: Option<&str>) -> Result<()> {
    let (mut f, len) = open(file)?;
    let refs = with_control(&format!("import {file}"), |c| {
        transfer::import_vm(s, &mut f, Some(len), sr, c)
    })?;
    if refs.is_empty() {
        return Err(Error::Protocol(
            "the import finished but its task names no new VM".into(),
        ));
    }
    for r in refs {
        let vm = Ref::<Vm>::new(r);
        let name = Vm::get_name_label(s, &vm)?;
        let uuid = Vm::get_uuid(s, &vm)?;
        super::commands::say(out, &format!("{name} {uuid}"))?;
    }
    Ok(())
}
