//! What the TCP stage tells the stages above it, and the per-stream summary.
//!
//! Takes nothing; gives the [`Event`] vocabulary, the [`Sink`] trait that
//! receives it, and [`StreamStats`], the serialisable row of
//! `xmppcap streams`. Data borrows from the packet or from the out-of-order
//! buffer for the duration of one call: a sink that keeps bytes copies them.

use std::net::SocketAddr;

use serde::Serialize;

use crate::finding::{Finding, Findings};
use crate::position::{Dir, FrameRef};
use crate::tcp::FindingCode;

/// Receives the events of every TCP stream, in the order they happen.
pub trait Sink: Findings {
    fn on_tcp(&mut self, event: Event<'_>);
}

/// How the client and server roles of a stream were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The stream began with a SYN: its sender is the client.
    Handshake,
    /// The first packet was a SYN-ACK: its sender is the server.
    SynAck,
    /// The capture began mid-connection; roles come from the port heuristic
    /// documented in [`crate::tcp`].
    MidStream,
}

impl Origin {
    /// How the stream opened, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Handshake => "opened with SYN",
            Origin::SynAck => "opened with SYN-ACK (SYN not captured)",
            Origin::MidStream => "capture started mid-connection",
        }
    }
}

/// Why a range of a direction's bytes is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The receiver acknowledged bytes the capture never showed: certain loss in the capture.
    Lost,
    /// The packet was cut by the capture's snapshot length.
    SnapLen,
    /// The out-of-order buffer reached its cap before the hole was filled.
    BufferLimit,
    /// The stream ended (RST, eviction, port reuse) before the hole was filled.
    Closed,
    /// The capture ended before the hole was filled.
    EndOfCapture,
}

impl GapReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::Lost => "lost",
            GapReason::SnapLen => "snaplen",
            GapReason::BufferLimit => "buffer_limit",
            GapReason::Closed => "closed",
            GapReason::EndOfCapture => "end_of_capture",
        }
    }
}

/// The finding a capture gap is: `tcp.gap` (warn), located at the byte
/// offset where the bytes are missing.
pub(crate) fn gap_finding(
    stream: u64,
    dir: Dir,
    at: FrameRef,
    offset: u64,
    len: u64,
    reason: GapReason,
) -> Finding {
    Finding::new(
        FindingCode::Gap,
        format!(
            "{len} bytes from the {} missing in the capture at stream offset {offset} ({})",
            dir.side(),
            reason.as_str()
        ),
    )
    .at(at)
    .in_stream(stream, Some(dir))
    .at_offset(offset)
}

/// One thing that happened on a TCP stream. `stream` is Wireshark's `tcp.stream`.
///
/// Per stream: `Opened` first, `Closed` last, exactly once each. Per direction,
/// `Data` and `Gap` tile the byte space: each starts at the `offset` where the
/// previous one ended, from 0. `Fin` follows the last `Data`/`Gap` of its
/// direction; after `Rst`, or `Fin` in both directions, only `Closed` follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Opened {
        stream: u64,
        at: FrameRef,
        client: SocketAddr,
        server: SocketAddr,
        origin: Origin,
    },
    /// In-order bytes of one direction, all from the segment of frame `at`.
    Data {
        stream: u64,
        dir: Dir,
        at: FrameRef,
        offset: u64,
        bytes: &'a [u8],
    },
    /// `len` bytes of one direction that will never be delivered; `at` is the
    /// frame where that became known.
    Gap {
        stream: u64,
        dir: Dir,
        at: FrameRef,
        offset: u64,
        len: u64,
        reason: GapReason,
    },
    /// The sender of `dir` closed its side (delivered in sequence order).
    Fin { stream: u64, dir: Dir, at: FrameRef },
    /// The sender of `dir` reset the connection.
    Rst { stream: u64, dir: Dir, at: FrameRef },
    /// The stream left the table; `stats` are final.
    Closed {
        stream: u64,
        at: FrameRef,
        stats: &'a StreamStats,
    },
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirStats {
    /// Packets sent in this direction (any flags, any length).
    pub packets: u64,
    /// Payload bytes delivered as `Data`.
    pub bytes: u64,
    /// Bytes received again for sequence space already seen (retransmissions, overlaps).
    pub retransmitted_bytes: u64,
    /// Overlapping copies whose bytes differed from the buffered first copy.
    pub conflicting_overlaps: u64,
    /// Segments that arrived ahead of a hole and were buffered.
    pub out_of_order_segments: u64,
    /// Segments more than 2^30 bytes ahead of the next expected byte, ignored.
    pub out_of_window_segments: u64,
    /// `Gap` events and the bytes they cover.
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Keep-alives (0 or 1 byte at the next sequence number minus one).
    pub keep_alives: u64,
    /// Zero-window probes (1 byte at the next sequence number while the peer's window is 0).
    pub zero_window_probes: u64,
    /// Payload bytes that arrived after this direction's FIN or after a RST.
    pub bytes_after_close: u64,
    /// Segments in which this side advertised a zero receive window.
    pub zero_windows: u64,
}

