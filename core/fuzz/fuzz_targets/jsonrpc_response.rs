//! The JSON-RPC reply decoder, streaming (first byte: the most bytes one read delivers; second:
//! the request id it expects) and on a slice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenapi::codec::Limits;
use xenapi::jsonrpc::{decode_response, decode_response_slice};

#[path = "../src/split.rs"]
mod split;

fuzz_target!(|data: &[u8]| {
    let [chunk, id, json @ ..] = data else {
        return;
    };
    let id = u64::from(*id);
    let _ = decode_response_slice(json, Limits::default(), id);
    let _ = decode_response(split::reader(json, *chunk), Limits::default(), id);
});
