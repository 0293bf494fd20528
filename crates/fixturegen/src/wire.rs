//! Renders model segments into link-layer frames with etherparse: IPv4 or
//! IPv6 (optionally with extension headers), TCP with options, IPv4
//! and IPv6 fragmentation, then Ethernet (plain, 802.1Q, stacked
//! 802.1ad/802.1Q, or inside a [`Tunnel`]), Linux SLL2, raw IP or BSD NULL
//! framing.
//!
//! Takes a [`Segment`] and a [`Wire`]; gives frames plus how many payload
//! bytes each carries. Never reorders or drops anything.

use std::net::IpAddr;

use etherparse::{
    EtherType, Ethernet2Header, IpFragOffset, IpHeaders, IpNumber, Ipv4Header, Ipv6Extensions,
    Ipv6FlowLabel, Ipv6Header, Ipv6RawExtHeader, PacketBuilder, SingleVlanHeader, TcpHeader,
    TcpOptionElement, VlanId, VlanPcp,
};

use super::frame::{Frame, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_RAW};
use super::tcp::Segment;
use super::tunnel::{self, Tunnel};
use super::Error;
use crate::Dir;

/// The link layer a conversation is captured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II, padded to the 60-byte minimum like a real NIC.
    Ethernet,
    /// Ethernet with one 802.1Q tag.
    Vlan(u16),
    /// Ethernet with an 802.1ad outer tag and an 802.1Q inner tag.
    QinQ(u16, u16),
    /// Linux cooked capture v2.
    Sll2,
    /// Raw IP, no link header.
    Raw,
    /// BSD loopback (address family, little-endian host order).
    Null,
    /// Ethernet frames carrying the packets inside a tunnel.
    Tunnel(Tunnel),
}

impl Link {
    /// The pcap link type of frames on this link.
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet | Link::Vlan(_) | Link::QinQ(..) | Link::Tunnel(_) => LINKTYPE_ETHERNET,
            Link::Sll2 => LINKTYPE_LINUX_SLL2,
            Link::Raw => LINKTYPE_RAW,
            Link::Null => LINKTYPE_NULL,
        }
    }
}

/// How a conversation's segments are put on the wire.
#[derive(Clone, Copy, Debug)]
pub struct Wire {
    /// Link framing.
    pub link: Link,
    /// pcapng interface id of the frames.
    pub iface: u32,
    /// IPv6 only: add a hop-by-hop and a destination-options header.
    pub ipv6_ext: bool,
}

impl Wire {
    /// Plain Ethernet on interface 0.
    pub fn ethernet() -> Wire {
        Wire {
            link: Link::Ethernet,
            iface: 0,
            ipv6_ext: false,
        }
    }

    /// The given link on interface 0.
    pub fn on(link: Link) -> Wire {
        Wire {
            link,
            ..Wire::ethernet()
        }
    }
}

/// A rendered frame and the TCP payload bytes it carries.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The frame.
    pub frame: Frame,
    /// Bytes in front of the TCP payload (link + IP + TCP headers); zero for
    /// a non-first IPv4 fragment.
    pub header_len: usize,
}

/// Renders one segment: one frame, or several IPv4 or IPv6 fragments.
pub fn render(seg: &Segment, wire: &Wire) -> Result<Vec<Rendered>, Error> {
    let ip = ip_packet(seg, wire)?;
    let tcp_header = 20 + if seg.mss.is_some() { 8 } else { 0 };
    let ip_header = ip.len() - seg.payload.len() - tcp_header;
    let packets = match (seg.fragment, seg.src.ip()) {
        (Some(size), IpAddr::V4(_)) => fragment_v4(&ip, size)?,
        (Some(size), IpAddr::V6(_)) => fragment_v6(&ip, size, seg.ip_id)?,
        _ => vec![ip],
    };
    let mut out = Vec::with_capacity(packets.len());
    for (i, packet) in packets.into_iter().enumerate() {
        let (data, link_len) = frame_link(seg, wire.link, packet)?;
        let ip_header = ip_header
            + if seg.fragment.is_some() && seg.src.is_ipv6() {
                8
            } else {
                0
            };
        let header_len = if i == 0 {
            link_len + ip_header + tcp_header
        } else {
            0
        };
        out.push(Rendered {
            frame: Frame::whole(seg.ts_ns, wire.iface, data),
            header_len,
        });
    }
    Ok(out)
}

