//! Record reassembly for one direction of a connection: bytes in, whole
//! records out.
//!
//! Takes the bytes of one direction as TCP delivers them (any chunking) and
//! the capture's gaps; gives whole records with the frame holding their first
//! byte, and after a gap or garbage scans for the next plausible record
//! header (the caller decides whether a candidate is trusted). Knows nothing
//! of keys or handshakes. Never buffers more than one record (or one
//! resynchronisation window), never indexes out of bounds.

use std::collections::VecDeque;

use super::record::{self, Header, Parse, RecordError, HEADER_LEN};
use crate::position::FrameRef;

/// Where a direction's byte framing stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// At a record boundary (or inside a record whose header is known).
    Records,
    /// Looking for the next record header after a gap or garbage; `since` is the
    /// frame where framing was lost; at most `budget` more bytes are scanned.
    Resync { since: u64, budget: usize },
    /// Given up on this direction.
    Stopped,
}

/// What the buffered bytes allow next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// A whole record is at the front of the buffer.
    Record(Header),
    /// The record (or its header) is not complete yet.
    NeedMore,
    /// The bytes at the front cannot be a record header.
    Invalid(RecordError),
    /// Framing is lost: scan for a header.
    Resync { since: u64, budget: usize },
    /// The direction was given up.
    Stopped,
}

/// The caller's verdict on a plausible header met while resynchronising.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Candidate {
    /// The record starts here.
    Accept,
    /// Not a record boundary: keep scanning.
    Reject,
    /// Cannot tell until the whole candidate record is there.
    Wait,
}

/// How a resynchronisation scan ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Scan {
    /// Bytes dropped before the candidate (or the end of the window).
    pub(super) skipped: usize,
    /// Frame of the first dropped byte.
    pub(super) skipped_at: FrameRef,
    pub(super) outcome: Rescan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rescan {
    /// Framing is back: the buffer starts with a record.
    Found,
    /// Nothing yet; the scan goes on with more bytes.
    NotYet,
    /// The scan budget is spent: the caller stops the direction.
    Exhausted,
}

/// Where a capture gap fell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GapCut {
    /// The direction was already given up.
    Stopped,
    /// The gap ended inside this record: the next record's start is known.
    InsideRecord(Header),
    /// Framing is lost; resynchronisation begins.
    Lost,
}

/// What a direction left behind when the connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Leftover {
    pub(super) at: FrameRef,
    /// Bytes of an incomplete record (or of an unfinished scan).
    pub(super) pending: usize,
    /// Whether they were the start of a record (not a resynchronisation window).
    pub(super) in_record: bool,
}

/// One direction's record framing.
#[derive(Debug)]
pub(super) struct Flow {
    /// The current record's bytes (or the resynchronisation window).
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    /// Stream offset of the next byte to arrive.
    next_offset: u64,
    /// Where each chunk began: (stream offset, frame), oldest first.
    frames: VecDeque<(u64, FrameRef)>,
    /// Bytes of a record broken by a gap still to drop.
    skip: u64,
    mode: Mode,
    /// Records framed so far (the SSLv2 ClientHello format is only accepted first).
    records: u64,
    max_record: usize,
}

impl Flow {
    pub(super) fn new(max_record: usize) -> Flow {
        Flow {
            buf: Vec::new(),
            buf_offset: 0,
            next_offset: 0,
            frames: VecDeque::new(),
            skip: 0,
            mode: Mode::Records,
            records: 0,
            max_record,
        }
    }

    /// Bytes held now: the part of a record (or resynchronisation window)
    /// received so far.
    pub(super) fn held_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Stream offset of the record (or resynchronisation point) being handled.
    pub(super) fn offset(&self) -> u64 {
        self.buf_offset
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.mode == Mode::Stopped
    }

    /// Bytes scanned at most after framing is lost.
    pub(super) fn resync_budget(&self) -> usize {
        2 * (HEADER_LEN + self.max_record)
    }

    /// The frame holding the current offset, forgetting older chunks.
    pub(super) fn frame(&mut self) -> FrameRef {
        let offset = self.buf_offset;
        while self.frames.len() > 1 && self.frames.get(1).is_some_and(|&(o, _)| o <= offset) {
            self.frames.pop_front();
        }
        self.frames.front().map(|&(_, at)| at).unwrap_or_default()
    }

