//! Fuzz target: the HTTP request head, response head and chunk-size parsers.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::http_heads(data);
});
