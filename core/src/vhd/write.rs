//! Writing a dynamic VHD in one pass from a disk's allocated blocks.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::{
    bitmap_len, DynHeader, Error, ErrorKind, Footer, BLOCK_SIZE, BUFFER, FOOTER_LEN, HEADER_LEN,
    MAX_SIZE, SECTOR, UNUSED,
};

/// A disk to read from at any offset: the source of [`write_dynamic`].
pub trait ReadAt {
    /// Fills `buf` with the disk's bytes from `offset`; bytes past the disk's end read as zeros.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl ReadAt for [u8] {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let len = self.len() as u64;
        let start = offset.min(len) as usize;
        let end = offset.saturating_add(buf.len() as u64).min(len) as usize;
        let n = end - start;
        buf[..n].copy_from_slice(&self[start..end]);
        buf[n..].fill(0);
        Ok(())
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.as_mut_slice().read_at(offset, buf)
    }
}

impl ReadAt for std::fs::File {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.seek(SeekFrom::Start(offset))?;
        let mut done = 0;
        while done < buf.len() {
            match self.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf[done..].fill(0);
        Ok(())
    }
}

/// What makes a written VHD unique; with the size and the blocks, it fixes every output byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// The footer's unique id (a UUID's 16 bytes).
    pub uuid: [u8; 16],
    /// Seconds since 2000-01-01 UTC ([`super::timestamp`] converts a time).
    pub timestamp: u32,
}

fn layout(virtual_size: u64) -> (u32, u64) {
    let entries = virtual_size.div_ceil(u64::from(BLOCK_SIZE)) as u32;
    let bat_bytes = (u64::from(entries) * 4).div_ceil(SECTOR) * SECTOR;
    (entries, bat_bytes)
}

/// The size of the VHD [`write_dynamic`] writes for a disk of `virtual_size` bytes with
/// `allocated` blocks (of [`BLOCK_SIZE`]): for a `Content-Length` ahead of an upload.
pub fn dynamic_size(virtual_size: u64, allocated: u64) -> u64 {
    let (_, bat_bytes) = layout(virtual_size);
    let per_block = bitmap_len(BLOCK_SIZE) + u64::from(BLOCK_SIZE);
    (FOOTER_LEN + HEADER_LEN) as u64 + bat_bytes + allocated * per_block + FOOTER_LEN as u64
}

