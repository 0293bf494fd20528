//! Decode counters: what every packet turned out to be.
//!
//! Takes each [`Decoded`] outcome; gives deterministic, serialisable counts
//! (ordered maps only). Never allocates per packet once a key has been seen,
//! and never counts more than a few hundred distinct keys per map.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::{Decoded, NotTcp, Skipped};
use crate::position::FrameRef;

/// IP fragment reassembly counters (IPv4 and IPv6 together).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FragmentStats {
    /// Fragments buffered without completing a datagram.
    pub held: u64,
    /// Datagrams completed and decoded.
    pub reassembled: u64,
    /// Datagrams dropped (cap hit, timeout, inconsistent overlap, cut fragment).
    pub dropped: u64,
    /// Datagrams still incomplete when the capture ended.
    #[serde(skip_serializing_if = "is_zero")]
    pub incomplete_at_end: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Packets of one kind the decoder skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedCount {
    pub packets: u64,
    /// Captured bytes of those packets.
    pub bytes: u64,
    /// The first of them.
    pub first: FrameRef,
}

/// What the decoder saw, per kind; `Serialize` gives stable key order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DecodeStats {
    /// Packets given to the decoder.
    pub packets: u64,
    /// Packets per LINKTYPE_* number.
    pub packets_per_link_type: BTreeMap<i32, u64>,
    /// Packets of link types xmppcap does not decode, per LINKTYPE_* number.
    pub unsupported_link_types: BTreeMap<i32, u64>,
    /// TCP segments decoded (reassembled datagrams included).
    pub tcp_segments: u64,
    /// TCP segments whose payload was cut by the snapshot length.
    pub tcp_segments_cut: u64,
    /// Packets without TCP, per kind (`udp`, `arp`, `ip_protocol_89`, `ethertype_0x88cc`...).
    #[serde(serialize_with = "display_keys")]
    pub not_tcp: BTreeMap<NotTcp, u64>,
    pub fragments: FragmentStats,
    /// Malformed packets per failing layer (`link`, `vlan`, `ip`,
    /// `ip_extension`, `tcp`, `gre`, `erspan`, `vxlan`, `mpls`, `pppoe`).
    pub malformed: BTreeMap<&'static str, u64>,
    /// Packets not decoded, per kind (`link_type_105`, `tunnel_geneve`,
    /// `nesting_limit`...): each is reported by a finding at the end.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "display_keys"
    )]
    pub skipped: BTreeMap<Skipped, SkippedCount>,
    /// Encapsulation layers unwrapped, per kind (`gre`, `erspan`, `vxlan`,
    /// `mpls`, `pppoe`, `ip_in_ip`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub encapsulations: BTreeMap<&'static str, u64>,
}

/// Distinct kinds of non-TCP packets counted one by one; the rest share `other_kinds`.
pub const MAX_NOT_TCP_KINDS: usize = 256;
/// Distinct kinds of skipped packets counted one by one; the rest share `other_kinds`.
pub const MAX_SKIPPED_KINDS: usize = 64;

impl DecodeStats {
    /// Counts one packet (`bytes` captured, seen `at`).
    pub(crate) fn count(
        &mut self,
        at: FrameRef,
        link_type: i32,
        bytes: usize,
        decoded: &Decoded<'_>,
    ) {
        self.packets += 1;
        *self.packets_per_link_type.entry(link_type).or_insert(0) += 1;
        match decoded {
            Decoded::Tcp(segment) => {
                self.tcp_segments += 1;
                if segment.missing > 0 {
                    self.tcp_segments_cut += 1;
                }
            }
            Decoded::NotTcp(kind) => {
                let full = self.not_tcp.len() >= MAX_NOT_TCP_KINDS;
                let key = if full && !self.not_tcp.contains_key(kind) {
                    NotTcp::Other
                } else {
                    *kind
                };
                *self.not_tcp.entry(key).or_insert(0) += 1;
            }
            // Counted by the reassembler, which knows about datagrams.
            Decoded::FragmentHeld | Decoded::FragmentDropped => {}
            Decoded::Skipped(kind) => {
                if let Skipped::Link(lt) = kind {
                    *self.unsupported_link_types.entry(*lt).or_insert(0) += 1;
                }
                self.count_skipped(*kind, at, bytes);
            }
            Decoded::Malformed(e) => *self.malformed.entry(e.kind()).or_insert(0) += 1,
        }
    }

