//! Fuzz target: an XMPP session fed WebSocket messages (split at NUL bytes).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::xmpp_element(data);
});