fn ip_packet(seg: &Segment, wire: &Wire) -> Result<Vec<u8>, Error> {
    let headers = ip_headers(seg, wire)?;
    let mut tcp = TcpHeader::new(seg.src.port(), seg.dst.port(), seg.seq, seg.window);
    tcp.syn = seg.syn;
    tcp.fin = seg.fin;
    tcp.rst = seg.rst;
    tcp.psh = seg.psh;
    if let Some(ack) = seg.ack {
        tcp.ack = true;
        tcp.acknowledgment_number = ack;
    }
    if let Some(mss) = seg.mss {
        let options = [
            TcpOptionElement::MaximumSegmentSize(mss),
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::SelectiveAcknowledgementPermitted,
        ];
        tcp.set_options(&options).map_err(Error::packet)?;
    }
    let builder = PacketBuilder::ip(headers).tcp_header(tcp);
    let mut out = Vec::with_capacity(builder.size(seg.payload.len()));
    builder
        .write(&mut out, &seg.payload)
        .map_err(Error::packet)?;
    Ok(out)
}

fn ip_headers(seg: &Segment, wire: &Wire) -> Result<IpHeaders, Error> {
    match (seg.src.ip(), seg.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, s.octets(), d.octets())
                .map_err(Error::packet)?;
            h.identification = seg.ip_id;
            h.dont_fragment = seg.fragment.is_none();
            Ok(IpHeaders::Ipv4(h, Default::default()))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let h = Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::try_new(u32::from(seg.ip_id)).map_err(Error::packet)?,
                payload_length: 0,
                next_header: IpNumber::TCP,
                hop_limit: 64,
                source: s.octets(),
                destination: d.octets(),
            };
            let mut ext = Ipv6Extensions::default();
            if wire.ipv6_ext {
                // PadN options filling each header to 8 bytes.
                let pad = [1u8, 4, 0, 0, 0, 0];
                ext.hop_by_hop_options =
                    Some(Ipv6RawExtHeader::new_raw(IpNumber::TCP, &pad).map_err(Error::packet)?);
                ext.destination_options =
                    Some(Ipv6RawExtHeader::new_raw(IpNumber::TCP, &pad).map_err(Error::packet)?);
            }
            Ok(IpHeaders::Ipv6(h, ext))
        }
        _ => Err(Error::MixedFamilies(seg.src, seg.dst)),
    }
}

/// Splits an IPv4 packet (20-byte header) into fragments of `size` payload
/// bytes (rounded down to a multiple of 8).
fn fragment_v4(packet: &[u8], size: usize) -> Result<Vec<Vec<u8>>, Error> {
    let (header, payload) = Ipv4Header::from_slice(packet).map_err(Error::packet)?;
    let size = (size / 8).max(1) * 8;
    let chunks: Vec<&[u8]> = payload.chunks(size).collect();
    let last = chunks.len().saturating_sub(1);
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut h = header.clone();
        h.dont_fragment = false;
        h.more_fragments = i != last;
        h.fragment_offset = IpFragOffset::try_new((i * size / 8) as u16).map_err(Error::packet)?;
        h.set_payload_len(chunk.len()).map_err(Error::packet)?;
        h.header_checksum = h.calc_header_checksum();
        let mut p = h.to_bytes().to_vec();
        p.extend_from_slice(chunk);
        out.push(p);
    }
    Ok(out)
}

/// Splits an IPv6 packet (40-byte header, no extension headers) into
/// fragments of `size` payload bytes (rounded down to a multiple of 8), each
/// with a Fragment header (RFC 8200 §4.5) whose identification is `id`.
fn fragment_v6(packet: &[u8], size: usize, id: u16) -> Result<Vec<Vec<u8>>, Error> {
    let (header, payload) = Ipv6Header::from_slice(packet).map_err(Error::packet)?;
    let next = header.next_header;
    let size = (size / 8).max(1) * 8;
    let chunks: Vec<&[u8]> = payload.chunks(size).collect();
    let last = chunks.len().saturating_sub(1);
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut h = header.clone();
        h.next_header = IpNumber::IPV6_FRAGMENTATION_HEADER;
        h.set_payload_length(8 + chunk.len())
            .map_err(Error::packet)?;
        let mut p = h.to_bytes().to_vec();
        let offset = u16::try_from(i * size / 8).map_err(Error::packet)?;
        let offset_flags = (offset << 3) | u16::from(i != last);
        p.extend_from_slice(&[next.0, 0]);
        p.extend_from_slice(&offset_flags.to_be_bytes());
        p.extend_from_slice(&(0x6a00_0000 | u32::from(id)).to_be_bytes());
        p.extend_from_slice(chunk);
        out.push(p);
    }
    Ok(out)
}

