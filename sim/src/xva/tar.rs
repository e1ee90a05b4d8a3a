//! The tar (ustar) framing of an XVA, as xapi's `Tar_helpers` writes it: a 512-byte header per
//! file, the content padded to 512 bytes, two zero blocks at the end. Streaming both ways.

use std::io::{self, Read, Write};

const BLOCK: usize = 512;

fn octal(field: &mut [u8], value: u64) {
    // digits, then NUL, right-aligned with zeros
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// Writes one file's header.
pub(crate) fn write_header(out: &mut dyn Write, name: &str, size: u64) -> io::Result<()> {
    if name.len() > 100 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "tar name too long",
        ));
    }
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    out.write_all(&h)
}

/// The zero padding after `size` bytes of content.
pub(crate) fn write_padding(out: &mut dyn Write, size: u64) -> io::Result<()> {
    let pad = padding(size);
    out.write_all(&[0u8; BLOCK][..pad])
}

/// A whole small file: header, content, padding.
pub(crate) fn write_file(out: &mut dyn Write, name: &str, content: &[u8]) -> io::Result<()> {
    write_header(out, name, content.len() as u64)?;
    out.write_all(content)?;
    write_padding(out, content.len() as u64)
}

pub(crate) fn write_end(out: &mut dyn Write) -> io::Result<()> {
    out.write_all(&[0u8; 2 * BLOCK])
}

fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// A file's header as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub size: u64,
}

/// Why a tar stream could not be read.
#[derive(Debug)]
pub(crate) enum TarError {
    /// The stream ended inside a header or a file.
    Eof,
    /// A header that is not ustar (bad checksum, bad number).
    Bad(String),
    Io(io::Error),
}

fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize, TarError> {
    let mut done = 0;
    while done < buf.len() {
        match input.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(TarError::Io(e)),
        }
    }
    Ok(done)
}

pub(crate) fn read_exact(input: &mut dyn Read, buf: &mut [u8]) -> Result<(), TarError> {
    if read_full(input, buf)? < buf.len() {
        return Err(TarError::Eof);
    }
    Ok(())
}

fn parse_octal(field: &[u8]) -> Result<u64, TarError> {
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| TarError::Bad(format!("bad tar number {text:?}")))
}

/// The next file's header; `None` at the end-of-archive marker (a zero block). A stream that
/// ends where a header is due also ends the archive only if nothing was read of it.
pub(crate) fn next(input: &mut dyn Read) -> Result<Option<Entry>, TarError> {
    let mut h = [0u8; BLOCK];
    let n = read_full(input, &mut h)?;
    if n == 0 {
        return Err(TarError::Eof);
    }
    if n < BLOCK {
        return Err(TarError::Eof);
    }
    if h.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    let stored = parse_octal(&h[148..156])?;
    let mut copy = h;
    copy[148..156].fill(b' ');
    let sum: u64 = copy.iter().map(|b| u64::from(*b)).sum();
    if sum != stored {
        return Err(TarError::Bad(format!(
            "tar header checksum {stored} does not match {sum}"
        )));
    }
    let cut = |b: &[u8]| -> String {
        String::from_utf8_lossy(&b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())])
            .into_owned()
    };
    let mut name = cut(&h[..100]);
    let prefix = cut(&h[345..500]);
    if &h[257..262] == b"ustar" && !prefix.is_empty() {
        name = format!("{prefix}/{name}");
    }
    let size = parse_octal(&h[124..136])?;
    Ok(Some(Entry { name, size }))
}

/// Skips the padding after a file of `size` bytes.
pub(crate) fn skip_padding(input: &mut dyn Read, size: u64) -> Result<(), TarError> {
    let mut pad = [0u8; BLOCK];
    let n = padding(size);
    read_exact(input, &mut pad[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_with_padding_and_end() {
        let mut out = Vec::new();
        write_file(&mut out, "ova.xml", b"<value/>").unwrap();
        write_file(&mut out, "Ref:1/00000000", &[7u8; 1024]).unwrap();
        write_end(&mut out).unwrap();
        assert_eq!(out.len() % 512, 0);
        assert_eq!(&out[257..262], b"ustar");
        let mut input: &[u8] = &out;
        let e = next(&mut input).unwrap().unwrap();
        assert_eq!(
            e,
            Entry {
                name: "ova.xml".into(),
                size: 8
            }
        );
        let mut buf = vec![0u8; 8];
        read_exact(&mut input, &mut buf).unwrap();
        assert_eq!(buf, b"<value/>");
        skip_padding(&mut input, 8).unwrap();
        let e = next(&mut input).unwrap().unwrap();
        assert_eq!(e.size, 1024);
        let mut buf = vec![0u8; 1024];
        read_exact(&mut input, &mut buf).unwrap();
        skip_padding(&mut input, 1024).unwrap();
        assert!(next(&mut input).unwrap().is_none());
    }

    #[test]
    fn a_damaged_header_and_a_short_stream_are_refused() {
        let mut out = Vec::new();
        write_file(&mut out, "ova.xml", b"x").unwrap();
        let mut bad = out.clone();
        bad[0] = b'X';
        assert!(matches!(next(&mut bad.as_slice()), Err(TarError::Bad(_))));
        assert!(matches!(next(&mut &out[..100]), Err(TarError::Eof)));
    }
}
