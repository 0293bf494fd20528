//! Decode counters: what every packet turned out to be.
//!
//! Takes each [`Decoded`] outcome; gives deterministic, serialisable counts
//! (ordered maps only). Never allocates per packet once a key has been seen.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::{Decoded, NotTcp};

/// IPv4 fragment reassembly counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FragmentStats {
    /// Fragments buffered without completing a datagram.
    pub held: u64,
    /// Datagrams completed and decoded.
    pub reassembled: u64,
    /// Datagrams dropped (cap hit, timeout, inconsistent overlap, cut fragment).
    pub dropped: u64,
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
    /// Packets without TCP, per kind (`udp`, `arp`, `ip_protocol_47`, `ethertype_0x88cc`...).
    #[serde(serialize_with = "display_keys")]
    pub not_tcp: BTreeMap<NotTcp, u64>,
    pub fragments: FragmentStats,
    /// Malformed packets per failing layer (`link`, `vlan`, `ip`, `ip_extension`, `tcp`).
    pub malformed: BTreeMap<&'static str, u64>,
}

/// Distinct kinds of non-TCP packets counted one by one; the rest share `other_kinds`.
pub const MAX_NOT_TCP_KINDS: usize = 256;

impl DecodeStats {
    pub(crate) fn count(&mut self, link_type: i32, decoded: &Decoded<'_>) {
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
            Decoded::UnsupportedLink(lt) => {
                *self.unsupported_link_types.entry(lt.0).or_insert(0) += 1
            }
            Decoded::Malformed(e) => *self.malformed.entry(e.kind()).or_insert(0) += 1,
        }
    }
}

fn display_keys<S: Serializer>(map: &BTreeMap<NotTcp, u64>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(k, v)| (k.to_string(), v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;

    #[test]
    fn distinct_kinds_are_capped() {
        let mut stats = DecodeStats::default();
        for af in 0..10_000u32 {
            stats.count(0, &Decoded::NotTcp(NotTcp::AddressFamily(af + 100)));
        }
        stats.count(0, &Decoded::NotTcp(NotTcp::AddressFamily(100)));
        assert_eq!(stats.not_tcp.len(), MAX_NOT_TCP_KINDS + 1);
        assert_eq!(
            stats.not_tcp[&NotTcp::Other],
            10_000 - MAX_NOT_TCP_KINDS as u64
        );
        assert_eq!(stats.not_tcp[&NotTcp::AddressFamily(100)], 2);
    }

    #[test]
    fn counts_serialise_in_stable_order() {
        let mut stats = DecodeStats::default();
        stats.count(1, &Decoded::NotTcp(NotTcp::Udp));
        stats.count(1, &Decoded::NotTcp(NotTcp::Arp));
        stats.count(1, &Decoded::NotTcp(NotTcp::IpProtocol(47)));
        stats.count(1, &Decoded::NotTcp(NotTcp::Udp));
        stats.count(105, &Decoded::UnsupportedLink(LinkType(105)));
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
    }
}
