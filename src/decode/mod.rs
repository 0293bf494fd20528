//! Stage `decode`: link layer, encapsulations, IPv4/IPv6 and TCP headers of one packet.
//!
//! Takes a [`crate::capture::Packet`]; gives the TCP segment it carries (with
//! IPv4 and IPv6 fragments reassembled, bounded, and tunnels unwrapped down to
//! the innermost IP header) or says why there is none; at the end of the
//! capture, [`Decoder::finish`] gives one finding per kind of traffic it could
//! not decode. Never reads past the captured bytes: a packet cut by the
//! snapshot length decodes as far as it goes and reports how many payload
//! bytes are missing. Never unwraps more than `Limits::max_encapsulation_depth`
//! encapsulations in one packet.
//!
//! etherparse's lax slicing does Ethernet, VLAN tags, Linux SLL, IP, IP
//! extension headers, UDP and TCP; `link` hand-parses the link layers it
//! lacks (SLL2, BSD NULL/LOOP, SLL with hardware types etherparse rejects),
//! `tunnel` the encapsulations (GRE, ERSPAN, VXLAN, MPLS, PPPoE), both with a
//! bounds-checked [`cursor::Cursor`]; `fragment` bounds etherparse's
//! per-datagram reassembly buffer.
//!
//! # What is decoded
//! GRE version 0 (RFC 2784/2890: checksum, key, sequence number; RFC 1701
//! routing) carrying IPv4, IPv6, MPLS, VLAN-tagged or bridged Ethernet
//! (0x6558) and ERSPAN types I, II and III (Ethernet frames); VXLAN on UDP
//! 4789 and 8472 (tshark 4.0 decodes only 4789 unless told); MPLS label
//! stacks followed by IPv4, IPv6 or an Ethernet pseudowire with or without a
//! control word (Wireshark's guess, see `tunnel::mpls`); PPPoE sessions
//! carrying IPv4 or IPv6; IPv4 and IPv6 inside IPv4 or IPv6 (protocols 4 and
//! 41). Tunnelled TCP keeps its inner addresses and ports, which is how
//! Wireshark numbers `tcp.stream`.
//!
//! # What is skipped, and said
//! Unsupported link types, tunnels not decoded ([`Tunnel`]: Geneve, GTP-U,
//! CAPWAP, L2TP, Teredo, VXLAN-GPE, PPTP, IPsec ESP, other GRE or PPP
//! payloads...) and packets nested deeper than the cap are counted per kind
//! in [`DecodeStats::skipped`] (packets, bytes, first frame) and reported by
//! [`Decoder::finish`]: `decode.unsupported_link`, `decode.tunnel_not_decoded`,
//! `decode.nesting_limit`, and `decode.fragments_incomplete` for fragments
//! never completed; level `warn` when no TCP at all was decoded, else `info`.
//! Plain non-TCP traffic (ARP, DNS, ICMP...) is counted, not reported.

use std::fmt;
use std::net::SocketAddr;

mod cursor;
mod decoder;
mod fragment;
pub(crate) mod fuzz;
mod link;
mod net;
mod skipped;
mod stats;
#[cfg(test)]
pub(crate) mod testkit;
mod tunnel;

pub use decoder::Decoder;
pub use skipped::{Skipped, Tunnel};
pub use stats::{DecodeStats, FragmentStats, SkippedCount};

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
    /// A TCP segment (from the packet, or from the IP datagram this fragment completed).
    Tcp(TcpSegment<'a>),
    /// A well-formed packet that carries no TCP.
    NotTcp(NotTcp),
    /// An IPv4 or IPv6 fragment, buffered until its datagram is complete.
    FragmentHeld,
    /// An IP fragment whose datagram was dropped (a cap, an inconsistent
    /// overlap, a cut fragment); a finding says why.
    FragmentDropped,
    /// A packet xmppcap does not decode (a link type, a tunnel, too deep a
    /// nesting): counted in [`DecodeStats::skipped`] and reported at the end.
    Skipped(Skipped),
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
    /// Any other IP protocol number (IGMP, OSPF, VRRP, PIM, SCTP...).
    IpProtocol(u8),
    /// A non-IP EtherType (or an 802.3 length field).
    EtherType(u16),
    /// A Linux SLL/SLL2 protocol that is not an EtherType (netlink, 802.2, CAN...).
    LinkProtocol(u16),
    /// A BSD NULL/LOOP address family other than IPv4/IPv6.
    AddressFamily(u32),
    /// A PPP control protocol inside PPPoE (LCP, IPCP, IPV6CP...).
    PppControl(u16),
    /// MPLS OAM and pseudowire control channels (RFC 4385, RFC 5586).
    MplsControl,
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
            NotTcp::EtherType(t) => write!(f, "ethertype_0x{t:04x}"),
            NotTcp::LinkProtocol(p) => write!(f, "link_protocol_0x{p:04x}"),
            NotTcp::AddressFamily(af) => write!(f, "address_family_{af}"),
            NotTcp::PppControl(p) => write!(f, "ppp_control_0x{p:04x}"),
            NotTcp::MplsControl => f.write_str("mpls_control_channel"),
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
    /// A hand-parsed encapsulation header is cut short.
    #[error("{} header cut short: needs {need} bytes, {have} captured", header.name())]
    Truncated {
        header: Header,
        need: usize,
        have: usize,
    },
    /// A header field holds a value the decoder cannot follow.
    #[error("{}: {field} is {value:#x}, expected {expected}", header.name())]
    Field {
        header: Header,
        field: &'static str,
        value: u32,
        expected: &'static str,
    },
    /// An MPLS label stack ends without an entry whose bottom-of-stack bit is set.
    #[error("MPLS label stack of {labels} entries has no bottom-of-stack entry")]
    NoBottomOfStack { labels: usize },
}

/// A header decoded by hand (encapsulations etherparse does not parse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    Gre,
    Erspan,
    Vxlan,
    Mpls,
    Pppoe,
    Ppp,
    Ipv6Fragment,
}

impl Header {
    /// The protocol's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Header::Gre => "GRE",
            Header::Erspan => "ERSPAN",
            Header::Vxlan => "VXLAN",
            Header::Mpls => "MPLS",
            Header::Pppoe => "PPPoE",
            Header::Ppp => "PPP",
            Header::Ipv6Fragment => "IPv6 fragment",
        }
    }

    /// The key counting malformed headers in [`DecodeStats::malformed`].
    pub fn key(self) -> &'static str {
        match self {
            Header::Gre => "gre",
            Header::Erspan => "erspan",
            Header::Vxlan => "vxlan",
            Header::Mpls => "mpls",
            Header::Pppoe | Header::Ppp => "pppoe",
            Header::Ipv6Fragment => "ip_extension",
        }
    }
}

impl DecodeError {
    /// A short stable name for the layer that failed, used in [`DecodeStats`].
    pub fn kind(&self) -> &'static str {
        use etherparse::err::Layer as L;
        match self {
            DecodeError::LinkTruncated { .. } => "link",
            DecodeError::Truncated { header, .. } | DecodeError::Field { header, .. } => {
                header.key()
            }
            DecodeError::NoBottomOfStack { .. } => "mpls",
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
