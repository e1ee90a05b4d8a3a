//! VHD for the disk transfers (`format=vhd`), on the core's format module (`xenapi::vhd`).
//!
//! Out: a dynamic VHD of the disk's non-zero 2 MiB blocks, in ascending order, as xapi's
//! vhd-tool sends one. Its bytes depend only on the content: the footer's uuid is the VDI's and
//! its timestamp the content's last change, so two exports of an unchanged disk are identical.
//! Its size is known before the first byte (a `Content-Length`).
//!
//! In: a dynamic or fixed VHD, read in one pass into a staging copy that starts as zeros (what
//! the VHD leaves out reads as zeros); a VHD larger than the disk, malformed or cut short fails.

use std::io::{self, Read, Write};
use std::time::UNIX_EPOCH;

use xenapi::vhd::{self, ReadAt, WriteAt, WriteOptions, BLOCK_SIZE};

use crate::disks::{is_zero, Disk, Staging, STEP};
use crate::transfer::Stop;

/// What an export sends: the allocated blocks and the VHD's size.
pub(crate) struct Plan {
    blocks: Vec<u64>,
    pub length: u64,
    options: WriteOptions,
}

/// The disk's uuid as the footer's 16 bytes (zeros for a name that is not a uuid).
fn uuid_bytes(uuid: &str) -> [u8; 16] {
    let hex: Vec<u8> = uuid
        .bytes()
        .filter_map(|b| (b as char).to_digit(16).map(|d| d as u8))
        .collect();
    let mut out = [0u8; 16];
    if hex.len() == 32 {
        for (i, o) in out.iter_mut().enumerate() {
            *o = hex[2 * i] << 4 | hex[2 * i + 1];
        }
    }
    out
}

/// Finds the blocks holding data (holes skipped, zero blocks left out).
pub(crate) fn plan(disk: &Disk, uuid: &str) -> io::Result<Plan> {
    let size = disk.size();
    if size % vhd::SECTOR != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a disk of {size} bytes is not whole 512-byte sectors"),
        ));
    }
    let block = u64::from(BLOCK_SIZE);
    let mut blocks = Vec::new();
    let mut buf = vec![0u8; STEP];
    let mut at = 0u64;
    while let Some((start, end)) = disk.data_from(at)? {
        let mut b = start / block;
        while b * block < end {
            let (lo, hi) = (b * block, ((b + 1) * block).min(size));
            let mut off = lo.max(start);
            let mut data = false;
            while off < hi.min(end) && !data {
                let n = disk.read_at(off, &mut buf[..((hi - off) as usize).min(STEP)])?;
                if n == 0 {
                    break;
                }
                data = !is_zero(&buf[..n]);
                off += n as u64;
            }
            if data {
                blocks.push(b);
            }
            b += 1;
        }
        at = end.max(b * block);
    }
    let timestamp = disk
        .modified()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| {
            let secs = d.as_secs().saturating_sub(vhd::EPOCH_OFFSET);
            u32::try_from(secs).unwrap_or(u32::MAX)
        });
    Ok(Plan {
        length: vhd::dynamic_size(size, blocks.len() as u64),
        blocks,
        options: WriteOptions {
            uuid: uuid_bytes(uuid),
            timestamp,
        },
    })
}

struct Source<'a>(&'a Disk);

impl ReadAt for Source<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let n = self.0.read_at(offset, buf)?;
        buf[n..].fill(0);
        Ok(())
    }
}

/// Counts bytes through a writer or reader, reports them, and stops on a cancel.
struct Counted<'a, T> {
    inner: T,
    done: u64,
    total: u64,
    moved: &'a mut dyn FnMut(u64, u64) -> bool,
    cancelled: bool,
}

impl<T> Counted<'_, T> {
    fn count(&mut self, n: usize) -> io::Result<()> {
        self.done += n as u64;
        if !(self.moved)(self.done, self.total) {
            self.cancelled = true;
            return Err(io::Error::other("the task was cancelled"));
        }
        Ok(())
    }
}

impl<T: Write> Write for Counted<'_, T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count(n)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Read> Read for Counted<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n)?;
        Ok(n)
    }
}

/// Writes `disk` as the dynamic VHD `plan` describes.
pub(crate) fn send(
    plan: &Plan,
    disk: &Disk,
    out: &mut dyn Write,
    moved: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<(), Stop> {
    let mut out = Counted {
        inner: out,
        done: 0,
        total: plan.length,
        moved,
        cancelled: false,
    };
    let r = vhd::write_dynamic(
        &mut out,
        disk.size(),
        plan.blocks.iter().copied(),
        &mut Source(disk),
        &plan.options,
    );
    match r {
        Ok(_) => Ok(()),
        Err(_) if out.cancelled => Err(Stop::Cancelled),
        Err(e) => Err(Stop::Failed(format!("sending the VHD: {e}"))),
    }
}

struct Sink<'a>(&'a Staging);

impl WriteAt for Sink<'_> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write_sparse_at(offset, data)
    }
}

/// Reads a VHD from `body` (of `length` bytes when given) into `staging`.
pub(crate) fn receive(
    body: &mut dyn Read,
    length: Option<u64>,
    staging: &Staging,
    moved: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<(), Stop> {
    let size = staging.size();
    let mut input = Counted {
        inner: body.take(length.unwrap_or(u64::MAX)),
        done: 0,
        total: length.unwrap_or(size),
        moved,
        cancelled: false,
    };
    match vhd::read(&mut input, &mut Sink(staging)) {
        Ok(info) if info.virtual_size > size => Err(Stop::Failed(format!(
            "the VHD is a disk of {} bytes, larger than the VDI's {size}",
            info.virtual_size
        ))),
        Ok(_) => Ok(()),
        Err(_) if input.cancelled => Err(Stop::Cancelled),
        Err(e) => Err(Stop::Failed(format!("reading the VHD: {e}"))),
    }
}
