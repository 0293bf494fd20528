//! Stage `capture`: reads pcap and pcapng files (optionally gzip-compressed,
//! or from stdin) as a stream of packet records.
//!
//! Takes a file path or a reader; gives [`Packet`]s numbered exactly like
//! Wireshark's `frame.number`, TLS key log text found in pcapng Decryption
//! Secrets Blocks, and findings (a file cut mid-record, an oversized block).
//! Never holds more than one block in memory and never fails on anything
//! inside the file once its format is recognised.
//!
//! [`CaptureReader`] is a lending iterator: each [`Item`] borrows the reader's
//! buffer until the next call to [`CaptureReader::next_item`].

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use serde::Serialize;

use crate::finding::Finding;
use crate::position::{FrameRef, Timestamp};

mod clock;
mod findings;
mod framing;
pub(crate) mod fuzz;
mod pcapng;
mod reader;
mod source;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
pub(crate) use corpus_tests::corpus_dir;
#[cfg(test)]
pub(crate) mod testutil;

pub use findings::FindingCode;
pub use reader::CaptureReader;

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

/// What the capture reader yields, in file order.
#[derive(Debug)]
pub enum Item<'a> {
    /// A packet record (EPB, SPB, obsolete PB or pcap record).
    Packet(Packet<'a>),
    /// TLS key log text (NSS key log format) from a pcapng Decryption Secrets
    /// Block (secrets type `0x544c534b`), found at this file offset.
    KeyLog { at_offset: u64, text: &'a [u8] },
    /// Something noteworthy or wrong in the file (truncation, corruption, a skipped block).
    Finding(Finding),
}

/// The container format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Format {
    /// libpcap.
    Pcap {
        precision: Precision,
        byte_order: ByteOrder,
        /// Kuznetzov's modified pcap (magic `a1b2cd34`, 24-byte record headers).
        modified: bool,
    },
    /// pcapng (each section has its own byte order; see [`CaptureSummary::sections`]).
    Pcapng,
    /// A browser HAR, read by `har` rather than by this module's reader (which
    /// never gives this format); what it held is in [`CaptureSummary::har`].
    Har,
}

/// Timestamp precision of a libpcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Microseconds,
    Nanoseconds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ByteOrder {
    Little,
    Big,
}

/// One capture interface (pcap has exactly one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InterfaceSummary {
    /// pcapng section (0-based); always 0 for pcap.
    pub section: u32,
    /// Interface index within its section, as EPBs refer to it.
    pub index: u32,
    /// LINKTYPE_* number.
    pub link_type: i32,
    /// Snapshot length as the file gives it; 0 means unknown (no limit is
    /// assumed: only `max_capture_block` applies).
    pub snaplen: u32,
    /// Timestamp unit, e.g. `10^-6` or `2^-20`.
    pub ts_resolution: String,
    /// `if_tsoffset`: seconds added to every timestamp of this interface.
    pub ts_offset_secs: i64,
}

/// What the capture file is and what it held; complete once the reader has returned `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaptureSummary {
    /// File path as given, or `stdin`.
    pub name: String,
    pub format: Format,
    /// The file was gzip-compressed.
    pub gzip: bool,
    /// pcapng sections seen (1 for pcap).
    pub sections: u32,
    /// Every interface of every section, in file order.
    pub interfaces: Vec<InterfaceSummary>,
    /// Packet records read (the last `frame.number`), including records skipped with a finding.
    pub packets: u64,
    /// Packets per LINKTYPE_* number.
    pub packets_per_link_type: BTreeMap<i32, u64>,
    /// Earliest packet time (like capinfos' "First packet time"), frames
    /// taken for time glitches left out.
    pub first_time: Option<Timestamp>,
    /// Latest packet time, frames taken for time glitches left out.
    pub last_time: Option<Timestamp>,
    /// Frames dated absurdly (before 1971, beyond 2262, or a day or more
    /// away from the frames around them): each is a `capture.time_glitch`.
    #[serde(skip_serializing_if = "is_zero")]
    pub time_glitches: u64,
    /// Captured packet bytes (capinfos' "Data size").
    pub bytes: u64,
    /// Bytes of the capture format read (after decompression).
    pub file_bytes: u64,
    /// TLS key logs found in Decryption Secrets Blocks.
    pub key_logs: u64,
    /// The file ends inside a record (or the gzip stream ends early).
    pub truncated: bool,
    /// Reading stopped early at garbage or a read error.
    pub corrupt: bool,
    /// For a HAR: what it held (absent for captures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub har: Option<HarSummary>,
}

/// What a browser HAR held: the counts a capture gives in packets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HarSummary {
    /// `log.creator` name and version (`WebInspector 537.36` for Chrome and Edge).
    pub creator: Option<String>,
    /// Elements of `log.entries` read.
    pub entries: u64,
    /// WebSocket entries among them.
    pub websockets: u64,
    /// WebSocket messages read (`_webSocketMessages` of every entry).
    pub messages: u64,
}

impl CaptureSummary {
    /// The summary of a capture nothing has been read from yet.
    pub(crate) fn new(name: String, format: Format, gzip: bool) -> CaptureSummary {
        CaptureSummary {
            name,
            format,
            gzip,
            sections: 0,
            interfaces: Vec::new(),
            packets: 0,
            packets_per_link_type: BTreeMap::new(),
            first_time: None,
            last_time: None,
            time_glitches: 0,
            bytes: 0,
            file_bytes: 0,
            key_logs: 0,
            truncated: false,
            corrupt: false,
            har: None,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why a capture cannot be read at all. Anything wrong *inside* a recognised
/// capture is an [`Item::Finding`] instead.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open capture file {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot read capture {name}: {source}")]
    Read { name: String, source: io::Error },
    #[error("cannot decompress capture {name} (gzip): {source}")]
    Gzip { name: String, source: io::Error },
    #[error("{name} is not a pcap or pcapng capture (first bytes: {first_bytes}; {guess})")]
    NotCapture {
        name: String,
        /// Hex of the first 8 bytes (fewer if the file is shorter).
        first_bytes: String,
        /// What the bytes look like: "empty file", "looks like text", "zip archive"...
        guess: String,
    },
}
