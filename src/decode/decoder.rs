//! The stateful decoder: one packet in, one [`Decoded`] out, IPv4 fragments
//! held across packets.
//!
//! Takes [`Packet`]s in capture order; gives TCP segments (borrowed from the
//! packet, or from the datagram a fragment completed), the reason a packet
//! has no TCP, and findings for malformed packets and dropped fragments.
//! Never panics on any bytes and never reads past the captured length.

use std::net::{IpAddr, SocketAddr};

use etherparse::err::packet::SliceError;
use etherparse::err::tcp::HeaderSliceError;
use etherparse::err::Layer;
use etherparse::{
    EtherType, IpNumber, LaxIpPayloadSlice, LaxIpv4Slice, LaxIpv6Slice, LaxNetSlice,
    LaxSlicedPacket, TcpSlice, TransportSlice,
};

use super::fragment::{DatagramKey, Fragment, Outcome, Reassembler};
use super::link::{self, Link};
use super::{DecodeError, DecodeStats, Decoded, NotTcp, TcpFlags, TcpSegment};
use crate::capture::Packet;
use crate::common::FrameRef;
use crate::finding::{Finding, Findings, Layer as FindingLayer, Level};
use crate::limits::Limits;

/// etherparse reads at most three VLAN/MACsec headers per call; more tags
/// (QinQinQinQ...) are read by calling it again, up to this many times.
const MAX_TAG_ROUNDS: usize = 8;

/// Decodes packets to TCP segments; holds IPv4 fragments between packets.
pub struct Decoder {
    fragments: Reassembler,
    /// Payload of the last reassembled IPv4 datagram (what a fragment's segment borrows).
    reassembled: Vec<u8>,
    ipv6_fragment_reported: bool,
    stats: DecodeStats,
}

/// The network-layer context of one packet.
struct Net<'a, 'r, F> {
    at: FrameRef,
    fragments: &'r mut Reassembler,
    reassembled: &'a mut Vec<u8>,
    ipv6_fragment_reported: &'r mut bool,
    findings: &'r mut F,
}

impl Decoder {
    pub fn new(limits: &Limits) -> Decoder {
        Decoder {
            fragments: Reassembler::new(limits),
            reassembled: Vec::new(),
            ipv6_fragment_reported: false,
            stats: DecodeStats::default(),
        }
    }

    /// Decodes one packet. Malformed packets and dropped fragments also give a finding.
    pub fn on_packet<'a>(
        &'a mut self,
        packet: &Packet<'a>,
        findings: &mut impl Findings,
    ) -> Decoded<'a> {
        let decoded = match link::parse_link(packet.link_type, packet.data) {
            Err(e) => Decoded::Malformed(e),
            Ok(None) => Decoded::UnsupportedLink(packet.link_type),
            Ok(Some(Link::Other(kind))) => Decoded::NotTcp(kind),
            Ok(Some(Link::Net {
                ether_type,
                payload,
            })) => {
                let net = Net {
                    at: packet.at,
                    fragments: &mut self.fragments,
                    reassembled: &mut self.reassembled,
                    ipv6_fragment_reported: &mut self.ipv6_fragment_reported,
                    findings,
                };
                net.decode(ether_type, payload)
            }
        };
        if let Decoded::Malformed(e) = &decoded {
            let message = format!("packet not decoded: {e}");
            findings.push_finding(
                Finding::new(
                    Level::Warn,
                    FindingLayer::Decode,
                    "decode.malformed",
                    message,
                )
                .at(packet.at),
            );
        }
        self.stats.count(packet.link_type.0, &decoded);
        self.stats.fragments = self.fragments.stats.clone();
        decoded
    }

    /// Counts of everything decoded so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }
}

