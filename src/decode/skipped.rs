//! What the decoder skips: link types, tunnels and nestings it does not decode.
//!
//! Takes nothing; gives the [`Skipped`] and [`Tunnel`] vocabularies, each with
//! a stable key (`link_type_105`, `tunnel_geneve`) for counters and words for
//! findings. Never decides what is skipped: the decoder and the tunnel
//! parsers do.

use std::fmt;

/// Why a packet was not decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skipped {
    /// A link type (LINKTYPE_* number) xmppcap does not decode.
    Link(i32),
    /// A tunnel or encapsulation xmppcap does not decode.
    Tunnel(Tunnel),
    /// More encapsulations than `Limits::max_encapsulation_depth`.
    NestingLimit,
    /// Any kind past the first [`super::stats::MAX_SKIPPED_KINDS`] counted.
    Other,
}

/// An encapsulation recognised but not decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tunnel {
    /// Geneve (RFC 8926), UDP 6081.
    Geneve,
    /// GTP-U (3GPP TS 29.281), UDP 2152.
    GtpU,
    /// CAPWAP data channel (RFC 5415), UDP 5247.
    Capwap,
    /// L2TP (RFC 2661), UDP 1701.
    L2tp,
    /// Teredo (RFC 4380), UDP 3544.
    Teredo,
    /// VXLAN-GPE, UDP 4790.
    VxlanGpe,
    /// MPLS over UDP (RFC 7510), UDP 6635.
    MplsOverUdp,
    /// GRE over UDP (RFC 8086), UDP 4754.
    GreOverUdp,
    /// GRE version 1: PPTP's enhanced GRE (RFC 2637), usually encrypted PPP.
    Pptp,
    /// GRE carrying another protocol type (PPP 0x880b, WCCP 0x883e...).
    GreProtocol(u16),
    /// ERSPAN type III carrying a frame type other than Ethernet (tshark 4.0
    /// shows such frames as data too).
    ErspanFrameType(u8),
    /// An MPLS payload that is neither IP nor an Ethernet pseudowire.
    MplsPayload,
    /// A PPP data protocol other than IPv4/IPv6 inside PPPoE (compressed TCP/IP, MPLS...).
    PppProtocol(u16),
    /// An IP protocol carrying a tunnel: ESP (50), EtherIP (97), L2TPv3 (115), MPLS-in-IP (137).
    IpProtocol(u8),
}

/// IP protocols whose payload is a tunnel xmppcap does not decode.
pub(crate) fn tunnel_ip_protocol(protocol: u8) -> Option<Tunnel> {
    matches!(protocol, 50 | 97 | 115 | 137).then_some(Tunnel::IpProtocol(protocol))
}

impl Tunnel {
    /// In words, for findings.
    pub fn describe(self) -> String {
        match self {
            Tunnel::Geneve => "Geneve (UDP 6081)".to_owned(),
            Tunnel::GtpU => "GTP-U (UDP 2152)".to_owned(),
            Tunnel::Capwap => "CAPWAP data (UDP 5247)".to_owned(),
            Tunnel::L2tp => "L2TP (UDP 1701)".to_owned(),
            Tunnel::Teredo => "Teredo (UDP 3544)".to_owned(),
            Tunnel::VxlanGpe => "VXLAN-GPE (UDP 4790)".to_owned(),
            Tunnel::MplsOverUdp => "MPLS over UDP (UDP 6635)".to_owned(),
            Tunnel::GreOverUdp => "GRE over UDP (UDP 4754)".to_owned(),
            Tunnel::Pptp => "PPTP enhanced GRE (GRE version 1)".to_owned(),
            Tunnel::GreProtocol(p) => format!("GRE carrying protocol type 0x{p:04x}"),
            Tunnel::ErspanFrameType(t) => format!("ERSPAN type III frames of frame type {t}"),
            Tunnel::MplsPayload => "MPLS payloads neither IP nor Ethernet".to_owned(),
            Tunnel::PppProtocol(p) => format!("PPPoE carrying PPP protocol 0x{p:04x}"),
            Tunnel::IpProtocol(50) => "IPsec ESP (IP protocol 50, encrypted)".to_owned(),
            Tunnel::IpProtocol(97) => "EtherIP (IP protocol 97)".to_owned(),
            Tunnel::IpProtocol(115) => "L2TPv3 (IP protocol 115)".to_owned(),
            Tunnel::IpProtocol(137) => "MPLS in IP (IP protocol 137)".to_owned(),
            Tunnel::IpProtocol(p) => format!("IP protocol {p}"),
        }
    }
}

