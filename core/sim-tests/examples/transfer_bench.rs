//! HTTP transfer throughput and memory: a disk of SIZE MiB (default 1024) imported then exported
//! through `xenapi::transfer` against a `xenapi-sim` process on the same machine, printing MB/s
//! each way and the peak resident memory (VmHWM from /proc) of this client and of the simulator.
//!
//! Run under the simulator, which is then this program's parent (`make transfer-bench`):
//! `xenapi-sim run -- target/release/examples/transfer_bench [SIZE_MIB]`. The disk's content is
//! a pattern, not zeros (the simulator keeps zeros sparse), and the export is checked against it
//! by a checksum.

use std::io::{self, Read, Write};
use std::time::Instant;

use xenapi::api::{Pool, Vdi, VdiRecord, VdiType};
use xenapi::transfer::{self, Control, DiskFormat, CHUNK};
use xenapi::{Options, Session};

const MIB: u64 = 1 << 20;

/// SIZE bytes of a pattern: every MiB a block whose first word counts the blocks.
struct Pattern {
    left: u64,
    block: Vec<u8>,
    pos: usize,
    n: u64,
}

impl Pattern {
    fn new(size: u64) -> Self {
        Pattern {
            left: size,
            block: (0..MIB as usize).map(|i| (i * 7 + 1) as u8).collect(),
            pos: 0,
            n: 0,
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        if self.pos == self.block.len() {
            self.pos = 0;
            self.n += 1;
            self.block[..8].copy_from_slice(&self.n.to_le_bytes());
        }
        let k = buf
            .len()
            .min(self.block.len() - self.pos)
            .min(self.left as usize);
        buf[..k].copy_from_slice(&self.block[self.pos..self.pos + k]);
        self.pos += k;
        self.left -= k as u64;
        Ok(k)
    }
}

/// A sink that keeps a checksum (Fletcher-like over 8-byte words) and nothing else.
#[derive(Default)]
struct Sum {
    bytes: u64,
    a: u64,
    b: u64,
}

impl Sum {
    fn add(&mut self, data: &[u8]) {
        for w in data.chunks(8) {
            let mut word = [0u8; 8];
            word[..w.len()].copy_from_slice(w);
            self.a = self.a.wrapping_add(u64::from_le_bytes(word));
            self.b = self.b.wrapping_add(self.a);
        }
        self.bytes += data.len() as u64;
    }
}

impl Write for Sum {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.add(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `VmHWM` of a process, in KiB.
fn hwm_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The parent's pid when the parent is the simulator.
fn simulator_pid() -> Option<String> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let ppid = after.split_whitespace().nth(1)?.to_owned();
    let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok()?;
    comm.trim().starts_with("xenapi-sim").then_some(ppid)
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "unknown".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size_mib: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1024);
    let size = size_mib * MIB;
    let url = std::env::var("XENAPI_URL")
        .map_err(|_| "XENAPI_URL is not set: run under `xenapi-sim run -- …`")?;
    let user = std::env::var("XENAPI_USER").unwrap_or_else(|_| "root".into());
    let password = std::env::var("XENAPI_PASSWORD").unwrap_or_else(|_| "password".into());
    let s = Session::connect(Options::new(&url), &user, &password)?;
    let pool = Pool::get_all(&s)?.remove(0);
    let sr = Pool::get_default_sr(&s, &pool)?;
    let vdi = Vdi::create(
        &s,
        &VdiRecord {
            name_label: "transfer bench".into(),
            sr,
            virtual_size: size as i64,
            type_: VdiType::User,
            ..VdiRecord::default()
        },
    )?;
    let mut expected = Sum::default();
    let mut p = Pattern::new(size);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = p.read(&mut buf)?;
        if n == 0 {
            break;
        }
        expected.add(&buf[..n]);
    }
    drop(buf);

    let start = Instant::now();
    let up = transfer::import_vdi(
        &s,
        vdi.as_str(),
        DiskFormat::Raw,
        &mut Pattern::new(size),
        Some(size),
        Control::default(),
    )?;
    let import_secs = start.elapsed().as_secs_f64();

    let mut got = Sum::default();
    let start = Instant::now();
    let down = transfer::export_vdi(
        &s,
        vdi.as_str(),
        DiskFormat::Raw,
        &mut got,
        Control::default(),
    )?;
    let export_secs = start.elapsed().as_secs_f64();
    let _ = Vdi::destroy(&s, &vdi);
    s.logout()?;

    if up.bytes != size || down.bytes != size || (got.a, got.b) != (expected.a, expected.b) {
        return Err(format!(
            "the disk did not round-trip: {} bytes in, {} out, checksums {}",
            up.bytes,
            down.bytes,
            if (got.a, got.b) == (expected.a, expected.b) {
                "equal"
            } else {
                "differ"
            }
        )
        .into());
    }
    let rate = |secs: f64| size as f64 / secs / 1e6;
    println!("transfer bench: a {size_mib} MiB raw disk, client and simulator on one machine");
    println!(
        "import  {:>8.1} MB/s  ({:.2} s)",
        rate(import_secs),
        import_secs
    );
    println!(
        "export  {:>8.1} MB/s  ({:.2} s)",
        rate(export_secs),
        export_secs
    );
    println!("peak RSS client     {}", mib(hwm_kib("self")));
    match simulator_pid() {
        Some(pid) => println!("peak RSS simulator  {}", mib(hwm_kib(&pid))),
        None => println!("peak RSS simulator  unknown (not run under xenapi-sim run)"),
    }
    Ok(())
}
