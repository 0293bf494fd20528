//! Fuzz target: every TLS handshake message parser on the same bytes, and the
//! handshake reassembler fed in two pieces.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::tls_handshake(data);
});
