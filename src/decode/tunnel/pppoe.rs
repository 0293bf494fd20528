//! PPPoE session packets (RFC 2516 §4) and the PPP protocol field (RFC 1661 §2).
//!
//! Takes the bytes after EtherType 0x8864; gives the IPv4 or IPv6 datagram,
//! PPP control traffic, or a PPP data protocol not decoded. Never reads past
//! the PPPoE length field.

use etherparse::EtherType;

use super::{Inner, Unwrapped};
use crate::decode::cursor::Cursor;
use crate::decode::{DecodeError, Header, NotTcp, Tunnel};

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
/// PPP protocols from 0x8000 up are network and link control (IPCP, LCP, CHAP...).
const PPP_CONTROL: u16 = 0x8000;

/// One PPPoE session header, then its PPP frame.
pub(crate) fn parse_pppoe(bytes: &[u8]) -> Result<Unwrapped<'_>, DecodeError> {
    let mut c = Cursor::new(Header::Pppoe, bytes);
    let version_type = c.u8()?;
    if version_type != 0x11 {
        return Err(DecodeError::Field {
            header: Header::Pppoe,
            field: "version and type",
            value: u32::from(version_type),
            expected: "0x11",
        });
    }
    let code = c.u8()?;
    if code != 0 {
        return Err(DecodeError::Field {
            header: Header::Pppoe,
            field: "code",
            value: u32::from(code),
            expected: "0 (session data)",
        });
    }
    let _session = c.u16()?;
    let length = usize::from(c.u16()?);
    let body = c.rest();
    // A cut packet has fewer bytes than the length says: decode what is there.
    let body = body.get(..length).unwrap_or(body);
    let mut ppp = Cursor::new(Header::Ppp, body);
    // RFC 1661 §6.5: a protocol field compressed to one byte is odd.
    let first = ppp.u8()?;
    let protocol = if first & 1 == 1 {
        u16::from(first)
    } else {
        u16::from_be_bytes([first, ppp.u8()?])
    };
    let payload = ppp.rest();
    let inner = match protocol {
        PPP_IPV4 => Inner::Ether(EtherType::IPV4, payload),
        PPP_IPV6 => Inner::Ether(EtherType::IPV6, payload),
        p if p >= PPP_CONTROL => Inner::Control(NotTcp::PppControl(p)),
        p => Inner::NotDecoded(Tunnel::PppProtocol(p)),
    };
    Ok(Unwrapped {
        name: "pppoe",
        inner,
    })
}
