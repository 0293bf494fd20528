//! Tunnels over UDP: VXLAN (RFC 7348) decoded, the others recognised by port.
//!
//! Takes a UDP datagram's ports and payload; gives the inner Ethernet frame
//! of VXLAN, a [`Tunnel`] not decoded, or `None` for plain UDP. Like
//! Wireshark, the lower port is tried first; the higher one only when the
//! lower is not a well-known port (below 1024), which Wireshark would give
//! to that port's own dissector.

use super::{Inner, Unwrapped};
use crate::decode::cursor::Cursor;
use crate::decode::{DecodeError, Header, Tunnel};

/// IANA's VXLAN port, and the Linux kernel's historical default.
const VXLAN_PORTS: [u16; 2] = [4789, 8472];

enum UdpTunnel {
    Vxlan,
    NotDecoded(Tunnel),
}

fn by_port(port: u16) -> Option<UdpTunnel> {
    let tunnel = match port {
        p if VXLAN_PORTS.contains(&p) => return Some(UdpTunnel::Vxlan),
        6081 => Tunnel::Geneve,
        2152 => Tunnel::GtpU,
        5247 => Tunnel::Capwap,
        1701 => Tunnel::L2tp,
        3544 => Tunnel::Teredo,
        4790 => Tunnel::VxlanGpe,
        6635 => Tunnel::MplsOverUdp,
        4754 => Tunnel::GreOverUdp,
        _ => return None,
    };
    Some(UdpTunnel::NotDecoded(tunnel))
}

/// The tunnel a UDP datagram carries, if its ports say it is one.
pub(crate) fn parse_udp_tunnel(
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Option<Result<Unwrapped<'_>, DecodeError>> {
    let (low, high) = (src_port.min(dst_port), src_port.max(dst_port));
    let tunnel = by_port(low).or_else(|| if low >= 1024 { by_port(high) } else { None })?;
    Some(match tunnel {
        UdpTunnel::Vxlan => parse_vxlan(payload),
        UdpTunnel::NotDecoded(t) => Ok(Unwrapped {
            name: "udp",
            inner: Inner::NotDecoded(t),
        }),
    })
}

/// Flags (I = 0x08), reserved, VNI, reserved; then Ethernet. Like Wireshark,
/// the I flag is shown, not required.
fn parse_vxlan(payload: &[u8]) -> Result<Unwrapped<'_>, DecodeError> {
    let mut c = Cursor::new(Header::Vxlan, payload);
    c.take(8)?;
    Ok(Unwrapped {
        name: "vxlan",
        inner: Inner::Ethernet(c.rest()),
    })
}
