//! Fuzz target: a capture file (pcap, pcapng, gzip) read to its end.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    xmppcap::fuzzing::capture_bytes(data);
});
