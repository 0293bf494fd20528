//! Link layers: from a packet's link type and bytes to the network-layer
//! bytes and the EtherType that says what they are.
//!
//! Takes a LINKTYPE_* number and captured bytes; gives the network bytes, a
//! non-IP link protocol, or "unsupported". etherparse parses Ethernet II and
//! Linux SLL; SLL2, BSD NULL/LOOP and SLL hardware types etherparse rejects
//! (loopback, tunnels) are read here from fixed-size arrays, so no offset can
//! be out of bounds. Never looks past the link header.

use etherparse::err::packet::SliceError;
use etherparse::err::Layer;
use etherparse::{EtherType, Ethernet2Slice, LinuxSllProtocolType, LinuxSllSlice};

use super::{DecodeError, NotTcp};
use crate::capture::LinkType;

/// LINKTYPE_* numbers decoded here (libpcap's `pcap-linktype` list).
pub(crate) const NULL: i32 = 0;
pub(crate) const ETHERNET: i32 = 1;
/// DLT_RAW as some BSDs number it in pcap files.
pub(crate) const RAW_12: i32 = 12;
pub(crate) const RAW_14: i32 = 14;
pub(crate) const RAW: i32 = 101;
pub(crate) const LOOP: i32 = 108;
pub(crate) const LINUX_SLL: i32 = 113;
pub(crate) const IPV4: i32 = 228;
pub(crate) const IPV6: i32 = 229;
pub(crate) const LINUX_SLL2: i32 = 276;

/// ARPHRD_NETLINK: SLL/SLL2 protocol is a netlink family, not an EtherType.
const ARPHRD_NETLINK: u16 = 824;
/// EtherTypes start here; smaller values are 802.3 lengths or SLL pseudo-protocols.
const MIN_ETHER_TYPE: u16 = 0x0600;

/// What the link layer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link<'a> {
    /// Network-layer bytes and their EtherType (raw IP uses IPv4; the IP
    /// version nibble decides).
    Net {
        ether_type: EtherType,
        payload: &'a [u8],
    },
    /// A link-layer protocol other than IP.
    Other(NotTcp),
}

/// Strips the link header; `Ok(None)` for a link type xmppcap does not decode.
pub(crate) fn parse_link(
    link_type: LinkType,
    data: &[u8],
) -> Result<Option<Link<'_>>, DecodeError> {
    let link = match link_type.0 {
        ETHERNET => parse_ethernet(data)?,
        RAW | RAW_12 | RAW_14 | IPV4 => net(EtherType::IPV4, data),
        IPV6 => net(EtherType::IPV6, data),
        NULL => parse_null(data)?,
        LOOP => parse_loop(data)?,
        LINUX_SLL => parse_sll(data)?,
        LINUX_SLL2 => parse_sll2(data)?,
        _ => return Ok(None),
    };
    Ok(Some(link))
}

fn net(ether_type: EtherType, payload: &[u8]) -> Link<'_> {
    Link::Net {
        ether_type,
        payload,
    }
}

fn truncated(link: &'static str, need: usize, have: usize) -> DecodeError {
    DecodeError::LinkTruncated { link, need, have }
}

/// Ethernet II (without FCS: Wireshark assumes none unless told).
pub(crate) fn parse_ethernet(data: &[u8]) -> Result<Link<'_>, DecodeError> {
    let eth = Ethernet2Slice::from_slice_without_fcs(data).map_err(|e| DecodeError::Sliced {
        layer: Layer::Ethernet2Header,
        error: SliceError::Len(e),
    })?;
    let payload = eth.payload();
    Ok(net(payload.ether_type, payload.payload))
}

/// BSD loopback: a 4-byte address family in the capturing host's byte order.
pub(crate) fn parse_null(data: &[u8]) -> Result<Link<'_>, DecodeError> {
    let (family, payload) = data
        .split_first_chunk::<4>()
        .ok_or_else(|| truncated("BSD loopback", 4, data.len()))?;
    let family = u32::from_le_bytes(*family);
    // Address families are small: a value with high bits set was written big-endian.
    let family = if family > 0xffff {
        family.swap_bytes()
    } else {
        family
    };
    Ok(by_address_family(family, payload))
}

