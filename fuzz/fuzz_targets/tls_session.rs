//! Fuzz target: a TLS session fed arbitrary bytes (the first byte steers
//! direction switches, chunk sizes and gaps).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::tls_session(data);
});
