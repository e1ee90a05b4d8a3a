//! VHD (dynamic disks) for the disk transfers: `format=vhd` in and out. Waits for the VHD format
//! module (core/src/vhd); until then a VHD transfer fails its task.

use std::io::{self, Read, Write};

use crate::disks::{Disk, Staging};
use crate::transfer::Stop;

/// The size of the VHD [`send`] writes for `disk`.
pub(crate) fn length(_disk: &Disk) -> io::Result<u64> {
    Err(io::Error::other("VHD is not simulated yet"))
}

/// Reads a dynamic VHD from `body` into `staging`.
pub(crate) fn receive(
    _body: &mut dyn Read,
    _length: Option<u64>,
    _staging: &Staging,
    _moved: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<(), Stop> {
    Err(Stop::Failed("VHD is not simulated yet".into()))
}

/// Writes `disk` as a dynamic VHD.
pub(crate) fn send(
    _disk: &Disk,
    _out: &mut dyn Write,
    _moved: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<(), Stop> {
    Err(Stop::Failed("VHD is not simulated yet".into()))
}