impl<'a, F: Findings> Net<'a, '_, F> {
    fn decode(self, ether_type: EtherType, bytes: &'a [u8]) -> Decoded<'a> {
        let sliced = slice_all_tags(ether_type, bytes);
        let inner_type = sliced.ether_payload().map_or(ether_type, |p| p.ether_type);
        let stop = sliced.stop_err.clone();
        if let Some((error, layer)) = stop.clone().filter(|(_, l)| hides_tcp(*l)) {
            return Decoded::Malformed(DecodeError::Sliced { layer, error });
        }
        let tcp = match sliced.transport {
            Some(TransportSlice::Tcp(tcp)) => Some(tcp),
            _ => None,
        };
        match sliced.net {
            None => Decoded::NotTcp(NotTcp::EtherType(inner_type.0)),
            Some(LaxNetSlice::Arp(_)) => Decoded::NotTcp(NotTcp::Arp),
            Some(LaxNetSlice::Ipv4(v4)) => self.ipv4(v4, tcp),
            Some(LaxNetSlice::Ipv6(v6)) => self.ipv6(v6, tcp),
        }
    }

    fn ipv4(self, v4: LaxIpv4Slice<'a>, tcp: Option<TcpSlice<'a>>) -> Decoded<'a> {
        let header = v4.header();
        let (src, dst) = (
            IpAddr::V4(header.source_addr()),
            IpAddr::V4(header.destination_addr()),
        );
        let payload = v4.payload().clone();
        if header.is_fragmenting_payload() {
            let key = DatagramKey {
                src: header.source(),
                dst: header.destination(),
                protocol: header.protocol().0,
                id: header.identification(),
            };
            let fragment = Fragment {
                key,
                offset: header.fragments_offset(),
                more: header.more_fragments(),
                payload: payload.payload,
                cut: payload.incomplete,
            };
            return match self.fragments.on_fragment(fragment, self.at, self.findings) {
                Outcome::Held => Decoded::FragmentHeld,
                Outcome::Dropped => Decoded::FragmentDropped,
                Outcome::Complete(datagram) => {
                    *self.reassembled = datagram;
                    let reassembled: &'a [u8] = self.reassembled;
                    transport(src, dst, IpNumber(key.protocol), reassembled, None, 0)
                }
            };
        }
        let auth_len = v4.extensions().auth.map_or(0, |a| a.slice().len());
        let captured = header.slice().len() + auth_len + payload.payload.len();
        let missing = announced_missing(&payload, usize::from(header.total_len()), captured);
        transport(src, dst, payload.ip_number, payload.payload, tcp, missing)
    }

    fn ipv6(self, v6: LaxIpv6Slice<'a>, tcp: Option<TcpSlice<'a>>) -> Decoded<'a> {
        let header = v6.header();
        let (src, dst) = (
            IpAddr::V6(header.source_addr()),
            IpAddr::V6(header.destination_addr()),
        );
        let payload = v6.payload().clone();
        // Atomic fragments (offset 0, no more fragments) are not "fragmented" for etherparse.
        if payload.fragmented {
            if !*self.ipv6_fragment_reported {
                *self.ipv6_fragment_reported = true;
                let message = "IPv6 fragments are not reassembled; their payload is lost (all counted in decode stats)";
                self.findings.push_finding(
                    Finding::new(
                        Level::Info,
                        FindingLayer::Decode,
                        "decode.ipv6_fragment",
                        message,
                    )
                    .at(self.at),
                );
            }
            return Decoded::NotTcp(NotTcp::Ipv6Fragment);
        }
        let announced = 40 + usize::from(header.payload_length());
        let captured = 40 + v6.extensions().slice().len() + payload.payload.len();
        let missing = announced_missing(&payload, announced, captured);
        transport(src, dst, payload.ip_number, payload.payload, tcp, missing)
    }
}

/// Slices a packet from its EtherType down, following any number of VLAN tags.
fn slice_all_tags(ether_type: EtherType, bytes: &[u8]) -> LaxSlicedPacket<'_> {
    let mut sliced = LaxSlicedPacket::from_ether_type(ether_type, bytes);
    for _ in 0..MAX_TAG_ROUNDS {
        if sliced.net.is_some() || sliced.stop_err.is_some() || sliced.link_exts.is_empty() {
            break;
        }
        match sliced.ether_payload() {
            Some(p) if is_tag(p.ether_type) => {
                sliced = LaxSlicedPacket::from_ether_type(p.ether_type, p.payload);
            }
            _ => break,
        }
    }
    sliced
}

fn is_tag(t: EtherType) -> bool {
    matches!(
        t,
        EtherType::VLAN_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME
    )
}

/// A failure at this layer may hide a TCP segment (a UDP or ICMP failure cannot).
fn hides_tcp(layer: Layer) -> bool {
    !matches!(
        layer,
        Layer::Arp
            | Layer::UdpHeader
            | Layer::UdpPayload
            | Layer::Icmpv4
            | Layer::Icmpv4Timestamp
            | Layer::Icmpv4TimestampReply
            | Layer::Icmpv6
            | Layer::Igmp
            | Layer::TcpHeader
    )
}

/// Bytes the IP length announces beyond what was captured.
fn announced_missing(payload: &LaxIpPayloadSlice<'_>, announced: usize, captured: usize) -> u32 {
    if payload.incomplete {
        u32::try_from(announced.saturating_sub(captured)).unwrap_or(u32::MAX)
    } else {
        0
    }
}

/// The transport layer: a TCP segment, or what else the IP payload is.
fn transport<'a>(
    src: IpAddr,
    dst: IpAddr,
    protocol: IpNumber,
    bytes: &'a [u8],
    sliced: Option<TcpSlice<'a>>,
    missing: u32,
) -> Decoded<'a> {
    match protocol {
        IpNumber::TCP => {}
        IpNumber::UDP => return Decoded::NotTcp(NotTcp::Udp),
        IpNumber::ICMP | IpNumber::IPV6_ICMP => return Decoded::NotTcp(NotTcp::Icmp),
        other => return Decoded::NotTcp(NotTcp::IpProtocol(other.0)),
    }
    let tcp = match sliced.map_or_else(|| TcpSlice::from_slice(bytes), Ok) {
        Ok(tcp) => tcp,
        Err(e) => {
            let error = match e {
                HeaderSliceError::Len(l) => SliceError::Len(l),
                HeaderSliceError::Content(c) => SliceError::Tcp(c),
            };
            return Decoded::Malformed(DecodeError::Sliced {
                layer: Layer::TcpHeader,
                error,
            });
        }
    };
    Decoded::Tcp(TcpSegment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
            urg: tcp.urg(),
        },
        window: tcp.window_size(),
        payload: tcp.payload(),
        missing,
    })
}

#[cfg(test)]
mod tests;
