//! Disk content: every VDI has `virtual_size` bytes of content, kept in a sparse file named after
//! its uuid in one directory, never in memory. A disk nobody wrote has no file and reads as
//! zeros; a file shorter than the disk reads as zeros past its end.
//!
//! The directory is `STATE.disks` beside a `--state` file (so content survives a restart with
//! `--state`), or a temporary one removed when the simulator stops. It is made on the first
//! write.
//!
//! Writers never touch a disk's file in place: [`Disks::staging`] makes a private copy (of the
//! current content, or empty), and [`Staging::commit`] renames it over the disk's file (atomic on
//! one filesystem), so a failed or truncated transfer leaves the disk as it was. Reads go through
//! [`Disk`], an open handle whose content does not change under it (a rename replaces the name,
//! not the open file).

// The interface the HTTP transfers (disks and XVA) build on; not every part is used by both.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes read or written per step when copying or scanning (bounded memory).
pub(crate) const STEP: usize = 1 << 20;

/// The directory of disk files.
pub(crate) struct Disks {
    dir: PathBuf,
    /// A temporary directory: removed when dropped.
    temp: bool,
    next: AtomicU64,
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// A temporary directory's name: this, the simulator's process id, `-`, a sequence number.
const TEMP_PREFIX: &str = "xenapi-sim-disks-";

/// Removes the temporary disk directories in `tmp` whose simulator process is gone (Linux, where
/// `/proc` says; elsewhere they stay until the system cleans its temporary directory).
fn sweep_dead(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A disk's name on disk: its uuid, checked so that no request names a path.
fn checked(uuid: &str) -> io::Result<&str> {
    if !uuid.is_empty()
        && uuid.len() <= 64
        && uuid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(uuid)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{uuid:?} is not a disk name"),
        ))
    }
}

impl Disks {
    /// A temporary directory (made on the first write), removed when dropped. Those of
    /// simulators that died without dropping theirs (killed by a test harness) are removed here.
    pub fn temp() -> Disks {
        sweep_dead(&std::env::temp_dir());
        let dir = std::env::temp_dir().join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        Disks {
            dir,
            temp: true,
            next: AtomicU64::new(0),
        }
    }

    /// Disks kept in `dir` (made on the first write), kept when dropped.
    pub fn at(dir: PathBuf) -> Disks {
        Disks {
            dir,
            temp: false,
            next: AtomicU64::new(0),
        }
    }

    /// The directory for the disks of the inventory at `state` (`STATE.disks`).
    pub fn beside(state: &Path) -> PathBuf {
        let mut name = state.as_os_str().to_owned();
        name.push(".disks");
        PathBuf::from(name)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, uuid: &str) -> io::Result<PathBuf> {
        Ok(self.dir.join(format!("{}.img", checked(uuid)?)))
    }

