//! A `BufRead` that refuses to yield more than a set number of bytes: the size limit holds for any
//! body, compressed or not, because it counts what the decoder reads.
//!
//! Decoders call `fill_buf` and `consume` often, so both are a compare and a
//! subtraction on the common path; the limit is exact (a body of `limit` bytes reads in full, one
//! byte more is an error).

use std::io::{self, BufRead, Read};

pub(crate) struct Limited<R> {
    inner: R,
    /// Bytes that may still be yielded (the limit, saturated to `usize` on narrow targets).
    left: usize,
    limit: u64,
    pub(crate) exceeded: bool,
}

impl<R: BufRead> Limited<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            left: usize::try_from(limit).unwrap_or(usize::MAX),
            limit,
            exceeded: false,
        }
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

impl<R: BufRead> Read for Limited<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Limited<R> {
    #[inline(always)]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let left = self.left;
        let buf = self.inner.fill_buf()?;
        // Also the end of input (an empty buffer), which is never an error.
        if buf.len() <= left {
            return Ok(buf);
        }
        if left == 0 {
            self.exceeded = true;
            return Err(io::Error::other("size limit exceeded"));
        }
        Ok(&buf[..left])
    }

    #[inline(always)]
    fn consume(&mut self, amt: usize) {
        self.left = self.left.saturating_sub(amt);
        self.inner.consume(amt);
    }
}
