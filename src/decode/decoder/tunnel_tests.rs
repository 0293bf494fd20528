//! Tunnelled TCP through the whole decoder: every encapsulation in its
//! published layout (built by `decode::testkit`), every prefix of it, the
//! nesting cap, and Wireshark's stream numbering by inner addresses.
//!
//! The same packets, written to pcap files and read by tshark 4.0.17
//! (`tshark -T fields -e frame.protocols -e tcp.stream`), decode as
//! `eth:ethertype:ip:gre:ip:tcp`, `...:gre:erspan:eth:ethertype:ip:tcp`,
//! `...:udp:vxlan:eth:...`, `eth:ethertype:mpls:ip:tcp`,
//! `eth:ethertype:pppoes:ppp:ip:tcp`, `eth:ethertype:ip:ip:tcp` and
//! `eth:ethertype:ipv6:ip:tcp`, and number the streams 0, 0, 1, 0 for
//! "plain X, tunnelled X, tunnelled Y, plain X". tshark leaves VXLAN on UDP
//! 8472 and ERSPAN type III frames of type IP as data. For Ethernet
//! pseudowires over MPLS tshark agrees when the MAC addresses belong to
//! vendors in its manufacturer table (tried with Cisco and VMware ones, with
//! and without control word); with the locally administered addresses
//! used here its guess takes the wrong reading and shows data.

use super::tests::{feed, Got};
use super::*;
use crate::decode::testkit::*;
use crate::decode::NotTcp;
use crate::decode::{DecodeError, Header, Tunnel};
use crate::finding::Finding;
use crate::position::{FrameRef, Timestamp};
use crate::tcp::testkit::{Owned, Recorder};

const PAYLOAD: &[u8] = b"<message/>";

fn inner() -> Vec<u8> {
    ipv4_tcp(CLIENT, SERVER, Tcp::data(100, 200), PAYLOAD)
}

fn outer(protocol: u8, payload: &[u8]) -> Vec<u8> {
    ethernet(0x0800, &ipv4(OUTER_A, OUTER_B, protocol, payload))
}

fn vxlan_udp(port: u16, frame: &[u8]) -> Vec<u8> {
    ethernet(
        0x0800,
        &ipv4_udp(OUTER_A, OUTER_B, 50000, port, &vxlan(42, frame)),
    )
}

/// Every encapsulation decoded, as (name, its counter, wrap an IPv4 packet in it).
type Wrap = fn(&[u8]) -> Vec<u8>;

fn encapsulations() -> Vec<(&'static str, &'static str, Wrap)> {
    vec![
        ("GRE", "gre", |ip| {
            outer(47, &gre(GreOptions::default(), 0x0800, ip))
        }),
        ("GRE with checksum, key, sequence", "gre", |ip| {
            let all = GreOptions {
                checksum: true,
                key: Some(0xdead),
                sequence: Some(5),
            };
            outer(47, &gre(all, 0x0800, ip))
        }),
        ("GRE bridging Ethernet", "gre", |ip| {
            let key = GreOptions {
                key: Some(1),
                ..GreOptions::default()
            };
            outer(47, &gre(key, 0x6558, &ethernet(0x0800, ip)))
        }),
        ("ERSPAN I", "erspan", |ip| {
            outer(47, &erspan1(&ethernet(0x0800, ip)))
        }),
        ("ERSPAN II", "erspan", |ip| {
            outer(47, &erspan2(5, 77, &ethernet(0x0800, ip)))
        }),
        ("ERSPAN III", "erspan", |ip| {
            outer(47, &erspan3(0, true, &ethernet(0x0800, ip)))
        }),
        ("VXLAN 4789", "vxlan", |ip| {
            vxlan_udp(4789, &ethernet(0x0800, ip))
        }),
        ("VXLAN 8472", "vxlan", |ip| {
            vxlan_udp(8472, &ethernet(0x0800, ip))
        }),
        ("MPLS", "mpls", |ip| {
            ethernet(0x8847, &mpls(&[100, 200], true, ip))
        }),
        ("MPLS pseudowire", "mpls", |ip| {
            let frame = pw_control_word(1, &ethernet(0x0800, ip));
            ethernet(0x8847, &mpls(&[100, 300], true, &frame))
        }),
        ("VLAN then MPLS", "mpls", |ip| {
            let tagged = [&[0u8, 100, 0x88, 0x47][..], &mpls(&[100], true, ip)].concat();
            ethernet(0x8100, &tagged)
        }),
        ("PPPoE", "pppoe", |ip| {
            ethernet(0x8864, &pppoe(0x1234, 0x0021, ip))
        }),
        ("IPv4 in IPv4", "ip_in_ip", |ip| outer(4, ip)),
        ("IPv4 in IPv6", "ip_in_ip", |ip| {
            ethernet(0x86dd, &self::ipv6(CLIENT6, SERVER6, 4, ip))
        }),
    ]
}

