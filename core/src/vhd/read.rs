//! Reading a fixed or dynamic VHD in one pass into a disk.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::{
    be32, bitmap_len, DiskType, DynHeader, Error, ErrorKind, Footer, VhdInfo, BUFFER,
    FOOTER_COOKIE, FOOTER_LEN, HEADER_LEN, SECTOR, UNUSED,
};

/// A disk to write at any offset: the sink of [`read`].
pub trait WriteAt {
    /// Writes `data` at `offset` of the disk.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
}

impl WriteAt for [u8] {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|end| *end <= self.len() as u64)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "a write of {} bytes at {offset} is beyond the disk's {} bytes",
                        data.len(),
                        self.len()
                    ),
                )
            })?;
        self[offset as usize..end as usize].copy_from_slice(data);
        Ok(())
    }
}

/// Grows as needed (zeros between).
impl WriteAt for Vec<u8> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(data.len()))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        if self.len() < end {
            self.resize(end, 0);
        }
        self[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

impl WriteAt for std::fs::File {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.seek(SeekFrom::Start(offset))?;
        self.write_all(data)
    }
}

/// The input, with the offset read so far.
struct Input<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Input<R> {
    /// Reads what is there, up to `buf`'s length; fewer bytes only at the end.
    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<usize, Error> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(what, &e)),
            }
        }
        self.pos += done as u64;
        Ok(done)
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), Error> {
        if self.fill(buf, what)? < buf.len() {
            return Err(Error::new(
                ErrorKind::Truncated,
                format!("VHD ends early, in {what} (at byte {})", self.pos),
            ));
        }
        Ok(())
    }

    /// Reads and drops bytes up to `target`, which may not be behind.
    fn skip_to(&mut self, target: u64, buf: &mut [u8], what: &str) -> Result<(), Error> {
        if target < self.pos {
            return Err(Error::new(
                ErrorKind::NotStreamable,
                format!(
                    "{what} at byte {target} comes before byte {} already read: this VHD's layout cannot be read in one pass",
                    self.pos
                ),
            ));
        }
        while self.pos < target {
            let n = (target - self.pos).min(buf.len() as u64) as usize;
            self.exact(&mut buf[..n], what)?;
        }
        Ok(())
    }
}

/// Reads a VHD (fixed or dynamic) from `input` in one pass and writes its data to `sink`, and
/// returns what its footer and header say.
///
/// The sink stands for a disk of [`VhdInfo::virtual_size`] bytes that starts as zeros: it gets
/// every sector a dynamic VHD stores (in the order the file stores them), and every run of
/// non-zero sectors of a fixed VHD; nothing else. A dynamic VHD is checked (footer, header, BAT,
/// every block inside the disk and the file, the footer at the end) before or as its data comes;
/// a fixed VHD's footer comes last, so its data reaches the sink before the footer is checked:
/// a sink that must stay unchanged on a bad input writes to a copy first.
///
/// Memory: the BAT (8 bytes an allocated block) and buffers of at most 2 × [`BUFFER`] bytes.
///
/// Errors (an [`ErrorKind`] and a message naming what and where): not a VHD (no `conectix` at
/// either end), a bad checksum, a differencing disk, sizes or counts out of range or
/// inconsistent, a block beyond the disk's end, a layout that needs seeking
/// ([`ErrorKind::NotStreamable`]), an input that ends early, the sink's I/O error.
pub fn read<R, S>(input: R, sink: &mut S) -> Result<VhdInfo, Error>
where
    R: Read,
    S: WriteAt + ?Sized,
{
    let mut input = Input {
        inner: input,
        pos: 0,
    };
    let mut first = [0u8; FOOTER_LEN];
    let got = input.fill(&mut first, "the VHD's first sector")?;
    if got < FOOTER_LEN {
        return Err(Error::new(
            ErrorKind::Truncated,
            format!("not a VHD: {got} bytes, shorter than a VHD footer of 512"),
        ));
    }
    if &first[0..8] == FOOTER_COOKIE {
        let footer = Footer::decode(&first)?;
        if footer.disk_type == 3 {
            return read_dynamic(&mut input, footer, &first, sink);
        }
    }
    read_fixed(&mut input, &first, sink)
}

