//! Fuzz entry for the TCP stage: arbitrary bytes become a sequence of
//! segments on a few 4-tuples, fed to a [`Reassembler`] with tiny caps.
//!
//! Takes any bytes; gives nothing but the absence of panics (the events go to
//! a sink that only checks offsets are contiguous). Never allocates more than
//! the caps allow.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::decode::{TcpFlags, TcpSegment};
use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

use super::{Event, Reassembler, Sink};

/// Checks that offsets stay contiguous per stream and direction.
#[derive(Default)]
struct Contiguity(HashMap<(u64, Dir), u64>);

impl Findings for Contiguity {
    fn push_finding(&mut self, _: Finding) {}
}

impl Sink for Contiguity {
    fn on_tcp(&mut self, event: Event<'_>) {
        let (stream, dir, offset, len) = match event {
            Event::Data {
                stream,
                dir,
                offset,
                bytes,
                ..
            } => (stream, dir, offset, bytes.len() as u64),
            Event::Gap {
                stream,
                dir,
                offset,
                len,
                ..
            } => (stream, dir, offset, len),
            _ => return,
        };
        let next = self.0.entry((stream, dir)).or_insert(0);
        assert_eq!(
            *next, offset,
            "stream {stream} {dir}: offsets not contiguous"
        );
        *next += len;
    }
}

/// Runs the TCP stage over segments described by `data` (14-byte headers,
/// each followed by up to 63 payload bytes).
pub fn reassemble(data: &[u8]) {
    let limits = Limits {
        max_open_flows: 2,
        max_ooo_bytes_per_dir: 256,
        max_ooo_segments_per_dir: 4,
        ..Limits::default()
    };
    let ends: [SocketAddr; 3] = [
        SocketAddr::from(([10, 0, 0, 1], 50000)),
        SocketAddr::from(([10, 0, 0, 2], 443)),
        SocketAddr::from(([10, 0, 0, 3], 50001)),
    ];
    let mut table = Reassembler::new(&limits);
    let mut sink = Contiguity::default();
    let mut rest = data;
    let mut frame = 0u64;
    while let Some((head, tail)) = rest.split_first_chunk::<14>() {
        let [t, f, s0, s1, s2, s3, a0, a1, a2, a3, w0, len, miss, dt] = *head;
        let len = usize::from(len & 63).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        frame += 1;
        let pick = |i: u8| ends.get(usize::from(i % 3)).copied().unwrap_or(ends[0]);
        let seg = TcpSegment {
            src: pick(t),
            dst: pick(t.wrapping_add(1 + (t >> 4) % 2)),
            seq: u32::from_be_bytes([s0, s1, s2, s3]),
            ack: u32::from_be_bytes([a0, a1, a2, a3]),
            flags: TcpFlags {
                syn: f & 1 != 0,
                ack: f & 2 != 0,
                fin: f & 4 != 0,
                rst: f & 8 != 0,
                psh: f & 16 != 0,
                urg: f & 32 != 0,
            },
            window: u16::from(w0),
            payload,
            missing: u32::from(miss & 63),
        };
        let ts = Timestamp::from_secs_nanos(i64::from(dt) * frame as i64, 0);
        table.on_segment(FrameRef::new(frame, ts), &seg, &mut sink);
    }
    table.finish(&mut sink);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn fuzz_smoke(data in prop::collection::vec(any::<u8>(), 0..2000)) {
            super::reassemble(&data);
        }
    }

    #[test]
    fn fuzz_smoke_on_a_real_handshake() {
        let mut data = Vec::new();
        // SYN, SYN-ACK, data, FIN from 10.0.0.1:50000 <-> 10.0.0.2:443.
        data.extend_from_slice(&[0, 1, 0, 0, 0, 100, 0, 0, 0, 0, 255, 0, 0, 1]);
        data.extend_from_slice(&[1, 3, 0, 0, 0, 50, 0, 0, 0, 101, 255, 0, 0, 1]);
        data.extend_from_slice(&[0, 2, 0, 0, 0, 101, 0, 0, 0, 51, 255, 3, 0, 1]);
        data.extend_from_slice(b"abc");
        data.extend_from_slice(&[0, 6, 0, 0, 0, 104, 0, 0, 0, 51, 255, 0, 0, 1]);
        super::reassemble(&data);
    }
}