    fn count_skipped(&mut self, kind: Skipped, at: FrameRef, bytes: usize) {
        let full = self.skipped.len() >= MAX_SKIPPED_KINDS;
        let key = if full && !self.skipped.contains_key(&kind) {
            Skipped::Other
        } else {
            kind
        };
        let count = self.skipped.entry(key).or_insert(SkippedCount {
            packets: 0,
            bytes: 0,
            first: at,
        });
        count.packets += 1;
        count.bytes = count.bytes.saturating_add(bytes as u64);
    }
}

fn display_keys<S: Serializer, K: std::fmt::Display, V: Serialize>(
    map: &BTreeMap<K, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(k, v)| (k.to_string(), v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_kinds_are_capped() {
        let mut stats = DecodeStats::default();
        for af in 0..10_000u32 {
            stats.count(
                FrameRef::default(),
                0,
                10,
                &Decoded::NotTcp(NotTcp::AddressFamily(af + 100)),
            );
        }
        stats.count(
            FrameRef::default(),
            0,
            10,
            &Decoded::NotTcp(NotTcp::AddressFamily(100)),
        );
        assert_eq!(stats.not_tcp.len(), MAX_NOT_TCP_KINDS + 1);
        assert_eq!(
            stats.not_tcp[&NotTcp::Other],
            10_000 - MAX_NOT_TCP_KINDS as u64
        );
        assert_eq!(stats.not_tcp[&NotTcp::AddressFamily(100)], 2);
    }

    #[test]
    fn skipped_kinds_are_capped_and_keep_their_first_frame() {
        let mut stats = DecodeStats::default();
        for lt in 0..1000 {
            let at = FrameRef::new(lt as u64 + 1, Default::default());
            stats.count(at, lt, 100, &Decoded::Skipped(Skipped::Link(lt)));
        }
        let at = FrameRef::new(5000, Default::default());
        stats.count(at, 3, 50, &Decoded::Skipped(Skipped::Link(3)));
        assert_eq!(stats.skipped.len(), MAX_SKIPPED_KINDS + 1);
        let other = stats.skipped[&Skipped::Other];
        assert_eq!(other.packets, 1000 - MAX_SKIPPED_KINDS as u64);
        assert_eq!(other.first.frame, MAX_SKIPPED_KINDS as u64 + 1);
        let three = stats.skipped[&Skipped::Link(3)];
        assert_eq!((three.packets, three.bytes, three.first.frame), (2, 150, 4));
    }

    #[test]
    fn counts_serialise_in_stable_order() {
        let mut stats = DecodeStats::default();
        stats.count(FrameRef::default(), 1, 10, &Decoded::NotTcp(NotTcp::Udp));
        stats.count(FrameRef::default(), 1, 10, &Decoded::NotTcp(NotTcp::Arp));
        stats.count(
            FrameRef::default(),
            1,
            10,
            &Decoded::NotTcp(NotTcp::IpProtocol(47)),
        );
        stats.count(FrameRef::default(), 1, 10, &Decoded::NotTcp(NotTcp::Udp));
        stats.count(
            FrameRef::new(7, Default::default()),
            105,
            40,
            &Decoded::Skipped(Skipped::Link(105)),
        );
        let json = serde_json::to_string(&stats).unwrap();
        assert!(
            json.contains(r#""not_tcp":{"arp":1,"udp":2,"ip_protocol_47":1}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""packets_per_link_type":{"1":4,"105":1}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""unsupported_link_types":{"105":1}"#),
            "{json}"
        );
        assert!(
            json.contains(
                r#""skipped":{"link_type_105":{"packets":1,"bytes":40,"first":{"frame":7,"ts":"1970-01-01T00:00:00.000000Z"}}}"#
            ),
            "{json}"
        );
        // Empty maps and zero counters added since schema 1 are left out.
        let empty = serde_json::to_string(&DecodeStats::default()).unwrap();
        assert!(
            !empty.contains("skipped") && !empty.contains("encapsulations"),
            "{empty}"
        );
        assert!(!empty.contains("incomplete_at_end"), "{empty}");
    }
}
