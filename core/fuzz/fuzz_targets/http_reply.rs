//! The HTTP reply handling: the status line, headers, chunked and gzip bodies behind our
//! agent configuration, status and error mapping, then the decoder, on a server's whole answer.
//! First byte: the most bytes one read delivers; second: bit 0 for JSON-RPC, bit 1 for a
//! read-only method (which the transport may retry).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [chunk, flags, reply @ ..] = data else {
        return;
    };
    let method = if flags & 2 != 0 {
        "VM.get_power_state"
    } else {
        "VM.start"
    };
    let _ = xenapi::replay_reply(reply, usize::from(*chunk), flags & 1 != 0, method);
});
