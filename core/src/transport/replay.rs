//! The HTTP reply handling without a network, for the fuzz targets (`core/fuzz/`): a connector whose
//! connections discard what is sent and read back fixed bytes, behind the same agent
//! configuration, status handling, body decompression and decoding as a real call.

use std::fmt;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport as UreqTransport,
};

use super::{connector, Transport};
use crate::Options;

/// Gives every connection the same reply.
struct Replay {
    reply: Vec<u8>,
    /// The most bytes one read delivers (at least 1), so that the parsers see split input.
    chunk: usize,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("len", &self.reply.len())
            .finish()
    }
}

impl Connector<()> for Replay {
    type Out = ReplayTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(Some(ReplayTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            reply: self.reply.clone(),
            at: 0,
            chunk: self.chunk,
        }))
    }
}

struct ReplayTransport {
    buffers: LazyBuffers,
    reply: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl fmt::Debug for ReplayTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayTransport")
            .field("at", &self.at)
            .finish()
    }
}

impl UreqTransport for ReplayTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(
        &mut self,
        _amount: usize,
        _timeout: NextTimeout,
    ) -> Result<(), ureq::Error> {
        Ok(())
    }

    fn await_input(&mut self, _timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let input = self.buffers.input_append_buf();
        let n = input.len().min(self.chunk).min(self.reply.len() - self.at);
        input[..n].copy_from_slice(&self.reply[self.at..self.at + n]);
        self.at += n;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        false
    }
}

/// Makes one call of `method` (XML-RPC, or JSON-RPC when `json`) to a server whose whole answer,
/// status line and headers included, is `reply`, delivered at most `chunk` bytes per read, and
/// returns what the call would: the decoded reply or the error. Each connection replays it from
/// the start.
#[doc(hidden)]
pub fn replay_reply(reply: &[u8], chunk: usize, json: bool, method: &str) -> crate::Result<()> {
    let opts = Options::new("http://replay.invalid/");
    let connector = Replay {
        reply: reply.to_vec(),
        chunk: chunk.max(1),
    };
    let agent = ureq::Agent::with_parts(Transport::config(&opts), connector, connector::NoLookup);
    let t = Transport::with_agent(&opts, agent, opts.url.clone());
    let params = [crate::Value::from("OpaqueRef:replay")];
    if json {
        let body = crate::jsonrpc::encode_call(method, &params, 1);
        t.post_json(method, body, 1, None).map(drop)
    } else {
        let body = crate::codec::encode_call(method, &params, &crate::codec::Encoder::default());
        t.post(method, body).map(drop)
    }
}
