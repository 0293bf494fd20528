//! Assembles a capture from several conversations: interleaves their
//! segments in time, renders them on their wires, applies a snap length,
//! and computes the truth (per stream, per direction) from the bytes the
//! frames actually kept.
//!
//! Takes finished (possibly impaired) segment lists; gives frames in
//! capture order and [`StreamTruth`]s in Wireshark's stream order. Holds
//! everything in memory: for small fixtures only (benchmarks stream
//! through `bench`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::frame::Frame;
use super::tcp::{Conversation, Segment};
use super::truth::{DirTruth, StreamTruth, WsTruth};
use super::wire::{render, Wire};
use super::Error;
use crate::Dir;

/// What the truth needs to know about one conversation.
#[derive(Clone, Debug, Default)]
struct Source {
    endpoints: Option<(SocketAddr, SocketAddr)>,
    data: [Vec<u8>; 2],
    tls: Option<[DirTruth; 2]>,
    ws: Vec<WsTruth>,
}

/// Per direction: the stream ranges kept, and how far bytes were proven sent.
type Kept = (Vec<(u64, u64)>, u64);

/// A frame plus the stream bytes it holds.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The frame as written.
    pub frame: Frame,
    conv: u32,
    dir: Dir,
    /// Stream byte range `[start, end)` of its direction kept in the frame.
    cover: Option<(u64, u64)>,
    /// Stream offset up to which the frame proves bytes were sent (its
    /// payload's end even if cut, or a FIN's position).
    known_end: u64,
}

/// A capture being assembled.
#[derive(Debug, Default)]
pub struct Capture {
    items: Vec<(Segment, Wire)>,
    sources: BTreeMap<u32, Source>,
    snaplen: Option<usize>,
}

impl Capture {
    /// An empty capture.
    pub fn new() -> Capture {
        Capture::default()
    }

    /// Adds a conversation's (impaired) segments, captured on `wire`.
    pub fn add(&mut self, conv: &Conversation, segs: Vec<Segment>, wire: Wire) {
        let src = self.sources.entry(conv.id()).or_default();
        src.endpoints = Some((conv.config().client, conv.config().server));
        for dir in Dir::BOTH {
            src.data[dir.index()] = conv.data(dir).to_vec();
        }
        self.items.extend(segs.into_iter().map(|s| (s, wire)));
    }

    /// Adds segments of a conversation a correct analyzer is not expected to
    /// decode (inside a tunnel xmppcap skips): in the capture, not in the
    /// truth. Its stream index is still used up, as Wireshark numbers it.
    pub fn add_untracked(&mut self, segs: Vec<Segment>, wire: Wire) {
        self.items.extend(segs.into_iter().map(|s| (s, wire)));
    }

    /// Records the decrypted TLS bytes expected of a conversation.
    pub fn set_tls(&mut self, conv: u32, tls: [DirTruth; 2]) {
        self.sources.entry(conv).or_default().tls = Some(tls);
    }

    /// Records the WebSocket messages expected of a conversation.
    pub fn set_ws(&mut self, conv: u32, ws: Vec<WsTruth>) {
        self.sources.entry(conv).or_default().ws = ws;
    }

    /// Cuts every frame to `n` captured bytes.
    pub fn set_snaplen(&mut self, n: usize) {
        self.snaplen = Some(n);
    }

    /// Renders every segment, in time order (ties keep insertion order).
    pub fn render(&self) -> Result<Vec<Captured>, Error> {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by_key(|&i| self.items[i].0.ts_ns);
        let mut out = Vec::with_capacity(order.len());
        for i in order {
            let (seg, wire) = &self.items[i];
            for (k, r) in render(seg, wire)?.into_iter().enumerate() {
                let mut frame = r.frame;
                if let Some(n) = self.snaplen {
                    frame.data.truncate(n);
                }
                let cover = cover(seg, k, r.header_len, frame.data.len());
                let known_end = if seg.syn {
                    0
                } else {
                    seg.stream_off + seg.payload.len() as u64
                };
                out.push(Captured {
                    frame,
                    conv: seg.conv,
                    dir: seg.dir,
                    cover,
                    known_end,
                });
            }
        }
        Ok(out)
    }