fn mac(seg: &Segment, from: bool) -> [u8; 6] {
    let client = from == (seg.dir == Dir::ClientToServer);
    if client {
        [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]
    } else {
        [0x00, 0x50, 0x56, 0xa0, 0x12, 0x34]
    }
}

fn ether_type(ip: &[u8]) -> EtherType {
    if ip.first().is_some_and(|b| b >> 4 == 6) {
        EtherType::IPV6
    } else {
        EtherType::IPV4
    }
}

fn vlan(id: u16, ether_type: EtherType) -> [u8; 4] {
    SingleVlanHeader {
        pcp: VlanPcp::ZERO,
        drop_eligible_indicator: false,
        vlan_id: VlanId::try_new(id & 0x0fff).unwrap_or(VlanId::ZERO),
        ether_type,
    }
    .to_bytes()
}

/// The frame around `ip`, and how many bytes precede the IP packet in it.
fn frame_link(seg: &Segment, link: Link, ip: Vec<u8>) -> Result<(Vec<u8>, usize), Error> {
    let inner = ether_type(&ip);
    let eth = |ether_type| Ethernet2Header {
        source: mac(seg, true),
        destination: mac(seg, false),
        ether_type,
    };
    let mut out = Vec::with_capacity(ip.len() + 24);
    match link {
        Link::Ethernet => out.extend_from_slice(&eth(inner).to_bytes()),
        Link::Vlan(id) => {
            out.extend_from_slice(&eth(EtherType::VLAN_TAGGED_FRAME).to_bytes());
            out.extend_from_slice(&vlan(id, inner));
        }
        Link::QinQ(outer, inner_id) => {
            out.extend_from_slice(&eth(EtherType::PROVIDER_BRIDGING).to_bytes());
            out.extend_from_slice(&vlan(outer, EtherType::VLAN_TAGGED_FRAME));
            out.extend_from_slice(&vlan(inner_id, inner));
        }
        Link::Sll2 => out.extend_from_slice(&sll2(seg, inner)),
        Link::Raw => {}
        Link::Null => {
            let family: u32 = if inner == EtherType::IPV6 { 30 } else { 2 };
            out.extend_from_slice(&family.to_le_bytes());
        }
        Link::Tunnel(t) => {
            let seq = u32::from(seg.ip_id);
            out.extend_from_slice(&tunnel::prefix(
                t,
                seg.dir,
                &eth(inner).to_bytes(),
                &ip,
                seq,
            )?);
        }
    }
    let link_len = out.len();
    out.extend_from_slice(&ip);
    if link.linktype() == LINKTYPE_ETHERNET && out.len() < 60 {
        out.resize(60, 0);
    }
    Ok((out, link_len))
}

