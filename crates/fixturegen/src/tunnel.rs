//! Encapsulations a capture point in an enterprise network sees TCP inside:
//! GRE (RFC 2784/2890), ERSPAN types II and III (GRE protocol 0x88be and
//! 0x22eb, draft-foschiano-erspan-03 §4.1 and §4.2), VXLAN (RFC 7348 §5),
//! Geneve (RFC 8926 §3), an MPLS label stack (RFC 3032 §2.1), a PPPoE
//! session (RFC 2516 §4 with RFC 1661's protocol field) and IPv4 in IPv4
//! (RFC 2003).
//!
//! Takes the inner IP packet (and, for tunnels carrying whole frames, the
//! inner Ethernet header); gives every byte in front of the inner IP packet,
//! outer Ethernet header first. Written from the RFC layouts, not from the
//! analyzer's parsers. Never computes a GRE or UDP checksum (both are
//! optional and absent, as most tunnel endpoints send them).

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header};

use super::Error;
use crate::Dir;

/// One encapsulation around a conversation's IP packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tunnel {
    /// GRE carrying IPv4 (protocol 0x0800), with a key when given.
    Gre {
        /// RFC 2890 key.
        key: Option<u32>,
    },
    /// ERSPAN type II: GRE with a sequence number, ERSPAN header, mirrored Ethernet frame.
    ErspanII,
    /// ERSPAN type III: GRE with a sequence number, 12-byte ERSPAN header, mirrored frame.
    ErspanIII,
    /// VXLAN on UDP 4789 carrying an Ethernet frame.
    Vxlan,
    /// Geneve on UDP 6081 carrying an Ethernet frame (xmppcap does not decode it).
    Geneve,
    /// An MPLS stack of two labels, then IPv4.
    Mpls,
    /// A PPPoE session frame (EtherType 0x8864), PPP protocol 0x0021.
    Pppoe,
    /// IPv4 inside IPv4 (protocol 4).
    IpInIp,
}

/// The tunnel's outer endpoints: the client side's router and the server side's.
const OUTER_CLIENT: [u8; 4] = [172, 16, 0, 1];
const OUTER_SERVER: [u8; 4] = [172, 16, 0, 2];
/// Where a switch sends its ERSPAN mirror copies.
const COLLECTOR: [u8; 4] = [172, 16, 0, 9];
const OUTER_MAC_A: [u8; 6] = [0x00, 0x1b, 0x54, 0xc2, 0x00, 0x01];
const OUTER_MAC_B: [u8; 6] = [0x00, 0x1b, 0x54, 0xc2, 0x00, 0x02];

const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const UDP_VXLAN: u16 = 4789;
const UDP_GENEVE: u16 = 6081;
/// RFC 7348 §5: the I flag (VNI valid).
const VXLAN_FLAGS: u8 = 0x08;
const VNI: u32 = 5001;
const ERSPAN_SESSION: u16 = 42;
const PPPOE_SESSION: u16 = 0x1a2b;
/// Two labels: a transport label, then the service label at the bottom.
const MPLS_LABELS: [u32; 2] = [16_004, 24_010];

/// Everything in front of `ip`: outer headers and, for tunnels that carry
/// frames, `inner_eth` (the inner Ethernet header). `seq` numbers ERSPAN's
/// GRE sequence field.
pub fn prefix(
    tunnel: Tunnel,
    dir: Dir,
    inner_eth: &[u8],
    ip: &[u8],
    seq: u32,
) -> Result<Vec<u8>, Error> {
    let (src, dst) = match dir {
        Dir::ClientToServer => (OUTER_CLIENT, OUTER_SERVER),
        Dir::ServerToClient => (OUTER_SERVER, OUTER_CLIENT),
    };
    let mut out = Vec::with_capacity(64);
    match tunnel {
        Tunnel::Gre { key } => {
            let gre = gre_header(key);
            outer_ipv4(&mut out, dir, IpNumber::GRE, src, dst, gre.len() + ip.len())?;
            out.extend_from_slice(&gre);
        }
        Tunnel::ErspanII | Tunnel::ErspanIII => {
            let mut gre = erspan_gre(tunnel, seq);
            gre.extend_from_slice(inner_eth);
            // A mirror copy always travels from the switch to the collector.
            let (dir, len) = (Dir::ClientToServer, gre.len() + ip.len());
            outer_ipv4(&mut out, dir, IpNumber::GRE, OUTER_CLIENT, COLLECTOR, len)?;
            out.extend_from_slice(&gre);
        }
        Tunnel::Vxlan | Tunnel::Geneve => {
            let header = if tunnel == Tunnel::Vxlan {
                vxlan_header()
            } else {
                geneve_header()
            };
            let udp_len = 8 + header.len() + inner_eth.len() + ip.len();
            outer_ipv4(&mut out, dir, IpNumber::UDP, src, dst, udp_len)?;
            out.extend_from_slice(&udp_header(tunnel, dir, udp_len));
            out.extend_from_slice(&header);
            out.extend_from_slice(inner_eth);
        }
        Tunnel::Mpls => {
            out.extend_from_slice(&outer_eth(dir, EtherType(0x8847)));
            for (i, label) in MPLS_LABELS.into_iter().enumerate() {
                let bottom = u32::from(i + 1 == MPLS_LABELS.len());
                let entry = (label << 12) | (bottom << 8) | 64;
                out.extend_from_slice(&entry.to_be_bytes());
            }
        }
        Tunnel::Pppoe => {
            out.extend_from_slice(&outer_eth(dir, EtherType(0x8864)));
            out.extend_from_slice(&pppoe_header(ip.len()));
        }
        Tunnel::IpInIp => outer_ipv4(&mut out, dir, IpNumber::IPV4, src, dst, ip.len())?,
    }
    Ok(out)
}

