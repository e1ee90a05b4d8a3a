//! What became of the connection a call used, for the retry rule of [`super::Transport`]: the
//! last link of every connector chain, it marks a connection it opens as fresh (a pooled one
//! never passes through a connector again), and it watches the reads and writes of the call's
//! thread: whether any byte of the reply arrived, and whether the connection ended or broke.
//!
//! ureq runs a call on its caller's thread from start to end (there is no background I/O), so
//! the record is a thread-local, reset before each attempt and read after it fails.

use std::cell::Cell;
use std::io;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, Transport as UreqTransport,
};

/// One attempt's record.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Seen {
    /// The attempt opened a new connection (else it reused a pooled one).
    pub fresh: bool,
    /// At least one byte came back.
    pub received: bool,
    /// The connection ended (end of file) or broke (reset, aborted, broken pipe).
    pub broke: bool,
}

thread_local! {
    static SEEN: Cell<Seen> = Cell::new(Seen::default());
}

pub(super) fn reset() {
    SEEN.with(|s| s.set(Seen::default()));
}

/// The record, reset.
pub(super) fn take() -> Seen {
    SEEN.with(|s| s.replace(Seen::default()))
}

fn note(f: impl FnOnce(&mut Seen)) {
    SEEN.with(|s| {
        let mut seen = s.get();
        f(&mut seen);
        s.set(seen);
    });
}

fn broken(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

/// Wraps whatever the chain before it made.
#[derive(Debug)]
pub(super) struct ProbeConnector;

impl<In: UreqTransport> Connector<In> for ProbeConnector {
    type Out = ProbeTransport<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| {
            note(|s| s.fresh = true);
            ProbeTransport { inner }
        }))
    }
}

#[derive(Debug)]
pub(super) struct ProbeTransport<T> {
    inner: T,
}

impl<T: UreqTransport> UreqTransport for ProbeTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let r = self.inner.transmit_output(amount, timeout);
        if let Err(e) = &r {
            if broken(e) {
                note(|s| s.broke = true);
            }
        }
        r
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let r = self.inner.await_input(timeout);
        match &r {
            Ok(true) => note(|s| s.received = true),
            Ok(false) => note(|s| s.broke = true),
            Err(e) if broken(e) => note(|s| s.broke = true),
            Err(_) => {}
        }
        r
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
