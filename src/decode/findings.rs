//! The codes of the findings the packet decoder reports.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the decoder
//! can notice in link, IP and TCP headers. Never reports on payloads.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the decoder notices in packets.
    pub enum FindingCode in Decode {
        /// A packet's headers are malformed; the packet is not decoded.
        Malformed => "decode.malformed", Warn;
        /// An IP datagram's fragments were dropped (overlap, cap or timeout); its payload is not decoded.
        FragmentDropped => "decode.fragment_dropped", Warn;
        /// Fragmented datagrams were still incomplete at the end of the capture; `warn` when no TCP at all was decoded.
        FragmentsIncomplete => "decode.fragments_incomplete", Info;
        /// Packets of a link type xmppcap does not decode; `warn` when no TCP at all was decoded.
        UnsupportedLink => "decode.unsupported_link", Info;
        /// Packets inside a tunnel xmppcap does not decode; `warn` when no TCP at all was decoded.
        TunnelNotDecoded => "decode.tunnel_not_decoded", Info;
        /// Packets that are not TCP over IP (UDP, ARP, ICMP…); `warn` when no TCP at all was decoded.
        NotDecoded => "decode.not_decoded", Info;
        /// Packets nesting more encapsulations than `max_encapsulation_depth`; `warn` when no TCP at all was decoded.
        NestingLimit => "decode.nesting_limit", Info;
    }
}
