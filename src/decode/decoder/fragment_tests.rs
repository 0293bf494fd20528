//! IPv6 fragments through the decoder (RFC 8200 §4.5 layouts built by
//! `decode::testkit`): in order, reversed, overlapping, lost, over the caps,
//! behind other extension headers, inside a tunnel, and every prefix.
//!
//! tshark 4.0.17 reassembles the same packets the same way: the last
//! fragment shows `ipv6.fraghdr:tcp` (or `...:ipv6.fraghdr:ipv6.dstopts:tcp`
//! behind hop-by-hop and routing headers) with the 200-byte segment.

use std::time::Duration;

use super::tests::{feed, fragments, Got};
use super::*;
use crate::decode::testkit::*;
use crate::decode::FragmentStats;
use crate::finding::Finding;

fn payload() -> Vec<u8> {
    (0..200u8).collect()
}

fn packet() -> Vec<u8> {
    ipv6_tcp(CLIENT6, SERVER6, Tcp::data(100, 200), &payload())
}

/// The packet's 220 bytes of TCP in three fragments of 64, 80 and 76 bytes.
fn three_fragments() -> Vec<Vec<u8>> {
    ipv6_fragments(&packet(), 0, 0xabcd, &[64, 80, 76])
}

fn run(limits: &Limits, packets: &[Vec<u8>]) -> (Vec<Got>, Decoder, Vec<Finding>) {
    let mut decoder = Decoder::new(limits);
    let mut findings = Vec::new();
    let got = packets
        .iter()
        .enumerate()
        .map(|(i, p)| feed(&mut decoder, 229, p, i as u64 + 1, &mut findings))
        .collect();
    (got, decoder, findings)
}

fn is_segment(got: &Got) -> bool {
    matches!(got, Got::Tcp { payload: bytes, missing: 0, .. } if *bytes == payload())
}

#[test]
fn fragments_in_any_order_reassemble() {
    let f = three_fragments();
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
        let packets: Vec<Vec<u8>> = order.iter().map(|&i| f[i].clone()).collect();
        let (got, decoder, findings) = run(&Limits::default(), &packets);
        assert_eq!(&got[..2], &[Got::Held, Got::Held], "{order:?}");
        assert!(is_segment(&got[2]), "{order:?}: {:?}", got[2]);
        assert!(findings.is_empty());
        let expected = FragmentStats {
            held: 2,
            reassembled: 1,
            dropped: 0,
            incomplete_at_end: 0,
        };
        assert_eq!(decoder.stats().fragments, expected);
        assert_eq!(decoder.stats().tcp_segments, 1);
    }
}

/// Hop-by-hop and routing headers before the Fragment header (the
/// unfragmentable part), destination options after it. etherparse reads the
/// data of the later fragments as destination options too (the payload
/// byte 45 there makes a 368-byte header that does not fit): those
/// fragments must still be held, not called malformed.
#[test]
fn fragment_header_anywhere_in_the_extension_chain() {
    let mut body = ipv6_extension(43, 8);
    body.extend(ipv6_extension(60, 16));
    body.extend(ipv6_extension(6, 8));
    body.extend_from_slice(&packet()[40..]);
    let chained = ipv6(CLIENT6, SERVER6, 0, &body);
    let f = ipv6_fragments(&chained, 24, 0x1111, &[72, 80, 76]);
    for order in [[0, 1, 2], [2, 1, 0]] {
        let packets: Vec<Vec<u8>> = order.iter().map(|&i| f[i].clone()).collect();
        let (got, _, findings) = run(&Limits::default(), &packets);
        assert_eq!(&got[..2], &[Got::Held, Got::Held], "{order:?}");
        assert!(is_segment(&got[2]), "{order:?}: {:?}", got[2]);
        assert!(findings.is_empty(), "{findings:?}");
    }
}

#[test]
fn identical_overlap_is_accepted_and_a_different_one_drops_the_packet() {
    let f = three_fragments();
    // Bytes 56..144 of the fragmentable part: overlaps the first fragment by 8.
    let overlapping = ipv6_fragments(&packet(), 0, 0xabcd, &[56, 88, 76]);
    let (got, _, findings) = run(
        &Limits::default(),
        &[f[0].clone(), overlapping[1].clone(), f[2].clone()],
    );
    assert!(is_segment(&got[2]), "{:?}", got[2]);
    assert!(findings.is_empty());

    let mut evil = overlapping[1].clone();
    evil[48 + 2] ^= 0xff; // inside the 8 overlapping bytes
    let (got, decoder, findings) = run(&Limits::default(), &[f[0].clone(), evil]);
    assert_eq!(got, vec![Got::Held, Got::Dropped]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "decode.fragment_dropped");
    assert!(
        findings[0].message.starts_with(
            "IPv6 packet 2001:db8::1 -> 2001:db8::2 id 0x0000abcd dropped (64 bytes held"
        ),
        "{}",
        findings[0].message
    );
    assert!(findings[0]
        .message
        .ends_with("overlapping fragments disagree at byte 58"));
    assert_eq!(decoder.stats().fragments.dropped, 1);
}