/// RFC 2784 flags and protocol (IPv4), RFC 2890 key when given.
fn gre_header(key: Option<u32>) -> Vec<u8> {
    let mut gre = Vec::with_capacity(8);
    let flags = if key.is_some() { GRE_KEY } else { 0 };
    gre.extend_from_slice(&flags.to_be_bytes());
    gre.extend_from_slice(&EtherType::IPV4.0.to_be_bytes());
    if let Some(k) = key {
        gre.extend_from_slice(&k.to_be_bytes());
    }
    gre
}

/// GRE with a sequence number and the ERSPAN protocol type, then the ERSPAN header.
fn erspan_gre(tunnel: Tunnel, seq: u32) -> Vec<u8> {
    let mut gre = Vec::with_capacity(24);
    gre.extend_from_slice(&GRE_SEQUENCE.to_be_bytes());
    let protocol: u16 = if tunnel == Tunnel::ErspanII {
        0x88be
    } else {
        0x22eb
    };
    gre.extend_from_slice(&protocol.to_be_bytes());
    gre.extend_from_slice(&seq.to_be_bytes());
    gre.extend_from_slice(&erspan_header(tunnel, seq));
    gre
}

/// The UDP header of a VXLAN or Geneve datagram of `udp_len` bytes, no checksum.
fn udp_header(tunnel: Tunnel, dir: Dir, udp_len: usize) -> [u8; 8] {
    let port = if tunnel == Tunnel::Vxlan {
        UDP_VXLAN
    } else {
        UDP_GENEVE
    };
    // RFC 7348 §5: the source port is a hash of the inner flow; any fixed high port will do.
    let src_port: u16 = if dir == Dir::ClientToServer {
        51_234
    } else {
        51_235
    };
    let len = u16::try_from(udp_len).unwrap_or(u16::MAX);
    let mut h = [0u8; 8];
    h[..2].copy_from_slice(&src_port.to_be_bytes());
    h[2..4].copy_from_slice(&port.to_be_bytes());
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h
}

/// PPPoE session header (version/type 0x11, code 0, session, length) and
/// the PPP protocol field for IPv4; the length counts the PPP protocol
/// field and the datagram.
fn pppoe_header(ip_len: usize) -> [u8; 8] {
    let len = u16::try_from(2 + ip_len).unwrap_or(u16::MAX);
    let mut h = [0x11, 0x00, 0, 0, 0, 0, 0x00, 0x21];
    h[2..4].copy_from_slice(&PPPOE_SESSION.to_be_bytes());
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h
}

/// The outer Ethernet header; the client side's router is `OUTER_MAC_A`.
fn outer_eth(dir: Dir, ether_type: EtherType) -> [u8; 14] {
    let (source, destination) = match dir {
        Dir::ClientToServer => (OUTER_MAC_A, OUTER_MAC_B),
        Dir::ServerToClient => (OUTER_MAC_B, OUTER_MAC_A),
    };
    Ethernet2Header {
        source,
        destination,
        ether_type,
    }
    .to_bytes()
}

/// Outer Ethernet and IPv4 headers (checksum set) for `payload_len` bytes.
fn outer_ipv4(
    out: &mut Vec<u8>,
    dir: Dir,
    protocol: IpNumber,
    src: [u8; 4],
    dst: [u8; 4],
    payload_len: usize,
) -> Result<(), Error> {
    out.extend_from_slice(&outer_eth(dir, EtherType::IPV4));
    let len = u16::try_from(payload_len).map_err(Error::packet)?;
    let mut h = Ipv4Header::new(len, 255, protocol, src, dst).map_err(Error::packet)?;
    h.dont_fragment = true;
    h.header_checksum = h.calc_header_checksum();
    out.extend_from_slice(&h.to_bytes());
    Ok(())
}