    /// Notes a chunk of `len` bytes from frame `at`; returns how many of its
    /// first bytes belong to a record broken by a gap and are dropped.
    pub(super) fn arrive(&mut self, at: FrameRef, len: usize) -> usize {
        // A stopped direction never locates a frame again: remember none.
        if self.mode != Mode::Stopped && self.frames.back().is_none_or(|&(_, f)| f != at) {
            self.frames.push_back((self.next_offset, at));
        }
        self.next_offset += len as u64;
        let dropped = usize::try_from(self.skip).unwrap_or(usize::MAX).min(len);
        // No move of `buf_offset`: the gap already put it at the next record.
        self.skip -= dropped as u64;
        dropped
    }

    /// Buffers as many bytes of `input` as the framing needs next (up to the
    /// end of the current record); returns the rest.
    pub(super) fn fill<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        if input.is_empty() {
            return input;
        }
        let take = match self.mode {
            Mode::Records => {
                let want = match self.header() {
                    Parse::Complete(h) => h.total_len(),
                    _ => HEADER_LEN,
                };
                want.saturating_sub(self.buf.len()).clamp(1, input.len())
            }
            Mode::Resync { .. } | Mode::Stopped => input.len(),
        };
        let (now, rest) = input.split_at(take.min(input.len()));
        self.buf.extend_from_slice(now);
        rest
    }

    fn header(&self) -> Parse<Header, RecordError> {
        record::parse_header(&self.buf, self.max_record, self.records == 0)
    }

    /// What the buffer holds next.
    pub(super) fn next(&self) -> Next {
        match self.mode {
            Mode::Stopped => Next::Stopped,
            Mode::Resync { since, budget } => Next::Resync { since, budget },
            Mode::Records => match self.header() {
                Parse::NeedMore(_) => Next::NeedMore,
                Parse::Invalid(e) => Next::Invalid(e),
                Parse::Complete(h) if self.buf.len() < h.total_len() => Next::NeedMore,
                Parse::Complete(h) => Next::Record(h),
            },
        }
    }

    /// Drops what a stopped direction buffered; returns how many bytes.
    pub(super) fn discard(&mut self) -> u64 {
        let n = self.buf.len() as u64;
        self.buf.clear();
        n
    }

    /// The bytes at the front are not a record: scan for the next header.
    pub(super) fn lose_framing(&mut self, at: FrameRef) {
        self.mode = Mode::Resync {
            since: at.frame,
            budget: self.resync_budget(),
        };
    }

    /// Takes the buffer holding the whole record `h` at its front, with the
    /// record's first frame; give it back with [`Flow::done`].
    pub(super) fn take_record(&mut self) -> (FrameRef, Vec<u8>) {
        let at = self.frame();
        self.records += 1;
        (at, std::mem::take(&mut self.buf))
    }

    /// The record `h` taken by [`Flow::take_record`] was handled: drops it.
    pub(super) fn done(&mut self, mut buf: Vec<u8>, h: &Header) {
        let total = h.total_len().min(buf.len());
        buf.drain(..total);
        self.buf = buf;
        self.buf_offset += total as u64;
    }

    /// Scans the buffer for a plausible header that `judge` accepts (it gets
    /// the header and the bytes from it onwards); drops what comes before.
    pub(super) fn scan(
        &mut self,
        since: u64,
        budget: usize,
        mut judge: impl FnMut(&Header, &[u8]) -> Candidate,
    ) -> Scan {
        let mut i = 0;
        let found = loop {
            let Some(window) = self.buf.get(i..).filter(|w| w.len() >= HEADER_LEN) else {
                break false;
            };
            if i >= budget {
                break false;
            }
            match record::plausible_header(window, self.max_record).map(|h| (h, judge(&h, window)))
            {
                Some((_, Candidate::Wait)) => break false,
                Some((_, Candidate::Accept)) => break true,
                _ => i += 1,
            }
        };
        let skipped_at = self.frame();
        self.buf.drain(..i.min(self.buf.len()));
        self.buf_offset += i as u64;
        let left = budget.saturating_sub(i);
        let outcome = if found {
            self.mode = Mode::Records;
            Rescan::Found
        } else if left == 0 {
            Rescan::Exhausted
        } else {
            self.mode = Mode::Resync {
                since,
                budget: left,
            };
            Rescan::NotYet
        };
        Scan {
            skipped: i,
            skipped_at,
            outcome,
        }
    }

    /// Gives up on this direction; returns the frame and the bytes dropped.
    pub(super) fn stop(&mut self) -> (FrameRef, u64) {
        self.mode = Mode::Stopped;
        let dropped = self.discard();
        let at = self.frame();
        self.frames.clear();
        (at, dropped)
    }

    /// The record begun in the buffer and not complete: its header and the
    /// body bytes captured so far (none when framing is lost, or only the
    /// header is there).
    pub(super) fn partial_record(&self) -> Option<(Header, &[u8])> {
        if self.mode != Mode::Records {
            return None;
        }
        let Parse::Complete(h) = record::parse_header(&self.buf, self.max_record, false) else {
            return None;
        };
        let body = self.buf.get(h.header_len..)?;
        (!body.is_empty() && body.len() < h.len).then_some((h, body))
    }

    /// `len` bytes were lost by the capture.
    pub(super) fn on_gap(&mut self, at: FrameRef, len: u64) -> GapCut {
        self.next_offset += len;
        if self.mode == Mode::Stopped {
            return GapCut::Stopped;
        }
        let header = match record::parse_header(&self.buf, self.max_record, false) {
            Parse::Complete(h) if self.mode == Mode::Records => Some(h),
            _ => None,
        };
        let have = self.buf.len() as u64;
        self.buf.clear();
        match header {
            // The gap ends inside the current record: its end, and so the next
            // record's start, is known exactly.
            Some(h) if have + len <= h.total_len() as u64 => {
                // No underflow: the match guard checked have + len <= total.
                self.skip = h.total_len() as u64 - have - len;
                self.buf_offset = self.next_offset + self.skip;
                GapCut::InsideRecord(h)
            }
            _ => {
                self.buf_offset = self.next_offset;
                self.lose_framing(at);
                GapCut::Lost
            }
        }
    }

    /// The connection ended: drops what is left and says what it was.
    pub(super) fn finish(&mut self) -> Leftover {
        let at = self.frame();
        let pending = self.buf.len();
        self.buf.clear();
        Leftover {
            at,
            pending,
            in_record: self.mode == Mode::Records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;
    use crate::tls::record::ContentType;

    const MAX: usize = (1 << 14) + 2048;

    fn at(frame: u64) -> FrameRef {
        FrameRef::new(frame, Timestamp::default())
    }

    fn record(typ: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![typ, 3, 3];
        r.extend((body.len() as u16).to_be_bytes());
        r.extend(body);
        r
    }

    fn fill_all(flow: &mut Flow, mut input: &[u8]) {
        while !input.is_empty() {
            input = flow.fill(input);
        }
    }

    /// Feeds `bytes` in pieces of `chunk`; returns (frame, type, body) of each record.
    fn frames(bytes: &[u8], chunk: usize) -> Vec<(u64, ContentType, Vec<u8>)> {
        let mut flow = Flow::new(MAX);
        let mut out = Vec::new();
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            let dropped = flow.arrive(at(i as u64 + 1), piece.len());
            let mut input = &piece[dropped..];
            loop {
                while let Next::Record(h) = flow.next() {
                    let (first, buf) = flow.take_record();
                    out.push((
                        first.frame,
                        h.typ,
                        buf[h.header_len..h.total_len()].to_vec(),
                    ));
                    flow.done(buf, &h);
                }
                if input.is_empty() {
                    break;
                }
                input = flow.fill(input);
            }
        }
        out
    }

    #[test]
    fn every_prefix_needs_more_and_every_chunking_gives_the_same_records() {
        let mut bytes = record(22, &[1, 0, 0, 1, 9]);
        bytes.extend(record(23, &[0xab; 40]));
        bytes.extend(record(21, &[1, 0]));
        // The first record is 10 bytes long: every prefix of it needs more.
        for cut in 0..10 {
            let mut flow = Flow::new(MAX);
            flow.arrive(at(1), cut);
            let mut input = &bytes[..cut];
            while !input.is_empty() {
                input = flow.fill(input);
            }
            assert_eq!(flow.next(), Next::NeedMore, "cut {cut}");
        }
        let whole = frames(&bytes, bytes.len());
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[1].2, vec![0xab; 40]);
        for chunk in 1..bytes.len() {
            let got = frames(&bytes, chunk);
            let bodies: Vec<_> = got.iter().map(|r| (r.1, r.2.clone())).collect();
            let want: Vec<_> = whole.iter().map(|r| (r.1, r.2.clone())).collect();
            assert_eq!(bodies, want, "chunk {chunk}");
            // Each record is located at the frame holding its first byte.
            assert_eq!(got[1].0, 10 / chunk as u64 + 1, "chunk {chunk}");
        }
    }

    #[test]
    fn garbage_is_invalid_and_a_scan_finds_the_next_header() {
        let mut flow = Flow::new(MAX);
        let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
        bytes.extend(record(21, &[1, 0]));
        flow.arrive(at(3), bytes.len());
        let rest = flow.fill(&bytes);
        assert!(matches!(flow.next(), Next::Invalid(_)));
        flow.lose_framing(at(3));
        let _ = flow.fill(rest);
        let budget = flow.resync_budget();
        assert_eq!(flow.next(), Next::Resync { since: 3, budget });
        let scan = flow.scan(3, budget, |_, _| Candidate::Accept);
        assert_eq!((scan.skipped, scan.outcome), (16, Rescan::Found));
        assert!(matches!(flow.next(), Next::Record(h) if h.typ == ContentType::Alert));
        assert_eq!(flow.offset(), 16);
    }

    #[test]
    fn a_scan_with_no_candidate_spends_its_budget() {
        let mut flow = Flow::new(MAX);
        flow.arrive(at(1), 64);
        flow.lose_framing(at(1));
        let _ = flow.fill(&[0u8; 64]);
        let scan = flow.scan(1, 100, |_, _| Candidate::Reject);
        assert_eq!((scan.skipped, scan.outcome), (60, Rescan::NotYet));
        assert_eq!(
            flow.next(),
            Next::Resync {
                since: 1,
                budget: 40
            }
        );
        fill_all(&mut flow, &[0u8; 64]);
        let scan = flow.scan(1, 4, |_, _| Candidate::Reject);
        assert_eq!((scan.skipped, scan.outcome), (4, Rescan::Exhausted));
        assert_eq!(flow.stop().1, 64);
        assert!(flow.is_stopped());
        assert_eq!(flow.on_gap(at(2), 10), GapCut::Stopped);
    }

    #[test]
    fn a_gap_inside_a_record_skips_exactly_to_the_next_one() {
        let mut bytes = record(23, &[7; 30]);
        bytes.extend(record(21, &[1, 0]));
        let mut flow = Flow::new(MAX);
        flow.arrive(at(1), 10);
        fill_all(&mut flow, &bytes[..10]);
        let cut = flow.on_gap(at(2), 5);
        assert!(matches!(cut, GapCut::InsideRecord(h) if h.len == 30));
        // The rest of the broken record arrives and is dropped.
        let tail = &bytes[15..];
        let dropped = flow.arrive(at(3), tail.len());
        assert_eq!(dropped, 20);
        fill_all(&mut flow, &tail[dropped..]);
        assert!(matches!(flow.next(), Next::Record(h) if h.typ == ContentType::Alert));
        assert_eq!(flow.offset(), 35);
    }

    #[test]
    fn what_is_left_at_the_end_is_reported() {
        let mut flow = Flow::new(MAX);
        flow.arrive(at(4), 7);
        fill_all(&mut flow, &record(22, &[1, 0, 0, 9, 3])[..7]);
        let left = flow.finish();
        assert_eq!((left.at.frame, left.pending, left.in_record), (4, 7, true));
    }
}