#[test]
fn a_lost_fragment_is_reported_at_the_end_or_when_it_times_out() {
    let f = three_fragments();
    let (got, mut decoder, mut findings) = run(&Limits::default(), &[f[0].clone(), f[2].clone()]);
    assert_eq!(got, vec![Got::Held, Got::Held]);
    decoder.finish(&mut findings);
    assert_eq!(findings.len(), 1);
    let f0 = &findings[0];
    assert_eq!(
        (f0.code, f0.level, f0.frame),
        ("decode.fragments_incomplete", Level::Warn, Some(1))
    );
    assert_eq!(
        f0.message,
        "1 fragmented IP datagrams (220 bytes held) were still incomplete at the end of the capture, so their payload was not decoded; the oldest began in frame 1; no TCP at all was decoded from this capture"
    );
    assert_eq!(decoder.stats().fragments.incomplete_at_end, 1);

    // By capture time: `feed` dates frame n at n seconds.
    let limits = Limits {
        fragment_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let later = three_fragments();
    let (got, _, findings) = run(
        &limits,
        &[
            f[0].clone(),
            f[2].clone(),
            later[1].clone(),
            later[1].clone(),
        ],
    );
    assert_eq!(got[3], Got::Held);
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].message.contains("still incomplete after 1 s"),
        "{}",
        findings[0].message
    );
}

#[test]
fn caps_are_shared_with_ipv4() {
    let limits = Limits {
        max_fragment_datagrams: 1,
        ..Limits::default()
    };
    let v6 = three_fragments();
    let v4 = fragments(
        &ipv4_tcp(CLIENT, SERVER, Tcp::data(1, 2), &payload()),
        &[64, 156],
    );
    let (got, decoder, findings) = run(&limits, &[v6[0].clone(), v4[0].clone()]);
    assert_eq!(got, vec![Got::Held, Got::Held]);
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].message.contains("IPv6 packet")
            && findings[0]
                .message
                .contains("max_fragment_datagrams (1) reached"),
        "{}",
        findings[0].message
    );
    assert_eq!(decoder.stats().fragments.dropped, 1);

    let bytes = Limits {
        max_fragment_bytes: 100,
        ..Limits::default()
    };
    let (got, _, findings) = run(&bytes, &[v6[0].clone(), v6[1].clone()]);
    assert_eq!(got, vec![Got::Held, Got::Dropped]);
    assert!(findings[0].message.contains("max_fragment_bytes (100)"));
}

#[test]
fn every_prefix_of_a_fragment_is_malformed_or_dropped() {
    let f = three_fragments();
    for cut in 0..f[1].len() {
        let (got, _, _) = run(&Limits::default(), &[f[0].clone(), f[1][..cut].to_vec()]);
        match &got[1] {
            Got::Malformed(_) => assert!(cut < 48, "cut {cut}"),
            // A fragment cut by the snapshot length cannot complete its packet.
            Got::Dropped => assert!(cut >= 48, "cut {cut}"),
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

/// Two reassemblies in one packet: the outer IPv4 datagram carrying GRE, and
/// the IPv6 packet inside it.
#[test]
fn fragments_inside_fragments_inside_a_tunnel() {
    let inner = three_fragments();
    let wrap = |fragment: &[u8]| {
        ipv4(
            OUTER_A,
            OUTER_B,
            47,
            &gre(GreOptions::default(), 0x86dd, fragment),
        )
    };
    let last = wrap(&inner[2]);
    let outer_parts = fragments(&last, &[48, last.len() - 20 - 48]);
    let packets = [
        wrap(&inner[0]),
        wrap(&inner[1]),
        outer_parts[0].clone(),
        outer_parts[1].clone(),
    ];
    let mut decoder = Decoder::new(&Limits::default());
    let mut findings = Vec::new();
    let got: Vec<Got> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| feed(&mut decoder, 101, p, i as u64 + 1, &mut findings))
        .collect();
    assert_eq!(&got[..3], &[Got::Held, Got::Held, Got::Held]);
    assert!(is_segment(&got[3]), "{:?}", got[3]);
    assert_eq!(decoder.stats().fragments.reassembled, 2);
    assert!(findings.is_empty());
}

#[test]
fn a_second_fragment_header_inside_a_reassembled_packet_is_malformed() {
    // The fragmentable part starts with another (fragmenting) Fragment header.
    let mut body = vec![6, 0, 0, 8 | 1, 0, 0, 0, 9];
    body.extend_from_slice(&packet()[40..]);
    let nested = ipv6(CLIENT6, SERVER6, 44, &body);
    let f = ipv6_fragments(&nested, 0, 7, &[64, body.len() - 64]);
    let (got, _, findings) = run(&Limits::default(), &f);
    assert!(matches!(got[1], Got::Malformed(_)), "{:?}", got[1]);
    assert_eq!(findings[0].code, "decode.malformed");
    assert_eq!(got[0], Got::Held);
}
