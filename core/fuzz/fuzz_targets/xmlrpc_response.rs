//! The XML-RPC reply decoder, on a slice and streaming (first byte: the most bytes one read of
//! the stream delivers, so that every split of the input is tried).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenapi::codec::{decode_response, decode_response_slice, Limits};

#[path = "../src/split.rs"]
mod split;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, xml)) = data.split_first() else {
        return;
    };
    let _ = decode_response_slice(xml, Limits::default());
    let _ = decode_response(split::reader(xml, chunk), Limits::default());
});
