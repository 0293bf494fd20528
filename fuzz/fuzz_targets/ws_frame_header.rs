//! Fuzz target: the WebSocket frame header parser.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::ws::parse_frame_header(data);
});