/// OpenBSD loopback: the address family in network byte order.
pub(crate) fn parse_loop(data: &[u8]) -> Result<Link<'_>, DecodeError> {
    let (family, payload) = data
        .split_first_chunk::<4>()
        .ok_or_else(|| truncated("OpenBSD loopback", 4, data.len()))?;
    Ok(by_address_family(u32::from_be_bytes(*family), payload))
}

/// AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
fn by_address_family(family: u32, payload: &[u8]) -> Link<'_> {
    match family {
        2 => net(EtherType::IPV4, payload),
        24 | 28 | 30 => net(EtherType::IPV6, payload),
        other => Link::Other(NotTcp::AddressFamily(other)),
    }
}

/// Linux cooked capture v1 (16-byte header).
pub(crate) fn parse_sll(data: &[u8]) -> Result<Link<'_>, DecodeError> {
    use etherparse::err::linux_sll::HeaderSliceError;
    match LinuxSllSlice::from_slice(data) {
        Ok(sll) => Ok(match sll.protocol_type() {
            LinuxSllProtocolType::EtherType(t) => net(t, sll.payload_slice()),
            LinuxSllProtocolType::GenericRoutingEncapsulationProtocolType(t) => {
                net(EtherType(t), sll.payload_slice())
            }
            LinuxSllProtocolType::LinuxNonstandardEtherType(t) => {
                Link::Other(NotTcp::LinkProtocol(u16::from(t)))
            }
            LinuxSllProtocolType::NetlinkProtocolType(p) | LinuxSllProtocolType::Ignored(p) => {
                Link::Other(NotTcp::LinkProtocol(p))
            }
        }),
        Err(HeaderSliceError::Len(e)) => Err(DecodeError::Sliced {
            layer: Layer::LinuxSllHeader,
            error: SliceError::Len(e),
        }),
        // etherparse knows five hardware types; Linux has more (loopback,
        // tunnels, PPP), whose protocol field is an EtherType too.
        Err(HeaderSliceError::Content(_)) => {
            let (header, payload) = data
                .split_first_chunk::<16>()
                .ok_or_else(|| truncated("Linux SLL", 16, data.len()))?;
            let hatype = u16::from_be_bytes([header[2], header[3]]);
            let protocol = u16::from_be_bytes([header[14], header[15]]);
            Ok(by_sll_protocol(hatype, protocol, payload))
        }
    }
}

/// Linux cooked capture v2 (20-byte header; etherparse has no parser for it).
pub(crate) fn parse_sll2(data: &[u8]) -> Result<Link<'_>, DecodeError> {
    let (header, payload) = data
        .split_first_chunk::<20>()
        .ok_or_else(|| truncated("Linux SLL2", 20, data.len()))?;
    let protocol = u16::from_be_bytes([header[0], header[1]]);
    let hatype = u16::from_be_bytes([header[8], header[9]]);
    Ok(by_sll_protocol(hatype, protocol, payload))
}

