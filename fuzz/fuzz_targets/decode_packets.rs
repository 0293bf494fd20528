//! Fuzz target: a sequence of packets (each prefixed by a 2-byte big-endian
//! length) through one decoder, so IPv4 fragment state carries over; the
//! first byte picks the link type.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The link types the decoder knows (Ethernet, BSD NULL and LOOP, raw IP,
/// Linux SLL and SLL2) and one it does not (USER0): the first input byte
/// picks one, so the fuzzer does not spend its time on unsupported types.
const LINK_TYPES: [u32; 11] = [1, 0, 108, 12, 14, 101, 228, 229, 113, 276, 147];

fuzz_target!(|data: &[u8]| {
    if let Some((&pick, packets)) = data.split_first() {
        let link_type = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
        xmppcap::fuzzing::decode_packets(link_type, packets);
    }
});
