//! Fuzz target: a BOSH `<body>` (request or response).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::http_bosh_body(data);
});
