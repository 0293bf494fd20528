//! One direction of a TCP stream: segments in any order in, bytes in order out.
//!
//! Takes the payload, snapshot-length cut, FIN and the peer's ACKs and window
//! of one direction; gives `Data`, `Gap` and `Fin` events whose offsets tile
//! the direction's byte space from 0. Never copies in-order bytes (they are
//! passed on from the packet), never buffers more than the out-of-order caps
//! plus one segment, never emits a byte twice, and never panics on any
//! sequence numbers.
//!
//! Offsets are `u64` and measured from the current receive point, so sequence
//! wraparound is invisible here. Segments ahead of a hole wait in a
//! [`Buffer`] of owned, non-overlapping chunks.
//!
//! Overlaps: the first bytes seen for an offset win, whether they were
//! delivered already or are still buffered. A later copy only counts as
//! retransmitted bytes; when it differs from a buffered first copy, that is a
//! `tcp.overlap_mismatch` finding naming both frames (bytes already delivered
//! are not kept, so their retransmissions are counted but not compared).

use crate::common::{Dir, FrameRef};
use crate::finding::{Finding, Layer, Level};

use super::buffer::{Buffer, Overlap, Piece};
use super::event::{DirStats, Event, GapReason, Sink};
use super::seq::Seq;

/// Mismatch findings reported per direction; later ones are only counted.
const MAX_MISMATCH_FINDINGS: u64 = 8;

/// The largest window TCP can advertise (65535 << 14): sequence numbers
/// further ahead than this belong to no plausible segment or ACK of this stream.
const MAX_AHEAD: u64 = 1 << 30;

/// Which stream and direction events are about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    pub stream: u64,
    pub dir: Dir,
}

/// Out-of-order caps of one direction (from `Limits`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps {
    pub max_bytes: usize,
    pub max_segments: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing seen yet: the offset origin is unknown.
    Idle,
    Open,
    /// The FIN was delivered in order; later bytes are retransmissions or after-FIN data.
    Finished,
    /// Flushed after a RST: nothing more is delivered.
    Closed,
}

#[derive(Clone, Copy, Debug)]
struct PendingFin {
    off: u64,
    at: FrameRef,
}

/// Reassembly state of one direction.
#[derive(Debug)]
pub(crate) struct Assembler {
    phase: Phase,
    /// Sequence number of the byte at `next_off`.
    next_seq: Seq,
    /// Offset of the next byte to deliver.
    next_off: u64,
    ooo: Buffer,
    /// End offset of the highest payload byte seen.
    seen_end: u64,
    /// Offset up to which the peer acknowledged (exclusive).
    acked: u64,
    fin: Option<PendingFin>,
    /// Sequence number of the delivered FIN (valid in `Finished`).
    fin_seq: Seq,
    /// The peer's latest ACK number, kept even before the offset origin is known.
    peer_ack: Option<Seq>,
    /// The window the peer last advertised (raw).
    peer_window: Option<u16>,
    caps: Caps,
    noted_ooo_limit: bool,
    noted_after_fin: bool,
    pub(crate) stats: DirStats,
}

impl Assembler {
    pub(crate) fn new(caps: Caps) -> Assembler {
        Assembler {
            phase: Phase::Idle,
            next_seq: Seq(0),
            next_off: 0,
            ooo: Buffer::default(),
            seen_end: 0,
            acked: 0,
            fin: None,
            fin_seq: Seq(0),
            peer_ack: None,
            peer_window: None,
            caps,
            noted_ooo_limit: false,
            noted_after_fin: false,
            stats: DirStats::default(),
        }
    }

    /// True once the FIN of this direction was delivered in order.
    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Offset of the next byte to deliver.
    #[cfg(test)]
    pub(crate) fn next_offset(&self) -> u64 {
        self.next_off
    }

