//! XVA, xapi's VM export format, both ways (`GET /export`, `PUT /import`): a tar whose first file
//! is `ova.xml` (the VM and its VBDs, VDIs, SRs, VIFs and networks: [`meta`]), then each disk
//! in chunks of 1 MiB named `Ref:N/00000000`, `Ref:N/00000001`, …, each followed by its checksum
//! (`.xxhash`, XXH64 in upper-case hex; older exports `.checksum`, SHA-1), as xapi's
//! `stream_vdi.ml` writes them: the first and last chunk always, the others only when not all
//! zeros (the reader fills the gaps with zeros). Optionally compressed, gzip
//! (`use_compression=true`) or zstd (`use_compression=zstd`); an import recognises either by its
//! magic number, as xapi does.
//!
//! The disks' bytes come from and go to a [`DiskStore`]; memory stays at one chunk per
//! transfer, whatever the disks' sizes.

mod hash;
mod meta;
mod tar;

use std::io::{self, Read, Write};

use crate::dispatch::Failure;

#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use meta::{
    create as create_objects, parse, plan_export, undo, Disk, Header, Imported, Plan,
};

/// The chunk size of an XVA's disks (`Stream_vdi.chunk_size`).
pub(crate) const CHUNK: usize = 1 << 20;
/// The largest `ova.xml` read into memory.
const MAX_OVA_XML: u64 = 64 << 20;

/// A disk's content, as the transfers see it.
pub(crate) trait DiskContent {
    /// Fills `buf` from `offset` (zeros where nothing was written).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
}

/// Where the disks' contents live, by VDI reference.
pub(crate) trait DiskStore {
    /// The content of `vdi` (`size` bytes); a disk never written reads as zeros.
    fn open(&mut self, vdi: &str, size: u64) -> io::Result<Box<dyn DiskContent + '_>>;
}

/// `use_compression=`: `true`/`gzip` compresses with gzip, `zstd` with zstd; anything else, or
/// nothing, is none (as xapi's handler reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub(crate) fn from_query(value: Option<&str>) -> Compression {
        match value {
            Some("true") | Some("gzip") => Compression::Gzip,
            Some("zstd") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// Called with (bytes of disk done, bytes of disk in all); `false` cancels.
pub(crate) type Progress<'a> = dyn FnMut(u64, u64) -> bool + 'a;

fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "the transfer was cancelled")
}

/// Writes the XVA of `plan` to `out`: `ova.xml`, then each disk's chunks (zero chunks skipped
/// but the first and last), then the end of the tar.
pub(crate) fn write(
    plan: &Plan,
    store: &mut dyn DiskStore,
    out: &mut dyn Write,
    compression: Compression,
    progress: &mut Progress<'_>,
) -> io::Result<()> {
    match compression {
        Compression::None => write_tar(plan, store, out, progress),
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            write_tar(plan, store, &mut gz, progress)?;
            gz.finish()?.flush()
        }
        Compression::Zstd => {
            let mut z = zstd::stream::write::Encoder::new(out, 0)?;
            write_tar(plan, store, &mut z, progress)?;
            z.finish()?.flush()
        }
    }
}

fn write_tar(
    plan: &Plan,
    store: &mut dyn DiskStore,
    out: &mut dyn Write,
    progress: &mut Progress<'_>,
) -> io::Result<()> {
    tar::write_file(out, "ova.xml", plan.ova_xml.as_bytes())?;
    let total: u64 = plan.disks.iter().map(|d| d.size).sum();
    let mut done = 0u64;
    let mut buf = vec![0u8; CHUNK];
    for d in &plan.disks {
        let mut disk = store.open(&d.vdi, d.size)?;
        let chunks = d.size.div_ceil(CHUNK as u64);
        for i in 0..chunks {
            let offset = i * CHUNK as u64;
            let len = (d.size - offset).min(CHUNK as u64) as usize;
            let chunk = &mut buf[..len];
            disk.read_at(offset, chunk)?;
            let first_or_last = i == 0 || i + 1 == chunks;
            if first_or_last || chunk.iter().any(|b| *b != 0) {
                let name = format!("{}/{i:08}", d.id);
                tar::write_file(out, &name, chunk)?;
                let sum = hash::xxhash_text(chunk);
                tar::write_file(out, &format!("{name}.xxhash"), sum.as_bytes())?;
            }
            done += len as u64;
            if !progress(done, total) {
                return Err(cancelled());
            }
        }
    }
    tar::write_end(out)
}

/// A reader that gives back the bytes it peeked.
struct Peeked<R> {
    head: Vec<u8>,
    at: usize,
    inner: R,
}

impl<R: Read> Read for Peeked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.head.len() {
            let n = (self.head.len() - self.at).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

fn tar_failure(e: tar::TarError) -> Failure {
    match e {
        tar::TarError::Eof => Failure::new("IMPORT_ERROR_PREMATURE_EOF", &[]),
        tar::TarError::Bad(m) => Failure::new("IMPORT_ERROR", &[&m]),
        tar::TarError::Io(e) => Failure::new("IMPORT_ERROR", &[&e.to_string()]),
    }
}

/// An XVA being read: `ova.xml` parsed, the disks still to come.
pub(crate) struct Reader<'a> {
    input: Box<dyn Read + 'a>,
    pub header: Header,
}

