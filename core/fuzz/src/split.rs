//! A reader that hands out at most `chunk` bytes per read (`chunk` 0 means 1), through a
//! `BufRead` whose buffer is just as small, so that a streaming decoder sees every split.

use std::io::{BufReader, Read};

pub struct Split<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Split<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

pub fn reader(data: &[u8], chunk: u8) -> BufReader<Split<'_>> {
    let chunk = usize::from(chunk.max(1));
    BufReader::with_capacity(chunk, Split { data, chunk })
}