impl fmt::Display for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tunnel::Geneve => f.write_str("geneve"),
            Tunnel::GtpU => f.write_str("gtp_u"),
            Tunnel::Capwap => f.write_str("capwap"),
            Tunnel::L2tp => f.write_str("l2tp"),
            Tunnel::Teredo => f.write_str("teredo"),
            Tunnel::VxlanGpe => f.write_str("vxlan_gpe"),
            Tunnel::MplsOverUdp => f.write_str("mpls_over_udp"),
            Tunnel::GreOverUdp => f.write_str("gre_over_udp"),
            Tunnel::Pptp => f.write_str("pptp"),
            Tunnel::GreProtocol(p) => write!(f, "gre_protocol_0x{p:04x}"),
            Tunnel::ErspanFrameType(t) => write!(f, "erspan_frame_type_{t}"),
            Tunnel::MplsPayload => f.write_str("mpls_payload"),
            Tunnel::PppProtocol(p) => write!(f, "ppp_protocol_0x{p:04x}"),
            Tunnel::IpProtocol(p) => write!(f, "ip_protocol_{p}"),
        }
    }
}

impl Skipped {
    /// The finding code reporting this kind at the end of the capture.
    pub fn code(self) -> &'static str {
        match self {
            Skipped::Link(_) => "decode.unsupported_link",
            Skipped::Tunnel(_) => "decode.tunnel_not_decoded",
            Skipped::Other => "decode.not_decoded",
            Skipped::NestingLimit => "decode.nesting_limit",
        }
    }

    /// What was skipped, in words.
    pub fn describe(self) -> String {
        match self {
            Skipped::Link(lt) => match link_type_name(lt) {
                Some(name) => format!("link type {lt} ({name})"),
                None => format!("link type {lt}"),
            },
            Skipped::Tunnel(t) => t.describe(),
            Skipped::NestingLimit => {
                "encapsulations nested deeper than max_encapsulation_depth".to_owned()
            }
            Skipped::Other => {
                "other link types or tunnels (past the kinds counted one by one)".to_owned()
            }
        }
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::Link(lt) => write!(f, "link_type_{lt}"),
            Skipped::Tunnel(t) => write!(f, "tunnel_{t}"),
            Skipped::NestingLimit => f.write_str("nesting_limit"),
            Skipped::Other => f.write_str("other_kinds"),
        }
    }
}

/// Names of link types seen in the field that xmppcap does not decode
/// (libpcap's `pcap-linktype` list).
fn link_type_name(link_type: i32) -> Option<&'static str> {
    Some(match link_type {
        6 => "IEEE 802.5 Token Ring",
        9 => "PPP",
        10 => "FDDI",
        50 => "PPP in HDLC framing",
        51 => "PPPoE",
        104 => "Cisco HDLC",
        105 => "IEEE 802.11",
        107 => "Frame Relay",
        119 => "Prism 802.11",
        127 => "802.11 radiotap",
        143 => "DOCSIS",
        163 => "AVS 802.11",
        189 => "Linux USB",
        195 => "IEEE 802.15.4",
        201 => "Bluetooth HCI",
        220 => "Linux USB (memory-mapped)",
        227 => "SocketCAN",
        247 => "InfiniBand",
        252 => "Wireshark upper PDU",
        253 => "Linux netlink",
        254 => "Bluetooth Linux monitor",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_words() {
        assert_eq!(Skipped::Link(247).to_string(), "link_type_247");
        assert_eq!(Skipped::Link(247).describe(), "link type 247 (InfiniBand)");
        assert_eq!(Skipped::Link(9999).describe(), "link type 9999");
        assert_eq!(
            Skipped::Tunnel(Tunnel::GreProtocol(0x880b)).to_string(),
            "tunnel_gre_protocol_0x880b"
        );
        assert_eq!(
            Skipped::Tunnel(Tunnel::Geneve).code(),
            "decode.tunnel_not_decoded"
        );
        assert_eq!(Skipped::NestingLimit.code(), "decode.nesting_limit");
        assert_eq!(tunnel_ip_protocol(50), Some(Tunnel::IpProtocol(50)));
        assert_eq!(tunnel_ip_protocol(89), None);
        assert!(Tunnel::IpProtocol(50).describe().contains("ESP"));
    }
}
