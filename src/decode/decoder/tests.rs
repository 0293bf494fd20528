//! Decoder tests: packets built with etherparse's PacketBuilder (or by hand
//! from RFC 791/8200/9293 layouts where the builder has no option), fed whole,
//! cut at every length, and with each malformed field.

use std::net::SocketAddr;

use etherparse::err::ip::HeaderError as IpHeaderError;
use etherparse::err::packet::SliceError;
use etherparse::err::tcp::HeaderError as TcpHeaderError;
use etherparse::err::{Layer, LenError};
use etherparse::{IpFragOffset, Ipv4Header, PacketBuilder, TcpHeader};

use super::*;
use crate::capture::LinkType;
use crate::decode::{DecodeError, FragmentStats, NotTcp, TcpFlags};
use crate::finding::Finding;
use crate::position::{FrameRef, Timestamp};

const PAYLOAD: &[u8] = b"<presence/>";

/// A decoded packet, owned, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Got {
    Tcp {
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
        payload: Vec<u8>,
        missing: u32,
    },
    NotTcp(NotTcp),
    Held,
    Dropped,
    Skipped(Skipped),
    Malformed(DecodeError),
}

fn got(decoded: Decoded<'_>) -> Got {
    match decoded {
        Decoded::Tcp(s) => Got::Tcp {
            src: s.src,
            dst: s.dst,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: s.window,
            payload: s.payload.to_vec(),
            missing: s.missing,
        },
        Decoded::NotTcp(k) => Got::NotTcp(k),
        Decoded::FragmentHeld => Got::Held,
        Decoded::FragmentDropped => Got::Dropped,
        Decoded::Skipped(kind) => Got::Skipped(kind),
        Decoded::Malformed(e) => Got::Malformed(e),
    }
}

pub(super) fn feed(
    decoder: &mut Decoder,
    link_type: i32,
    data: &[u8],
    frame: u64,
    findings: &mut Vec<Finding>,
) -> Got {
    let packet = Packet {
        at: FrameRef::new(
            frame,
            Timestamp::from_secs_nanos(1_700_000_000 + frame as i64, 0),
        ),
        link_type: LinkType(link_type),
        data,
        orig_len: data.len() as u32,
        interface: 0,
    };
    got(decoder.on_packet(&packet, findings))
}

fn decode(link_type: i32, data: &[u8]) -> (Got, Vec<Finding>) {
    let mut findings = Vec::new();
    let got = feed(
        &mut Decoder::new(&Limits::default()),
        link_type,
        data,
        1,
        &mut findings,
    );
    (got, findings)
}

fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 5222, 1000, 4096)
        .ack(77)
        .psh()
        .write(&mut out, payload)
        .unwrap();
    out
}

fn ipv6_tcp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let src = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    PacketBuilder::ipv6(src, dst, 64)
        .tcp(40000, 443, 5, 100)
        .syn()
        .write(&mut out, payload)
        .unwrap();
    out
}

fn expected_v4(payload: &[u8], missing: u32) -> Got {
    Got::Tcp {
        src: "10.0.0.1:40000".parse().unwrap(),
        dst: "10.0.0.2:5222".parse().unwrap(),
        seq: 1000,
        ack: 77,
        flags: TcpFlags {
            ack: true,
            psh: true,
            ..TcpFlags::default()
        },
        window: 4096,
        payload: payload.to_vec(),
        missing,
    }
}

fn expected_v6(payload: &[u8]) -> Got {
    Got::Tcp {
        src: "[2001:db8::1]:40000".parse().unwrap(),
        dst: "[2001:db8::2]:443".parse().unwrap(),
        seq: 5,
        ack: 0,
        flags: TcpFlags {
            syn: true,
            ..TcpFlags::default()
        },
        window: 100,
        payload: payload.to_vec(),
        missing: 0,
    }
}

fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    out.extend_from_slice(&ether_type.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Ethernet with VLAN tags (TPIDs in order), then IPv4.
fn tagged(tpids: &[u16], ip: &[u8]) -> Vec<u8> {
    let Some((&first, rest)) = tpids.split_first() else {
        return ethernet(0x0800, ip);
    };
    let mut inner = Vec::new();
    for (i, next) in rest.iter().chain(std::iter::once(&0x0800u16)).enumerate() {
        inner.extend_from_slice(&(100 + i as u16).to_be_bytes());
        inner.extend_from_slice(&next.to_be_bytes());
    }
    inner.extend_from_slice(ip);
    ethernet(first, &inner)
}

fn sll(protocol: u16, hatype: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&hatype.to_be_bytes());
    out.extend_from_slice(&[0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
    out.extend_from_slice(&protocol.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn sll2(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = protocol.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
    out.extend_from_slice(payload);
    out
}

fn prefixed(header: &[u8], payload: &[u8]) -> Vec<u8> {
    [header, payload].concat()
}

#[test]
fn ipv4_tcp_on_every_supported_link_type() {
    let ip = ipv4_tcp(PAYLOAD);
    let cases: Vec<(i32, Vec<u8>)> = vec![
        (1, ethernet(0x0800, &ip)),
        (113, sll(0x0800, 1, &ip)),
        (113, sll(0x0800, 772, &ip)),
        (276, sll2(0x0800, &ip)),
        (101, ip.clone()),
        (12, ip.clone()),
        (14, ip.clone()),
        (228, ip.clone()),
        (0, prefixed(&2u32.to_le_bytes(), &ip)),
        (0, prefixed(&2u32.to_be_bytes(), &ip)),
        (108, prefixed(&2u32.to_be_bytes(), &ip)),
    ];
    for (link_type, data) in cases {
        assert_eq!(
            decode(link_type, &data),
            (expected_v4(PAYLOAD, 0), vec![]),
            "link type {link_type}"
        );
    }
}

#[test]
fn ipv6_tcp_on_every_supported_link_type() {
    let ip = ipv6_tcp(PAYLOAD);
    let cases: Vec<(i32, Vec<u8>)> = vec![
        (1, ethernet(0x86dd, &ip)),
        (113, sll(0x86dd, 1, &ip)),
        (276, sll2(0x86dd, &ip)),
        (101, ip.clone()),
        (229, ip.clone()),
        (0, prefixed(&24u32.to_le_bytes(), &ip)),
        (0, prefixed(&28u32.to_be_bytes(), &ip)),
        (0, prefixed(&30u32.to_le_bytes(), &ip)),
        (108, prefixed(&30u32.to_be_bytes(), &ip)),
    ];
    for (link_type, data) in cases {
        assert_eq!(
            decode(link_type, &data).0,
            expected_v6(PAYLOAD),
            "link type {link_type}"
        );
    }
}

#[test]
fn stacked_vlan_tags_up_to_five() {
    let ip = ipv4_tcp(PAYLOAD);
    let stacks: [&[u16]; 6] = [
        &[],
        &[0x8100],
        &[0x88a8, 0x8100],
        &[0x88a8, 0x8100, 0x8100],
        &[0x9100, 0x88a8, 0x8100, 0x8100],
        &[0x88a8, 0x88a8, 0x88a8, 0x8100, 0x8100],
    ];
    for tpids in stacks {
        assert_eq!(
            decode(1, &tagged(tpids, &ip)).0,
            expected_v4(PAYLOAD, 0),
            "{tpids:x?}"
        );
    }
}

#[test]
fn ethernet_padding_is_not_payload() {
    let ip = ipv4_tcp(b"");
    let mut frame = ethernet(0x0800, &ip);
    frame.resize(60, 0);
    assert_eq!(decode(1, &frame).0, expected_v4(b"", 0));
}

#[test]
fn snaplen_cut_payload_counts_missing_bytes() {
    let ip = ipv4_tcp(PAYLOAD);
    let frame = ethernet(0x0800, &ip);
    let cut = &frame[..frame.len() - 4];
    assert_eq!(
        decode(1, cut).0,
        expected_v4(&PAYLOAD[..PAYLOAD.len() - 4], 4)
    );
    let ip6 = ipv6_tcp(PAYLOAD);
    let Got::Tcp {
        missing, payload, ..
    } = decode(229, &ip6[..ip6.len() - 3]).0
    else {
        panic!()
    };
    assert_eq!((missing, payload.len()), (3, PAYLOAD.len() - 3));
}

/// Every prefix of an Ethernet/IPv4/TCP frame: link, IP and TCP headers cut
/// are malformed with the layer named; a cut payload is a segment with
/// `missing` set. Never a panic.
#[test]
fn every_prefix_of_a_frame_decodes_as_far_as_it_goes() {
    let ip = ipv4_tcp(PAYLOAD);
    for (link_type, frame, link_len) in [
        (1, ethernet(0x0800, &ip), 14),
        (276, sll2(0x0800, &ip), 20),
        (113, sll(0x0800, 772, &ip), 16),
        (0, prefixed(&2u32.to_le_bytes(), &ip), 4),
        (101, ip.clone(), 0),
    ] {
        for cut in 0..=frame.len() {
            let (decoded, _) = decode(link_type, &frame[..cut]);
            let layer = match &decoded {
                Got::Malformed(DecodeError::LinkTruncated { .. }) => "link",
                Got::Malformed(DecodeError::Sliced { layer, .. }) => match layer {
                    Layer::Ethernet2Header | Layer::LinuxSllHeader => "link",
                    Layer::IpHeader => "ip",
                    Layer::TcpHeader => "tcp",
                    other => panic!("cut {cut}: layer {other:?}"),
                },
                Got::Tcp {
                    payload, missing, ..
                } => {
                    assert_eq!(
                        payload.as_slice(),
                        &PAYLOAD[..cut - link_len - 40],
                        "cut {cut}"
                    );
                    assert_eq!(*missing as usize, frame.len() - cut, "cut {cut}");
                    "tcp segment"
                }
                other => panic!("link type {link_type} cut {cut}: {other:?}"),
            };
            let expected = if cut < link_len {
                "link"
            } else if cut < link_len + 20 {
                "ip"
            } else if cut < link_len + 40 {
                "tcp"
            } else {
                "tcp segment"
            };
            assert_eq!(layer, expected, "link type {link_type} cut {cut}");
        }
    }
}

#[test]
fn every_prefix_of_ipv6_with_extension_headers() {
    let full = ipv6_with_extensions(&[(0, 8), (60, 16), (43, 8)], PAYLOAD);
    for cut in 0..=full.len() {
        let (decoded, _) = decode(229, &full[..cut]);
        match decoded {
            Got::Malformed(DecodeError::Sliced { .. }) => assert!(cut < 40 + 32 + 20, "cut {cut}"),
            Got::Tcp {
                payload, missing, ..
            } => {
                assert!(cut >= 40 + 32 + 20, "cut {cut}");
                assert_eq!(payload.len() + missing as usize, PAYLOAD.len(), "cut {cut}");
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    assert_eq!(decode(229, &full).0, tcp_from_ipv6_ext(PAYLOAD));
}

/// IPv6 header, then extension headers `(type, length)` in order (RFC 8200
/// §4: next header, header extension length in 8-byte units beyond the first
/// 8, zero padding), then a TCP header and payload.
fn ipv6_with_extensions(exts: &[(u8, usize)], payload: &[u8]) -> Vec<u8> {
    let mut tcp = TcpHeader::new(40000, 443, 5, 100);
    tcp.syn = true;
    let mut body = Vec::new();
    for (i, &(_, len)) in exts.iter().enumerate() {
        let next = exts.get(i + 1).map_or(6, |e| e.0);
        let mut ext = vec![0u8; len];
        ext[0] = next;
        ext[1] = (len / 8 - 1) as u8;
        if exts[i].0 == 44 {
            ext[1] = 0; // fragment header: reserved byte
        }
        body.extend_from_slice(&ext);
    }
    body.extend_from_slice(&tcp.to_bytes());
    body.extend_from_slice(payload);
    let mut out = vec![0x60, 0, 0, 0];
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.push(exts.first().map_or(6, |e| e.0));
    out.push(64);
    out.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    out.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    out.extend_from_slice(&body);
    out
}

fn tcp_from_ipv6_ext(payload: &[u8]) -> Got {
    expected_v6(payload)
}

#[test]
fn ipv6_atomic_fragment_decodes_alone() {
    // RFC 6946: offset 0 and no more fragments: processed in isolation.
    let atomic = ipv6_with_extensions(&[(44, 8)], PAYLOAD);
    assert_eq!(decode(229, &atomic), (expected_v6(PAYLOAD), vec![]));
    let mut decoder = Decoder::new(&Limits::default());
    let mut findings = Vec::new();
    assert_eq!(
        feed(&mut decoder, 229, &atomic, 1, &mut findings),
        expected_v6(PAYLOAD)
    );
    assert_eq!(decoder.stats().fragments, FragmentStats::default());
}

/// Splits an IPv4/TCP packet into fragments carrying `sizes` bytes of its IP payload.
pub(super) fn fragments(ip: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let (header, payload) = Ipv4Header::from_slice(ip).unwrap();
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let mut h = header.clone();
        h.identification = 0xbeef;
        h.more_fragments = i + 1 < sizes.len();
        h.fragment_offset = IpFragOffset::try_new((offset / 8) as u16).unwrap();
        h.set_payload_len(size).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let mut f = h.to_bytes().to_vec();
        f.extend_from_slice(&payload[offset..offset + size]);
        out.push(f);
        offset += size;
    }
    out
}

#[test]
fn ipv4_fragments_reassemble_into_one_segment_on_the_last_fragment() {
    let payload: Vec<u8> = (0..100u8).collect();
    let ip = ipv4_tcp(&payload);
    let parts = fragments(&ip, &[16, 48, 56]);
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let mut decoder = Decoder::new(&Limits::default());
        let mut findings = Vec::new();
        let got: Vec<Got> = order
            .iter()
            .enumerate()
            .map(|(n, &i)| {
                feed(
                    &mut decoder,
                    1,
                    &ethernet(0x0800, &parts[i]),
                    n as u64 + 1,
                    &mut findings,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![Got::Held, Got::Held, expected_v4(&payload, 0)],
            "{order:?}"
        );
        assert!(findings.is_empty());
        let stats = decoder.stats();
        assert_eq!(
            (
                stats.fragments.held,
                stats.fragments.reassembled,
                stats.tcp_segments
            ),
            (2, 1, 1)
        );
    }
}

#[test]
fn cut_fragment_drops_its_datagram_with_a_finding() {
    let ip = ipv4_tcp(&[7u8; 64]);
    let parts = fragments(&ip, &[40, 44]);
    let mut decoder = Decoder::new(&Limits::default());
    let mut findings = Vec::new();
    assert_eq!(
        feed(&mut decoder, 101, &parts[0], 1, &mut findings),
        Got::Held
    );
    assert_eq!(
        feed(&mut decoder, 101, &parts[1][..30], 2, &mut findings),
        Got::Dropped
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "decode.fragment_dropped");
    assert_eq!(decoder.stats().fragments.dropped, 1);
}

#[test]
fn packets_without_tcp_say_what_they_carry() {
    let mut udp = Vec::new();
    PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
        .udp(53, 53)
        .write(&mut udp, b"q")
        .unwrap();
    let mut icmp = Vec::new();
    PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
        .icmpv4_echo_request(1, 1)
        .write(&mut icmp, b"")
        .unwrap();
    let mut ospf = ipv4_tcp(b"");
    ospf[9] = 89;
    let arp = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ];
    let cases: Vec<(i32, Vec<u8>, Got)> = vec![
        (101, udp, Got::NotTcp(NotTcp::Udp)),
        (101, icmp, Got::NotTcp(NotTcp::Icmp)),
        (101, ospf, Got::NotTcp(NotTcp::IpProtocol(89))),
        (1, ethernet(0x0806, &arp), Got::NotTcp(NotTcp::Arp)),
        (
            1,
            ethernet(0x88cc, &[0; 30]),
            Got::NotTcp(NotTcp::EtherType(0x88cc)),
        ),
        (
            1,
            tagged(&[0x8100], &[])
                .into_iter()
                .take(16)
                .chain([0x88, 0xcc])
                .collect(),
            Got::NotTcp(NotTcp::EtherType(0x88cc)),
        ),
        (
            0,
            prefixed(&7u32.to_le_bytes(), &[0; 20]),
            Got::NotTcp(NotTcp::AddressFamily(7)),
        ),
        (
            276,
            sll2(0x0004, &[0; 20]),
            Got::NotTcp(NotTcp::LinkProtocol(4)),
        ),
        (105, vec![0; 40], Got::Skipped(Skipped::Link(105))),
    ];
    for (link_type, data, expected) in cases {
        assert_eq!(
            decode(link_type, &data),
            (expected.clone(), vec![]),
            "{expected:?}"
        );
    }
}

#[test]
fn each_malformed_field_names_its_error() {
    let ip = ipv4_tcp(PAYLOAD);
    let mut bad_version = ip.clone();
    bad_version[0] = 0x55;
    let mut bad_ihl = ip.clone();
    bad_ihl[0] = 0x44;
    let mut bad_offset = ip.clone();
    bad_offset[20 + 12] = 0x30;
    let sliced = |layer, error| Got::Malformed(DecodeError::Sliced { layer, error });
    let len = |required_len, len, layer, layer_start_offset| {
        SliceError::Len(LenError {
            required_len,
            len,
            len_source: etherparse::LenSource::Slice,
            layer,
            layer_start_offset,
        })
    };
    let cases: Vec<(&str, i32, Vec<u8>, Got)> = vec![
        (
            "ip version",
            101,
            bad_version,
            sliced(
                Layer::IpHeader,
                SliceError::Ip(IpHeaderError::UnsupportedIpVersion { version_number: 5 }),
            ),
        ),
        (
            "ipv4 ihl",
            101,
            bad_ihl,
            sliced(
                Layer::IpHeader,
                SliceError::Ip(IpHeaderError::Ipv4HeaderLengthSmallerThanHeader { ihl: 4 }),
            ),
        ),
        (
            "tcp data offset",
            101,
            bad_offset,
            sliced(
                Layer::TcpHeader,
                SliceError::Tcp(TcpHeaderError::DataOffsetTooSmall { data_offset: 3 }),
            ),
        ),
        (
            "tcp header cut",
            101,
            ip[..30].to_vec(),
            sliced(Layer::TcpHeader, len(20, 10, Layer::TcpHeader, 0)),
        ),
        (
            "vlan tag cut",
            1,
            tagged(&[0x8100], &[]).into_iter().take(16).collect(),
            sliced(Layer::VlanHeader, len(4, 2, Layer::VlanHeader, 0)),
        ),
        (
            "ethernet cut",
            1,
            vec![0; 13],
            sliced(
                Layer::Ethernet2Header,
                len(14, 13, Layer::Ethernet2Header, 0),
            ),
        ),
        (
            "sll2 cut",
            276,
            vec![0; 19],
            Got::Malformed(DecodeError::LinkTruncated {
                link: "Linux SLL2",
                need: 20,
                have: 19,
            }),
        ),
        (
            "null cut",
            0,
            vec![2, 0],
            Got::Malformed(DecodeError::LinkTruncated {
                link: "BSD loopback",
                need: 4,
                have: 2,
            }),
        ),
    ];
    for (what, link_type, data, expected) in cases {
        let (decoded, findings) = decode(link_type, &data);
        assert_eq!(decoded, expected, "{what}");
        assert_eq!(
            findings.iter().map(|f| f.code).collect::<Vec<_>>(),
            vec!["decode.malformed"],
            "{what}"
        );
    }
    let mut stats_decoder = Decoder::new(&Limits::default());
    feed(&mut stats_decoder, 101, &ip[..30], 1, &mut Vec::new());
    assert_eq!(stats_decoder.stats().malformed.get("tcp"), Some(&1));
}

#[test]
fn corpus_atomic_fragment_capture_decodes_like_tshark() {
    // zeek/ipv6-http-atomic-frag.pcap: tshark sees 36 TCP segments in 38 packets.
    let Some(dir) = crate::capture::corpus_dir() else {
        eprintln!("SKIPPED: no corpus");
        return;
    };
    let path = dir.join("zeek/ipv6-http-atomic-frag.pcap");
    let mut reader = crate::capture::CaptureReader::open(&path, &Limits::default()).unwrap();
    let mut decoder = Decoder::new(&Limits::default());
    let mut findings = Vec::new();
    while let Some(item) = reader.next_item() {
        if let crate::capture::Item::Packet(p) = item {
            decoder.on_packet(&p, &mut findings);
        }
    }
    assert_eq!(decoder.stats().tcp_segments, 36);
    assert!(findings.is_empty(), "{findings:?}");
}
