//! The HTTP reply handling without a network, for the fuzz targets (`core/fuzz/`): connections
//! that discard what is sent and read back fixed bytes, behind the same request, status
//! handling, body framing, decompression, decoding and retry rule as a real call.

use std::time::Duration;

use super::{conn::Dialer, Transport, Wire};
use crate::call::CallCtx;
use crate::Options;

/// Makes one call of `method` (XML-RPC, or JSON-RPC when `json`) to a server whose whole answer,
/// status line and headers included, is `reply`, delivered at most `chunk` bytes per read, and
/// returns what the call would: the decoded reply or the error. Each connection replays it from
/// the start.
#[doc(hidden)]
pub fn replay_reply(reply: &[u8], chunk: usize, json: bool, method: &str) -> crate::Result<()> {
    let mut t = Transport::new(&Options::new("http://replay.invalid/"))?;
    t.dialer = Dialer::replay(reply.to_vec(), chunk);
    let params = [crate::Value::from("OpaqueRef:replay")];
    let ctx = CallCtx::within(Duration::from_secs(5));
    if json {
        let body = crate::jsonrpc::encode_call(method, &params, 1);
        t.call(method, Wire::Json(1), &body, &ctx).map(drop)
    } else {
        let body = crate::codec::encode_call(method, &params, &crate::codec::Encoder::default());
        t.call(method, Wire::Xml, &body, &ctx).map(drop)
    }
}