/// Writes a dynamic VHD of a disk of `virtual_size` bytes (a multiple of 512) to `out`, in one
/// pass, and returns the bytes written.
///
/// `blocks` are the indices of the disk's allocated blocks of [`BLOCK_SIZE`] bytes (block `i`
/// covers bytes `i * BLOCK_SIZE ..`), in any order, repeats ignored; only those are read (by
/// `source.read_at`) and stored, every other block reads back as zeros. The BAT is computed
/// first, then blocks follow in ascending order. Memory: the BAT (4 bytes a block of the disk)
/// and one buffer of [`BUFFER`] bytes.
///
/// Errors: a size not a multiple of 512 or over 2040 GiB, a block index beyond the disk's end,
/// or the source's or `out`'s I/O error.
pub fn write_dynamic<W, S, I>(
    out: &mut W,
    virtual_size: u64,
    blocks: I,
    source: &mut S,
    options: &WriteOptions,
) -> Result<u64, Error>
where
    W: Write + ?Sized,
    S: ReadAt + ?Sized,
    I: IntoIterator<Item = u64>,
{
    if virtual_size % SECTOR != 0 {
        return Err(Error::new(
            ErrorKind::BadSize,
            format!("a VHD's size is whole 512-byte sectors: {virtual_size} is not"),
        ));
    }
    if virtual_size > MAX_SIZE {
        return Err(Error::new(
            ErrorKind::BadSize,
            format!("a VHD holds at most 2040 GiB: {virtual_size} bytes is over"),
        ));
    }
    let (entries, bat_bytes) = layout(virtual_size);

    // The BAT, first as a mark per allocated block, then as sector offsets in ascending order.
    let mut bat = vec![UNUSED; entries as usize];
    for index in blocks {
        if index >= u64::from(entries) {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!(
                    "block {index} is beyond the end of a disk of {entries} blocks of {BLOCK_SIZE} bytes"
                ),
            ));
        }
        bat[index as usize] = 0;
    }
    let bitmap = bitmap_len(BLOCK_SIZE);
    let per_block = bitmap + u64::from(BLOCK_SIZE);
    let first_block = (FOOTER_LEN + HEADER_LEN) as u64 + bat_bytes;
    let mut next = first_block;
    for entry in bat.iter_mut().filter(|e| **e != UNUSED) {
        *entry = (next / SECTOR) as u32;
        next += per_block;
    }

    let footer = Footer {
        data_offset: FOOTER_LEN as u64,
        timestamp: options.timestamp,
        current_size: virtual_size,
        disk_type: 3,
        uuid: options.uuid,
    }
    .encode();
    let header = DynHeader {
        table_offset: (FOOTER_LEN + HEADER_LEN) as u64,
        max_entries: entries,
        block_size: BLOCK_SIZE,
    }
    .encode();

    let io = |what: &str, e: io::Error| Error::new(ErrorKind::Io, format!("{what}: {e}"));
    let mut written = 0u64;
    let put = |out: &mut W, bytes: &[u8], written: &mut u64| -> Result<(), Error> {
        out.write_all(bytes).map_err(|e| io("writing the VHD", e))?;
        *written += bytes.len() as u64;
        Ok(())
    };
    put(out, &footer, &mut written)?;
    put(out, &header, &mut written)?;

    let mut buf = vec![
        0u8;
        BUFFER
            .min(bat_bytes.max(bitmap) as usize)
            .max(SECTOR as usize)
    ];
    // The BAT, padded with unused entries to its sector.
    let mut entry = 0usize;
    let total_entries = (bat_bytes / 4) as usize;
    while entry < total_entries {
        let n = (total_entries - entry).min(buf.len() / 4);
        for i in 0..n {
            let value = bat.get(entry + i).copied().unwrap_or(UNUSED);
            buf[i * 4..i * 4 + 4].copy_from_slice(&value.to_be_bytes());
        }
        put(out, &buf[..n * 4], &mut written)?;
        entry += n;
    }

    let mut data = vec![0u8; BUFFER.min(BLOCK_SIZE as usize)];
    for (index, _) in bat.iter().enumerate().filter(|(_, e)| **e != UNUSED) {
        let start = index as u64 * u64::from(BLOCK_SIZE);
        // The bitmap: every sector inside the disk present.
        let sectors_in_disk = ((virtual_size - start) / SECTOR).min(u64::from(BLOCK_SIZE) / SECTOR);
        let map = &mut buf[..bitmap as usize];
        map.fill(0);
        for s in 0..sectors_in_disk as usize {
            map[s / 8] |= 0x80 >> (s % 8);
        }
        put(out, &buf[..bitmap as usize], &mut written)?;
        let mut at = 0u64;
        while at < u64::from(BLOCK_SIZE) {
            let n = (u64::from(BLOCK_SIZE) - at).min(data.len() as u64) as usize;
            let offset = start + at;
            let chunk = &mut data[..n];
            if offset >= virtual_size {
                chunk.fill(0);
            } else {
                let inside = ((virtual_size - offset).min(n as u64)) as usize;
                source
                    .read_at(offset, &mut chunk[..inside])
                    .map_err(|e| io(&format!("reading the disk at {offset}"), e))?;
                chunk[inside..].fill(0);
            }
            put(out, chunk, &mut written)?;
            at += n as u64;
        }
    }
    put(out, &footer, &mut written)?;
    out.flush().map_err(|e| io("writing the VHD", e))?;
    Ok(written)
}
