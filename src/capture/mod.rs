//! Stage `capture`: reads pcap and pcapng files (optionally gzip-compressed,
//! or from stdin) as a stream of packet records.
//!
//! Takes a file path or a reader; gives [`Packet`]s numbered exactly like
//! Wireshark's `frame.number`, TLS key log text found in pcapng Decryption
//! Secrets Blocks, and findings (a file cut mid-record, an oversized block).
//! Never holds more than one block in memory and never fails on anything
//! inside the file once its format is recognised.

use crate::common::FrameRef;

/// Link-layer type of an interface (LINKTYPE_* numbers).
pub use pcap_parser::Linktype as LinkType;

/// One packet record as captured.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Wireshark frame number (1-based, counting every packet record in file order) and time.
    pub at: FrameRef,
    /// Link type of the interface the packet was captured on.
    pub link_type: LinkType,
    /// Captured bytes (possibly cut short by the snapshot length).
    pub data: &'a [u8],
    /// Length of the packet on the wire; more than `data.len()` when cut by the snapshot length.
    pub orig_len: u32,
    /// pcapng interface index (0 for pcap).
    pub interface: u32,
}
