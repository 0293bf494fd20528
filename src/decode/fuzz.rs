//! Fuzzing entries for the decoder, and a deterministic fuzz smoke test.
//!
//! Takes arbitrary bytes as one packet, or as a sequence of packets (each
//! prefixed by a 2-byte big-endian length) through one decoder so that
//! fragment state carries over; the decoder's end-of-capture findings too.
//! Never expected to panic.

use super::{Decoded, Decoder};
use crate::capture::{LinkType, Packet};
use crate::limits::Limits;
use crate::position::{FrameRef, Timestamp};

/// Decodes one packet of the given LINKTYPE_* with a fresh decoder.
pub(crate) fn decode_one(link_type: u32, data: &[u8]) {
    let mut decoder = Decoder::new(&Limits::default());
    decode_with(&mut decoder, link_type, data, 1);
}

/// Decodes length-prefixed packets through one decoder, one second apart.
pub(crate) fn decode_sequence(link_type: u32, mut data: &[u8]) {
    let limits = Limits {
        max_fragment_datagrams: 4,
        max_fragment_bytes: 4096,
        ..Limits::default()
    };
    let mut decoder = Decoder::new(&limits);
    let mut frame = 0;
    while let Some((len, rest)) = data.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (packet, rest) = rest.split_at(len);
        frame += 1;
        decode_with(&mut decoder, link_type, packet, frame);
        data = rest;
    }
    decoder.finish(&mut Vec::new());
}

fn decode_with(decoder: &mut Decoder, link_type: u32, data: &[u8], frame: u64) {
    let packet = Packet {
        at: FrameRef::new(frame, Timestamp::from_secs_nanos(frame as i64, 0)),
        link_type: LinkType(link_type as i32),
        data,
        orig_len: data.len() as u32,
        interface: 0,
    };
    let mut findings = Vec::new();
    if let Decoded::Tcp(segment) = decoder.on_packet(&packet, &mut findings) {
        assert!(
            segment.payload.len() <= 65_535,
            "an IP datagram holds at most 64 KiB"
        );
    }
}

#[cfg(test)]
mod tests {
    use etherparse::PacketBuilder;

    use super::*;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Seeds as (link type, packet): TCP over IPv4/IPv6, tags, cooked and loopback headers, fragments.
    fn seeds() -> Vec<(u32, Vec<u8>)> {
        let mut v4 = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1, 2, 3, 4)
            .write(&mut v4, &[0x41; 40])
            .unwrap();
        let mut v6 = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(1, 2, 3, 4)
            .write(&mut v6, b"hello")
            .unwrap();
        let mut eth = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(
                etherparse::VlanId::try_new(5).unwrap(),
                etherparse::VlanId::try_new(6).unwrap(),
            )
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1, 2, 3, 4)
            .write(&mut eth, b"x")
            .unwrap();
        let mut frag = v4.clone();
        frag[6] = 0x20; // more fragments
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&v6);
        let mut sll2 = vec![
            0x08, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(&v4);
        let mut seeds = vec![
            (101, v4),
            (229, v6),
            (1, eth),
            (101, frag),
            (0, null),
            (276, sll2),
        ];
        seeds.extend(tunnel_seeds());
        seeds
    }

    /// Each encapsulation around a small TCP packet, and an IPv6 fragment.
    fn tunnel_seeds() -> Vec<(u32, Vec<u8>)> {
        use crate::decode::testkit::*;
        let ip = ipv4_tcp(CLIENT, SERVER, Tcp::data(1, 2), b"hello");
        let frame = ethernet(0x0800, &ip);
        let all = GreOptions {
            checksum: true,
            key: Some(1),
            sequence: Some(2),
        };
        let outer = |protocol: u8, payload: &[u8]| ipv4(OUTER_A, OUTER_B, protocol, payload);
        let v6 = ipv6_tcp(CLIENT6, SERVER6, Tcp::data(1, 2), &[7; 40]);
        let v6_fragment = ipv6_fragments(&v6, 0, 9, &[32, 28]).remove(0);
        vec![
            (101, outer(47, &gre(all, 0x0800, &ip))),
            (101, outer(47, &erspan2(1, 2, &frame))),
            (101, outer(47, &erspan3(0, true, &frame))),
            (
                101,
                ipv4_udp(OUTER_A, OUTER_B, 50000, 4789, &vxlan(7, &frame)),
            ),
            (
                1,
                ethernet(0x8847, &mpls(&[16, 17], true, &pw_control_word(1, &frame))),
            ),
            (1, ethernet(0x8864, &pppoe(1, 0x0021, &ip))),
            (101, outer(41, &v6)),
            (229, v6_fragment),
        ]
    }

    fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
        for _ in 0..1 + rng.below(3) {
            let len = input.len();
            match rng.below(4) {
                0 if len > 0 => {
                    let i = rng.below(len);
                    input[i] ^= 1 << rng.below(8);
                }
                1 if len > 0 => {
                    let i = rng.below(len.min(64));
                    input[i] = rng.next() as u8;
                }
                2 => input.truncate(rng.below(len + 1)),
                _ => input.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
            }
        }
    }

    #[test]
    fn fuzz_smoke_mutated_packets_never_panic() {
        const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
        // Nested GRE up to past the cap.
        let mut nested = crate::decode::testkit::ipv4_tcp(
            [1; 4],
            [2; 4],
            crate::decode::testkit::Tcp::data(1, 2),
            b"x",
        );
        for _ in 0..10 {
            let gre = crate::decode::testkit::gre(Default::default(), 0x0800, &nested);
            nested = crate::decode::testkit::ipv4([3; 4], [4; 4], 47, &gre);
            decode_one(101, &nested);
        }
        let seeds = seeds();
        let mut rng = Rng(0xdec0_de00_0000_0042);
        for _ in 0..4000 {
            let (link_type, seed) = &seeds[rng.below(seeds.len())];
            let mut packet = seed.clone();
            mutate(&mut rng, &mut packet);
            let link_type = if rng.below(8) == 0 {
                LINK_TYPES[rng.below(LINK_TYPES.len())]
            } else {
                *link_type
            };
            decode_one(link_type, &packet);
        }
        // Sequences of mutated fragments through one decoder.
        for _ in 0..300 {
            let mut sequence = Vec::new();
            for _ in 0..rng.below(12) {
                let mut packet = seeds[3].1.clone();
                packet[4] = 0; // same identification
                packet[5] = rng.below(3) as u8;
                packet[7] = (rng.below(6) * 2) as u8; // fragment offset in 8-byte units
                mutate(&mut rng, &mut packet);
                sequence.extend_from_slice(&(packet.len() as u16).to_be_bytes());
                sequence.extend_from_slice(&packet);
            }
            decode_sequence(101, &sequence);
        }
        // Sequences of mutated IPv6 fragments (offset and M flag in bytes 42..44).
        let v6_fragment = seeds.last().map(|s| s.1.clone()).unwrap_or_default();
        for _ in 0..300 {
            let mut sequence = Vec::new();
            for _ in 0..rng.below(12) {
                let mut packet = v6_fragment.clone();
                let offset_units = rng.below(8) as u16;
                let more = rng.below(2) as u16;
                packet[42..44].copy_from_slice(&(offset_units << 3 | more).to_be_bytes());
                mutate(&mut rng, &mut packet);
                sequence.extend_from_slice(&(packet.len() as u16).to_be_bytes());
                sequence.extend_from_slice(&packet);
            }
            decode_sequence(229, &sequence);
        }
    }
}
