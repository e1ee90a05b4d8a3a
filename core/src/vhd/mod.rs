//! The VHD disk image format (Microsoft's Virtual Hard Disk, version 1.0), as xapi's
//! `/import_raw_vdi` and `/export_raw_vdi` take it with `format=vhd`: a pure format module, no I/O
//! beyond the [`Read`](std::io::Read)/[`Write`](std::io::Write) you give it.
//!
//! Convert a raw disk to a dynamic VHD before an upload to send only its allocated blocks
//! ([`write_dynamic`]); read a VHD a server sent back into a disk ([`read`]).
//!
//! ```
//! use xenapi::vhd::{self, WriteOptions};
//!
//! // A 6 MiB disk whose second 2 MiB block holds data.
//! let mut disk = vec![0u8; 6 << 20];
//! let size = disk.len() as u64;
//! disk[(2 << 20) + 5] = 42;
//! let mut image = Vec::new();
//! let options = WriteOptions { uuid: [7; 16], timestamp: 0 };
//! vhd::write_dynamic(&mut image, size, [1u64], disk.as_mut_slice(), &options)?;
//! assert_eq!(image.len() as u64, vhd::dynamic_size(size, 1));
//!
//! let mut back = vec![0u8; disk.len()];
//! let info = vhd::read(image.as_slice(), back.as_mut_slice())?;
//! assert_eq!(info.virtual_size, size);
//! assert_eq!(back, disk);
//! # Ok::<(), vhd::Error>(())
//! ```
//!
//! ## The format (all integers big-endian)
//! - A **footer** of 512 bytes ends every VHD: cookie `conectix`, features, version 1.0, the offset
//!   of the dynamic header (all ones for a fixed disk), a timestamp (seconds since 2000-01-01
//!   UTC), creator, original and current size, CHS geometry, disk type (2 fixed, 3 dynamic, 4
//!   differencing), a checksum (the ones' complement of the sum of every other byte), a UUID.
//! - A **fixed** VHD is the disk's bytes followed by the footer.
//! - A **dynamic** VHD starts with a copy of the footer, then a dynamic header of 1024 bytes
//!   (cookie `cxsparse`, the offset of the block allocation table, its entry count, the block
//!   size, a checksum), then the **BAT** (one 32-bit sector offset per block, `0xFFFFFFFF` for a
//!   block never written, padded to a sector), then each allocated block: a sector bitmap (a bit
//!   per 512-byte sector, most significant bit first, padded to a sector) and the block's data,
//!   then the footer.
//!
//! ## Memory
//! Both directions hold the BAT (4 bytes a block when writing, 8 when reading: 8 MiB for a
//! 2 TiB disk of 2 MiB blocks) and one buffer of at most [`BUFFER`] bytes plus a block's bitmap,
//! whatever the disk's size. Inputs whose BAT would need more than [`MAX_BLOCKS`] entries are
//! refused.
//!
//! ## Streaming
//! [`write_dynamic`] writes in one pass, the BAT first (computed from the allocated blocks), then
//! the blocks in ascending order. [`read`] reads in one pass: the BAT precedes the blocks in every
//! VHD written that way (by this module, xapi's `vhd-tool`, `vhd-util`, `qemu-img`); blocks may
//! be stored in any order after it. A VHD that places its BAT after its blocks, or blocks that
//! overlap, cannot be read from a stream and is refused with an error that says so.

use std::fmt;
use std::io;

mod read;
mod write;

#[cfg(test)]
mod tests;

pub use read::{read, WriteAt};
pub use write::{dynamic_size, write_dynamic, ReadAt, WriteOptions};

/// A disk sector: the unit of every offset in a VHD.
pub const SECTOR: u64 = 512;
/// The block size [`write_dynamic`] uses, as xapi and Hyper-V do: 2 MiB.
pub const BLOCK_SIZE: u32 = 2 << 20;
/// The most BAT entries [`read`] and [`write_dynamic`] accept: 2 TiB (the VHD format's practical
/// limit) in blocks of 2 MiB, twice over.
pub const MAX_BLOCKS: u32 = 1 << 21;
/// The largest disk accepted: 2040 GiB, the VHD format's limit.
pub const MAX_SIZE: u64 = 2040 << 30;
/// The largest buffer either direction holds for data.
pub const BUFFER: usize = 1 << 20;

