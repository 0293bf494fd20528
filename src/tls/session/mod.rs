//! The stateful TLS stage: one [`Session`] per TCP connection.
//!
//! Takes the bytes of each direction as TCP delivers them (any chunking),
//! capture gaps, and the shared [`KeyLog`]; frames them into records, keeps
//! each record's first frame, resynchronises after gaps, and hands whole
//! records to the record logic in `flow.rs`. Never buffers more than one
//! record per direction (a resynchronisation window after a gap), never
//! allocates per record on the application-data path, and never panics on
//! input.

use std::collections::VecDeque;

use super::handshake::Reassembler;
use super::keylog::KeyLog;
use super::keys::{Key, KeyError, Params};
use super::record::{self, Header, Parse, HEADER_LEN};
use super::summary::{Event, EventKind, GapReason, KeyPhase, Sink, Summary};
use crate::common::{Dir, FrameRef};
use crate::finding::{Finding, Layer, Level};
use crate::limits::Limits;

/// How a direction's encrypted records are opened.
pub(super) enum Protect {
    /// Nothing encrypted yet.
    Clear,
    /// Records open with this key; `seq` is the next record's sequence number.
    Active { key: Key, seq: u64 },
    /// Encrypted, but no key (yet): records are counted so that a key arriving
    /// later (a pcapng DSB) starts at the right sequence number.
    Waiting {
        phase: KeyPhase,
        seq: u64,
        /// Key log generation last tried.
        tried: u64,
        error: KeyError,
    },
    /// Joined after the ClientHello: the key log is searched at the first record.
    Midstream { tried: Option<u64> },
}

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

/// One direction of the connection.
pub(super) struct Half {
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
    pub(super) mode: Mode,
    pub(super) protect: Protect,
    pub(super) hs: Reassembler<FrameRef>,
    /// Records framed so far (the SSLv2 ClientHello format is only accepted first).
    pub(super) records: u64,
}

impl Half {
    fn new(max_handshake: usize) -> Half {
        Half {
            buf: Vec::new(),
            buf_offset: 0,
            next_offset: 0,
            frames: VecDeque::new(),
            skip: 0,
            mode: Mode::Records,
            protect: Protect::Clear,
            hs: Reassembler::new(max_handshake),
            records: 0,
        }
    }

    /// The frame holding the byte at stream offset `offset`, forgetting older chunks.
    fn frame_at(&mut self, offset: u64) -> FrameRef {
        while self.frames.len() > 1 && self.frames.get(1).is_some_and(|&(o, _)| o <= offset) {
            self.frames.pop_front();
        }
        self.frames.front().map(|&(_, at)| at).unwrap_or_default()
    }
}

/// TLS on one TCP connection.
pub struct Session {
    pub(super) stream: u64,
    pub(super) max_record: usize,
    /// `limits.max_tls_certificates` and `limits.max_tls_list_items`.
    pub(super) max_certificates: usize,
    pub(super) max_list: usize,
    pub(super) seq_search: u64,
    pub(super) params: Params,
    pub(super) client_hello_seen: bool,
    pub(super) server_hello_seen: bool,
    pub(super) client_session_id: Vec<u8>,
    /// The ClientHello offered encrypt_then_mac / extended_master_secret.
    pub(super) client_etm: bool,
    pub(super) client_ems: bool,
    /// The ClientHello listed TLS 1.3 (or a draft) in supported_versions.
    pub(super) client_offers_tls13: bool,
    /// The client offered 0-RTT and has not finished sending it.
    pub(super) early_pending: bool,
    pub(super) halves: [Half; 2],
    /// Copy of a record kept for trial decryption.
    pub(super) scratch: Vec<u8>,
    pub(super) summary: Summary,
    /// Handshake hash and resumable master secrets for RSA key exchange.
    #[cfg(feature = "rsa-keys")]
    pub(super) rsa: super::rsa::RsaState,
}

