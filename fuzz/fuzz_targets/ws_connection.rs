//! Fuzz target: a whole WebSocket connection (mode, directions, gaps and TCP
//! ends chosen by control bytes).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::ws::connection(data);
});
