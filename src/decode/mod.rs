//! Stage `decode`: link layer, IPv4/IPv6 and TCP headers of one packet.
//!
//! Takes a [`crate::capture::Packet`]; gives the TCP segment it carries (with
//! IPv4 fragments reassembled, bounded) or says why there is none. Never reads
//! past the captured bytes: a packet cut by the snapshot length decodes as far
//! as it goes and reports how many payload bytes are missing.
//!
//! etherparse's lax slicing does Ethernet, VLAN tags, Linux SLL, IP, IP
//! extension headers and TCP; `link` hand-parses only what it lacks (SLL2,
//! BSD NULL/LOOP, SLL with hardware types etherparse rejects), and `fragment`
//! bounds etherparse's per-datagram reassembly buffer.

use std::fmt;
use std::net::SocketAddr;

mod decoder;
mod fragment;
pub(crate) mod fuzz;
mod link;
mod stats;

pub use decoder::Decoder;
pub use stats::{DecodeStats, FragmentStats};

/// TCP header flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub urg: bool,
}

/// One TCP segment, borrowed from the packet (or from a reassembled IPv4 datagram).
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Raw window field (unscaled).
    pub window: u16,
    /// Payload bytes that were captured.
    pub payload: &'a [u8],
    /// Payload bytes announced by the IP length but not captured (snapshot length cut).
    /// The segment's sequence space covers `payload.len() + missing` bytes.
    pub missing: u32,
}

/// What one packet turned out to be.
#[derive(Clone, Debug)]
pub enum Decoded<'a> {
    /// A TCP segment (from the packet, or from the IPv4 datagram this fragment completed).
    Tcp(TcpSegment<'a>),
    /// A well-formed packet that carries no TCP.
    NotTcp(NotTcp),
    /// An IPv4 fragment, buffered until its datagram is complete.
    FragmentHeld,
    /// An IPv4 fragment whose datagram was dropped (a cap, an inconsistent
    /// overlap, a cut fragment); a finding says why.
    FragmentDropped,
    /// A link type xmppcap does not decode (counted in [`DecodeStats`]).
    UnsupportedLink(crate::capture::LinkType),
    /// A header that could not be read; a finding was emitted.
    Malformed(DecodeError),
}

/// What a packet without TCP carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotTcp {
    Arp,
    Udp,
    /// ICMPv4 or ICMPv6.
    Icmp,
    /// Any other IP protocol number (IGMP, GRE, ESP, IP-in-IP...).
    IpProtocol(u8),
    /// An IPv6 fragment (IPv6 fragments are not reassembled).
    Ipv6Fragment,
    /// A non-IP EtherType (or an 802.3 length field).
    EtherType(u16),
    /// A Linux SLL/SLL2 protocol that is not an EtherType (netlink, 802.2, CAN...).
    LinkProtocol(u16),
    /// A BSD NULL/LOOP address family other than IPv4/IPv6.
    AddressFamily(u32),
    /// Any kind past the first [`stats::MAX_NOT_TCP_KINDS`] counted (a hostile
    /// capture could otherwise make one counter per address family value).
    Other,
}

impl fmt::Display for NotTcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotTcp::Arp => f.write_str("arp"),
            NotTcp::Udp => f.write_str("udp"),
            NotTcp::Icmp => f.write_str("icmp"),
            NotTcp::IpProtocol(p) => write!(f, "ip_protocol_{p}"),
            NotTcp::Ipv6Fragment => f.write_str("ipv6_fragment"),
            NotTcp::EtherType(t) => write!(f, "ethertype_0x{t:04x}"),
            NotTcp::LinkProtocol(p) => write!(f, "link_protocol_0x{p:04x}"),
            NotTcp::AddressFamily(af) => write!(f, "address_family_{af}"),
            NotTcp::Other => f.write_str("other_kinds"),
        }
    }
}

/// Why a packet's headers could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A hand-parsed link-layer header (SLL, SLL2, NULL, LOOP) is cut short.
    #[error("{link} header cut short: needs {need} bytes, {have} captured")]
    LinkTruncated {
        link: &'static str,
        need: usize,
        have: usize,
    },
    /// etherparse stopped at this layer (Ethernet, VLAN, IP, IP extension or TCP header).
    #[error("{layer}: {error}")]
    Sliced {
        layer: etherparse::err::Layer,
        error: etherparse::err::packet::SliceError,
    },
}

impl DecodeError {
    /// A short stable name for the layer that failed, used in [`DecodeStats`].
    pub fn kind(&self) -> &'static str {
        use etherparse::err::Layer as L;
        match self {
            DecodeError::LinkTruncated { .. } => "link",
            DecodeError::Sliced { layer, .. } => match layer {
                L::LinuxSllHeader | L::Ethernet2Header | L::EtherPayload => "link",
                L::VlanHeader | L::MacsecHeader | L::MacsecPacket => "vlan",
                L::IpHeader | L::Ipv4Header | L::Ipv4Packet | L::Ipv6Header | L::Ipv6Packet => "ip",
                L::IpAuthHeader
                | L::Ipv6ExtHeader
                | L::Ipv6HopByHopHeader
                | L::Ipv6DestOptionsHeader
                | L::Ipv6RouteHeader
                | L::Ipv6FragHeader => "ip_extension",
                L::TcpHeader => "tcp",
                _ => "other",
            },
        }
    }
}