impl<'a> Reader<'a> {
    /// Reads (ungzipping when it starts with gzip's magic) up to and including `ova.xml`.
    pub(crate) fn open(input: &'a mut dyn Read) -> Result<Reader<'a>, Failure> {
        let mut head = vec![0u8; 4];
        let mut n = 0;
        while n < 4 {
            match input.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::new("IMPORT_ERROR", &[&e.to_string()])),
            }
        }
        head.truncate(n);
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let zstd = head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        let peeked = Peeked {
            head,
            at: 0,
            inner: input,
        };
        let mut input: Box<dyn Read + 'a> = if gzip {
            Box::new(flate2::read::GzDecoder::new(peeked))
        } else if zstd {
            Box::new(
                zstd::stream::read::Decoder::new(peeked)
                    .map_err(|e| Failure::new("IMPORT_ERROR", &[&e.to_string()]))?,
            )
        } else {
            Box::new(peeked)
        };
        let entry = tar::next(&mut input)
            .map_err(tar_failure)?
            .ok_or_else(|| Failure::new("IMPORT_ERROR_PREMATURE_EOF", &[]))?;
        if entry.name != "ova.xml" {
            return Err(Failure::new(
                "IMPORT_ERROR_UNEXPECTED_FILE",
                &["ova.xml", &entry.name],
            ));
        }
        if entry.size > MAX_OVA_XML {
            return Err(Failure::new("IMPORT_ERROR", &["ova.xml is too large"]));
        }
        let mut xml = vec![0u8; entry.size as usize];
        tar::read_exact(&mut input, &mut xml).map_err(tar_failure)?;
        tar::skip_padding(&mut input, entry.size).map_err(tar_failure)?;
        let header = meta::parse(&xml)?;
        Ok(Reader { input, header })
    }

    /// Reads every disk's chunks into `store` (`disks` in the tar's order, as
    /// [`create_objects`] gives them), checking the inline checksums unless `force`.
    pub(crate) fn read_disks(
        mut self,
        disks: &[Disk],
        store: &mut dyn DiskStore,
        force: bool,
        progress: &mut Progress<'_>,
    ) -> Result<(), Failure> {
        let total: u64 = disks.iter().map(|d| d.size).sum();
        let mut before = 0u64;
        let mut buf = vec![0u8; CHUNK];
        let mut first_len: Option<u64> = None;
        let io_fail = |e: io::Error| Failure::new("VDI_IO_ERROR", &[&e.to_string()]);
        for d in disks {
            let mut disk = store.open(&d.vdi, d.size).map_err(io_fail)?;
            let mut offset = 0u64;
            let mut last: i64 = -1;
            while offset < d.size {
                let entry = tar::next(&mut self.input)
                    .map_err(tar_failure)?
                    .ok_or_else(|| Failure::new("IMPORT_ERROR_PREMATURE_EOF", &[]))?;
                let expected = format!("{}/{:08}", d.id, last + 1);
                let Some(suffix) = entry.name.strip_prefix(&format!("{}/", d.id)) else {
                    return Err(Failure::new(
                        "IMPORT_ERROR_UNEXPECTED_FILE",
                        &[&expected, &entry.name],
                    ));
                };
                let n: i64 = suffix.parse().map_err(|_| {
                    Failure::new("IMPORT_ERROR_UNEXPECTED_FILE", &[&expected, &entry.name])
                })?;
                if n <= last {
                    return Err(Failure::new(
                        "IMPORT_ERROR_UNEXPECTED_FILE",
                        &[&expected, &entry.name],
                    ));
                }
                let chunk_len = *first_len.get_or_insert(entry.size.max(1));
                offset += (n - last - 1) as u64 * chunk_len;
                if entry.size > CHUNK as u64 || offset + entry.size > d.size {
                    return Err(Failure::new(
                        "IMPORT_ERROR",
                        &[&format!(
                            "{} goes beyond the disk's {} bytes",
                            entry.name, d.size
                        )],
                    ));
                }
                let data = &mut buf[..entry.size as usize];
                tar::read_exact(&mut self.input, data).map_err(tar_failure)?;
                tar::skip_padding(&mut self.input, entry.size).map_err(tar_failure)?;
                disk.write_at(offset, data).map_err(io_fail)?;
                // The checksum file that follows every chunk.
                let sum_entry = tar::next(&mut self.input)
                    .map_err(tar_failure)?
                    .ok_or_else(|| Failure::new("IMPORT_ERROR_PREMATURE_EOF", &[]))?;
                let computed = if sum_entry.name == format!("{}.xxhash", entry.name) {
                    hash::xxhash_text(data)
                } else if sum_entry.name == format!("{}.checksum", entry.name) {
                    hash::sha1_hex(data)
                } else {
                    return Err(Failure::new(
                        "IMPORT_ERROR_UNEXPECTED_FILE",
                        &[&format!("{}.xxhash", entry.name), &sum_entry.name],
                    ));
                };
                if sum_entry.size > 128 {
                    return Err(Failure::new(
                        "IMPORT_ERROR",
                        &["a checksum file is too large"],
                    ));
                }
                let mut stored = vec![0u8; sum_entry.size as usize];
                tar::read_exact(&mut self.input, &mut stored).map_err(tar_failure)?;
                tar::skip_padding(&mut self.input, sum_entry.size).map_err(tar_failure)?;
                if self.header.export_vsn > 0 && !force && stored != computed.as_bytes() {
                    return Err(Failure::new("IMPORT_ERROR_SOME_CHECKSUMS_FAILED", &[]));
                }
                offset += entry.size;
                last = n;
                if !progress(before + offset.min(d.size), total) {
                    return Err(Failure::new("TASK_CANCELLED", &[]));
                }
            }
            before += d.size;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
