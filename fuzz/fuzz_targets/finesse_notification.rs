//! Fuzz target: the Finesse notification parser.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::finesse_notification(data);
});
