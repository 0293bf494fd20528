//! Packets for the decoder's tests: each encapsulation written byte by byte
//! from its specification (cited on each builder) around IP and TCP headers
//! built with etherparse.
//!
//! Takes the fields a test varies; gives whole packets as byte vectors. Uses
//! only `std` and `etherparse`, so that the very same packets could be
//! written to pcap files and shown to tshark (what tshark said about them is
//! recorded next to the tests that use them). Never used outside tests.

use etherparse::{IpNumber, Ipv4Header, Ipv6FragmentHeader, Ipv6Header, PacketBuilder, TcpHeader};

pub(crate) const CLIENT: [u8; 4] = [10, 1, 0, 1];
pub(crate) const SERVER: [u8; 4] = [10, 2, 0, 2];
pub(crate) const CLIENT6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(crate) const SERVER6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// Outer (tunnel endpoint) addresses.
pub(crate) const OUTER_A: [u8; 4] = [192, 0, 2, 1];
pub(crate) const OUTER_B: [u8; 4] = [192, 0, 2, 2];

/// The TCP header fields a test varies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tcp {
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) seq: u32,
    pub(crate) ack: Option<u32>,
    pub(crate) syn: bool,
    pub(crate) fin: bool,
    pub(crate) rst: bool,
}

impl Tcp {
    /// A data segment (ACK + PSH) from the client's port 40000 to 5222.
    pub(crate) fn data(seq: u32, ack: u32) -> Tcp {
        Tcp {
            sport: 40000,
            dport: 5222,
            seq,
            ack: Some(ack),
            syn: false,
            fin: false,
            rst: false,
        }
    }

    pub(crate) fn header(&self) -> TcpHeader {
        let mut h = TcpHeader::new(self.sport, self.dport, self.seq, 8192);
        h.syn = self.syn;
        h.fin = self.fin;
        h.rst = self.rst;
        if let Some(ack) = self.ack {
            h.ack = true;
            h.acknowledgment_number = ack;
        }
        h.psh = !self.syn && !self.rst;
        h
    }
}

/// IPv4 + TCP (RFC 791, RFC 9293) with valid checksums.
pub(crate) fn ipv4_tcp(src: [u8; 4], dst: [u8; 4], tcp: Tcp, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let h = tcp.header();
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(
        h.source_port,
        h.destination_port,
        h.sequence_number,
        h.window_size,
    );
    if h.syn {
        b = b.syn();
    }
    if h.fin {
        b = b.fin();
    }
    if h.rst {
        b = b.rst();
    }
    if h.ack {
        b = b.ack(h.acknowledgment_number);
    }
    if h.psh {
        b = b.psh();
    }
    b.write(&mut out, payload).expect("a test packet fits");
    out
}

/// IPv6 + TCP (RFC 8200, RFC 9293).
pub(crate) fn ipv6_tcp(src: [u8; 16], dst: [u8; 16], tcp: Tcp, payload: &[u8]) -> Vec<u8> {
    let mut segment = tcp.header();
    let mut out = Vec::new();
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Default::default(),
        payload_length: (segment.header_len() + payload.len()) as u16,
        next_header: IpNumber::TCP,
        hop_limit: 64,
        source: src,
        destination: dst,
    };
    segment.checksum = segment
        .calc_checksum_ipv6(&ip, payload)
        .expect("a test packet fits");
    ip.write(&mut out).expect("writing to a Vec");
    segment.write(&mut out).expect("writing to a Vec");
    out.extend_from_slice(payload);
    out
}

/// An IPv4 header (RFC 791, no options, checksum set) carrying `protocol`.
pub(crate) fn ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Ipv4Header::new(payload.len() as u16, 64, IpNumber(protocol), src, dst)
        .expect("a test packet fits");
    h.header_checksum = h.calc_header_checksum();
    let mut out = h.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// An IPv6 header (RFC 8200 §3) carrying `next_header`.
pub(crate) fn ipv6(src: [u8; 16], dst: [u8; 16], next_header: u8, payload: &[u8]) -> Vec<u8> {
    let h = Ipv6Header {
        traffic_class: 0,
        flow_label: Default::default(),
        payload_length: payload.len() as u16,
        next_header: IpNumber(next_header),
        hop_limit: 64,
        source: src,
        destination: dst,
    };
    let mut out = h.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// UDP (RFC 768) over IPv4, checksum set.
pub(crate) fn ipv4_udp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .expect("a test packet fits");
    out
}

