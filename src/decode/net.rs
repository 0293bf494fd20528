//! One packet below TCP: VLAN tags, encapsulations, IP (with fragments) and
//! the transport header.
//!
//! Takes the network-layer bytes the link layer gave and their EtherType;
//! gives the packet's [`Decoded`] outcome. Each encapsulation unwrapped
//! counts one level; past `max_encapsulation_depth` the packet is skipped
//! ([`Skipped::NestingLimit`]). Every step consumes header bytes and every
//! cycle of steps unwraps one level, so decoding one packet always ends.
//! Never reads past the captured bytes.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use etherparse::err::packet::SliceError;
use etherparse::err::tcp::HeaderSliceError;
use etherparse::err::{ipv6_exts, Layer};
use etherparse::{
    EtherType, IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, LaxIpPayloadSlice, LaxIpv4Slice,
    LaxIpv6Slice, LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice, UdpSlice,
};

use super::fragment::{DatagramKey, Fragment, Outcome, Reassembler};
use super::link::{self, Link};
use super::skipped::tunnel_ip_protocol;
use super::tunnel::{gre, mpls, pppoe, udp, Inner, Unwrapped};
use super::{DecodeError, Decoded, Header, NotTcp, Skipped, TcpFlags, TcpSegment};
use crate::finding::Findings;
use crate::position::FrameRef;

/// etherparse reads at most three VLAN/MACsec headers per call; more tags
/// (QinQinQinQ...) are read by calling it again, up to this many times.
const MAX_TAG_ROUNDS: usize = 8;

const MPLS_UNICAST: EtherType = EtherType(0x8847);
const MPLS_MULTICAST: EtherType = EtherType(0x8848);
const PPPOE_SESSION: EtherType = EtherType(0x8864);

/// The network-layer context of one packet.
pub(super) struct Net<'a, 'r, F> {
    pub(super) at: FrameRef,
    pub(super) fragments: &'r mut Reassembler,
    /// Where datagrams this packet completes are kept (one per IP layer).
    pub(super) buffers: std::slice::IterMut<'a, Vec<u8>>,
    pub(super) encapsulations: &'r mut BTreeMap<&'static str, u64>,
    pub(super) max_depth: usize,
    pub(super) findings: &'r mut F,
}

