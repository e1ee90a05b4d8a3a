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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Value};

    fn xml_reply(head: &str) -> Vec<u8> {
        let v = Value::structure([("Status", "Success".into()), ("Value", "Running".into())]);
        let body = crate::codec::encode_response(&v, &crate::codec::Encoder::default());
        let mut out = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn replies_split_into_any_reads_decode_alike() {
        let reply = xml_reply("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n");
        for chunk in [1, 2, 7, 4096] {
            replay_reply(&reply, chunk, false, "VM.get_power_state").unwrap();
        }
    }

    #[test]
    fn a_cut_reply_is_a_broken_connection_and_garbage_a_protocol_error() {
        let reply = xml_reply("HTTP/1.1 200 OK\r\n");
        let e = replay_reply(&reply[..reply.len() - 10], 5, false, "VM.start").unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{e:?}");
        let e = replay_reply(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            3,
            true,
            "x.y",
        )
        .unwrap_err();
        assert!(e.to_string().contains("JSON-RPC"), "{e}");
        let e = replay_reply(
            b"HTTP/1.1 302 Found\r\nLocation: https://b/\r\n\r\n",
            9,
            false,
            "x",
        )
        .unwrap_err();
        assert!(e.to_string().contains("redirects to https://b/"), "{e}");
    }
}