/// The opening handshake as seen: the frames of the first SYN, the last
/// SYN, the first SYN-ACK and the client's ACK of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Handshake {
    pub syn: Option<FrameRef>,
    /// The last SYN sent (equal to `syn` without retries).
    pub last_syn: Option<FrameRef>,
    /// SYNs sent again after the first (same sequence number).
    pub syn_retries: u32,
    pub syn_ack: Option<FrameRef>,
    /// The client's first ACK after the SYN-ACK.
    pub ack: Option<FrameRef>,
}

impl Handshake {
    /// SYN → SYN-ACK → ACK, in milliseconds (Wireshark's `tcp.analysis.initial_rtt`).
    pub fn rtt_ms(&self) -> Option<f64> {
        let (syn, ack) = (self.last_syn?, self.ack?);
        let ns = ack.ts.nanos_since(syn.ts);
        (ns >= 0).then(|| ns as f64 / 1e6)
    }
}

/// How a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Both sides sent FIN.
    Fin,
    /// A side sent RST (see `rst_from`).
    Rst,
    /// Still open (perhaps half-closed) when the capture ended.
    OpenAtEnd,
    /// Closed to make room under `max_open_flows`.
    Evicted,
    /// Released by the memory budget (the least recently active connection
    /// when many connections fill it; `limits.memory`).
    MemoryBudget,
    /// A new SYN reused the 4-tuple while this stream was still open.
    PortReused,
}

/// The summary of one stream: one row of `xmppcap streams`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    pub stream: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub origin: Origin,
    /// The first frame of the stream.
    pub first: FrameRef,
    /// The last frame, dated no earlier than `first` (a frame dated before
    /// the first counts at the first's time), so `last - first` is never negative.
    pub last: FrameRef,
    pub client_to_server: DirStats,
    pub server_to_client: DirStats,
    pub syn_seen: bool,
    pub syn_ack_seen: bool,
    pub fin_from_client: bool,
    pub fin_from_server: bool,
    /// The side that sent the first RST.
    pub rst_from: Option<Dir>,
    pub ending: Ending,
    pub handshake: Handshake,
}

impl StreamStats {
    /// How the stream ended, in words: `FIN both`, `RST from server`, `open at end`...
    pub fn ending_words(&self) -> String {
        let side = |d: Dir| {
            if d == Dir::ClientToServer {
                "client"
            } else {
                "server"
            }
        };
        match self.ending {
            Ending::Fin => "FIN both".to_owned(),
            Ending::Rst => format!("RST from {}", self.rst_from.map_or("?", side)),
            Ending::OpenAtEnd => match (self.fin_from_client, self.fin_from_server) {
                (true, false) => "FIN client, open at end".to_owned(),
                (false, true) => "FIN server, open at end".to_owned(),
                _ => "open at end".to_owned(),
            },
            Ending::Evicted => "evicted (flow limit)".to_owned(),
            Ending::MemoryBudget => "released (memory budget)".to_owned(),
            Ending::PortReused => "port reused".to_owned(),
        }
    }

    /// The counters of one direction.
    pub fn dir(&self, dir: Dir) -> &DirStats {
        match dir {
            Dir::ClientToServer => &self.client_to_server,
            Dir::ServerToClient => &self.server_to_client,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    #[test]
    fn stats_serialise_with_snake_case_names() {
        let stats = StreamStats {
            stream: 3,
            client: "10.0.0.1:50000".parse().unwrap(),
            server: "10.0.0.2:8445".parse().unwrap(),
            origin: Origin::SynAck,
            first: FrameRef::new(1, Timestamp::default()),
            last: FrameRef::new(9, Timestamp::default()),
            client_to_server: DirStats::default(),
            server_to_client: DirStats {
                bytes: 5,
                ..DirStats::default()
            },
            syn_seen: false,
            syn_ack_seen: true,
            fin_from_client: true,
            fin_from_server: false,
            rst_from: Some(Dir::ServerToClient),
            ending: Ending::OpenAtEnd,
            handshake: Handshake::default(),
        };
        let json = serde_json::to_string(&stats).unwrap();
        assert!(json.contains("\"origin\":\"syn_ack\""), "{json}");
        assert!(json.contains("\"ending\":\"open_at_end\""), "{json}");
        assert!(json.contains("\"rst_from\":\"s2c\""), "{json}");
        assert!(json.contains("\"server\":\"10.0.0.2:8445\""), "{json}");
        assert_eq!(stats.dir(Dir::ServerToClient).bytes, 5);
        assert_eq!(GapReason::EndOfCapture.as_str(), "end_of_capture");
    }
}