    /// The truth for the given captured frames (a prefix of `render()` for
    /// a truncated file).
    pub fn truth(&self, caps: &[Captured]) -> Vec<StreamTruth> {
        let mut first: Vec<(u32, u64)> = Vec::new();
        let mut ranges: BTreeMap<(u32, usize), Kept> = BTreeMap::new();
        for (n, c) in caps.iter().enumerate() {
            if !first.iter().any(|f| f.0 == c.conv) {
                first.push((c.conv, n as u64 + 1));
            }
            let entry = ranges.entry((c.conv, c.dir.index())).or_default();
            entry.0.extend(c.cover);
            entry.1 = entry.1.max(c.known_end);
        }
        let mut out = Vec::new();
        for (index, (conv, first_frame)) in first.into_iter().enumerate() {
            let Some(src) = self.sources.get(&conv) else {
                continue;
            };
            let Some((client, server)) = src.endpoints else {
                continue;
            };
            let dir_truth = |d: usize| {
                let (r, end) = ranges.get(&(conv, d)).cloned().unwrap_or_default();
                DirTruth::from_ranges(&src.data[d], r, end)
            };
            out.push(StreamTruth {
                index: index as u32,
                client,
                server,
                first_frame,
                tcp: [dir_truth(0), dir_truth(1)],
                tls: src.tls.clone(),
                ws: src.ws.clone(),
            });
        }
        out
    }

    /// Frames and truth of the whole capture.
    pub fn finish(&self) -> Result<(Vec<Frame>, Vec<StreamTruth>), Error> {
        let caps = self.render()?;
        let truth = self.truth(&caps);
        Ok((caps.into_iter().map(|c| c.frame).collect(), truth))
    }
}

/// The stream range a frame keeps: a whole segment's payload for the first
/// fragment of a fragmented segment (fragments are never cut or lost
/// here), else the payload bytes left after the snap length.
fn cover(seg: &Segment, k: usize, header_len: usize, kept: usize) -> Option<(u64, u64)> {
    if seg.payload.is_empty() || seg.syn || k > 0 {
        return None;
    }
    let len = if seg.fragment.is_some() {
        seg.payload.len()
    } else {
        kept.saturating_sub(header_len).min(seg.payload.len())
    };
    (len > 0).then_some((seg.stream_off, seg.stream_off + len as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impair;
    use crate::tcp::ConvConfig;

    fn conv(id: u32, port: u16, start: i64) -> Conversation {
        let cfg = ConvConfig::new(
            format!("10.0.0.1:{port}").parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        let mut c = Conversation::new(id, cfg, start);
        c.handshake();
        c.send(Dir::ClientToServer, &[b'a'; 3000]);
        c.send(Dir::ServerToClient, &[b'b'; 100]);
        c
    }

    #[test]
    fn streams_are_numbered_by_first_frame() {
        let mut cap = Capture::new();
        let mut late = conv(0, 1000, 5_000_000);
        let mut early = conv(1, 1001, 0);
        let segs = late.drain();
        cap.add(&late, segs, Wire::ethernet());
        let segs = early.drain();
        cap.add(&early, segs, Wire::ethernet());
        let (frames, truth) = cap.finish().unwrap();
        assert!(frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        assert_eq!(truth[0].client.port(), 1001);
        assert_eq!(truth[1].client.port(), 1000);
        assert_eq!(truth[0].first_frame, 1);
        assert_eq!(truth[1].dir(Dir::ClientToServer).len(), 3000);
    }

    #[test]
    fn snaplen_and_loss_become_gaps() {
        let mut cap = Capture::new();
        let mut c = conv(0, 1000, 0);
        let mut segs = c.drain();
        impair::lose(&mut segs, Dir::ClientToServer, 1);
        cap.add(&c, segs, Wire::ethernet());
        cap.set_snaplen(14 + 20 + 20 + 1000);
        let (_, truth) = cap.finish().unwrap();
        let c2s = truth[0].dir(Dir::ClientToServer);
        assert_eq!(c2s.len(), 1000 + 80);
        let gaps: Vec<(u64, u64)> = c2s.gaps.iter().map(|g| (g.offset, g.len)).collect();
        assert_eq!(gaps, vec![(1000, 460 + 1460)]);
    }
}
