//! GRE (RFC 2784, with RFC 2890's key and sequence number and RFC 1701's
//! routing) and the ERSPAN headers it carries (draft-foschiano-erspan-03,
//! as Wireshark's packet-erspan.c reads them).
//!
//! Takes a GRE header and what follows; gives the payload by protocol type.
//! Never checks the checksum (Wireshark decodes packets whose checksum is wrong).

use etherparse::EtherType;

use super::{Inner, Unwrapped};
use crate::decode::cursor::Cursor;
use crate::decode::{DecodeError, Header, Tunnel};

const CHECKSUM_PRESENT: u16 = 0x8000;
const ROUTING_PRESENT: u16 = 0x4000;
const KEY_PRESENT: u16 = 0x2000;
const SEQUENCE_PRESENT: u16 = 0x1000;
const VERSION: u16 = 0x0007;

/// Transparent Ethernet bridging: the payload is an Ethernet frame.
const TRANSPARENT_ETHERNET: u16 = 0x6558;
/// ERSPAN types I and II (type I has no GRE sequence number and no ERSPAN header).
const ERSPAN_88BE: u16 = 0x88be;
const ERSPAN_III: u16 = 0x22eb;

/// Protocol types decoded through the EtherType path.
const ETHER_PAYLOADS: [u16; 7] = [0x0800, 0x86dd, 0x8847, 0x8848, 0x8100, 0x88a8, 0x9100];

/// One GRE header and what it carries.
pub(crate) fn parse_gre(bytes: &[u8]) -> Result<Unwrapped<'_>, DecodeError> {
    let mut c = Cursor::new(Header::Gre, bytes);
    let flags = c.u16()?;
    let protocol = c.u16()?;
    let gre = |inner| Ok(Unwrapped { name: "gre", inner });
    match flags & VERSION {
        0 => {}
        1 => return gre(Inner::NotDecoded(Tunnel::Pptp)),
        version => {
            return Err(DecodeError::Field {
                header: Header::Gre,
                field: "version",
                value: u32::from(version),
                expected: "0 (or 1, PPTP)",
            })
        }
    }
    // RFC 1701: checksum and offset are both present when either C or R is set.
    if flags & (CHECKSUM_PRESENT | ROUTING_PRESENT) != 0 {
        c.take(4)?;
    }
    if flags & KEY_PRESENT != 0 {
        c.take(4)?;
    }
    if flags & SEQUENCE_PRESENT != 0 {
        c.take(4)?;
    }
    if flags & ROUTING_PRESENT != 0 {
        skip_routing(&mut c)?;
    }
    let payload = c.rest();
    match protocol {
        p if ETHER_PAYLOADS.contains(&p) => gre(Inner::Ether(EtherType(p), payload)),
        TRANSPARENT_ETHERNET => gre(Inner::Ethernet(payload)),
        ERSPAN_88BE if flags & SEQUENCE_PRESENT == 0 => Ok(Unwrapped {
            name: "erspan",
            inner: Inner::Ethernet(payload),
        }),
        ERSPAN_88BE | ERSPAN_III => Ok(Unwrapped {
            name: "erspan",
            inner: parse_erspan(payload)?,
        }),
        other => gre(Inner::NotDecoded(Tunnel::GreProtocol(other))),
    }
}

/// RFC 1701 source route entries: address family, SRE offset, SRE length,
/// then the entry; a NULL entry (family 0, length 0) ends the list.
fn skip_routing(c: &mut Cursor<'_>) -> Result<(), DecodeError> {
    loop {
        let family = c.u16()?;
        let _offset = c.u8()?;
        let len = c.u8()?;
        if family == 0 && len == 0 {
            return Ok(());
        }
        c.take(usize::from(len))?;
    }
}

/// An ERSPAN type II or III header (its version field says which), then the mirrored frame.
pub(crate) fn parse_erspan(bytes: &[u8]) -> Result<Inner<'_>, DecodeError> {
    let mut c = Cursor::new(Header::Erspan, bytes);
    let version = c.u16()? >> 12;
    match version {
        // Type II: COS/En/T/session, then reserved and index.
        1 => {
            c.take(6)?;
            Ok(Inner::Ethernet(c.rest()))
        }
        // Type III: COS/BSO/T/session, timestamp, SGT, then P|FT|HW ID|D|Gra|O.
        2 => {
            c.take(8)?;
            let last = c.u16()?;
            let frame_type = ((last >> 10) & 0x1f) as u8;
            if last & 0x0001 != 0 {
                c.take(8)?; // platform-specific sub-header
            }
            Ok(match frame_type {
                0 => Inner::Ethernet(c.rest()),
                other => Inner::NotDecoded(Tunnel::ErspanFrameType(other)),
            })
        }
        other => Err(DecodeError::Field {
            header: Header::Erspan,
            field: "version",
            value: u32::from(other),
            expected: "1 (type II) or 2 (type III)",
        }),
    }
}
