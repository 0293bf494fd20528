//! Fuzz target: the HAR reader (streaming JSON, gzip, base64 bodies) on arbitrary bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::har_read(data);
});