/// A header still to decode.
pub(super) enum Next<'a> {
    /// Bytes of this EtherType (IP by its version nibble, VLAN, MPLS, PPPoE...).
    Ether(EtherType, &'a [u8]),
    /// A whole Ethernet II frame.
    Ethernet(&'a [u8]),
}

enum Step<'a> {
    Next(Next<'a>),
    /// An encapsulation was unwrapped: one more nesting level.
    Unwrapped(&'static str, Next<'a>),
    Done(Decoded<'a>),
}

impl<'a, F: Findings> Net<'a, '_, F> {
    pub(super) fn decode(mut self, first: Next<'a>) -> Decoded<'a> {
        let mut next = first;
        let mut depth = 0usize;
        loop {
            let step = match next {
                Next::Ethernet(frame) => ethernet(frame),
                Next::Ether(ether_type, bytes) => self.ether(ether_type, bytes),
            };
            next = match step {
                Step::Done(decoded) => return decoded,
                Step::Next(next) => next,
                Step::Unwrapped(name, next) => {
                    depth += 1;
                    if depth > self.max_depth {
                        return Decoded::Skipped(Skipped::NestingLimit);
                    }
                    *self.encapsulations.entry(name).or_insert(0) += 1;
                    next
                }
            };
        }
    }

    fn ether(&mut self, ether_type: EtherType, bytes: &'a [u8]) -> Step<'a> {
        match ether_type {
            MPLS_UNICAST | MPLS_MULTICAST => unwrapped(mpls::parse_mpls(bytes)),
            PPPOE_SESSION => unwrapped(pppoe::parse_pppoe(bytes)),
            _ => self.sliced(ether_type, bytes),
        }
    }

    /// VLAN tags, IP and its extension headers, UDP or TCP: etherparse's part.
    fn sliced(&mut self, ether_type: EtherType, bytes: &'a [u8]) -> Step<'a> {
        let sliced = slice_all_tags(ether_type, bytes);
        let ether = sliced.ether_payload();
        let inner_type = ether.as_ref().map_or(ether_type, |p| p.ether_type);
        // Checked before etherparse's errors: past a Fragment header it reads
        // fragment data as headers.
        if let (Some(LaxNetSlice::Ipv6(v6)), Some(ip)) = (&sliced.net, &ether) {
            if v6.is_payload_fragmented() {
                return self.ipv6_fragment(v6, ip.payload);
            }
        }
        if let Some((error, layer)) = sliced.stop_err.clone().filter(|(_, l)| hides_tcp(*l)) {
            return Step::Done(Decoded::Malformed(DecodeError::Sliced { layer, error }));
        }
        match (sliced.net, ether) {
            (None, Some(inner))
                if !sliced.link_exts.is_empty() && is_tagged_encapsulation(inner_type) =>
            {
                Step::Next(Next::Ether(inner_type, inner.payload))
            }
            (None, _) => Step::Done(Decoded::NotTcp(NotTcp::EtherType(inner_type.0))),
            (Some(LaxNetSlice::Arp(_)), _) => Step::Done(Decoded::NotTcp(NotTcp::Arp)),
            (Some(LaxNetSlice::Ipv4(v4)), _) => self.ipv4(v4, sliced.transport),
            (Some(LaxNetSlice::Ipv6(v6)), _) => self.ipv6(v6, sliced.transport),
        }
    }

    fn ipv4(&mut self, v4: LaxIpv4Slice<'a>, transport: Option<TransportSlice<'a>>) -> Step<'a> {
        let header = v4.header();
        let (src, dst) = (
            IpAddr::V4(header.source_addr()),
            IpAddr::V4(header.destination_addr()),
        );
        let payload = v4.payload().clone();
        if header.is_fragmenting_payload() {
            let fragment = Fragment {
                key: DatagramKey {
                    src,
                    dst,
                    protocol: Some(header.protocol().0),
                    id: u32::from(header.identification()),
                },
                protocol: header.protocol(),
                offset: header.fragments_offset(),
                more: header.more_fragments(),
                payload: payload.payload,
                cut: payload.incomplete,
            };
            return match self.reassemble(fragment) {
                Ok((bytes, protocol)) => self.ip_payload(src, dst, protocol, bytes, None, 0),
                Err(step) => step,
            };
        }
        let auth_len = v4.extensions().auth.map_or(0, |a| a.slice().len());
        let captured = header.slice().len() + auth_len + payload.payload.len();
        let missing = announced_missing(&payload, usize::from(header.total_len()), captured);
        self.ip_payload(
            src,
            dst,
            payload.ip_number,
            payload.payload,
            transport,
            missing,
        )
    }

    fn ipv6(&mut self, v6: LaxIpv6Slice<'a>, transport: Option<TransportSlice<'a>>) -> Step<'a> {
        let header = v6.header();
        let (src, dst) = (
            IpAddr::V6(header.source_addr()),
            IpAddr::V6(header.destination_addr()),
        );
        let payload = v6.payload().clone();
        let announced = 40 + usize::from(header.payload_length());
        let captured = 40 + v6.extensions().slice().len() + payload.payload.len();
        let missing = announced_missing(&payload, announced, captured);
        self.ip_payload(
            src,
            dst,
            payload.ip_number,
            payload.payload,
            transport,
            missing,
        )
    }

    /// An IPv6 fragment (RFC 8200 §4.5): the Fragment header may follow other
    /// extension headers; what follows it is fragment data, whatever it looks like.
    fn ipv6_fragment(&mut self, v6: &LaxIpv6Slice<'a>, ip: &'a [u8]) -> Step<'a> {
        let header = v6.header();
        let (src, dst) = (
            IpAddr::V6(header.source_addr()),
            IpAddr::V6(header.destination_addr()),
        );
        let body = ip.get(40..).unwrap_or_default();
        let body = match usize::from(header.payload_length()) {
            0 => body,
            len => body.get(..len).unwrap_or(body),
        };
        let mut consumed = 0usize;
        let mut found = None;
        for ext in v6.extensions().clone() {
            consumed += extension_len(&ext);
            if let Ipv6ExtensionSlice::Fragment(f) = ext {
                if f.is_fragmenting_payload() {
                    found = Some(f);
                    break;
                }
            }
        }
        // etherparse said fragmented, so it saw a fragmenting Fragment header.
        let Some(frag) = found else {
            return Step::Done(Decoded::NotTcp(NotTcp::IpProtocol(44)));
        };
        let fragment = Fragment {
            key: DatagramKey {
                src,
                dst,
                protocol: None,
                id: frag.identification(),
            },
            protocol: frag.next_header(),
            offset: frag.fragment_offset(),
            more: frag.more_fragments(),
            payload: body.get(consumed..).unwrap_or_default(),
            cut: v6.payload().incomplete,
        };
        match self.reassemble(fragment) {
            Ok((bytes, protocol)) => self.ipv6_reassembled(src, dst, protocol, bytes),
            Err(step) => step,
        }
    }

    /// The fragmentable part of a reassembled IPv6 packet: extension headers, then the transport.
    fn ipv6_reassembled(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        protocol: IpNumber,
        bytes: &'a [u8],
    ) -> Step<'a> {
        let (exts, ip_number, payload, error) =
            Ipv6ExtensionsSlice::from_slice_lax(protocol, bytes);
        if let Some((error, layer)) = error {
            let error = match error {
                ipv6_exts::HeaderSliceError::Len(l) => SliceError::Len(l),
                ipv6_exts::HeaderSliceError::Content(c) => SliceError::Ipv6Exts(c),
            };
            return Step::Done(Decoded::Malformed(DecodeError::Sliced { layer, error }));
        }
        if exts.is_fragmenting_payload() {
            return Step::Done(Decoded::Malformed(DecodeError::Field {
                header: Header::Ipv6Fragment,
                field: "next header inside a reassembled packet",
                value: 44,
                expected: "no second Fragment header",
            }));
        }
        self.ip_payload(src, dst, ip_number, payload, None, 0)
    }

    /// Adds a fragment; the reassembled payload and its protocol when it completes a datagram.
    fn reassemble(&mut self, fragment: Fragment<'a>) -> Result<(&'a [u8], IpNumber), Step<'a>> {
        match self.fragments.on_fragment(fragment, self.at, self.findings) {
            Outcome::Held => Err(Step::Done(Decoded::FragmentHeld)),
            Outcome::Dropped => Err(Step::Done(Decoded::FragmentDropped)),
            Outcome::Complete(datagram, protocol) => {
                // One buffer per IP layer the nesting cap allows: never runs out.
                let Some(buffer) = self.buffers.next() else {
                    return Err(Step::Done(Decoded::Skipped(Skipped::NestingLimit)));
                };
                *buffer = datagram;
                let bytes: &'a [u8] = buffer;
                Ok((bytes, protocol))
            }
        }
    }

    /// What an IP header carries: TCP, a tunnel, or something else.
    fn ip_payload(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        protocol: IpNumber,
        bytes: &'a [u8],
        transport: Option<TransportSlice<'a>>,
        missing: u32,
    ) -> Step<'a> {
        let decoded = match protocol {
            IpNumber::TCP => {
                let sliced = match transport {
                    Some(TransportSlice::Tcp(tcp)) => Some(tcp),
                    _ => None,
                };
                tcp_segment(src, dst, bytes, sliced, missing)
            }
            IpNumber::UDP => {
                let sliced = match transport {
                    Some(TransportSlice::Udp(udp)) => Some(udp),
                    _ => None,
                };
                return udp_payload(bytes, sliced);
            }
            IpNumber::ICMP | IpNumber::IPV6_ICMP => Decoded::NotTcp(NotTcp::Icmp),
            IpNumber::GRE => return unwrapped(gre::parse_gre(bytes)),
            IpNumber::IPV4 => {
                return Step::Unwrapped("ip_in_ip", Next::Ether(EtherType::IPV4, bytes))
            }
            IpNumber::IPV6 => {
                return Step::Unwrapped("ip_in_ip", Next::Ether(EtherType::IPV6, bytes))
            }
            other => match tunnel_ip_protocol(other.0) {
                Some(tunnel) => Decoded::Skipped(Skipped::Tunnel(tunnel)),
                None => Decoded::NotTcp(NotTcp::IpProtocol(other.0)),
            },
        };
        Step::Done(decoded)
    }
}

