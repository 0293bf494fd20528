//! Fuzz target: one packet through the decoder (link, IP, TCP headers);
//! the first byte picks the link type.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The link types the decoder knows (Ethernet, BSD NULL and LOOP, raw IP,
/// Linux SLL and SLL2) and one it does not (USER0): the first input byte
/// picks one, so the fuzzer does not spend its time on unsupported types.
const LINK_TYPES: [u32; 11] = [1, 0, 108, 12, 14, 101, 228, 229, 113, 276, 147];

fuzz_target!(|data: &[u8]| {
    if let Some((&pick, packet)) = data.split_first() {
        let link_type = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
        xmppcap::fuzzing::decode_packet(link_type, packet);
    }
});
