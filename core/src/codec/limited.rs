//! A `BufRead` that refuses to yield more than a set number of bytes: the size limit holds for any
//! body, compressed or not, because it counts what the decoder reads.

use std::io::{self, BufRead, Read};

pub(crate) struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
    pub(crate) exceeded: bool,
}

impl<R: BufRead> Limited<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            left: limit,
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
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            return Ok(buf);
        }
        if self.left == 0 {
            self.exceeded = true;
            return Err(io::Error::other("size limit exceeded"));
        }
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        Ok(&buf[..n])
    }

    fn consume(&mut self, amt: usize) {
        self.left = self.left.saturating_sub(amt as u64);
        self.inner.consume(amt);
    }
}
