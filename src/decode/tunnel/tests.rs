//! Encapsulation parsers: each header in its published layout (built by
//! `decode::testkit`, which cites the layouts), every prefix of it, and each
//! malformed field.

use etherparse::EtherType;

use super::gre::{parse_erspan, parse_gre};
use super::mpls::parse_mpls;
use super::pppoe::parse_pppoe;
use super::udp::parse_udp_tunnel;
use super::{Inner, Unwrapped};
use crate::decode::testkit::*;
use crate::decode::{DecodeError, Header, NotTcp, Tunnel};

fn ip() -> Vec<u8> {
    ipv4_tcp(CLIENT, SERVER, Tcp::data(100, 200), b"<iq/>")
}

fn ok<'a>(name: &'static str, inner: Inner<'a>) -> Result<Unwrapped<'a>, DecodeError> {
    Ok(Unwrapped { name, inner })
}

/// Every strict prefix of a header is `Truncated` for one of `headers`,
/// needing more than it has; never a panic. The outermost header counts
/// from the start (`have` is the cut); an inner one (ERSPAN after GRE, PPP
/// after PPPoE) from its own start.
fn assert_prefixes_truncated(
    header_len: usize,
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Unwrapped<'_>, DecodeError>,
    headers: &[Header],
) {
    for cut in 0..header_len {
        match parse(&bytes[..cut]) {
            Err(DecodeError::Truncated { header, need, have }) => {
                assert!(headers.contains(&header), "cut {cut}: {header:?}");
                if Some(&header) == headers.first() {
                    assert_eq!(have, cut, "cut {cut}");
                }
                assert!(have <= cut, "cut {cut}: have {have}");
                assert!(need > have && need <= header_len, "cut {cut}: need {need}");
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    assert!(parse(&bytes[..header_len]).is_ok());
}

#[test]
fn gre_with_and_without_options_carries_ip() {
    let ip = ip();
    let all = GreOptions {
        checksum: true,
        key: Some(0xdead_beef),
        sequence: Some(5),
    };
    for (options, header_len) in [(GreOptions::default(), 4), (all, 16)] {
        let packet = gre(options, 0x0800, &ip);
        assert_eq!(
            parse_gre(&packet),
            ok("gre", Inner::Ether(EtherType::IPV4, &ip)),
            "{options:?}"
        );
        assert_prefixes_truncated(header_len, &packet, parse_gre, &[Header::Gre]);
    }
    let key_only = GreOptions {
        key: Some(1),
        ..GreOptions::default()
    };
    assert_eq!(
        parse_gre(&gre(key_only, 0x86dd, &ip)),
        ok("gre", Inner::Ether(EtherType::IPV6, &ip))
    );
}

#[test]
fn gre_payload_types() {
    let frame = ethernet(0x0800, &ip());
    assert_eq!(
        parse_gre(&gre(GreOptions::default(), 0x6558, &frame)),
        ok("gre", Inner::Ethernet(&frame))
    );
    assert_eq!(
        parse_gre(&gre(GreOptions::default(), 0x8847, b"mpls")),
        ok("gre", Inner::Ether(EtherType(0x8847), b"mpls"))
    );
    assert_eq!(
        parse_gre(&gre(GreOptions::default(), 0x880b, b"ppp")),
        ok("gre", Inner::NotDecoded(Tunnel::GreProtocol(0x880b)))
    );
}

#[test]
fn gre_version_one_is_pptp_and_higher_versions_are_malformed() {
    let mut packet = gre(GreOptions::default(), 0x880b, b"ppp");
    packet[1] = 0x01;
    assert_eq!(
        parse_gre(&packet),
        ok("gre", Inner::NotDecoded(Tunnel::Pptp))
    );
    for version in 2..=7u8 {
        packet[1] = version;
        assert_eq!(
            parse_gre(&packet),
            Err(DecodeError::Field {
                header: Header::Gre,
                field: "version",
                value: u32::from(version),
                expected: "0 (or 1, PPTP)",
            })
        );
    }
}

/// RFC 1701 §2.1: with R set, checksum and offset are present, then the
/// source route entries end with a NULL entry (family 0, length 0).
#[test]
fn gre_source_routes_are_skipped() {
    let ip = ip();
    let mut packet = vec![0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0];
    packet.extend_from_slice(&[0x08, 0x00, 0, 4, 10, 0, 0, 9]); // one IPv4 route entry
    packet.extend_from_slice(&[0, 0, 0, 0]);
    packet.extend_from_slice(&ip);
    assert_eq!(
        parse_gre(&packet),
        ok("gre", Inner::Ether(EtherType::IPV4, &ip))
    );
    assert_prefixes_truncated(20, &packet, parse_gre, &[Header::Gre]);
}

#[test]
fn erspan_types_one_two_and_three() {
    let frame = ethernet(0x0800, &ip());
    let cases: [(Vec<u8>, usize); 4] = [
        (erspan1(&frame), 4),
        (erspan2(5, 77, &frame), 8 + 8),
        (erspan3(0, false, &frame), 8 + 12),
        (erspan3(0, true, &frame), 8 + 20),
    ];
    for (packet, header_len) in cases {
        assert_eq!(parse_gre(&packet), ok("erspan", Inner::Ethernet(&frame)));
        // The GRE part is cut as GRE, the rest as ERSPAN.
        assert_prefixes_truncated(
            header_len,
            &packet,
            parse_gre,
            &[Header::Gre, Header::Erspan],
        );
    }
    // Type III of frame type IP: tshark 4.0 shows it as data; so do we.
    assert_eq!(
        parse_gre(&erspan3(2, false, &ip())),
        ok("erspan", Inner::NotDecoded(Tunnel::ErspanFrameType(2)))
    );
}

#[test]
fn erspan_unknown_version_and_truncation() {
    let frame = ethernet(0x0800, &ip());
    let mut packet = erspan2(5, 77, &frame);
    packet[8] = 0x30; // version 3
    assert_eq!(
        parse_gre(&packet),
        Err(DecodeError::Field {
            header: Header::Erspan,
            field: "version",
            value: 3,
            expected: "1 (type II) or 2 (type III)",
        })
    );
    assert_eq!(
        parse_erspan(&[0x10, 0x64, 0, 5]),
        Err(DecodeError::Truncated {
            header: Header::Erspan,
            need: 8,
            have: 4
        })
    );
}

#[test]
fn vxlan_on_either_port_and_tunnels_recognised_by_port() {
    let frame = ethernet(0x0800, &ip());
    let packet = vxlan(42, &frame);
    for (src, dst) in [(50000, 4789), (4789, 50000), (50000, 8472)] {
        assert_eq!(
            parse_udp_tunnel(src, dst, &packet),
            Some(ok("vxlan", Inner::Ethernet(&frame))),
            "{src} -> {dst}"
        );
    }
    for cut in 0..8 {
        assert_eq!(
            parse_udp_tunnel(50000, 4789, &packet[..cut]),
            Some(Err(DecodeError::Truncated {
                header: Header::Vxlan,
                need: 8,
                have: cut
            }))
        );
    }
    let cases = [
        (6081, Tunnel::Geneve),
        (2152, Tunnel::GtpU),
        (5247, Tunnel::Capwap),
        (1701, Tunnel::L2tp),
        (3544, Tunnel::Teredo),
        (4790, Tunnel::VxlanGpe),
        (6635, Tunnel::MplsOverUdp),
        (4754, Tunnel::GreOverUdp),
    ];
    for (port, tunnel) in cases {
        assert_eq!(
            parse_udp_tunnel(40000, port, b"x"),
            Some(ok("udp", Inner::NotDecoded(tunnel)))
        );
    }
    // Plain UDP, and a well-known lower port that Wireshark gives its own dissector.
    assert_eq!(parse_udp_tunnel(5353, 50000, b"x"), None);
    assert_eq!(parse_udp_tunnel(53, 4789, &packet), None);
}

#[test]
fn mpls_stack_then_ip() {
    let ip = ip();
    assert_eq!(
        parse_mpls(&mpls(&[100], true, &ip)),
        ok("mpls", Inner::Ether(EtherType::IPV4, &ip))
    );
    let ip6 = ipv6_tcp(CLIENT6, SERVER6, Tcp::data(1, 2), b"x");
    let packet = mpls(&[100, 200, 300], true, &ip6);
    assert_eq!(
        parse_mpls(&packet),
        ok("mpls", Inner::Ether(EtherType::IPV6, &ip6))
    );
    for cut in 0..=12 {
        let got = parse_mpls(&packet[..cut]);
        let expected = match cut {
            c if c % 4 == 0 && c < 12 => DecodeError::NoBottomOfStack { labels: c / 4 },
            12 => DecodeError::Truncated {
                header: Header::Mpls,
                need: 13,
                have: 12,
            },
            c => DecodeError::Truncated {
                header: Header::Mpls,
                need: (c / 4 + 1) * 4,
                have: c,
            },
        };
        assert_eq!(got, Err(expected), "cut {cut}");
    }
}

#[test]
fn mpls_label_stack_without_bottom_of_stack_bit() {
    let packet = mpls(&[100, 200], false, &[]);
    assert_eq!(
        parse_mpls(&packet),
        Err(DecodeError::NoBottomOfStack { labels: 2 })
    );
}

#[test]
fn mpls_pseudowire_with_and_without_control_word() {
    let frame = ethernet(0x0800, &ip());
    assert_eq!(
        parse_mpls(&mpls(&[100, 300], true, &pw_control_word(1, &frame))),
        ok("mpls", Inner::Ethernet(&frame))
    );
    assert_eq!(
        parse_mpls(&mpls(&[100, 300], true, &frame)),
        ok("mpls", Inner::Ethernet(&frame))
    );
    // Behind VLAN tags too.
    let tagged = ethernet(0x8100, &[&[0, 5, 0x08, 0x00][..], &ip()].concat());
    assert_eq!(
        parse_mpls(&mpls(&[100], true, &pw_control_word(2, &tagged))),
        ok("mpls", Inner::Ethernet(&tagged))
    );
    // Neither reading carries IP: the control word, as Wireshark guesses for nibble 0.
    let arp = ethernet(0x0806, &[0; 28]);
    assert_eq!(
        parse_mpls(&mpls(&[100], true, &pw_control_word(3, &arp))),
        ok("mpls", Inner::Ethernet(&arp))
    );
}

#[test]
fn mpls_control_channels_and_unknown_payloads() {
    let control = ok("mpls", Inner::Control(NotTcp::MplsControl));
    // RFC 5586 GAL at the bottom of the stack.
    assert_eq!(
        parse_mpls(&mpls(&[100, 13], true, &[0x10, 0, 0, 7])),
        control
    );
    // RFC 4385 associated channel header (first nibble 1).
    assert_eq!(
        parse_mpls(&mpls(&[100], true, &[0x10, 0, 0, 0x21])),
        control
    );
    assert_eq!(
        parse_mpls(&mpls(&[100], true, &[0x90, 0, 0, 0])),
        ok("mpls", Inner::NotDecoded(Tunnel::MplsPayload))
    );
}

#[test]
fn pppoe_session_carries_ip_and_ppp_control() {
    let ip = ip();
    let packet = pppoe(0x1234, 0x0021, &ip);
    assert_eq!(
        parse_pppoe(&packet),
        ok("pppoe", Inner::Ether(EtherType::IPV4, &ip))
    );
    assert_prefixes_truncated(8, &packet, parse_pppoe, &[Header::Pppoe, Header::Ppp]);
    assert_eq!(
        parse_pppoe(&pppoe(1, 0x0057, &ip)),
        ok("pppoe", Inner::Ether(EtherType::IPV6, &ip))
    );
    assert_eq!(
        parse_pppoe(&pppoe(1, 0xc021, b"lcp")),
        ok("pppoe", Inner::Control(NotTcp::PppControl(0xc021)))
    );
    assert_eq!(
        parse_pppoe(&pppoe(1, 0x002d, b"vj")),
        ok("pppoe", Inner::NotDecoded(Tunnel::PppProtocol(0x002d)))
    );
    // RFC 1661 §6.5 protocol field compression: one odd byte.
    let mut compressed = vec![0x11, 0, 0, 1];
    compressed.extend_from_slice(&((ip.len() + 1) as u16).to_be_bytes());
    compressed.push(0x21);
    compressed.extend_from_slice(&ip);
    assert_eq!(
        parse_pppoe(&compressed),
        ok("pppoe", Inner::Ether(EtherType::IPV4, &ip))
    );
}

#[test]
fn pppoe_length_bounds_the_payload_and_bad_fields_are_named() {
    let ip = ip();
    let mut padded = pppoe(1, 0x0021, &ip);
    padded.extend_from_slice(&[0; 6]); // Ethernet padding after the session payload
    assert_eq!(
        parse_pppoe(&padded),
        ok("pppoe", Inner::Ether(EtherType::IPV4, &ip))
    );
    let mut bad_version = pppoe(1, 0x0021, &ip);
    bad_version[0] = 0x21;
    assert_eq!(
        parse_pppoe(&bad_version),
        Err(DecodeError::Field {
            header: Header::Pppoe,
            field: "version and type",
            value: 0x21,
            expected: "0x11",
        })
    );
    let mut discovery = pppoe(1, 0x0021, &ip);
    discovery[1] = 0x09; // PADI in a session frame
    assert_eq!(
        parse_pppoe(&discovery),
        Err(DecodeError::Field {
            header: Header::Pppoe,
            field: "code",
            value: 9,
            expected: "0 (session data)",
        })
    );
}
