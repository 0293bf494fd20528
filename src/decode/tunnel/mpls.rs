//! MPLS label stacks (RFC 3032 §2.1) and what follows the bottom of the stack.
//!
//! Takes the bytes after EtherType 0x8847/0x8848; gives IPv4, IPv6 or an
//! Ethernet pseudowire frame, following Wireshark 4.0's packet-mpls.c: the
//! first nibble after the stack says 4 (IPv4), 6 (IPv6), 1 (associated
//! channel: control traffic) or 0 (Ethernet pseudowire, with or without a
//! control word). Never reads past the captured bytes.
//!
//! Wireshark tells a bare Ethernet frame from one behind an RFC 4385 control
//! word by looking both MAC prefixes up in its manufacturer table; without
//! that table, the reading that puts an IP EtherType (after any VLAN tags)
//! where Ethernet has it wins, the control word when both or neither do
//! (Wireshark's answer when the prefixes are unknown).

use etherparse::EtherType;

use super::{Inner, Unwrapped};
use crate::decode::cursor::Cursor;
use crate::decode::{DecodeError, Header, NotTcp, Tunnel};

/// Generic Associated Channel Label (RFC 5586): OAM traffic follows.
const GAL: u32 = 13;
const BOTTOM_OF_STACK: u32 = 0x100;

/// One label stack and its payload.
pub(crate) fn parse_mpls(bytes: &[u8]) -> Result<Unwrapped<'_>, DecodeError> {
    let mut c = Cursor::new(Header::Mpls, bytes);
    let mut labels = 0usize;
    loop {
        if c.is_empty() {
            return Err(DecodeError::NoBottomOfStack { labels });
        }
        let entry = c.u32()?;
        labels += 1;
        if entry & BOTTOM_OF_STACK != 0 {
            if entry >> 12 == GAL {
                return Ok(control());
            }
            break;
        }
    }
    let payload = c.rest();
    let Some(first) = payload.first() else {
        return Err(DecodeError::Truncated {
            header: Header::Mpls,
            need: labels * 4 + 1,
            have: labels * 4,
        });
    };
    let inner = match first >> 4 {
        4 => Inner::Ether(EtherType::IPV4, payload),
        6 => Inner::Ether(EtherType::IPV6, payload),
        1 => return Ok(control()),
        0 => pseudowire(payload),
        _ => Inner::NotDecoded(Tunnel::MplsPayload),
    };
    Ok(Unwrapped {
        name: "mpls",
        inner,
    })
}

fn control() -> Unwrapped<'static> {
    Unwrapped {
        name: "mpls",
        inner: Inner::Control(NotTcp::MplsControl),
    }
}

/// An Ethernet pseudowire frame whose first nibble is 0: bare, or behind a
/// 4-byte control word.
fn pseudowire(payload: &[u8]) -> Inner<'_> {
    let behind_word = payload.get(4..).unwrap_or_default();
    if carries_ip(payload) && !carries_ip(behind_word) {
        Inner::Ethernet(payload)
    } else {
        Inner::Ethernet(behind_word)
    }
}

/// Whether `frame` reads as Ethernet (up to two VLAN tags) carrying IPv4 or
/// IPv6 whose version nibble agrees.
fn carries_ip(frame: &[u8]) -> bool {
    let mut at = 12;
    for _ in 0..3 {
        let Some(&[hi, lo, next]) = frame.get(at..).and_then(|s| s.first_chunk::<3>()) else {
            return false;
        };
        match u16::from_be_bytes([hi, lo]) {
            0x8100 | 0x88a8 => at += 4,
            0x0800 => return next >> 4 == 4,
            0x86dd => return next >> 4 == 6,
            _ => return false,
        }
    }
    false
}