fn decode_all(packets: &[Vec<u8>]) -> (Vec<Got>, Decoder, Vec<Finding>) {
    let mut decoder = Decoder::new(&Limits::default());
    let mut findings = Vec::new();
    let got = packets
        .iter()
        .enumerate()
        .map(|(i, p)| feed(&mut decoder, 1, p, i as u64 + 1, &mut findings))
        .collect();
    (got, decoder, findings)
}

fn tcp_payload(got: &Got) -> Option<(&[u8], u32)> {
    match got {
        Got::Tcp {
            payload, missing, ..
        } => Some((payload, *missing)),
        _ => None,
    }
}

#[test]
fn each_encapsulation_gives_the_inner_segment() {
    let plain = decode_all(&[ethernet(0x0800, &inner())]).0;
    for (name, counter, wrap) in encapsulations() {
        let (got, decoder, findings) = decode_all(&[wrap(&inner())]);
        assert_eq!(got, plain, "{name}");
        assert!(findings.is_empty(), "{name}: {findings:?}");
        assert_eq!(
            decoder.stats().encapsulations.get(counter),
            Some(&1),
            "{name}"
        );
        assert_eq!(decoder.stats().tcp_segments, 1, "{name}");
    }
    let ip6 = ipv6_tcp(CLIENT6, SERVER6, Tcp::data(1, 2), PAYLOAD);
    for (name, packet) in [
        ("IPv6 in IPv4", outer(41, &ip6)),
        (
            "IPv6 in GRE",
            outer(47, &gre(GreOptions::default(), 0x86dd, &ip6)),
        ),
        ("IPv6 in MPLS", ethernet(0x8847, &mpls(&[100], true, &ip6))),
        ("IPv6 in PPPoE", ethernet(0x8864, &pppoe(1, 0x0057, &ip6))),
    ] {
        let (got, _, _) = decode_all(&[packet]);
        assert_eq!(
            got.first().and_then(tcp_payload),
            Some((PAYLOAD, 0)),
            "{name}"
        );
    }
}

