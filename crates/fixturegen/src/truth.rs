//! What a correct analyzer must find in a fixture: per TCP stream (in
//! Wireshark's `tcp.stream` order) and per direction, the reassembled
//! bytes and the gaps; for TLS streams, the decrypted bytes too; for
//! WebSocket streams, the messages.
//!
//! Takes nothing from any analyzer stage: computed from what the models
//! sent and which bytes the capture kept. Never fails.

use std::net::SocketAddr;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Dir;

/// Bytes missing from a direction's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Offset of the first missing byte, counted from the first byte of the
    /// direction present in the capture (missing bytes included).
    pub offset: u64,
    /// Number of missing bytes.
    pub len: u64,
}

/// One direction of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirTruth {
    /// The bytes present, in stream order, gaps skipped (what
    /// `follow --raw` writes).
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// The holes, in stream order.
    pub gaps: Vec<Gap>,
}

impl DirTruth {
    /// A direction captured whole.
    pub fn whole(bytes: Vec<u8>) -> DirTruth {
        DirTruth {
            bytes,
            gaps: Vec::new(),
        }
    }

    /// The direction made of the ranges `[start, end)` of `data` that the
    /// capture holds (any order, overlaps allowed); bytes between the last
    /// range and `known_end` (proven sent by a cut frame or a FIN) are a
    /// trailing gap.
    pub fn from_ranges(data: &[u8], mut ranges: Vec<(u64, u64)>, known_end: u64) -> DirTruth {
        ranges.retain(|r| r.1 > r.0);
        ranges.sort_unstable();
        let Some(&(first, _)) = ranges.first() else {
            return DirTruth::default();
        };
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut out = DirTruth::default();
        let mut prev_end = first;
        for (s, e) in merged {
            if s > prev_end {
                out.gaps.push(Gap {
                    offset: prev_end - first,
                    len: s - prev_end,
                });
            }
            let end = (e as usize).min(data.len());
            out.bytes
                .extend_from_slice(data.get(s as usize..end).unwrap_or(&[]));
            prev_end = e;
        }
        if known_end > prev_end {
            out.gaps.push(Gap {
                offset: prev_end - first,
                len: known_end - prev_end,
            });
        }
        out
    }

    /// Number of bytes present.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// True when no byte is present.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Lower-case hex SHA-256 of the bytes present (as in the corpus's
    /// `streams.tsv`).
    pub fn sha256_hex(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One WebSocket message or control frame a stream must yield.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WsTruth {
    /// Direction.
    pub dir: Dir,
    /// `text`, `binary`, `ping`, `pong` or `close`.
    pub opcode: &'static str,
    /// Whether it was sent compressed (permessage-deflate).
    pub compressed: bool,
    /// The payload after reassembly and inflation (close: the reason only).
    pub payload: Vec<u8>,
    /// Close code, for a close frame that has one.
    pub close_code: Option<u16>,
}

/// Everything expected of one TCP stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamTruth {
    /// Wireshark's `tcp.stream` index (order of first appearance).
    pub index: u32,
    /// The side that sent the SYN (or would have, for mid-stream starts).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// 1-based number of the stream's first frame.
    pub first_frame: u64,
    /// TCP payload per direction, client to server first.
    pub tcp: [DirTruth; 2],
    /// Decrypted TLS application data per direction, when the stream is TLS
    /// and the key log covers it (after STARTTLS: only the TLS part).
    pub tls: Option<[DirTruth; 2]>,
    /// WebSocket messages in capture order, when the stream carries them.
    pub ws: Vec<WsTruth>,
}

impl StreamTruth {
    /// The TCP truth of one direction.
    pub fn dir(&self, dir: Dir) -> &DirTruth {
        &self.tcp[dir.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_into_bytes_and_gaps() {
        let data: Vec<u8> = (0..100).collect();
        let t = DirTruth::from_ranges(&data, vec![(50, 60), (10, 20), (15, 30), (70, 90)], 100);
        assert_eq!(t.len(), 20 + 10 + 20);
        assert_eq!(t.bytes[0], 10);
        let gaps = [(20, 20), (50, 10), (80, 10)].map(|(offset, len)| Gap { offset, len });
        assert_eq!(t.gaps, gaps.to_vec());
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            DirTruth::default().sha256_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
