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

use crate::finding::Finding;
use crate::position::{Dir, FrameRef};
use crate::tcp::FindingCode;

use super::buffer::{Buffer, Overlap, Piece};
use super::event::{DirStats, Event, GapReason, Sink};
use super::seq::Seq;

/// Mismatch findings reported per direction; later ones are only counted.
const MAX_MISMATCH_FINDINGS: u64 = 8;

/// The largest window TCP can advertise (65535 << 14): sequence numbers
/// further ahead than this belong to no plausible segment or ACK of this stream.
const MAX_AHEAD: u64 = 1 << 30;

/// Whether `[start, start + span)` is within one largest window of the
/// receive point `next_off`, ahead or behind. Retransmissions lie behind it
/// and new data ahead, both by less than a window; a segment further away in
/// either direction is out of window (this is where a jump of 2^31 or more
/// lands: its signed 32-bit distance says "behind", as Wireshark would read
/// it, but it is no retransmission either).
fn within_reach(start: i128, span: u64, next_off: u64) -> bool {
    let next = i128::from(next_off);
    let reach = i128::from(MAX_AHEAD);
    start <= next + reach && start + i128::from(span) >= next - reach
}

/// Which stream and direction events are about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamDir {
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
    /// Bytes of the segments counted in `stats.out_of_window_segments`.
    out_of_window_bytes: u64,
    noted_out_of_window_total: bool,
    pub(crate) stats: DirStats,
}

impl Assembler {
    /// Out-of-order payload bytes held, waiting for the bytes before them.
    pub(crate) fn held_bytes(&self) -> usize {
        self.ooo.bytes()
    }

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
            out_of_window_bytes: 0,
            noted_out_of_window_total: false,
            stats: DirStats::default(),
        }
    }

    /// True once the FIN of this direction was delivered in order.
    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// True once the FIN of this direction was delivered in order and the
    /// peer acknowledged it (an ACK at most 2^30 beyond it: a wild one closes nothing).
    pub(crate) fn is_fin_acked(&self) -> bool {
        self.phase == Phase::Finished
            && self.peer_ack.is_some_and(|ack| {
                let beyond = ack.diff(self.fin_seq);
                beyond > 0 && beyond as u64 <= MAX_AHEAD
            })
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
    pub(crate) fn on_peer_ack(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        ack: Seq,
        sink: &mut impl Sink,
    ) {
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
        cx: StreamDir,
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
    pub(crate) fn on_fin(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        fin_seq: Seq,
        sink: &mut impl Sink,
    ) {
        match self.phase {
            Phase::Idle => self.start(fin_seq),
            Phase::Open => {}
            Phase::Finished | Phase::Closed => return,
        }
        let off = self.next_off as i128 + i128::from(fin_seq.diff(self.next_seq));
        if !within_reach(off, 0, self.next_off) {
            self.note_out_of_window(cx, at, fin_seq, 0, sink);
            return;
        }
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
    pub(crate) fn flush(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        reason: GapReason,
        sink: &mut impl Sink,
    ) {
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
        self.note_out_of_window_total(cx, at, sink);
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
        cx: StreamDir,
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
        cx: StreamDir,
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
        } else if !within_reach(start, span, self.next_off) {
            self.note_out_of_window(cx, at, seq, span, sink);
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
    fn take(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        start: i128,
        piece: Piece<'_>,
        sink: &mut impl Sink,
    ) {
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
    fn deliver_in_order(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        piece: Piece<'_>,
        sink: &mut impl Sink,
    ) {
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

    fn emit_piece(&mut self, cx: StreamDir, at: FrameRef, piece: Piece<'_>, sink: &mut impl Sink) {
        match piece {
            Piece::Bytes(b) => self.emit_data(cx, at, b, sink),
            Piece::Missing(n) => self.emit_gap(cx, at, n, GapReason::SnapLen, sink),
        }
    }

    fn emit_data(&mut self, cx: StreamDir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) {
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
        cx: StreamDir,
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
        cx: StreamDir,
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

    fn pop_and_deliver(&mut self, cx: StreamDir, sink: &mut impl Sink) {
        let Some((k, chunk)) = self.ooo.pop_first() else {
            return;
        };
        // Chunks never start before next_off; trimming keeps offsets exact even so.
        let skip = self.next_off.saturating_sub(k);
        let piece = chunk.piece();
        self.emit_piece(cx, chunk.at, piece.sub(skip, piece.len()), sink);
    }

    /// Delivers buffered chunks that are now in order, then the FIN if reached.
    fn drain(&mut self, cx: StreamDir, sink: &mut impl Sink) {
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
    fn check_acked(&mut self, cx: StreamDir, at: FrameRef, sink: &mut impl Sink) {
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

    /// The whole analysis's memory budget needs this buffer: every hole
    /// before buffered data is given up as a gap (`BufferLimit`, as when the
    /// per-direction cap is reached) and the data is delivered; the
    /// direction stays open.
    pub(crate) fn give_up_holes(&mut self, cx: StreamDir, at: FrameRef, sink: &mut impl Sink) {
        while self.phase == Phase::Open {
            let Some(k) = self.ooo.first_start() else {
                break;
            };
            self.gap_to(cx, at, k, GapReason::BufferLimit, sink);
            self.drain(cx, sink);
        }
    }

    /// Rule (b): over the caps, the first hole is declared lost and the buffer drains.
    fn enforce_caps(&mut self, cx: StreamDir, at: FrameRef, sink: &mut impl Sink) {
        let caps = self.caps;
        while self.ooo.bytes() > caps.max_bytes || self.ooo.segments() > caps.max_segments {
            let Some(k) = self.ooo.first_start() else {
                break;
            };
            if !self.noted_ooo_limit {
                self.noted_ooo_limit = true;
                sink.push_finding(
                    Finding::new(
                        FindingCode::OooLimit,
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
}

mod anomalies;

#[cfg(test)]
mod tests;
