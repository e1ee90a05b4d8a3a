//! The XML-RPC call decoder, as the simulator runs it on what clients send: streaming (first
//! byte: the most bytes one read delivers) and on a slice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenapi::codec::{decode_call, decode_call_slice, Limits};

#[path = "../src/split.rs"]
mod split;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, xml)) = data.split_first() else {
        return;
    };
    let _ = decode_call_slice(xml, Limits::default());
    let _ = decode_call(split::reader(xml, chunk), Limits::default());
});
