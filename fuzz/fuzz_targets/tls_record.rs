//! Fuzz target: TLS record framing from every offset, with and without the
//! SSLv2 form.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::tls_record(data);
});