impl Session {
    pub fn new(stream: u64, limits: &Limits) -> Session {
        Session {
            stream,
            max_record: limits.max_tls_record,
            max_certificates: limits.max_tls_certificates,
            max_list: limits.max_tls_list_items,
            seq_search: limits.tls_midstream_seq_search,
            params: Params::default(),
            client_hello_seen: false,
            server_hello_seen: false,
            client_session_id: Vec::new(),
            client_etm: false,
            client_ems: false,
            client_offers_tls13: false,
            early_pending: false,
            halves: [
                Half::new(limits.max_tls_handshake_message),
                Half::new(limits.max_tls_handshake_message),
            ],
            scratch: Vec::new(),
            summary: Summary {
                stream,
                ..Summary::default()
            },
            #[cfg(feature = "rsa-keys")]
            rsa: Default::default(),
        }
    }

    /// What is known about this connection so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Bytes of one direction from one frame. Always takes them all.
    pub fn on_data(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        bytes: &[u8],
        sink: &mut impl Sink,
    ) -> usize {
        let half = &mut self.halves[dir.index()];
        // A stopped direction never locates a frame again: remember none.
        let locating = half.mode != Mode::Stopped;
        if locating && half.frames.back().is_none_or(|&(_, f)| f != at) {
            half.frames.push_back((half.next_offset, at));
        }
        half.next_offset += bytes.len() as u64;
        let dropped = usize::try_from(half.skip)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        half.skip -= dropped as u64;
        half.buf_offset += dropped as u64;
        let mut input = bytes.get(dropped..).unwrap_or_default();
        loop {
            self.process_buffered(keys, dir, sink);
            let half = &mut self.halves[dir.index()];
            if half.mode == Mode::Stopped {
                self.summary.stats_mut(dir).bytes_unparsed += input.len() as u64;
                break;
            }
            if input.is_empty() {
                break;
            }
            let take = match half.mode {
                Mode::Records => {
                    let want =
                        match record::parse_header(&half.buf, self.max_record, half.records == 0) {
                            Parse::Complete(h) => h.total_len(),
                            _ => HEADER_LEN,
                        };
                    want.saturating_sub(half.buf.len()).clamp(1, input.len())
                }
                Mode::Resync { .. } | Mode::Stopped => input.len(),
            };
            let (now, rest) = input.split_at(take);
            half.buf.extend_from_slice(now);
            input = rest;
        }
        self.summary.settle();
        bytes.len()
    }

    /// Handles whatever whole records (or resynchronisation) the buffer allows.
    fn process_buffered(&mut self, keys: &KeyLog, dir: Dir, sink: &mut impl Sink) {
        loop {
            let half = &mut self.halves[dir.index()];
            match half.mode {
                Mode::Stopped => {
                    let n = half.buf.len() as u64;
                    half.buf.clear();
                    self.summary.stats_mut(dir).bytes_unparsed += n;
                    return;
                }
                Mode::Resync { since, budget } => {
                    if !self.resync(keys, dir, since, budget, sink) {
                        return;
                    }
                }
                Mode::Records => {
                    match record::parse_header(&half.buf, self.max_record, half.records == 0) {
                        Parse::NeedMore(_) => return,
                        Parse::Invalid(e) => {
                            let at = half.frame_at(half.buf_offset);
                            let offset = half.buf_offset;
                            half.mode = Mode::Resync {
                                since: at.frame,
                                budget: 2 * (HEADER_LEN + self.max_record),
                            };
                            half.hs.reset();
                            let f = self
                                .finding(
                                    Level::Warn,
                                    "tls.bad_record",
                                    format!("not a TLS record: {e}; looking for the next record"),
                                    dir,
                                    at,
                                )
                                .at_offset(offset);
                            sink.push_finding(f);
                        }
                        Parse::Complete(h) => {
                            if half.buf.len() < h.total_len() {
                                return;
                            }
                            self.take_record(keys, dir, h, sink);
                        }
                    }
                }
            }
        }
    }

    /// Processes the whole record at the front of the buffer and drops it.
    fn take_record(&mut self, keys: &KeyLog, dir: Dir, h: Header, sink: &mut impl Sink) {
        let half = &mut self.halves[dir.index()];
        let at = half.frame_at(half.buf_offset);
        half.records += 1;
        let mut buf = std::mem::take(&mut half.buf);
        let total = h.total_len().min(buf.len());
        if let Some(body) = buf.get_mut(h.header_len..total) {
            self.on_record(keys, dir, at, &h, body, sink);
        }
        buf.drain(..total);
        let half = &mut self.halves[dir.index()];
        half.buf = buf;
        half.buf_offset += total as u64;
    }

