//! Fuzz target: TCP reassembly of segments described by the input (14-byte
//! headers, each followed by up to 63 payload bytes).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::tcp_reassemble(data);
});
