//! The bytes a decoder reads: a slice already in memory, or a reader read piece by piece into a
//! buffer that keeps only the unread bytes. Both decoders (XML-RPC and JSON-RPC) tokenize from a
//! window, which asks for more input only when a token runs past what it holds.

use std::io::{self, Read};

use super::{CodecError, Limits};

/// The bytes the tokenizer reads from.
pub(crate) trait Window {
    /// The bytes available and not yet consumed.
    fn bytes(&self) -> &[u8];
    /// Consumes the first `n` available bytes.
    fn advance(&mut self, n: usize);
    /// Makes more bytes available after those not yet consumed; `Ok(false)` at the end of input.
    fn more(&mut self) -> Result<bool, CodecError>;
}

/// Bytes already in memory.
pub(crate) struct SliceWindow<'a> {
    rest: &'a [u8],
}

impl<'a> SliceWindow<'a> {
    /// Refuses input longer than `limits.max_bytes` before reading any of it (the reader refuses it
    /// on reaching the limit; both accept exactly `max_bytes`).
    pub(crate) fn new(input: &'a [u8], limits: Limits) -> Result<Self, CodecError> {
        if u64::try_from(input.len()).map_or(true, |n| n > limits.max_bytes) {
            return Err(CodecError::TooLarge(limits.max_bytes));
        }
        Ok(SliceWindow { rest: input })
    }
}

impl Window for SliceWindow<'_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self.rest
    }
    #[inline(always)]
    fn advance(&mut self, n: usize) {
        self.rest = &self.rest[n..];
    }
    #[inline]
    fn more(&mut self) -> Result<bool, CodecError> {
        Ok(false)
    }
}

/// The buffer a reader starts with; it doubles while reads fill it, up to [`READ_MAX`], so a
/// short reply costs little and a long one few reads.
const READ_START: usize = 4 * 1024;
const READ_MAX: usize = 64 * 1024;

/// A reader, read into a buffer that holds the unread bytes. Counts what it reads against the
/// size limit, exactly: `limit` bytes read in full, one more is [`CodecError::TooLarge`].
pub(crate) struct ReadWindow<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes that may still be read.
    left: u64,
    limit: u64,
    done: bool,
}

impl<R: Read> ReadWindow<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        ReadWindow {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            left: limit,
            limit,
            done: false,
        }
    }
}

impl<R: Read> Window for ReadWindow<R> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    #[inline(always)]
    fn advance(&mut self, n: usize) {
        debug_assert!(self.start + n <= self.end);
        self.start += n;
    }
    fn more(&mut self) -> Result<bool, CodecError> {
        if self.done {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Full of unread bytes (or not yet allocated): grow. A decoder asks for more with a
            // full buffer only while a bounded token is incomplete (an XML tag, at most MAX_TAG
            // bytes; a JSON number or escape), so this stays small.
            let grown = (self.buf.len() * 2).clamp(READ_START, READ_MAX.max(self.end + READ_START));
            self.buf.resize(grown, 0);
        }
        loop {
            let room = (self.buf.len() - self.end) as u64;
            let want = room.min(self.left.saturating_add(1)) as usize;
            match self.inner.read(&mut self.buf[self.end..self.end + want]) {
                Ok(0) => {
                    self.done = true;
                    return Ok(false);
                }
                Ok(n) => {
                    if n as u64 > self.left {
                        return Err(CodecError::TooLarge(self.limit));
                    }
                    self.left -= n as u64;
                    self.end += n;
                    // A read that filled the buffer: the next one may be larger.
                    if self.end == self.buf.len() && self.buf.len() < READ_MAX && self.start == 0 {
                        let grown = (self.buf.len() * 2).min(READ_MAX);
                        self.buf.resize(grown, 0);
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CodecError::Io(e)),
            }
        }
    }
}