fn read_fixed<R: Read, S: WriteAt + ?Sized>(
    input: &mut Input<R>,
    first: &[u8; FOOTER_LEN],
    sink: &mut S,
) -> Result<VhdInfo, Error> {
    // Everything but the last 512 bytes is data; hold those back until the end.
    let mut hold: Vec<u8> = Vec::with_capacity(BUFFER + FOOTER_LEN);
    hold.extend_from_slice(first);
    let mut emitted = 0u64;
    loop {
        let len = hold.len();
        hold.resize(BUFFER + FOOTER_LEN, 0);
        let n = input.fill(&mut hold[len..], "a fixed VHD's data")?;
        hold.truncate(len + n);
        let data = hold.len() - FOOTER_LEN;
        if n == 0 || data > 0 && hold.len() == BUFFER + FOOTER_LEN {
            emit_nonzero(sink, emitted, &hold[..data])?;
            emitted += data as u64;
            hold.drain(..data);
        }
        if n == 0 {
            break;
        }
    }
    let mut last = [0u8; FOOTER_LEN];
    last.copy_from_slice(&hold);
    let footer = Footer::decode(&last).map_err(|e| {
        if e.kind() == ErrorKind::BadCookie {
            Error::new(
                ErrorKind::BadCookie,
                "not a VHD: no \"conectix\" footer at its start nor at its end",
            )
        } else {
            e
        }
    })?;
    if footer.disk_type != 2 {
        return Err(Error::new(
            ErrorKind::BadSize,
            "the footer at the end says dynamic, but the VHD has none at its start",
        ));
    }
    if footer.current_size != emitted {
        return Err(Error::new(
            ErrorKind::BadSize,
            format!(
                "fixed VHD's footer says {} bytes, but {emitted} bytes of data precede it",
                footer.current_size
            ),
        ));
    }
    Ok(VhdInfo {
        disk_type: DiskType::Fixed,
        virtual_size: footer.current_size,
        uuid: footer.uuid,
        timestamp: footer.timestamp,
        block_size: 0,
        allocated_blocks: 0,
    })
}

/// Writes the runs of non-zero sectors of `data` (which starts at disk offset `at`).
fn emit_nonzero<S: WriteAt + ?Sized>(sink: &mut S, at: u64, data: &[u8]) -> Result<(), Error> {
    let sector = SECTOR as usize;
    let mut run: Option<usize> = None;
    let mut i = 0;
    while i < data.len() {
        let end = (i + sector).min(data.len());
        let zero = data[i..end].iter().all(|b| *b == 0);
        match (zero, run) {
            (false, None) => run = Some(i),
            (true, Some(start)) => {
                put(sink, at + start as u64, &data[start..i])?;
                run = None;
            }
            _ => {}
        }
        i = end;
    }
    if let Some(start) = run {
        put(sink, at + start as u64, &data[start..])?;
    }
    Ok(())
}

fn put<S: WriteAt + ?Sized>(sink: &mut S, offset: u64, data: &[u8]) -> Result<(), Error> {
    sink.write_at(offset, data).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("writing {} bytes at {offset} of the disk: {e}", data.len()),
        )
    })
}

