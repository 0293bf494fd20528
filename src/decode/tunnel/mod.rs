//! Encapsulation headers etherparse does not parse: GRE and ERSPAN, VXLAN
//! (and the UDP ports of tunnels not decoded), MPLS, PPPoE.
//!
//! Takes the bytes that start with one such header; gives what follows it
//! ([`Inner`]): bytes of an EtherType, a whole Ethernet frame, a tunnel not
//! decoded or the tunnel's own control traffic. Pure: no state, no
//! allocation; every read goes through [`super::cursor::Cursor`], so a cut
//! header is [`super::DecodeError::Truncated`], never a panic. Never decides
//! nesting depth: the decoder counts the layers.

use etherparse::EtherType;

use super::{NotTcp, Tunnel};

pub(crate) mod gre;
pub(crate) mod mpls;
pub(crate) mod pppoe;
pub(crate) mod udp;

#[cfg(test)]
mod tests;

/// What an encapsulation header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inner<'a> {
    /// Bytes of this EtherType (IPv4 and IPv6 are told apart by their version nibble).
    Ether(EtherType, &'a [u8]),
    /// A whole Ethernet II frame (without FCS).
    Ethernet(&'a [u8]),
    /// A payload xmppcap does not decode.
    NotDecoded(Tunnel),
    /// The encapsulation's own control traffic: no TCP in it.
    Control(NotTcp),
}

/// One encapsulation layer unwrapped: its name in the decode counters and what it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unwrapped<'a> {
    pub(crate) name: &'static str,
    pub(crate) inner: Inner<'a>,
}