fn ethernet(frame: &[u8]) -> Step<'_> {
    match link::parse_ethernet(frame) {
        Ok(Link::Net {
            ether_type,
            payload,
        }) => Step::Next(Next::Ether(ether_type, payload)),
        Ok(Link::Other(kind)) => Step::Done(Decoded::NotTcp(kind)),
        Err(e) => Step::Done(Decoded::Malformed(e)),
    }
}

/// The step after an encapsulation header.
fn unwrapped(result: Result<Unwrapped<'_>, DecodeError>) -> Step<'_> {
    let Unwrapped { name, inner } = match result {
        Ok(unwrapped) => unwrapped,
        Err(e) => return Step::Done(Decoded::Malformed(e)),
    };
    match inner {
        Inner::Ether(ether_type, bytes) => Step::Unwrapped(name, Next::Ether(ether_type, bytes)),
        Inner::Ethernet(frame) => Step::Unwrapped(name, Next::Ethernet(frame)),
        Inner::NotDecoded(tunnel) => Step::Done(Decoded::Skipped(Skipped::Tunnel(tunnel))),
        Inner::Control(kind) => Step::Done(Decoded::NotTcp(kind)),
    }
}

/// A UDP datagram: a tunnel by its ports, or plain UDP.
fn udp_payload<'a>(bytes: &'a [u8], sliced: Option<UdpSlice<'a>>) -> Step<'a> {
    let Some(udp) = sliced.or_else(|| UdpSlice::from_slice_lax(bytes).ok()) else {
        return Step::Done(Decoded::NotTcp(NotTcp::Udp));
    };
    match udp::parse_udp_tunnel(udp.source_port(), udp.destination_port(), udp.payload()) {
        Some(result) => unwrapped(result),
        None => Step::Done(Decoded::NotTcp(NotTcp::Udp)),
    }
}

fn extension_len(ext: &Ipv6ExtensionSlice<'_>) -> usize {
    match ext {
        Ipv6ExtensionSlice::HopByHop(h)
        | Ipv6ExtensionSlice::Routing(h)
        | Ipv6ExtensionSlice::DestinationOptions(h) => h.slice().len(),
        Ipv6ExtensionSlice::Fragment(f) => f.slice().len(),
        Ipv6ExtensionSlice::Authentication(a) => a.slice().len(),
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

/// Encapsulations found behind VLAN tags (etherparse stops there).
fn is_tagged_encapsulation(t: EtherType) -> bool {
    matches!(t, MPLS_UNICAST | MPLS_MULTICAST | PPPOE_SESSION)
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

/// A TCP segment from etherparse's slice, or parsed from `bytes` (a reassembled datagram).
fn tcp_segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    bytes: &'a [u8],
    sliced: Option<TcpSlice<'a>>,
    missing: u32,
) -> Decoded<'a> {
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