pub(crate) const FOOTER_COOKIE: &[u8; 8] = b"conectix";
pub(crate) const HEADER_COOKIE: &[u8; 8] = b"cxsparse";
pub(crate) const FOOTER_LEN: usize = 512;
pub(crate) const HEADER_LEN: usize = 1024;
pub(crate) const UNUSED: u32 = 0xFFFF_FFFF;
/// Seconds from 1970-01-01 to 2000-01-01, the VHD epoch.
pub const EPOCH_OFFSET: u64 = 946_684_800;

/// The VHD timestamp (seconds since 2000-01-01 UTC) of a time; 0 before 2000, saturating after
/// 2136.
pub fn timestamp(time: std::time::SystemTime) -> u32 {
    let unix = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(unix.saturating_sub(EPOCH_OFFSET)).unwrap_or(u32::MAX)
}

/// Fixed (footer only) or dynamic (sparse, with a BAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskType {
    Fixed,
    Dynamic,
}

/// What [`read`] found in a VHD's footer and header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VhdInfo {
    pub disk_type: DiskType,
    /// The disk's size in bytes (the footer's current size).
    pub virtual_size: u64,
    /// The footer's unique id.
    pub uuid: [u8; 16],
    /// Seconds since 2000-01-01 UTC.
    pub timestamp: u32,
    /// The dynamic header's block size; 0 for a fixed disk.
    pub block_size: u32,
    /// Blocks the BAT marks allocated; 0 for a fixed disk.
    pub allocated_blocks: u32,
}

/// What was wrong with a VHD, or with the disk to write as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A cookie other than `conectix` or `cxsparse` where one is due.
    BadCookie,
    /// A footer or header whose checksum does not match its bytes.
    BadChecksum,
    /// A size, offset, count or version out of range or inconsistent.
    BadSize,
    /// A block outside the disk, or a BAT entry pointing outside the file.
    OutOfRange,
    /// A layout that cannot be read in one pass (a BAT after the data, overlapping blocks).
    NotStreamable,
    /// Something valid this module does not do (a differencing disk).
    Unsupported,
    /// The input ended early.
    Truncated,
    /// The underlying reader, writer or disk failed.
    Io,
}