    fn resync_budget(&self) -> usize {
        2 * (HEADER_LEN + self.max_record)
    }

    /// Scans the buffer for a record header that fits; returns whether framing is back.
    fn resync(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        since: u64,
        budget: usize,
        sink: &mut impl Sink,
    ) -> bool {
        let mut i = 0;
        let found = loop {
            let half = &self.halves[dir.index()];
            let Some(window) = half.buf.get(i..).filter(|w| w.len() >= HEADER_LEN) else {
                break false;
            };
            if i >= budget {
                break false;
            }
            match record::plausible_header(window, self.max_record) {
                Some(h) if window.len() < h.total_len() && self.needs_trial(dir, &h) => {
                    break false
                }
                Some(h) if self.accepts_after_gap(keys, dir, &h, i) => break true,
                _ => i += 1,
            }
        };
        let half = &mut self.halves[dir.index()];
        let skipped_at = half.frame_at(half.buf_offset);
        half.buf.drain(..i.min(half.buf.len()));
        half.buf_offset += i as u64;
        if i > 0 {
            self.summary.stats_mut(dir).bytes_unparsed += i as u64;
            sink.on_plaintext_gap(dir, skipped_at, i as u64, GapReason::Unparsed);
        }
        let half = &mut self.halves[dir.index()];
        if found {
            half.mode = Mode::Records;
            let at = half.frame_at(half.buf_offset);
            let f = self.finding(
                Level::Info,
                "tls.resync",
                format!("record boundary found again after the gap at frame {since} ({i} bytes skipped)"),
                dir,
                at,
            );
            sink.push_finding(f);
            return true;
        }
        let left = budget.saturating_sub(i);
        if left == 0 {
            self.stop(dir, since, sink);
        } else {
            half.mode = Mode::Resync {
                since,
                budget: left,
            };
        }
        false
    }

    /// Gives up on a direction whose framing was lost at frame `since`.
    fn stop(&mut self, dir: Dir, since: u64, sink: &mut impl Sink) {
        let half = &mut self.halves[dir.index()];
        half.mode = Mode::Stopped;
        let dropped = half.buf.len() as u64;
        half.buf.clear();
        let at = half.frame_at(half.buf_offset);
        half.frames.clear();
        self.summary.stats_mut(dir).bytes_unparsed += dropped;
        let reason = format!("gap at frame {since}");
        self.summary.fail(reason.clone());
        let f = self.finding(
            Level::Error,
            "tls.gap",
            format!(
                "{reason}: no record boundary found again; rest of this direction not decrypted"
            ),
            dir,
            at,
        );
        sink.push_finding(f);
        self.emit(sink, dir, at, EventKind::DecryptionFailed { reason });
    }

    /// Whether a candidate header after a gap can only be trusted once its record authenticates.
    fn needs_trial(&self, dir: Dir, h: &Header) -> bool {
        matches!(self.halves[dir.index()].protect, Protect::Active { .. })
            && (h.typ == record::ContentType::ApplicationData || !self.params.tls13())
    }

    /// Decides on a plausible header at `i` after a gap: with a key, the AEAD
    /// tag must open at one of the next sequence numbers.
    fn accepts_after_gap(&mut self, _keys: &KeyLog, dir: Dir, h: &Header, i: usize) -> bool {
        if !self.needs_trial(dir, h) {
            return true;
        }
        let search = self.seq_search.max(1);
        let half = &mut self.halves[dir.index()];
        let Some(body) = half.buf.get(i + h.header_len..i + h.total_len()) else {
            return false;
        };
        let Protect::Active { key, seq } = &mut half.protect else {
            return true;
        };
        match super::keys::try_seqs(
            key,
            h,
            body,
            *seq..seq.saturating_add(search),
            &mut self.scratch,
        ) {
            Some(found) => {
                *seq = found;
                true
            }
            None => false,
        }
    }