fn read_dynamic<R: Read, S: WriteAt + ?Sized>(
    input: &mut Input<R>,
    footer: Footer,
    first: &[u8; FOOTER_LEN],
    sink: &mut S,
) -> Result<VhdInfo, Error> {
    let mut scratch = vec![0u8; 64 << 10];
    if footer.data_offset < FOOTER_LEN as u64 || footer.data_offset == u64::MAX {
        return Err(Error::new(
            ErrorKind::BadSize,
            format!(
                "dynamic VHD's header offset {:#x} is not after its footer",
                footer.data_offset
            ),
        ));
    }
    input.skip_to(footer.data_offset, &mut scratch, "the dynamic header")?;
    let mut hb = [0u8; HEADER_LEN];
    input.exact(&mut hb, "the dynamic header")?;
    let header = DynHeader::decode(&hb)?;
    let block = u64::from(header.block_size);
    let needed = footer.current_size.div_ceil(block);
    if u64::from(header.max_entries) < needed {
        return Err(Error::new(
            ErrorKind::BadSize,
            format!(
                "the BAT's {} entries cover less than the disk's {needed} blocks of {block} bytes",
                header.max_entries
            ),
        ));
    }
    input.skip_to(header.table_offset, &mut scratch, "the BAT")?;

    // The allocated blocks as (sector offset in the file, block index).
    let mut used: Vec<(u32, u32)> = Vec::new();
    let mut index = 0u32;
    while index < header.max_entries {
        let n = ((header.max_entries - index) as usize).min(scratch.len() / 4);
        input.exact(&mut scratch[..n * 4], "the BAT")?;
        for i in 0..n {
            let sector = be32(&scratch, i * 4);
            let block_index = index + i as u32;
            if sector == UNUSED {
                continue;
            }
            if u64::from(block_index) >= needed {
                return Err(Error::new(
                    ErrorKind::OutOfRange,
                    format!(
                        "the BAT allocates block {block_index}, beyond the end of a disk of {needed} blocks"
                    ),
                ));
            }
            used.push((sector, block_index));
        }
        index += n as u32;
    }
    used.sort_unstable();

    let bitmap = bitmap_len(header.block_size) as usize;
    let mut map = vec![0u8; bitmap];
    let mut data = vec![0u8; BUFFER.min(block as usize)];
    let sectors_per_chunk = data.len() / SECTOR as usize;
    for &(sector, block_index) in &used {
        let offset = u64::from(sector) * SECTOR;
        let what = format!("block {block_index} (at byte {offset})");
        input.skip_to(offset, &mut scratch, &what)?;
        input.exact(&mut map, &what)?;
        let disk_start = u64::from(block_index) * block;
        let mut at = 0u64;
        while at < block {
            let n = (block - at).min(data.len() as u64) as usize;
            input.exact(&mut data[..n], &what)?;
            let first_sector = (at / SECTOR) as usize;
            // Runs of present sectors inside the disk.
            let mut run: Option<usize> = None;
            for s in 0..=sectors_per_chunk.min(n / SECTOR as usize) {
                let abs = first_sector + s;
                let inside = s < n / SECTOR as usize
                    && disk_start + (abs as u64) * SECTOR < footer.current_size;
                let present = inside && map[abs / 8] & (0x80 >> (abs % 8)) != 0;
                match (present, run) {
                    (true, None) => run = Some(s),
                    (false, Some(start)) => {
                        let (a, b) = (start * SECTOR as usize, s * SECTOR as usize);
                        put(sink, disk_start + at + a as u64, &data[a..b])?;
                        run = None;
                    }
                    _ => {}
                }
            }
            at += n as u64;
        }
    }

    // The footer at the end: what is left, whose last 512 bytes must repeat the first.
    let mut tail = [0u8; FOOTER_LEN];
    let mut tail_len = 0usize;
    loop {
        let n = input.fill(&mut scratch, "the footer at the end")?;
        if n == 0 {
            break;
        }
        if n >= FOOTER_LEN {
            tail.copy_from_slice(&scratch[n - FOOTER_LEN..n]);
            tail_len = FOOTER_LEN;
        } else {
            let keep = (FOOTER_LEN - n).min(tail_len);
            tail.copy_within(tail_len - keep..tail_len, 0);
            tail[keep..keep + n].copy_from_slice(&scratch[..n]);
            tail_len = keep + n;
        }
    }
    if tail_len < FOOTER_LEN {
        return Err(Error::new(
            ErrorKind::Truncated,
            format!(
                "VHD ends early: no footer after the last block (at byte {})",
                input.pos
            ),
        ));
    }
    let end = Footer::decode(&tail).map_err(|e| {
        Error::new(
            e.kind(),
            format!("the footer at the end of the VHD: {}", e.message()),
        )
    })?;
    if end != footer || tail[..] != first[..] {
        return Err(Error::new(
            ErrorKind::BadSize,
            "the footer at the end of the VHD differs from its copy at the start",
        ));
    }
    Ok(VhdInfo {
        disk_type: DiskType::Dynamic,
        virtual_size: footer.current_size,
        uuid: footer.uuid,
        timestamp: footer.timestamp,
        block_size: header.block_size,
        allocated_blocks: used.len() as u32,
    })
}