/// ERSPAN II (8 bytes: version 1, VLAN 0; COS 0, En 0, T 0, session;
/// reserved, index) or III (12 bytes: version 2, VLAN 0; COS, BSO, T,
/// session; timestamp; SGT 0, P 0, frame type 0 (Ethernet), hardware id 1,
/// D 0, granularity 3 (IEEE 1588), O 0).
fn erspan_header(tunnel: Tunnel, seq: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(12);
    let version: u16 = if tunnel == Tunnel::ErspanII { 1 } else { 2 };
    h.extend_from_slice(&(version << 12).to_be_bytes());
    h.extend_from_slice(&ERSPAN_SESSION.to_be_bytes());
    if tunnel == Tunnel::ErspanII {
        // Reserved (12 bits) and index (20 bits): port index 7.
        h.extend_from_slice(&7u32.to_be_bytes());
    } else {
        h.extend_from_slice(&seq.wrapping_mul(1000).to_be_bytes());
        h.extend_from_slice(&0u16.to_be_bytes());
        let last: u16 = (1 << 4) | (3 << 1);
        h.extend_from_slice(&last.to_be_bytes());
    }
    h
}

fn vxlan_header() -> Vec<u8> {
    let mut h = vec![VXLAN_FLAGS, 0, 0, 0];
    h.extend_from_slice(&(VNI << 8).to_be_bytes());
    h
}

/// Geneve version 0, no options, protocol 0x6558 (Ethernet), VNI.
fn geneve_header() -> Vec<u8> {
    let mut h = vec![0, 0, 0x65, 0x58];
    h.extend_from_slice(&(VNI << 8).to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    const IP: [u8; 20] = [
        0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    ];

    #[test]
    fn gre_with_key_is_twelve_bytes_after_the_outer_ip() {
        let p = prefix(
            Tunnel::Gre { key: Some(7) },
            Dir::ClientToServer,
            &[],
            &IP,
            0,
        )
        .unwrap();
        assert_eq!(p.len(), 14 + 20 + 8);
        assert_eq!(&p[34..42], &[0x20, 0, 0x08, 0, 0, 0, 0, 7]);
        let (h, _) = Ipv4Header::from_slice(&p[14..]).unwrap();
        assert_eq!(usize::from(h.total_len), 20 + 8 + IP.len());
        assert_eq!(h.protocol, IpNumber::GRE);
        assert_eq!(h.header_checksum, h.calc_header_checksum());
    }

    #[test]
    fn vxlan_is_udp_4789_with_the_inner_frame_after_eight_bytes() {
        let eth = [0xaau8; 14];
        let p = prefix(Tunnel::Vxlan, Dir::ServerToClient, &eth, &IP, 0).unwrap();
        let mut frame = p.clone();
        frame.extend_from_slice(&IP);
        let s = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(TransportSlice::Udp(u)) = s.transport else {
            panic!("not udp")
        };
        assert_eq!(u.destination_port(), 4789);
        assert_eq!(usize::from(u.length()), 8 + 8 + 14 + IP.len());
        assert_eq!(&u.payload()[..8], &[8, 0, 0, 0, 0, 0x13, 0x89, 0]);
        assert!(matches!(s.net, Some(NetSlice::Ipv4(_))));
    }

    #[test]
    fn mpls_and_pppoe_lengths() {
        let p = prefix(Tunnel::Mpls, Dir::ClientToServer, &[], &IP, 0).unwrap();
        assert_eq!(p.len(), 14 + 8);
        // Only the second label has the bottom-of-stack bit.
        assert_eq!(p[16] & 1, 0);
        assert_eq!(p[20] & 1, 1);
        let p = prefix(Tunnel::Pppoe, Dir::ClientToServer, &[], &IP, 0).unwrap();
        assert_eq!(&p[12..14], &[0x88, 0x64]);
        assert_eq!(u16::from_be_bytes([p[18], p[19]]), 22);
        assert_eq!(&p[20..22], &[0, 0x21]);
    }

    #[test]
    fn erspan_types_have_their_versions() {
        let eth = [0u8; 14];
        let ii = prefix(Tunnel::ErspanII, Dir::ServerToClient, &eth, &IP, 5).unwrap();
        assert_eq!(&ii[34..38], &[0x10, 0, 0x88, 0xbe]);
        assert_eq!(ii[42] >> 4, 1);
        assert_eq!(ii.len(), 14 + 20 + 8 + 8 + 14);
        let iii = prefix(Tunnel::ErspanIII, Dir::ServerToClient, &eth, &IP, 5).unwrap();
        assert_eq!(&iii[36..38], &[0x22, 0xeb]);
        assert_eq!(iii[42] >> 4, 2);
        assert_eq!(iii.len(), 14 + 20 + 8 + 12 + 14);
    }
}
