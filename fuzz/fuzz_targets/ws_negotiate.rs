//! Fuzz target: the WebSocket handshake headers (offer, answer, subprotocol
//! split at NUL bytes).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::ws::negotiate(data);
});