    /// `len` bytes of `dir` were lost by the capture.
    pub fn on_gap(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut impl Sink) {
        let max_record = self.max_record;
        let budget = self.resync_budget();
        let half = &mut self.halves[dir.index()];
        half.next_offset += len;
        if half.mode == Mode::Stopped {
            return;
        }
        sink.on_plaintext_gap(dir, at, len, GapReason::CaptureGap);
        half.hs.reset();
        let header = match record::parse_header(&half.buf, max_record, false) {
            Parse::Complete(h) if half.mode == Mode::Records => Some(h),
            _ => None,
        };
        let have = half.buf.len() as u64;
        match header {
            // The gap ends inside the current record: its end, and so the next
            // record's start, is known exactly.
            Some(h) if have + len <= h.total_len() as u64 => {
                // No underflow: the match guard checked have + len <= total.
                half.skip = h.total_len() as u64 - have - len;
                half.buf.clear();
                half.buf_offset = half.next_offset + half.skip;
                let frame = at.frame;
                let encrypted = self.record_is_encrypted(dir, &h);
                if encrypted {
                    self.lost_record(dir, h.len as u64);
                }
                let f = self.finding(
                    Level::Warn,
                    "tls.gap",
                    format!("gap at frame {frame}: {len} bytes lost inside a record; resuming at the next record"),
                    dir,
                    at,
                );
                sink.push_finding(f);
            }
            _ => {
                half.buf.clear();
                half.buf_offset = half.next_offset;
                half.mode = Mode::Resync {
                    since: at.frame,
                    budget,
                };
                let f = self.finding(
                    Level::Warn,
                    "tls.gap",
                    format!(
                        "gap at frame {}: {len} bytes lost; looking for the next record",
                        at.frame
                    ),
                    dir,
                    at,
                );
                sink.push_finding(f);
            }
        }
        self.summary.settle();
    }

    /// A record lost to a gap still used up a sequence number.
    fn lost_record(&mut self, dir: Dir, len: u64) {
        match &mut self.halves[dir.index()].protect {
            Protect::Active { seq, .. } | Protect::Waiting { seq, .. } => *seq += 1,
            Protect::Clear | Protect::Midstream { .. } => {}
        }
        let stats = self.summary.stats_mut(dir);
        stats.records_undecryptable += 1;
        stats.bytes_undecryptable += len;
    }

    /// The connection ended: reports records and messages cut off.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        for dir in Dir::BOTH {
            let half = &mut self.halves[dir.index()];
            let pending = half.buf.len();
            let partial_message = half.hs.is_partial();
            let in_records = half.mode == Mode::Records;
            let at = half.frame_at(half.buf_offset);
            half.buf.clear();
            self.summary.stats_mut(dir).bytes_unparsed += pending as u64;
            if pending > 0 && in_records {
                let f = self.finding(
                    Level::Info,
                    "tls.truncated",
                    format!(
                        "connection ended inside a TLS record ({pending} bytes of it captured)"
                    ),
                    dir,
                    at,
                );
                sink.push_finding(f);
            }
            if partial_message {
                let f = self.finding(
                    Level::Info,
                    "tls.truncated",
                    "connection ended inside a handshake message",
                    dir,
                    at,
                );
                sink.push_finding(f);
            }
        }
        self.summary.settle();
    }

    pub(super) fn finding(
        &self,
        level: Level,
        code: &'static str,
        message: impl Into<String>,
        dir: Dir,
        at: FrameRef,
    ) -> Finding {
        // The offset of the record (or resynchronisation point) being handled.
        let offset = self.halves[dir.index()].buf_offset;
        Finding::new(level, Layer::Tls, code, message)
            .in_stream(self.stream, Some(dir))
            .at(at)
            .at_offset(offset)
    }

    pub(super) fn emit(&self, sink: &mut impl Sink, dir: Dir, at: FrameRef, kind: EventKind) {
        sink.on_tls_event(&Event {
            stream: self.stream,
            dir,
            at,
            kind,
        });
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("stream", &self.stream)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