/// A VHD error: its kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    fn io(what: &str, e: &io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::new(ErrorKind::Truncated, format!("VHD ends early: {what}"))
        } else {
            Error::new(ErrorKind::Io, format!("{what}: {e}"))
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.kind {
            ErrorKind::Truncated => io::ErrorKind::UnexpectedEof,
            ErrorKind::Io => io::ErrorKind::Other,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

impl From<Error> for crate::Error {
    fn from(e: Error) -> crate::Error {
        crate::Error::InvalidArgument(e.message)
    }
}

/// The VHD checksum: the ones' complement of the sum of every byte outside `skip`.
pub(crate) fn checksum(bytes: &[u8], skip: std::ops::Range<usize>) -> u32 {
    let sum = bytes
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(i))
        .fold(0u32, |acc, (_, b)| acc.wrapping_add(u32::from(*b)));
    !sum
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

/// Bytes of a block's sector bitmap, padded to a sector.
pub(crate) fn bitmap_len(block_size: u32) -> u64 {
    let sectors = u64::from(block_size) / SECTOR;
    sectors.div_ceil(8).div_ceil(SECTOR) * SECTOR
}

/// The footer's CHS geometry for a size, by the algorithm of the VHD specification (appendix).
pub(crate) fn geometry(size: u64) -> (u16, u8, u8) {
    let mut total = size / SECTOR;
    if total > 65535 * 16 * 255 {
        total = 65535 * 16 * 255;
    }
    let (spt, heads, cth);
    if total >= 65535 * 16 * 63 {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        let mut s = 17u64;
        let mut c = total / s;
        let mut h = c.div_ceil(1024).max(4);
        if c >= h * 1024 || h > 16 {
            s = 31;
            h = 16;
            c = total / s;
        }
        if c >= h * 1024 {
            s = 63;
            h = 16;
            c = total / s;
        }
        spt = s;
        heads = h;
        cth = c;
    }
    let cylinders = (cth / heads).min(65535);
    (cylinders as u16, heads as u8, spt as u8)
}

/// The footer's fields this module uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Footer {
    pub data_offset: u64,
    pub timestamp: u32,
    pub current_size: u64,
    pub disk_type: u32,
    pub uuid: [u8; 16],
}

impl Footer {
    pub(crate) fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut b = [0u8; FOOTER_LEN];
        b[0..8].copy_from_slice(FOOTER_COOKIE);
        b[8..12].copy_from_slice(&2u32.to_be_bytes()); // features: "reserved", always set
        b[12..16].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        b[16..24].copy_from_slice(&self.data_offset.to_be_bytes());
        b[24..28].copy_from_slice(&self.timestamp.to_be_bytes());
        b[28..32].copy_from_slice(b"xrs ");
        b[32..36].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        b[36..40].copy_from_slice(b"Wi2k");
        b[40..48].copy_from_slice(&self.current_size.to_be_bytes());
        b[48..56].copy_from_slice(&self.current_size.to_be_bytes());
        let (c, h, s) = geometry(self.current_size);
        b[56..58].copy_from_slice(&c.to_be_bytes());
        b[58] = h;
        b[59] = s;
        b[60..64].copy_from_slice(&self.disk_type.to_be_bytes());
        b[68..84].copy_from_slice(&self.uuid);
        let sum = checksum(&b, 64..68);
        b[64..68].copy_from_slice(&sum.to_be_bytes());
        b
    }

    /// Parses and checks a footer: cookie, checksum, version, type, size.
    pub(crate) fn decode(b: &[u8; FOOTER_LEN]) -> Result<Footer, Error> {
        if &b[0..8] != FOOTER_COOKIE {
            return Err(Error::new(
                ErrorKind::BadCookie,
                format!(
                    "not a VHD: the footer's cookie is {:?}, not \"conectix\"",
                    String::from_utf8_lossy(&b[0..8])
                ),
            ));
        }
        let stored = be32(b, 64);
        let computed = checksum(b, 64..68);
        if stored != computed {
            return Err(Error::new(
                ErrorKind::BadChecksum,
                format!("VHD footer checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
        let version = be32(b, 12);
        if version >> 16 != 1 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("VHD footer version {version:#010x}: only 1.x is known"),
            ));
        }
        let disk_type = be32(b, 60);
        match disk_type {
            2 | 3 => {}
            4 => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "a differencing VHD needs its parent: only fixed and dynamic VHDs are read",
                ))
            }
            other => {
                return Err(Error::new(
                    ErrorKind::BadSize,
                    format!("VHD disk type {other} is none of fixed (2), dynamic (3)"),
                ))
            }
        }
        let current_size = be64(b, 48);
        if current_size % SECTOR != 0 {
            return Err(Error::new(
                ErrorKind::BadSize,
                format!("VHD size {current_size} is not a whole number of 512-byte sectors"),
            ));
        }
        if current_size > MAX_SIZE {
            return Err(Error::new(
                ErrorKind::BadSize,
                format!("VHD size {current_size} is over the format's limit of 2040 GiB"),
            ));
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[68..84]);
        Ok(Footer {
            data_offset: be64(b, 16),
            timestamp: be32(b, 24),
            current_size,
            disk_type,
            uuid,
        })
    }
}

/// The dynamic header's fields this module uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DynHeader {
    pub table_offset: u64,
    pub max_entries: u32,
    pub block_size: u32,
}

impl DynHeader {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(HEADER_COOKIE);
        b[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        b[16..24].copy_from_slice(&self.table_offset.to_be_bytes());
        b[24..28].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        b[28..32].copy_from_slice(&self.max_entries.to_be_bytes());
        b[32..36].copy_from_slice(&self.block_size.to_be_bytes());
        let sum = checksum(&b, 36..40);
        b[36..40].copy_from_slice(&sum.to_be_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8; HEADER_LEN]) -> Result<DynHeader, Error> {
        if &b[0..8] != HEADER_COOKIE {
            return Err(Error::new(
                ErrorKind::BadCookie,
                format!(
                    "bad VHD dynamic header: cookie {:?}, not \"cxsparse\"",
                    String::from_utf8_lossy(&b[0..8])
                ),
            ));
        }
        let stored = be32(b, 36);
        let computed = checksum(b, 36..40);
        if stored != computed {
            return Err(Error::new(
                ErrorKind::BadChecksum,
                format!("VHD dynamic header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
        let block_size = be32(b, 32);
        if !block_size.is_power_of_two() || u64::from(block_size) < SECTOR || block_size > 256 << 20
        {
            return Err(Error::new(
                ErrorKind::BadSize,
                format!(
                    "VHD block size {block_size} is not a power of two from 512 bytes to 256 MiB"
                ),
            ));
        }
        let max_entries = be32(b, 28);
        if max_entries > MAX_BLOCKS {
            return Err(Error::new(
                ErrorKind::BadSize,
                format!("VHD BAT of {max_entries} entries is over the limit of {MAX_BLOCKS}"),
            ));
        }
        Ok(DynHeader {
            table_offset: be64(b, 16),
            max_entries,
            block_size,
        })
    }
}