/// The 20-byte SLL2 header: protocol, reserved, ifindex, ARPHRD_ETHER,
/// packet type (host / outgoing), address length, sender MAC padded to 8.
fn sll2(seg: &Segment, protocol: EtherType) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0..2].copy_from_slice(&protocol.0.to_be_bytes());
    h[4..8].copy_from_slice(&2u32.to_be_bytes());
    h[8..10].copy_from_slice(&1u16.to_be_bytes());
    h[10] = if seg.dir == Dir::ClientToServer { 4 } else { 0 };
    h[11] = 6;
    h[12..18].copy_from_slice(&mac(seg, true));
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{ConvConfig, Conversation};
    use etherparse::{LaxSlicedPacket, NetSlice, SlicedPacket, TransportSlice};

    fn segs(client: &str, server: &str) -> Vec<Segment> {
        let cfg = ConvConfig::new(client.parse().unwrap(), server.parse().unwrap());
        let mut c = Conversation::new(0, cfg, 0);
        c.handshake();
        c.send(Dir::ClientToServer, &[b'x'; 3000]);
        c.drain()
    }

    fn tcp_payload(data: &[u8]) -> (u16, Vec<u8>) {
        let p = SlicedPacket::from_ethernet(data).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("no tcp")
        };
        (t.destination_port(), t.payload().to_vec())
    }

    #[test]
    fn every_link_reads_back() {
        let s = &segs("10.1.1.1:50000", "10.2.2.2:443")[3];
        for link in [Link::Ethernet, Link::Vlan(10), Link::QinQ(100, 200)] {
            let r = render(s, &Wire::on(link)).unwrap();
            assert_eq!(tcp_payload(&r[0].frame.data), (443, s.payload.clone()));
            assert_eq!(r[0].header_len + s.payload.len(), r[0].frame.data.len());
        }
        let raw = render(s, &Wire::on(Link::Raw)).unwrap();
        let p = SlicedPacket::from_ip(&raw[0].frame.data).unwrap();
        assert!(matches!(p.net, Some(NetSlice::Ipv4(_))));
        let sll = render(s, &Wire::on(Link::Sll2)).unwrap();
        assert_eq!(&sll[0].frame.data[20..], &raw[0].frame.data[..]);
        let null = render(s, &Wire::on(Link::Null)).unwrap();
        assert_eq!(&null[0].frame.data[..4], &[2, 0, 0, 0]);
    }

    #[test]
    fn small_ethernet_frames_are_padded() {
        let ack = &segs("10.1.1.1:50000", "10.2.2.2:443")[2];
        let r = render(ack, &Wire::ethernet()).unwrap();
        assert_eq!(r[0].frame.data.len(), 60);
        assert_eq!(tcp_payload(&r[0].frame.data).1, Vec::<u8>::new());
    }

    #[test]
    fn ipv6_extension_headers_are_chained() {
        let s = &segs("[2001:db8::1]:50000", "[2001:db8::2]:8445")[3];
        let wire = Wire {
            ipv6_ext: true,
            ..Wire::ethernet()
        };
        let r = render(s, &wire).unwrap();
        let p = LaxSlicedPacket::from_ethernet(&r[0].frame.data).unwrap();
        let Some(etherparse::LaxNetSlice::Ipv6(v6)) = &p.net else {
            panic!("not ipv6")
        };
        assert_eq!(v6.header().next_header(), IpNumber::IPV6_HEADER_HOP_BY_HOP);
        assert_eq!(tcp_payload(&r[0].frame.data).1, s.payload);
        assert_eq!(r[0].header_len + s.payload.len(), r[0].frame.data.len());
    }

    #[test]
    fn ipv6_fragments_carry_fragment_headers_and_reassemble() {
        let mut s = segs("[2001:db8::1]:50000", "[2001:db8::2]:8445")[3].clone();
        s.fragment = Some(500);
        let frags = render(&s, &Wire::ethernet()).unwrap();
        assert_eq!(frags.len(), 3);
        let mut ip_payload = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let (h, rest) = Ipv6Header::from_slice(&f.frame.data[14..]).unwrap();
            assert_eq!(h.next_header, IpNumber::IPV6_FRAGMENTATION_HEADER);
            assert_eq!(rest[0], 6, "next header TCP");
            let offset_flags = u16::from_be_bytes([rest[2], rest[3]]);
            assert_eq!(usize::from(offset_flags >> 3) * 8, ip_payload.len());
            assert_eq!(offset_flags & 1 == 1, i < 2, "more fragments");
            assert_eq!(usize::from(h.payload_length), rest.len());
            ip_payload.extend_from_slice(&rest[8..]);
        }
        assert_eq!(frags[0].header_len, 14 + 40 + 8 + 20);
        assert_eq!(&ip_payload[20..], &s.payload[..]);
    }

    #[test]
    fn fragments_reassemble_to_the_packet() {
        let mut s = segs("10.1.1.1:50000", "10.2.2.2:443")[3].clone();
        s.fragment = Some(500);
        let frags = render(&s, &Wire::ethernet()).unwrap();
        assert_eq!(frags.len(), 3);
        let mut ip_payload = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let (h, rest) = Ipv4Header::from_slice(&f.frame.data[14..]).unwrap();
            assert_eq!(h.more_fragments, i < 2);
            assert_eq!(usize::from(h.fragment_offset.value()) * 8, ip_payload.len());
            let n = usize::from(h.total_len) - 20;
            ip_payload.extend_from_slice(&rest[..n]);
        }
        assert_eq!(&ip_payload[20..], &s.payload[..]);
    }
}