/// Every prefix: a malformed header (never a panic), plain UDP while a
/// VXLAN packet's UDP header is cut, or the segment with `missing` set once
/// every header is there.
#[test]
fn every_prefix_of_each_encapsulation_decodes_as_far_as_it_goes() {
    for (name, _, wrap) in encapsulations() {
        let packet = wrap(&inner());
        let headers = packet.len() - PAYLOAD.len();
        for cut in 0..=packet.len() {
            let (got, _, findings) = decode_all(&[packet[..cut].to_vec()]);
            let got = &got[0];
            if cut >= headers {
                let expected = (&PAYLOAD[..cut - headers], (packet.len() - cut) as u32);
                assert_eq!(tcp_payload(got), Some(expected), "{name} cut {cut}");
                continue;
            }
            match got {
                Got::Malformed(_) => {
                    assert_eq!(findings.len(), 1, "{name} cut {cut}");
                    assert_eq!(findings[0].code, "decode.malformed");
                }
                Got::NotTcp(NotTcp::Udp) if name.starts_with("VXLAN") => {}
                other => panic!("{name} cut {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn malformed_encapsulations_are_counted_by_header() {
    let mut bad_version = gre(GreOptions::default(), 0x0800, &inner());
    bad_version[1] = 0x02;
    let mut bad_erspan = erspan2(5, 77, &ethernet(0x0800, &inner()));
    bad_erspan[8] = 0x70;
    let no_bottom = mpls(&[100, 200], false, &[]);
    let cases: Vec<(&str, Vec<u8>, &str, DecodeError)> = vec![
        (
            "bad GRE version",
            outer(47, &bad_version),
            "gre",
            DecodeError::Field {
                header: Header::Gre,
                field: "version",
                value: 2,
                expected: "0 (or 1, PPTP)",
            },
        ),
        (
            "truncated ERSPAN",
            outer(47, &erspan2(5, 77, &[])[..12]),
            "erspan",
            DecodeError::Truncated {
                header: Header::Erspan,
                need: 8,
                have: 4,
            },
        ),
        (
            "ERSPAN version",
            outer(47, &bad_erspan),
            "erspan",
            DecodeError::Field {
                header: Header::Erspan,
                field: "version",
                value: 7,
                expected: "1 (type II) or 2 (type III)",
            },
        ),
        (
            "label stack without bottom of stack",
            ethernet(0x8847, &no_bottom),
            "mpls",
            DecodeError::NoBottomOfStack { labels: 2 },
        ),
    ];
    for (what, packet, key, error) in cases {
        let (got, decoder, findings) = decode_all(&[packet]);
        assert_eq!(got, vec![Got::Malformed(error.clone())], "{what}");
        assert_eq!(decoder.stats().malformed.get(key), Some(&1), "{what}");
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].message, format!("packet not decoded: {error}"));
    }
}

/// GRE inside GRE, `levels` deep, around the inner packet.
fn nested_gre(levels: usize) -> Vec<u8> {
    let mut packet = inner();
    for _ in 0..levels {
        packet = ipv4(
            OUTER_A,
            OUTER_B,
            47,
            &gre(GreOptions::default(), 0x0800, &packet),
        );
    }
    ethernet(0x0800, &packet)
}

#[test]
fn nesting_past_the_cap_is_skipped_and_reported_at_the_end() {
    let limits = Limits {
        max_encapsulation_depth: 3,
        ..Limits::default()
    };
    let mut decoder = Decoder::new(&limits);
    let mut findings = Vec::new();
    assert!(tcp_payload(&feed(&mut decoder, 1, &nested_gre(3), 1, &mut findings)).is_some());
    for frame in 2..=3 {
        assert_eq!(
            feed(&mut decoder, 1, &nested_gre(4), frame, &mut findings),
            Got::Skipped(Skipped::NestingLimit)
        );
    }
    assert!(findings.is_empty());
    assert_eq!(decoder.stats().encapsulations.get("gre"), Some(&9));
    decoder.finish(&mut findings);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(
        (f.code.code(), f.level, f.frame),
        ("decode.nesting_limit", Level::Info, Some(2))
    );
    let bytes = 2 * nested_gre(4).len();
    assert_eq!(
        f.message,
        format!("2 packets ({bytes} bytes) not decoded: packets nesting more than 3 encapsulations (max_encapsulation_depth); the first is frame 2")
    );
    // The default cap allows the deepest real stacks and stops runaway ones.
    let (got, _, _) = decode_all(&[nested_gre(8), nested_gre(9)]);
    assert!(tcp_payload(&got[0]).is_some());
    assert_eq!(got[1], Got::Skipped(Skipped::NestingLimit));
}

#[test]
fn tunnels_not_decoded_are_counted_and_reported_once_per_kind() {
    let geneve = ethernet(0x0800, &ipv4_udp(OUTER_A, OUTER_B, 50000, 6081, &[0; 16]));
    let gtp = ethernet(0x0800, &ipv4_udp(OUTER_A, OUTER_B, 2152, 2152, &[0; 16]));
    let esp = outer(50, &[0; 32]);
    let pptp = {
        let mut g = gre(GreOptions::default(), 0x880b, &[0; 8]);
        g[1] = 1;
        outer(47, &g)
    };
    let dns = ethernet(0x0800, &ipv4_udp(OUTER_A, OUTER_B, 50000, 53, &[0; 16]));
    let packets = vec![geneve.clone(), gtp, esp, geneve.clone(), pptp, dns];
    let (got, mut decoder, mut findings) = decode_all(&packets);
    assert_eq!(
        got,
        vec![
            Got::Skipped(Skipped::Tunnel(Tunnel::Geneve)),
            Got::Skipped(Skipped::Tunnel(Tunnel::GtpU)),
            Got::Skipped(Skipped::Tunnel(Tunnel::IpProtocol(50))),
            Got::Skipped(Skipped::Tunnel(Tunnel::Geneve)),
            Got::Skipped(Skipped::Tunnel(Tunnel::Pptp)),
            Got::NotTcp(NotTcp::Udp),
        ]
    );
    let geneve_count = decoder.stats().skipped[&Skipped::Tunnel(Tunnel::Geneve)];
    assert_eq!(
        (
            geneve_count.packets,
            geneve_count.bytes,
            geneve_count.first.frame
        ),
        (2, 2 * geneve.len() as u64, 1)
    );
    assert!(findings.is_empty());
    decoder.finish(&mut findings);
    // One per kind, in key order, all `warn`: no TCP at all came out of this capture.
    let summary: Vec<(&str, Level, Option<u64>)> = findings
        .iter()
        .map(|f| (f.code.code(), f.level, f.frame))
        .collect();
    let tunnel = "decode.tunnel_not_decoded";
    assert_eq!(
        summary,
        vec![
            (tunnel, Level::Warn, Some(1)),
            (tunnel, Level::Warn, Some(2)),
            (tunnel, Level::Warn, Some(5)),
            (tunnel, Level::Warn, Some(3)),
        ]
    );
    assert_eq!(
        findings[0].message,
        format!(
            "2 packets ({} bytes) not decoded: Geneve (UDP 6081); the first is frame 1; no TCP at all was decoded from this capture",
            2 * geneve.len()
        )
    );
}

#[test]
fn skipped_traffic_beside_decoded_tcp_is_info() {
    let geneve = ethernet(0x0800, &ipv4_udp(OUTER_A, OUTER_B, 50000, 6081, &[0; 16]));
    let (_, mut decoder, mut findings) = decode_all(&[ethernet(0x0800, &inner()), geneve]);
    decoder.finish(&mut findings);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].level, Level::Info);
    assert!(
        !findings[0].message.contains("no TCP"),
        "{}",
        findings[0].message
    );
}

