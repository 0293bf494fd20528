//! Fuzz target: the whole analysis of one input (a key log text after a
//! two-byte length, then a capture or HAR), rendered as JSON and HTML.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::pipeline_report(data);
});
