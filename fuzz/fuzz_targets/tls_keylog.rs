//! Fuzz target: NSS key log text (`SSLKEYLOGFILE` format).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::tls_keylog(data);
});
