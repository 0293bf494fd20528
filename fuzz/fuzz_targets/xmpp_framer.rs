//! Fuzz target: the XMPP framer on TCP (segments, directions and gaps seeded
//! by the first byte).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::xmpp_framer(data);
});