    /// Bytes currently held out of order.
    #[cfg(test)]
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.ooo.bytes()
    }

    fn start(&mut self, seq: Seq) {
        self.phase = Phase::Open;
        self.next_seq = seq;
        self.next_off = 0;
        self.seen_end = 0;
        // Bytes the peer acknowledged beyond our first byte were sent and not
        // captured; bytes before it were never ours to see (mid-stream start).
        self.acked = match self.peer_ack {
            Some(ack) if ack.diff(seq) > 0 => ack.diff(seq) as u64,
            _ => 0,
        };
    }

    /// A SYN of this direction: the first data byte is `isn + 1`, at offset 0.
    pub(crate) fn on_syn(&mut self, isn: Seq) {
        let first = isn + 1;
        match self.phase {
            Phase::Idle => self.start(first),
            // A different ISN before anything was delivered or buffered (e.g. a
            // new SYN-ACK answering a retried SYN): move the origin.
            Phase::Open if self.next_off == 0 && self.ooo.segments() == 0 && self.fin.is_none() => {
                self.start(first)
            }
            _ => {}
        }
    }

    /// A SYN-ACK from the receiver acknowledged `ack`: when this direction's
    /// own SYN was not seen, its first byte is still known to be `ack`.
    pub(crate) fn on_peer_syn_ack(&mut self, ack: Seq) {
        if self.phase == Phase::Idle {
            self.start(ack);
        }
    }

    /// The window the receiver of this direction advertised.
    pub(crate) fn on_peer_window(&mut self, window: u16) {
        self.peer_window = Some(window);
    }

    /// An ACK from the receiver of this direction.
    pub(crate) fn on_peer_ack(&mut self, cx: Ctx, at: FrameRef, ack: Seq, sink: &mut impl Sink) {
        self.peer_ack = Some(self.peer_ack.map_or(ack, |old| old.max(ack)));
        if self.phase != Phase::Open {
            return;
        }
        let rel = ack.diff(self.next_seq);
        if rel > 0 && rel as u64 <= MAX_AHEAD {
            self.acked = self.acked.max(self.next_off + rel as u64);
            self.check_acked(cx, at, sink);
        }
    }

    /// A segment without payload, SYN or FIN: counted when it is a keep-alive.
    pub(crate) fn on_empty(&mut self, seq: Seq) {
        if self.phase == Phase::Open && (seq + 1).diff(self.seq_at(self.top())) == 0 {
            self.stats.keep_alives += 1;
        }
    }

    /// Payload of a segment: `bytes` were captured, `missing` more were cut by
    /// the snapshot length; the first byte has sequence number `seq`.
    pub(crate) fn on_data(
        &mut self,
        cx: Ctx,
        at: FrameRef,
        seq: Seq,
        bytes: &[u8],
        missing: u32,
        sink: &mut impl Sink,
    ) {
        let span = bytes.len() as u64 + u64::from(missing);
        if span == 0 || !self.accepts(cx, at, seq, bytes.len() as u64, span, sink) {
            return;
        }
        let start = self.next_off as i128 + i128::from(seq.diff(self.next_seq));
        if self.is_not_data(cx, at, seq, start, span, sink) {
            return;
        }
        if start > self.next_off as i128 {
            self.stats.out_of_order_segments += 1;
        }
        let mut pieces = [
            (start, Piece::Bytes(bytes)),
            (start + bytes.len() as i128, Piece::Missing(missing.into())),
        ];
        if let Some(fin) = self.fin {
            for (s, piece) in pieces.iter_mut() {
                let room = (fin.off as i128 - *s).clamp(0, piece.len() as i128) as u64;
                if room < piece.len() {
                    let beyond = piece.captured() - piece.sub(0, room).captured();
                    self.note_after_fin(cx, at, fin.off, beyond, sink);
                    *piece = piece.sub(0, room);
                }
            }
        }
        for (s, piece) in pieces {
            self.take(cx, at, s, piece, sink);
        }
        let end = (start + i128::from(span)).max(0) as u64;
        self.seen_end = self.seen_end.max(self.fin.map_or(end, |f| end.min(f.off)));
        self.enforce_caps(cx, at, sink);
        self.check_acked(cx, at, sink);
    }

    /// The FIN of this direction, at sequence number `fin_seq`.
    pub(crate) fn on_fin(&mut self, cx: Ctx, at: FrameRef, fin_seq: Seq, sink: &mut impl Sink) {
        match self.phase {
            Phase::Idle => self.start(fin_seq),
            Phase::Open => {}
            Phase::Finished | Phase::Closed => return,
        }
        let off = self.next_off as i128 + i128::from(fin_seq.diff(self.next_seq));
        if off < self.next_off as i128 || self.fin.is_some() {
            // Behind delivered bytes, or a second FIN at another place: the
            // first consistent FIN stands.
            return;
        }
        let off = off as u64;
        let dropped = self.ooo.truncate(off);
        if dropped > 0 {
            self.note_after_fin(cx, at, off, dropped, sink);
        }
        self.seen_end = self.seen_end.min(off.max(self.next_off));
        self.fin = Some(PendingFin { off, at });
        self.check_acked(cx, at, sink);
        self.drain(cx, sink);
    }

    /// End of this direction (RST, idle, eviction, end of capture): every hole
    /// before buffered data becomes a gap, then the buffer is delivered.
    pub(crate) fn flush(&mut self, cx: Ctx, at: FrameRef, reason: GapReason, sink: &mut impl Sink) {
        while self.phase == Phase::Open {
            let Some(h) = self.horizon() else { break };
            self.gap_to(cx, at, h, reason, sink);
            self.drain(cx, sink);
        }
        if self.phase == Phase::Open {
            // Acknowledged but never seen. One sequence number is most likely a
            // FIN the capture missed, not a byte.
            let unseen = self.acked.saturating_sub(self.next_off);
            if unseen > 1 {
                self.emit_gap(cx, at, unseen, GapReason::Lost, sink);
            }
        }
        self.ooo.clear();
        self.fin = None;
        if self.phase != Phase::Finished {
            self.phase = Phase::Closed;
        }
    }

    // --- internals ---

    /// Whether payload can be data now; counts it when it comes too late.
    fn accepts(
        &mut self,
        cx: Ctx,
        at: FrameRef,
        seq: Seq,
        captured: u64,
        span: u64,
        sink: &mut impl Sink,
    ) -> bool {
        match self.phase {
            Phase::Open => true,
            Phase::Idle => {
                // A 1-byte segment the peer already acknowledged is a
                // keep-alive, not the first byte of the stream.
                let old = self
                    .peer_ack
                    .is_some_and(|ack| (seq + span as u32).diff(ack) <= 0);
                if span == 1 && old {
                    self.stats.keep_alives += 1;
                    return false;
                }
                self.start(seq);
                true
            }
            Phase::Finished | Phase::Closed => {
                self.on_late_data(cx, at, seq, captured, span, sink);
                false
            }
        }
    }

    /// Keep-alives, zero-window probes and implausible segments: counted, not data.
    fn is_not_data(
        &mut self,
        cx: Ctx,
        at: FrameRef,
        seq: Seq,
        start: i128,
        span: u64,
        sink: &mut impl Sink,
    ) -> bool {
        let top = self.top() as i128;
        if span == 1 && start + 1 == top {
            self.stats.keep_alives += 1;
        } else if span == 1 && start == top && self.peer_window == Some(0) {
            self.stats.zero_window_probes += 1;
        } else if start > (self.next_off + MAX_AHEAD) as i128 {
            self.note_out_of_window(cx, at, seq, sink);
        } else {
            return false;
        }
        true
    }

    /// The end of everything seen or delivered.
    fn top(&self) -> u64 {
        self.seen_end.max(self.next_off)
    }

    fn seq_at(&self, off: u64) -> Seq {
        // Offsets ahead of next_off are within one window; truncation is the modulo 2^32 we want.
        self.next_seq + (off.wrapping_sub(self.next_off) as u32)
    }

    /// Where the next buffered thing (chunk or FIN) starts, if any.
    fn horizon(&self) -> Option<u64> {
        let chunk = self.ooo.first_start();
        let fin = self.fin.map(|f| f.off);
        match (chunk, fin) {
            (Some(c), Some(f)) => Some(c.min(f)),
            (c, f) => c.or(f),
        }
    }

    /// One piece of a new segment starting at `start` (may be before `next_off`).
    fn take(&mut self, cx: Ctx, at: FrameRef, start: i128, piece: Piece<'_>, sink: &mut impl Sink) {
        let len = piece.len() as i128;
        let next = self.next_off as i128;
        if len == 0 {
            return;
        }
        if start + len <= next {
            self.stats.retransmitted_bytes += piece.captured();
            return;
        }
        let (start, piece) = if start < next {
            let skip = (next - start) as u64;
            self.stats.retransmitted_bytes += piece.sub(0, skip).captured();
            (self.next_off, piece.sub(skip, piece.len()))
        } else {
            (start as u64, piece)
        };
        if start == self.next_off {
            self.deliver_in_order(cx, at, piece, sink);
        } else {
            let overlap = self.ooo.insert(start, at, piece);
            self.record_overlap(cx, at, overlap, sink);
        }
    }

    /// Delivers `piece`, which starts at `next_off`; buffered chunks it
    /// overlaps were seen first and win.
    fn deliver_in_order(&mut self, cx: Ctx, at: FrameRef, piece: Piece<'_>, sink: &mut impl Sink) {
        let start = self.next_off;
        let end = start + piece.len();
        while self.next_off < end {
            let pos = self.next_off;
            match self.ooo.first() {
                Some((k, clen)) if k <= pos => {
                    let copy = piece.sub(pos - start, (k + clen).min(end) - start);
                    let overlap = self.ooo.compare(k, pos, copy);
                    self.record_overlap(cx, at, overlap, sink);
                    self.pop_and_deliver(cx, sink);
                }
                next => {
                    let lim = next.map_or(end, |(k, _)| k.min(end));
                    self.emit_piece(cx, at, piece.sub(pos - start, lim - start), sink);
                }
            }
        }
        self.drain(cx, sink);
    }

    fn record_overlap(&mut self, cx: Ctx, at: FrameRef, overlap: Overlap, sink: &mut impl Sink) {
        self.stats.retransmitted_bytes += overlap.copied;
        let Some((first, offset)) = overlap.first_conflict else {
            return;
        };
        let reported = self.stats.conflicting_overlaps;
        self.stats.conflicting_overlaps += overlap.conflicts;
        if reported < MAX_MISMATCH_FINDINGS {
            sink.push_finding(
                Finding::new(
                    Level::Warn,
                    Layer::Tcp,
                    "tcp.overlap_mismatch",
                    format!(
                        "bytes retransmitted in frame {} differ from the first copy in frame {}; the first copy is kept",
                        at.frame, first.frame
                    ),
                )
                .at(at)
                .in_stream(cx.stream, Some(cx.dir))
                .at_offset(offset),
            );
        }
    }

    fn emit_piece(&mut self, cx: Ctx, at: FrameRef, piece: Piece<'_>, sink: &mut impl Sink) {
        match piece {
            Piece::Bytes(b) => self.emit_data(cx, at, b, sink),
            Piece::Missing(n) => self.emit_gap(cx, at, n, GapReason::SnapLen, sink),
        }
    }

    fn emit_data(&mut self, cx: Ctx, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) {
        if bytes.is_empty() {
            return;
        }
        sink.on_tcp(Event::Data {
            stream: cx.stream,
            dir: cx.dir,
            at,
            offset: self.next_off,
            bytes,
        });
        self.stats.bytes += bytes.len() as u64;
        self.advance(bytes.len() as u64);
    }

    fn emit_gap(
        &mut self,
        cx: Ctx,
        at: FrameRef,
        len: u64,
        reason: GapReason,
        sink: &mut impl Sink,
    ) {
        if len == 0 {
            return;
        }
        sink.on_tcp(Event::Gap {
            stream: cx.stream,
            dir: cx.dir,
            at,
            offset: self.next_off,
            len,
            reason,
        });
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        self.advance(len);
    }

    fn advance(&mut self, n: u64) {
        self.next_off += n;
        // Sequence numbers are modulo 2^32: truncating n is exact.
        self.next_seq = self.next_seq + n as u32;
    }

    /// Gap from `next_off` to `target`: the part the peer acknowledged is
    /// `Lost`, the rest has `reason`.
    fn gap_to(
        &mut self,
        cx: Ctx,
        at: FrameRef,
        target: u64,
        reason: GapReason,
        sink: &mut impl Sink,
    ) {
        if target <= self.next_off {
            return;
        }
        if self.acked > self.next_off && reason != GapReason::Lost {
            let lost = self.acked.min(target) - self.next_off;
            self.emit_gap(cx, at, lost, GapReason::Lost, sink);
        }
        let rest = target.saturating_sub(self.next_off);
        self.emit_gap(cx, at, rest, reason, sink);
    }

    fn pop_and_deliver(&mut self, cx: Ctx, sink: &mut impl Sink) {
        let Some((k, chunk)) = self.ooo.pop_first() else {
            return;
        };
        // Chunks never start before next_off; trimming keeps offsets exact even so.
        let skip = self.next_off.saturating_sub(k);
        let piece = chunk.piece();
        self.emit_piece(cx, chunk.at, piece.sub(skip, piece.len()), sink);
    }

    /// Delivers buffered chunks that are now in order, then the FIN if reached.
    fn drain(&mut self, cx: Ctx, sink: &mut impl Sink) {
        while self.ooo.first_start().is_some_and(|k| k <= self.next_off) {
            self.pop_and_deliver(cx, sink);
        }
        let Some(fin) = self.fin else { return };
        if fin.off == self.next_off && self.phase == Phase::Open {
            sink.on_tcp(Event::Fin {
                stream: cx.stream,
                dir: cx.dir,
                at: fin.at,
            });
            self.phase = Phase::Finished;
            self.fin_seq = self.next_seq;
            self.fin = None;
            self.ooo.clear();
        }
    }

    /// Rule (a): bytes the peer acknowledged that the capture never showed are
    /// lost, declared once something later of this direction was seen (so a
    /// capture that shows an ACK slightly before the data it covers loses nothing).
    fn check_acked(&mut self, cx: Ctx, at: FrameRef, sink: &mut impl Sink) {
        while self.phase == Phase::Open && self.acked > self.next_off {
            let Some(h) = self.horizon() else { break };
            let target = self.acked.min(h);
            if target <= self.next_off {
                break;
            }
            self.emit_gap(cx, at, target - self.next_off, GapReason::Lost, sink);
            self.drain(cx, sink);
        }
    }

    /// Rule (b): over the caps, the first hole is declared lost and the buffer drains.
    fn enforce_caps(&mut self, cx: Ctx, at: FrameRef, sink: &mut impl Sink) {
        let caps = self.caps;
        while self.ooo.bytes() > caps.max_bytes || self.ooo.segments() > caps.max_segments {
            let Some(k) = self.ooo.first_start() else {
                break;
            };
            if !self.noted_ooo_limit {
                self.noted_ooo_limit = true;
                sink.push_finding(
                    Finding::new(
                        Level::Warn,
                        Layer::Tcp,
                        "tcp.ooo_limit",
                        format!(
                            "out-of-order buffer full ({} bytes in {} segments); the {} missing bytes before it are given up as a gap",
                            self.ooo.bytes(),
                            self.ooo.segments(),
                            k.saturating_sub(self.next_off)
                        ),
                    )
                    .at(at)
                    .in_stream(cx.stream, Some(cx.dir))
                    .at_offset(self.next_off),
                );
            }
            self.gap_to(cx, at, k, GapReason::BufferLimit, sink);
            self.drain(cx, sink);
        }
    }

    fn note_out_of_window(&mut self, cx: Ctx, at: FrameRef, seq: Seq, sink: &mut impl Sink) {
        self.stats.out_of_window_segments += 1;
        if self.stats.out_of_window_segments == 1 {
            sink.push_finding(
                Finding::new(
                    Level::Warn,
                    Layer::Tcp,
                    "tcp.out_of_window",
                    format!(
                        "segment at sequence number {seq} is more than 2^30 bytes ahead of the next expected byte ({}); ignored",
                        self.next_seq
                    ),
                )
                .at(at)
                .in_stream(cx.stream, Some(cx.dir))
                .at_offset(self.next_off),
            );
        }
    }

    fn note_after_fin(
        &mut self,
        cx: Ctx,
        at: FrameRef,
        fin_off: u64,
        bytes: u64,
        sink: &mut impl Sink,
    ) {
        self.stats.bytes_after_close += bytes;
        if !self.noted_after_fin {
            self.noted_after_fin = true;
            sink.push_finding(
                Finding::new(
                    Level::Warn,
                    Layer::Tcp,
                    "tcp.data_after_fin",
                    format!(
                        "{bytes} bytes sent after this direction's FIN at offset {fin_off}; they are not part of the stream"
                    ),
                )
                .at(at)
                .in_stream(cx.stream, Some(cx.dir))
                .at_offset(fin_off),
            );
        }
    }

    /// Payload after the FIN was delivered, or after a RST.
    fn on_late_data(
        &mut self,
        cx: Ctx,
        at: FrameRef,
        seq: Seq,
        captured: u64,
        span: u64,
        sink: &mut impl Sink,
    ) {
        let end = seq + span as u32;
        match self.phase {
            Phase::Finished if end.diff(self.fin_seq) > 0 => {
                let beyond = (end.diff(self.fin_seq) as u64).min(captured);
                self.stats.retransmitted_bytes += captured - beyond;
                self.note_after_fin(cx, at, self.next_off, beyond, sink);
            }
            Phase::Closed if end.diff(self.next_seq) > 0 => {
                self.stats.bytes_after_close += captured;
            }
            _ => self.stats.retransmitted_bytes += captured,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::testkit::{Owned, Recorder};

    const CX: Ctx = Ctx {
        stream: 0,
        dir: Dir::ClientToServer,
    };
    const BIG: Caps = Caps {
        max_bytes: 1 << 20,
        max_segments: 1 << 10,
    };

    fn f(n: u64) -> FrameRef {
        FrameRef::new(n, crate::common::Timestamp::default())
    }

    fn asm(isn: u32) -> Assembler {
        let mut a = Assembler::new(BIG);
        a.on_syn(Seq(isn));
        a
    }

    fn data(a: &mut Assembler, r: &mut Recorder, frame: u64, seq: u32, bytes: &[u8]) {
        a.on_data(CX, f(frame), Seq(seq), bytes, 0, r);
    }

    #[test]
    fn in_order_bytes_pass_through_with_their_frames() {
        let mut r = Recorder::default();
        let mut a = asm(99);
        data(&mut a, &mut r, 2, 100, b"hello ");
        data(&mut a, &mut r, 3, 106, b"world");
        assert_eq!(
            r.events,
            vec![
                Owned::data(0, CX.dir, 2, 0, b"hello "),
                Owned::data(0, CX.dir, 3, 6, b"world"),
            ]
        );
        assert_eq!(a.stats.bytes, 11);
    }

    #[test]
    fn out_of_order_segment_waits_for_the_hole() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 4, b"defg");
        assert!(r.events.is_empty());
        assert_eq!(a.buffered_bytes(), 4);
        data(&mut a, &mut r, 3, 1, b"abc");
        assert_eq!(r.concat(CX.dir), b"abcdefg");
        assert_eq!(r.frames(CX.dir), vec![3, 2]);
        assert_eq!(a.stats.out_of_order_segments, 1);
        assert_eq!(a.buffered_bytes(), 0);
    }

    #[test]
    fn first_copy_wins_and_mismatch_names_both_frames() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 5, 4, b"DEF");
        data(&mut a, &mut r, 6, 3, b"cxyz"); // overlaps the buffered DEF with different bytes
        data(&mut a, &mut r, 7, 1, b"ab");
        assert_eq!(r.concat(CX.dir), b"abcDEF");
        assert_eq!(a.stats.retransmitted_bytes, 3);
        assert_eq!(r.findings.len(), 1);
        let finding = &r.findings[0];
        assert_eq!(finding.code, "tcp.overlap_mismatch");
        assert!(finding.message.contains("frame 6") && finding.message.contains("frame 5"));
        assert_eq!(finding.offset, Some(3));
    }

    #[test]
    fn in_order_segment_does_not_override_buffered_bytes() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 3, b"CD");
        data(&mut a, &mut r, 3, 1, b"abcdef");
        assert_eq!(r.concat(CX.dir), b"abCDef");
        assert_eq!(r.frames(CX.dir), vec![3, 2, 3]);
        assert_eq!(r.findings.len(), 1);
    }

    #[test]
    fn exact_and_partial_retransmissions_are_counted_not_delivered() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 1, b"abcd");
        data(&mut a, &mut r, 3, 1, b"abcd");
        data(&mut a, &mut r, 4, 3, b"cdef");
        assert_eq!(r.concat(CX.dir), b"abcdef");
        assert_eq!(a.stats.retransmitted_bytes, 6);
    }

    #[test]
    fn keep_alive_and_zero_window_probe_are_not_data() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 1, b"abc");
        data(&mut a, &mut r, 3, 3, b"\0"); // seq = next - 1
        a.on_empty(Seq(3));
        a.on_peer_window(0);
        data(&mut a, &mut r, 4, 4, b"d"); // probe at next
        a.on_peer_window(1000);
        data(&mut a, &mut r, 5, 4, b"de");
        assert_eq!(r.concat(CX.dir), b"abcde");
        assert_eq!(a.stats.keep_alives, 2);
        assert_eq!(a.stats.zero_window_probes, 1);
        assert_eq!(a.stats.retransmitted_bytes, 0);
    }

    #[test]
    fn snaplen_cut_is_a_gap_right_away() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        a.on_data(CX, f(2), Seq(1), b"ab", 3, &mut r);
        data(&mut a, &mut r, 3, 6, b"f");
        assert_eq!(
            r.events,
            vec![
                Owned::data(0, CX.dir, 2, 0, b"ab"),
                Owned::gap(0, CX.dir, 2, 2, 3, GapReason::SnapLen),
                Owned::data(0, CX.dir, 3, 5, b"f"),
            ]
        );
    }

    #[test]
    fn ack_beyond_a_hole_declares_it_lost_once_later_data_is_seen() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 1, b"ab");
        a.on_peer_ack(CX, f(3), Seq(9), &mut r); // acks up to offset 8: nothing later seen yet
        assert_eq!(r.events.len(), 1);
        data(&mut a, &mut r, 4, 7, b"gh"); // offset 6..8
        assert_eq!(
            r.events[1..],
            [
                Owned::gap(0, CX.dir, 4, 2, 4, GapReason::Lost),
                Owned::data(0, CX.dir, 4, 6, b"gh"),
            ]
        );
    }

    #[test]
    fn data_seen_just_after_its_ack_is_not_lost() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        a.on_peer_ack(CX, f(2), Seq(4), &mut r);
        data(&mut a, &mut r, 3, 1, b"abc");
        assert_eq!(r.events, vec![Owned::data(0, CX.dir, 3, 0, b"abc")]);
    }

    #[test]
    fn ooo_cap_forces_a_gap_with_one_finding() {
        let mut r = Recorder::default();
        let mut a = Assembler::new(Caps {
            max_bytes: 4,
            max_segments: 10,
        });
        a.on_syn(Seq(0));
        a.on_data(CX, f(2), Seq(3), b"cd", 0, &mut r);
        a.on_data(CX, f(3), Seq(6), b"fgh", 0, &mut r);
        assert_eq!(
            r.events,
            vec![
                Owned::gap(0, CX.dir, 3, 0, 2, GapReason::BufferLimit),
                Owned::data(0, CX.dir, 2, 2, b"cd"),
            ]
        );
        assert_eq!(a.buffered_bytes(), 3);
        // The late filler of the first hole is old now.
        a.on_data(CX, f(4), Seq(1), b"ab", 0, &mut r);
        assert_eq!(r.events.len(), 2);
        a.on_data(CX, f(5), Seq(10), b"jk", 0, &mut r);
        assert_eq!(
            r.events[2..],
            [
                Owned::gap(0, CX.dir, 5, 4, 1, GapReason::BufferLimit),
                Owned::data(0, CX.dir, 3, 5, b"fgh"),
            ]
        );
        assert_eq!(
            r.findings
                .iter()
                .filter(|x| x.code == "tcp.ooo_limit")
                .count(),
            1
        );
        assert_eq!(a.next_offset(), 8);
    }

    #[test]
    fn fin_waits_for_the_bytes_before_it() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        a.on_fin(CX, f(3), Seq(4), &mut r);
        assert!(r.events.is_empty());
        data(&mut a, &mut r, 4, 1, b"abc");
        assert_eq!(
            r.events,
            vec![
                Owned::data(0, CX.dir, 4, 0, b"abc"),
                Owned::fin(0, CX.dir, 3)
            ]
        );
        assert!(a.is_finished());
        data(&mut a, &mut r, 5, 2, b"bc"); // retransmission after FIN
        data(&mut a, &mut r, 6, 5, b"zz"); // data after FIN
        assert_eq!(r.events.len(), 2);
        assert_eq!(a.stats.retransmitted_bytes, 2);
        assert_eq!(a.stats.bytes_after_close, 2);
        assert_eq!(r.findings[0].code, "tcp.data_after_fin");
    }

    #[test]
    fn buffered_data_beyond_a_fin_is_dropped() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 3, b"cdef");
        a.on_fin(CX, f(3), Seq(5), &mut r); // FIN at offset 4: "ef" is after it
        data(&mut a, &mut r, 4, 1, b"ab");
        assert_eq!(r.concat(CX.dir), b"abcd");
        assert_eq!(r.events.last(), Some(&Owned::fin(0, CX.dir, 3)));
        assert_eq!(a.stats.bytes_after_close, 2);
    }

    #[test]
    fn flush_turns_holes_into_gaps_acked_part_lost() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 1, b"a");
        data(&mut a, &mut r, 3, 6, b"f");
        a.on_peer_ack(CX, f(4), Seq(4), &mut r); // acks offsets < 3 only
        a.flush(CX, f(9), GapReason::EndOfCapture, &mut r);
        assert_eq!(
            r.events,
            vec![
                Owned::data(0, CX.dir, 2, 0, b"a"),
                Owned::gap(0, CX.dir, 4, 1, 2, GapReason::Lost),
                Owned::gap(0, CX.dir, 9, 3, 2, GapReason::EndOfCapture),
                Owned::data(0, CX.dir, 3, 5, b"f"),
            ]
        );
    }

    #[test]
    fn flush_reports_acked_bytes_never_seen_but_not_a_missed_fin() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 1, b"ab");
        a.on_peer_ack(CX, f(3), Seq(4), &mut r); // one past the data: a FIN we missed
        a.flush(CX, f(4), GapReason::EndOfCapture, &mut r);
        assert_eq!(r.events.len(), 1);

        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 1, b"ab");
        a.on_peer_ack(CX, f(3), Seq(11), &mut r);
        a.flush(CX, f(4), GapReason::EndOfCapture, &mut r);
        assert_eq!(r.events[1], Owned::gap(0, CX.dir, 4, 2, 8, GapReason::Lost));
    }

    #[test]
    fn midstream_first_byte_is_offset_zero_and_earlier_acks_are_no_gap() {
        let mut r = Recorder::default();
        let mut a = Assembler::new(BIG);
        a.on_peer_ack(CX, f(1), Seq(1000), &mut r);
        data(&mut a, &mut r, 2, 5000, b"xy");
        assert_eq!(r.events, vec![Owned::data(0, CX.dir, 2, 0, b"xy")]);
    }

    #[test]
    fn midstream_keep_alive_before_any_data_is_not_the_origin() {
        let mut r = Recorder::default();
        let mut a = Assembler::new(BIG);
        a.on_peer_ack(CX, f(1), Seq(5000), &mut r);
        data(&mut a, &mut r, 2, 4999, b"\0");
        data(&mut a, &mut r, 3, 5000, b"real");
        assert_eq!(r.events, vec![Owned::data(0, CX.dir, 3, 0, b"real")]);
        assert_eq!(a.stats.keep_alives, 1);
    }

    #[test]
    fn wraparound_is_seamless() {
        let mut r = Recorder::default();
        let mut a = asm(u32::MAX - 3);
        data(&mut a, &mut r, 3, 1, b"efgh"); // after the wrap: offsets 5..9
        data(&mut a, &mut r, 2, u32::MAX - 2, b"abcde"); // offsets 0..5, crossing 2^32
        assert_eq!(r.concat(CX.dir), b"abcdefgh");
        a.on_fin(CX, f(4), Seq(5), &mut r);
        assert_eq!(r.events.last(), Some(&Owned::fin(0, CX.dir, 4)));
    }

    #[test]
    fn implausibly_far_segments_and_acks_are_ignored() {
        let mut r = Recorder::default();
        let mut a = asm(0);
        data(&mut a, &mut r, 2, 1, b"a");
        data(&mut a, &mut r, 3, 1 << 31, b"far");
        a.on_peer_ack(CX, f(4), Seq(3 << 30), &mut r);
        data(&mut a, &mut r, 5, 2, b"b");
        a.flush(CX, f(6), GapReason::EndOfCapture, &mut r);
        assert_eq!(r.concat(CX.dir), b"ab");
        assert_eq!(r.events.len(), 2);
        assert_eq!(a.stats.out_of_window_segments, 1);
        assert_eq!(r.findings[0].code, "tcp.out_of_window");
    }

    #[test]
    fn a_peer_syn_ack_fixes_the_origin_of_a_direction_without_syn() {
        let mut r = Recorder::default();
        let mut a = Assembler::new(BIG);
        a.on_peer_syn_ack(Seq(101));
        data(&mut a, &mut r, 3, 111, b"k");
        a.flush(CX, f(4), GapReason::EndOfCapture, &mut r);
        assert_eq!(
            r.events,
            vec![
                Owned::gap(0, CX.dir, 4, 0, 10, GapReason::EndOfCapture),
                Owned::data(0, CX.dir, 3, 10, b"k"),
            ]
        );
    }

    #[test]
    fn syn_ack_with_new_isn_moves_a_pristine_origin() {
        let mut r = Recorder::default();
        let mut a = asm(100);
        a.on_syn(Seq(500));
        data(&mut a, &mut r, 2, 501, b"ok");
        assert_eq!(r.events, vec![Owned::data(0, CX.dir, 2, 0, b"ok")]);
    }
}
