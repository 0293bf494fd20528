//! Fuzz target: an HTTP/1.1 connection (requests, responses, upgrade, BOSH);
//! the first byte picks split points and directions, so one input exercises
//! chunking, gaps and closes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::http_connection(data);
});