/// Ethernet II (IEEE 802.3 clause 3, no FCS) between two locally administered addresses.
pub(crate) fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    out.extend_from_slice(&ether_type.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// GRE options (RFC 2784 §2.1 checksum, RFC 2890 §2 key and sequence number).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GreOptions {
    pub(crate) checksum: bool,
    pub(crate) key: Option<u32>,
    pub(crate) sequence: Option<u32>,
}

/// A GRE header (RFC 2784 §2, RFC 2890 §2), version 0, then `payload`:
/// `C|R|K|S|s|Recur(3)|Flags(5)|Ver(3)`, protocol type, then checksum and
/// reserved1 (if C), key (if K), sequence number (if S).
pub(crate) fn gre(options: GreOptions, protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u16;
    if options.checksum {
        flags |= 0x8000;
    }
    if options.key.is_some() {
        flags |= 0x2000;
    }
    if options.sequence.is_some() {
        flags |= 0x1000;
    }
    let mut out = flags.to_be_bytes().to_vec();
    out.extend_from_slice(&protocol.to_be_bytes());
    let checksum_at = out.len();
    if options.checksum {
        out.extend_from_slice(&[0; 4]);
    }
    if let Some(key) = options.key {
        out.extend_from_slice(&key.to_be_bytes());
    }
    if let Some(seq) = options.sequence {
        out.extend_from_slice(&seq.to_be_bytes());
    }
    out.extend_from_slice(payload);
    if options.checksum {
        let sum = ones_complement(&out);
        out[checksum_at..checksum_at + 2].copy_from_slice(&sum.to_be_bytes());
    }
    out
}

/// The Internet checksum (RFC 1071) of `bytes`.
fn ones_complement(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// ERSPAN type I (draft-foschiano-erspan-03 §4.1): GRE protocol 0x88BE
/// without a sequence number, then the mirrored frame, no ERSPAN header.
pub(crate) fn erspan1(frame: &[u8]) -> Vec<u8> {
    gre(GreOptions::default(), 0x88be, frame)
}

/// ERSPAN type II (draft-foschiano-erspan-03 §4.2): GRE protocol 0x88BE
/// with a sequence number, then `Ver(4)=1|VLAN(12)`, `COS(3)|En(2)|T(1)|
/// Session ID(10)`, `Reserved(12)|Index(20)`, then the mirrored frame.
pub(crate) fn erspan2(session: u16, index: u32, frame: &[u8]) -> Vec<u8> {
    let mut header = (0x1000u16 | 100).to_be_bytes().to_vec();
    header.extend_from_slice(&(session & 0x3ff).to_be_bytes());
    header.extend_from_slice(&(index & 0xf_ffff).to_be_bytes());
    header.extend_from_slice(frame);
    let options = GreOptions {
        sequence: Some(7),
        ..GreOptions::default()
    };
    gre(options, 0x88be, &header)
}

/// ERSPAN type III (draft-foschiano-erspan-03 §4.3; Wireshark's
/// packet-erspan.c): GRE protocol 0x22EB with a sequence number, then
/// `Ver(4)=2|VLAN(12)`, `COS(3)|BSO(2)|T(1)|Session ID(10)`, Timestamp(32),
/// SGT(16), `P(1)|FT(5)|HW ID(6)|D(1)|Gra(2)|O(1)`, the 8-byte platform
/// sub-header if O, then the mirrored frame (FT 0: Ethernet).
pub(crate) fn erspan3(frame_type: u8, subheader: bool, frame: &[u8]) -> Vec<u8> {
    let mut header = (0x2000u16 | 100).to_be_bytes().to_vec();
    header.extend_from_slice(&5u16.to_be_bytes());
    header.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes());
    let last = u16::from(frame_type & 0x1f) << 10 | 0x0002 | u16::from(subheader);
    header.extend_from_slice(&last.to_be_bytes());
    if subheader {
        // Platform ID 3 (6 bits), port index, then the upper timestamp word.
        header.extend_from_slice(&(3u32 << 26 | 17).to_be_bytes());
        header.extend_from_slice(&0u32.to_be_bytes());
    }
    header.extend_from_slice(frame);
    let options = GreOptions {
        sequence: Some(9),
        ..GreOptions::default()
    };
    gre(options, 0x22eb, &header)
}

/// VXLAN (RFC 7348 §5): `Flags(8)` with I = 0x08, Reserved(24), VNI(24),
/// Reserved(8), then the inner Ethernet frame.
pub(crate) fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut out = vec![0x08, 0, 0, 0];
    out.extend_from_slice(&(vni << 8).to_be_bytes());
    out.extend_from_slice(frame);
    out
}