    /// The content of disk `uuid`, `size` bytes long, for reading.
    pub fn open(&self, uuid: &str, size: u64) -> io::Result<Disk> {
        let file = match File::open(self.path(uuid)?) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Disk { file, size })
    }

    /// Whether disk `uuid` has content (a file) rather than being all zeros by default.
    pub fn has_content(&self, uuid: &str) -> bool {
        self.path(uuid).is_ok_and(|p| p.exists())
    }

    /// A private copy of disk `uuid` to write into, `size` bytes long: of its current content
    /// when `copy` (copy-on-import: an import that writes part of the disk keeps the rest), all
    /// zeros otherwise. Nothing changes the disk until [`Staging::commit`]; a staging dropped
    /// without it is removed.
    pub fn staging(&self, uuid: &str, size: u64, copy: bool) -> io::Result<Staging> {
        let target = self.path(uuid)?;
        fs::create_dir_all(&self.dir)?;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{uuid}.staging-{n}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let mut staging = Staging {
            file,
            path,
            target,
            size,
            done: false,
        };
        if copy {
            let src = self.open(uuid, size)?;
            copy_sparse(&src, &staging.file, size)?;
        }
        staging.file.set_len(size)?;
        staging.size = size;
        Ok(staging)
    }

    /// Disk `to` gets a copy of disk `from`'s content (clone, snapshot, copy), holes kept.
    pub fn duplicate(&self, from: &str, to: &str, size: u64) -> io::Result<()> {
        if !self.has_content(from) {
            return self.remove(to);
        }
        self.staging(to, size, false).and_then(|st| {
            let src = self.open(from, size)?;
            copy_sparse(&src, &st.file, size)?;
            st.commit()
        })
    }

    /// Disk `uuid` goes back to all zeros (its file is removed).
    pub fn remove(&self, uuid: &str) -> io::Result<()> {
        match fs::remove_file(self.path(uuid)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Copies every disk file into `dir` (for an inventory saved elsewhere than it was loaded
    /// from), holes kept; files already there for other disks stay.
    pub fn copy_all_to(&self, dir: &Path) -> io::Result<()> {
        if dir == self.dir {
            return Ok(());
        }
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Ok(());
        };
        let other = Disks::at(dir.to_owned());
        for e in entries {
            let e = e?;
            let name = e.file_name();
            let Some(uuid) = name.to_str().and_then(|n| n.strip_suffix(".img")) else {
                continue;
            };
            let size = e.metadata()?.len();
            let src = self.open(uuid, size)?;
            let st = other.staging(uuid, size, false)?;
            copy_sparse(&src, &st.file, size)?;
            st.commit()?;
        }
        Ok(())
    }
}

impl Drop for Disks {
    fn drop(&mut self) {
        if self.temp {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Copies `size` bytes of `src` into `dst` at the same offsets, holes and zero steps skipped
/// (they stay holes in a fresh file).
fn copy_sparse(src: &Disk, dst: &File, size: u64) -> io::Result<()> {
    let mut buf = vec![0u8; STEP];
    let mut at = 0u64;
    while let Some((start, end)) = src.data_from(at)? {
        let mut off = start;
        while off < end.min(size) {
            let n = (end.min(size) - off).min(STEP as u64) as usize;
            let got = src.read_at(off, &mut buf[..n])?;
            if got == 0 {
                break;
            }
            if !is_zero(&buf[..got]) {
                write_all_at(dst, &buf[..got], off)?;
            }
            off += got as u64;
        }
        at = end;
    }
    Ok(())
}

/// Whether every byte is zero (compared with zeros a step at a time: `memcmp`).
pub(crate) fn is_zero(buf: &[u8]) -> bool {
    static ZEROS: [u8; STEP] = [0; STEP];
    buf.chunks(STEP).all(|c| c == &ZEROS[..c.len()])
}

/// A disk open for reading: `size` bytes, zeros where nothing was written.
pub(crate) struct Disk {
    file: Option<File>,
    size: u64,
}

impl Disk {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// When the content last changed (`None` for a disk never written).
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        self.file.as_ref()?.metadata().ok()?.modified().ok()
    }

    /// The next range `[start, end)` at or after `off` that may hold data (the rest reads as
    /// zeros): from the file's holes where the system reports them, else the file's extent.
    pub fn data_from(&self, off: u64) -> io::Result<Option<(u64, u64)>> {
        let Some(f) = &self.file else { return Ok(None) };
        let end = f.metadata()?.len().min(self.size);
        if off >= end {
            return Ok(None);
        }
        Ok(match seek_data(f, off)? {
            Some(start) if start < end => Some((start, seek_hole(f, start)?.min(end))),
            Some(_) => None,
            None => Some((off, end)),
        })
    }

    /// Reads up to `buf.len()` bytes at `off`; fewer only at the end of the disk (0 past it).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        if off >= self.size {
            return Ok(0);
        }
        let n = (self.size - off).min(buf.len() as u64) as usize;
        let buf = &mut buf[..n];
        let mut done = 0;
        if let Some(f) = &self.file {
            while done < n {
                let got = read_at(f, &mut buf[done..], off + done as u64)?;
                if got == 0 {
                    break;
                }
                done += got;
            }
        }
        buf[done..].fill(0);
        Ok(n)
    }
}

/// A private copy of a disk being written; [`Staging::commit`] makes it the disk's content.
pub(crate) struct Staging {
    file: File,
    path: PathBuf,
    target: PathBuf,
    size: u64,
    done: bool,
}

impl Staging {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Writes `data` at `off`; refused past the disk's end.
    pub fn write_at(&self, off: u64, data: &[u8]) -> io::Result<()> {
        if off
            .checked_add(data.len() as u64)
            .map_or(true, |end| end > self.size)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a write past the end of the disk",
            ));
        }
        write_all_at(&self.file, data, off)
    }

    /// Writes `data` at `off`, leaving a hole where the data is zeros and the copy already
    /// reads zeros (a sparse upload stays sparse).
    pub fn write_sparse_at(&self, off: u64, data: &[u8]) -> io::Result<()> {
        if is_zero(data) && self.hole(off, data.len() as u64)? {
            return Ok(());
        }
        self.write_at(off, data)
    }

    /// Whether `[off, off + len)` is a hole (reads zeros without data behind it).
    fn hole(&self, off: u64, len: u64) -> io::Result<bool> {
        Ok(match seek_data(&self.file, off)? {
            Some(next) => next >= off.saturating_add(len),
            None => false,
        })
    }

    /// Reads what was written so far (zeros elsewhere).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        let d = Disk {
            file: Some(self.file.try_clone()?),
            size: self.size,
        };
        d.read_at(off, buf)
    }

    /// Writes the copy's data through to storage (before a [`Staging::commit`] made under a
    /// lock, so that the lock is not held for it).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Replaces the disk's content with this copy, atomically: a reader sees the old content or
    /// the new, never a mix.
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.path, &self.target)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The first offset at or after `off` with data: `Some(len)` past the last data, `None` when the
/// system cannot tell (then everything may be data).
#[cfg(unix)]
fn seek_data(f: &File, off: u64) -> io::Result<Option<u64>> {
    use std::os::unix::io::AsRawFd;
    let Ok(o) = libc::off_t::try_from(off) else {
        return Ok(None);
    };
    // SAFETY: lseek on a descriptor we own; it only moves the file's offset, which no other
    // code uses (reads and writes are positional).
    let r = unsafe { libc::lseek(f.as_raw_fd(), o, libc::SEEK_DATA) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    match io::Error::last_os_error().raw_os_error() {
        // ENXIO: no data at or after `off`.
        Some(libc::ENXIO) => Ok(Some(f.metadata()?.len())),
        _ => Ok(None),
    }
}

/// The first hole at or after `off` (the end of the file counts as one).
#[cfg(unix)]
fn seek_hole(f: &File, off: u64) -> io::Result<u64> {
    use std::os::unix::io::AsRawFd;
    let len = f.metadata()?.len();
    let Ok(o) = libc::off_t::try_from(off) else {
        return Ok(len);
    };
    // SAFETY: as in `seek_data`.
    let r = unsafe { libc::lseek(f.as_raw_fd(), o, libc::SEEK_HOLE) };
    Ok(if r >= 0 { r as u64 } else { len })
}

#[cfg(not(unix))]
fn seek_data(_f: &File, _off: u64) -> io::Result<Option<u64>> {
    Ok(None)
}

#[cfg(not(unix))]
fn seek_hole(f: &File, _off: u64) -> io::Result<u64> {
    Ok(f.metadata()?.len())
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, off)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, off)
}