#[test]
fn unsupported_link_types_are_reported_at_the_end() {
    let mut decoder = Decoder::new(&Limits::default());
    let mut findings = Vec::new();
    for frame in 1..=3 {
        assert_eq!(
            feed(&mut decoder, 247, &[0; 30], frame, &mut findings),
            Got::Skipped(Skipped::Link(247))
        );
    }
    decoder.finish(&mut findings);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(
        (f.code.code(), f.level),
        ("decode.unsupported_link", Level::Warn)
    );
    assert_eq!(
        f.message,
        "3 packets (90 bytes) not decoded: link type 247 (InfiniBand); the first is frame 1; no TCP at all was decoded from this capture"
    );
    assert_eq!(decoder.stats().unsupported_link_types.get(&247), Some(&3));
}

/// Wireshark numbers TCP conversations by the innermost addresses and
/// ports: the same connection seen plain and tunnelled is one stream.
#[test]
fn tunnelled_tcp_keeps_wiresharks_stream_numbers() {
    let x = |seq: u32| ipv4_tcp(CLIENT, SERVER, Tcp::data(seq, 200), b"x");
    let y = ipv4_tcp(
        CLIENT,
        SERVER,
        Tcp {
            sport: 41000,
            ..Tcp::data(100, 200)
        },
        b"y",
    );
    for (name, _, wrap) in encapsulations() {
        let packets = [
            ethernet(0x0800, &x(100)),
            wrap(&x(101)),
            wrap(&y),
            ethernet(0x0800, &x(102)),
        ];
        let mut decoder = Decoder::new(&Limits::default());
        let mut reassembler = crate::tcp::Reassembler::new(&Limits::default());
        let mut recorder = Recorder::default();
        for (i, packet) in packets.iter().enumerate() {
            let p = crate::capture::Packet {
                at: FrameRef::new(i as u64 + 1, Timestamp::from_secs_nanos(1_700_000_000, 0)),
                link_type: crate::capture::LinkType(1),
                data: packet,
                orig_len: packet.len() as u32,
                interface: 0,
            };
            if let Decoded::Tcp(segment) = decoder.on_packet(&p, &mut Vec::new()) {
                reassembler.on_segment(p.at, &segment, &mut recorder);
            }
        }
        reassembler.finish(&mut recorder);
        let data: Vec<(u64, u64)> = recorder
            .events
            .iter()
            .filter_map(|e| match e {
                Owned::Data { stream, frame, .. } => Some((*stream, *frame)),
                _ => None,
            })
            .collect();
        assert_eq!(data, vec![(0, 1), (0, 2), (1, 3), (0, 4)], "{name}");
    }
}

/// Through the pipeline: a capture holding only tunnels not decoded ends
/// with a `warn` finding, so `--fail-on info` (or `warn`) exits 1 on it.
#[test]
fn a_capture_of_tunnels_not_decoded_is_a_finding_of_the_run() {
    use crate::capture::testutil::{pcap_file, Record};
    let geneve = ethernet(0x0800, &ipv4_udp(OUTER_A, OUTER_B, 50000, 6081, &[0; 40]));
    let records: Vec<Record<'_>> = (0..3)
        .map(|i| Record {
            secs: 1_700_000_000 + i,
            frac: 0,
            data: &geneve,
            orig_len: geneve.len() as u32,
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("xmppcap-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("geneve.pcap");
    std::fs::write(&path, pcap_file(false, false, 1, 65535, &records)).unwrap();
    let report = crate::pipeline::streams(&path, &crate::pipeline::Options::default());
    std::fs::remove_dir_all(&dir).ok();
    let report = report.unwrap();
    let codes: Vec<(&str, Level)> = report
        .findings
        .iter()
        .map(|f| (f.code.code(), f.level))
        .collect();
    assert_eq!(codes, vec![("decode.tunnel_not_decoded", Level::Warn)]);
    assert_eq!(report.worst_level(), Some(Level::Warn));
    assert!(report.streams.is_empty());
    assert_eq!(
        report.decode.skipped[&Skipped::Tunnel(Tunnel::Geneve)].packets,
        3
    );
}