fn by_sll_protocol(hatype: u16, protocol: u16, payload: &[u8]) -> Link<'_> {
    if hatype != ARPHRD_NETLINK && protocol >= MIN_ETHER_TYPE {
        net(EtherType(protocol), payload)
    } else {
        Link::Other(NotTcp::LinkProtocol(protocol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(n: i32) -> LinkType {
        LinkType(n)
    }

    fn sll(hatype: u16, protocol: u16) -> Vec<u8> {
        let mut h = vec![0, 0];
        h.extend_from_slice(&hatype.to_be_bytes());
        h.extend_from_slice(&6u16.to_be_bytes());
        h.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0]);
        h.extend_from_slice(&protocol.to_be_bytes());
        h.extend_from_slice(&[0x45, 0]);
        h
    }

    fn sll2(hatype: u16, protocol: u16) -> Vec<u8> {
        let mut h = protocol.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, 0, 0, 0, 0, 2]);
        h.extend_from_slice(&hatype.to_be_bytes());
        h.extend_from_slice(&[0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
        h.extend_from_slice(&[0x45, 0]);
        h
    }

    #[test]
    fn null_reads_family_in_either_byte_order() {
        let payload = [0x60, 0];
        for header in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let data = [&header[..], &payload].concat();
            assert_eq!(parse_null(&data), Ok(net(EtherType::IPV4, &payload)));
        }
        for family in [24u32, 28, 30] {
            for data in [
                [&family.to_le_bytes()[..], &payload].concat(),
                [&family.to_be_bytes()[..], &payload].concat(),
            ] {
                assert_eq!(parse_null(&data), Ok(net(EtherType::IPV6, &payload)));
            }
        }
        assert_eq!(
            parse_null(&[7, 0, 0, 0]),
            Ok(Link::Other(NotTcp::AddressFamily(7)))
        );
    }

    #[test]
    fn loop_is_network_order() {
        assert_eq!(
            parse_loop(&[0, 0, 0, 30, 9]),
            Ok(net(EtherType::IPV6, &[9]))
        );
        assert_eq!(
            parse_loop(&[2, 0, 0, 0]),
            Ok(Link::Other(NotTcp::AddressFamily(0x0200_0000)))
        );
    }

    #[test]
    fn sll_ethertype_and_hardware_types_etherparse_rejects() {
        let ip = [0x45u8, 0];
        // ARPHRD_ETHER (etherparse), ARPHRD_LOOPBACK and ARPHRD_NONE (fallback).
        for hatype in [1u16, 772, 0xfffe] {
            assert_eq!(
                parse_sll(&sll(hatype, 0x0800)),
                Ok(net(EtherType::IPV4, &ip)),
                "hatype {hatype}"
            );
        }
        assert_eq!(
            parse_sll(&sll(824, 0x0800)),
            Ok(Link::Other(NotTcp::LinkProtocol(0x0800)))
        );
        assert_eq!(
            parse_sll(&sll(772, 0x0004)),
            Ok(Link::Other(NotTcp::LinkProtocol(4)))
        );
    }

    #[test]
    fn sll2_reads_protocol_and_hardware_type() {
        assert_eq!(
            parse_sll2(&sll2(1, 0x86dd)),
            Ok(net(EtherType::IPV6, &[0x45, 0]))
        );
        assert_eq!(
            parse_sll2(&sll2(824, 0x86dd)),
            Ok(Link::Other(NotTcp::LinkProtocol(0x86dd)))
        );
        assert_eq!(
            parse_sll2(&sll2(1, 0x0001)),
            Ok(Link::Other(NotTcp::LinkProtocol(1)))
        );
    }

    #[test]
    fn every_prefix_of_each_link_header_is_truncated_never_a_panic() {
        let cases: [(i32, Vec<u8>, usize, &str); 4] = [
            (LINUX_SLL2, sll2(1, 0x0800), 20, "Linux SLL2"),
            (NULL, vec![2, 0, 0, 0, 0x45], 4, "BSD loopback"),
            (LOOP, vec![0, 0, 0, 2, 0x45], 4, "OpenBSD loopback"),
            (LINUX_SLL, sll(772, 0x0800), 16, "Linux SLL"),
        ];
        for (link_type, data, need, name) in cases {
            for cut in 0..need {
                let got = parse_link(lt(link_type), &data[..cut]);
                match got {
                    Err(DecodeError::LinkTruncated {
                        link,
                        need: n,
                        have,
                    }) => {
                        assert_eq!((link, n, have), (name, need, cut));
                    }
                    Err(DecodeError::Sliced { layer, .. }) => {
                        assert_eq!(layer, Layer::LinuxSllHeader)
                    }
                    other => panic!("{name} cut at {cut}: {other:?}"),
                }
            }
            assert!(matches!(
                parse_link(lt(link_type), &data[..need]),
                Ok(Some(_))
            ));
        }
        for cut in 0..14 {
            let err = parse_link(lt(ETHERNET), &[0u8; 14][..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Sliced {
                        layer: Layer::Ethernet2Header,
                        ..
                    }
                ),
                "{err:?}"
            );
        }
    }

    #[test]
    fn raw_ip_link_types_and_unsupported_ones() {
        for link_type in [RAW, RAW_12, RAW_14, IPV4] {
            assert_eq!(
                parse_link(lt(link_type), &[0x45]),
                Ok(Some(net(EtherType::IPV4, &[0x45])))
            );
        }
        assert_eq!(
            parse_link(lt(IPV6), &[0x60]),
            Ok(Some(net(EtherType::IPV6, &[0x60])))
        );
        assert_eq!(parse_link(lt(105), &[0; 40]), Ok(None));
    }
}