#[cfg(unix)]
fn write_all_at(f: &File, data: &[u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, data, off)
}

#[cfg(windows)]
fn write_all_at(f: &File, mut data: &[u8], mut off: u64) -> io::Result<()> {
    while !data.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(f, data, off)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
        off += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_disks_read_zeros_and_a_commit_replaces_content() {
        let d = Disks::temp();
        let dir = d.dir().to_owned();
        let mut buf = [1u8; 8];
        assert_eq!(d.open("a", 4).unwrap().read_at(0, &mut buf).unwrap(), 4);
        assert_eq!(buf[..4], [0; 4]);
        let st = d.staging("a", 1 << 30, true).unwrap();
        st.write_at((1 << 30) - 3, b"end").unwrap();
        assert!(st.write_at((1 << 30) - 2, b"xyz").is_err());
        assert!(!d.has_content("a"), "nothing until the commit");
        st.commit().unwrap();
        let disk = d.open("a", 1 << 30).unwrap();
        assert_eq!(disk.read_at((1 << 30) - 4, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"\0end");
        // A staging copy keeps the rest; dropped, it changes nothing.
        let st = d.staging("a", 1 << 30, true).unwrap();
        st.write_at(0, b"start").unwrap();
        drop(st);
        d.open("a", 1 << 30).unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(buf, [0; 8]);
        d.duplicate("a", "b", 1 << 30).unwrap();
        d.open("b", 1 << 30)
            .unwrap()
            .read_at((1 << 30) - 3, &mut buf)
            .unwrap();
        assert_eq!(&buf[..3], b"end");
        assert!(d.open("../x", 1).is_err(), "no paths");
        drop(d);
        assert!(!dir.exists(), "a temporary directory goes");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_directories_of_dead_simulators_are_swept() {
        let tmp = std::env::temp_dir();
        // No process has a pid this large (the kernel's limit is 2^22).
        let dead = tmp.join(format!("{TEMP_PREFIX}4294967290-0"));
        let live = tmp.join(format!("{TEMP_PREFIX}{}-999", std::process::id()));
        let other = tmp.join("xenapi-sim-disks-not-ours");
        for d in [&dead, &live, &other] {
            fs::create_dir_all(d).unwrap();
            fs::write(d.join("x"), b"x").unwrap();
        }
        let _d = Disks::temp();
        assert!(!dead.exists(), "a dead simulator's directory goes");
        assert!(
            live.exists() && other.exists(),
            "a live one's and others stay"
        );
        fs::remove_dir_all(&live).unwrap();
        fs::remove_dir_all(&other).unwrap();
    }
}
