//! Stage `decode`: link layer, IPv4/IPv6 and TCP headers of one packet.
//!
//! Takes a [`crate::capture::Packet`]; gives the TCP segment it carries (with
//! IPv4 fragments reassembled, bounded) or says why there is none. Never reads
//! past the captured bytes: a packet cut by the snapshot length decodes as far
//! as it goes and reports how many payload bytes are missing.

use std::net::SocketAddr;

/// TCP header flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub urg: bool,
}

/// One TCP segment, borrowed from the packet (or from a reassembled IPv4 datagram).
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Raw window field (unscaled).
    pub window: u16,
    /// Payload bytes that were captured.
    pub payload: &'a [u8],
    /// Payload bytes announced by the IP length but not captured (snapshot length cut).
    /// The segment's sequence space covers `payload.len() + missing` bytes.
    pub missing: u32,
}