/// An MPLS label stack (RFC 3032 §2.1): `Label(20)|TC(3)|S(1)|TTL(8)` per
/// entry, S set on the last one unless `bottom` is false.
pub(crate) fn mpls(labels: &[u32], bottom: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let s = u32::from(bottom && i + 1 == labels.len());
        out.extend_from_slice(&((label & 0xf_ffff) << 12 | s << 8 | 64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// The generic pseudowire MPLS control word (RFC 4385 §3): `0000|Flags(4)|
/// FRG(2)|Length(6)|Sequence Number(16)`.
pub(crate) fn pw_control_word(sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A PPPoE session packet (RFC 2516 §4: `Ver(4)=1|Type(4)=1`, Code 0,
/// Session ID, Length) carrying a PPP frame (RFC 1661 §2: protocol, then
/// the datagram).
pub(crate) fn pppoe(session: u16, ppp_protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x11, 0x00];
    out.extend_from_slice(&session.to_be_bytes());
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&ppp_protocol.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits an IPv6 packet's payload after `unfragmentable` bytes of
/// extension headers into fragments carrying `sizes` bytes each (RFC 8200
/// §4.5: the unfragmentable part is repeated in every fragment, the Fragment
/// header's Next Header names the first header of the fragmentable part).
pub(crate) fn ipv6_fragments(
    packet: &[u8],
    unfragmentable: usize,
    id: u32,
    sizes: &[usize],
) -> Vec<Vec<u8>> {
    let (header, rest) = Ipv6Header::from_slice(packet).expect("an IPv6 test packet");
    let (unfrag, fragmentable) = rest.split_at(unfragmentable);
    // The header naming the fragmentable part: the IPv6 header, or the last
    // extension header of the unfragmentable part.
    let first_fragmentable = if unfragmentable == 0 {
        header.next_header
    } else {
        last_next_header(header.next_header, unfrag)
    };
    let mut out = Vec::new();
    let mut offset = 0usize;
    for (i, &size) in sizes.iter().enumerate() {
        let more = i + 1 < sizes.len();
        let frag = Ipv6FragmentHeader::new(
            first_fragmentable,
            etherparse::IpFragOffset::try_new((offset / 8) as u16).expect("offset fits"),
            more,
            id,
        );
        let chunk = &fragmentable[offset..offset + size];
        let mut h = header.clone();
        h.payload_length = (unfrag.len() + 8 + chunk.len()) as u16;
        let mut unfrag = unfrag.to_vec();
        if unfragmentable == 0 {
            h.next_header = IpNumber::IPV6_FRAGMENTATION_HEADER;
        } else {
            set_last_next_header(
                &mut unfrag,
                h.next_header,
                IpNumber::IPV6_FRAGMENTATION_HEADER,
            );
        }
        let mut f = h.to_bytes().to_vec();
        f.extend_from_slice(&unfrag);
        f.extend_from_slice(&frag.to_bytes());
        f.extend_from_slice(chunk);
        out.push(f);
        offset += size;
    }
    out
}

/// Generic IPv6 extension headers (RFC 8200 §4: Next Header, Hdr Ext Len in
/// 8-octet units not counting the first 8, then zero padding) in a chain.
fn walk(first: IpNumber, exts: &[u8]) -> Vec<(usize, IpNumber)> {
    let mut at = 0;
    let mut kind = first;
    let mut out = Vec::new();
    while at < exts.len() {
        out.push((at, kind));
        kind = IpNumber(exts[at]);
        at += (usize::from(exts[at + 1]) + 1) * 8;
    }
    out
}

fn last_next_header(first: IpNumber, exts: &[u8]) -> IpNumber {
    let last = walk(first, exts).last().map_or(0, |e| e.0);
    IpNumber(exts[last])
}

fn set_last_next_header(exts: &mut [u8], first: IpNumber, to: IpNumber) {
    let last = walk(first, exts).last().map_or(0, |e| e.0);
    exts[last] = to.0;
}

/// One generic extension header of `len` bytes (a multiple of 8) naming `next`.
pub(crate) fn ipv6_extension(next: u8, len: usize) -> Vec<u8> {
    let mut ext = vec![0u8; len];
    ext[0] = next;
    ext[1] = (len / 8 - 1) as u8;
    // A PadN option filling the rest (RFC 8200 §4.2), so the header is valid as options too.
    if len > 2 {
        ext[2] = 1;
        ext[3] = (len - 4) as u8;
    }
    ext
}
