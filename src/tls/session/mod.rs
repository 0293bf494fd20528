//! The stateful TLS stage: one [`Session`] per TCP connection.
//!
//! Takes the bytes of each direction as TCP delivers them (any chunking),
//! capture gaps, and the shared [`KeyLog`]; gives plaintext, gaps, events,
//! findings and the [`Summary`]. A session only composes the real parts:
//! per direction a [`Flow`] (record reassembly and resynchronisation), a
//! [`RecordLayer`] (record protection) and a handshake message
//! [`Reassembler`]; per connection the [`KeySchedule`] and the handshake
//! [`Tracker`]. `decrypt.rs` decides which key opens a record, `messages.rs`
//! what each handshake message changes. Never buffers more than one record
//! per direction, never allocates per record on the application-data path,
//! and never panics on input.

mod cut;
mod decrypt;
mod messages;

use super::flow::{Candidate, Flow, GapCut, Next, Rescan};
use super::handshake::state::Tracker;
use super::handshake::Reassembler;
use super::keylog::KeyLog;
use super::keys::KeySchedule;
use super::record::Header;
use super::record_layer::RecordLayer;
use super::summary::{Event, EventKind, GapReason, Sink, Summary};
use crate::finding::{Finding, Level};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::tls::FindingCode;

/// What travels with every record through the session: the key log to draw
/// from, the direction, and the frame holding the record's first byte.
#[derive(Clone, Copy)]
pub(super) struct Arrival<'k> {
    pub(super) keys: &'k KeyLog,
    pub(super) dir: Dir,
    pub(super) at: FrameRef,
}

impl Arrival<'_> {
    /// The same record's context, for a message that began in an earlier frame.
    fn with_frame(self, at: FrameRef) -> Self {
        Arrival { at, ..self }
    }
}

/// The caps a session applies besides record framing.
#[derive(Clone, Copy, Debug)]
struct SessionLimits {
    /// `limits.max_tls_certificates`.
    max_certificates: usize,
    /// `limits.max_tls_list_items`.
    max_list: usize,
    /// `limits.tls_midstream_seq_search`.
    seq_search: u64,
    /// `limits.tls_midstream_search_bytes`.
    midstream_search_bytes: u64,
}

/// TLS on one TCP connection.
pub struct Session {
    stream: u64,
    limits: SessionLimits,
    /// Whether the run was given any key material (key log, in-capture
    /// secrets, RSA key): without any, an undecryptable connection is what
    /// the user asked for and only worth an `info`.
    keys_given: bool,
    schedule: KeySchedule,
    handshake: Tracker,
    /// Per direction, indexed by [`Dir::index`].
    flows: [Flow; 2],
    layers: [RecordLayer; 2],
    messages: [Reassembler<FrameRef>; 2],
    /// Copy of a record kept for trial decryption.
    scratch: Vec<u8>,
    /// A decompressed record (TLS compression), reused.
    inflated: Vec<u8>,
    summary: Summary,
    /// Where the ClientHello was, once seen (for a handshake never answered).
    client_hello_at: Option<FrameRef>,
    /// Handshake hash and resumable master secrets for RSA key exchange.
    #[cfg(feature = "rsa-keys")]
    rsa: super::rsa::RsaState,
}

impl Session {
    pub fn new(stream: u64, limits: &Limits) -> Session {
        let flow = || Flow::new(limits.max_tls_record);
        let messages = || Reassembler::new(limits.max_tls_handshake_message);
        Session {
            stream,
            keys_given: true,
            limits: SessionLimits {
                max_certificates: limits.max_tls_certificates,
                max_list: limits.max_tls_list_items,
                seq_search: limits.tls_midstream_seq_search,
                midstream_search_bytes: limits.tls_midstream_search_bytes,
            },
            schedule: KeySchedule::default(),
            handshake: Tracker::new(),
            flows: [flow(), flow()],
            layers: [RecordLayer::new(), RecordLayer::new()],
            messages: [messages(), messages()],
            scratch: Vec::new(),
            inflated: Vec::new(),
            summary: Summary {
                stream,
                ..Summary::default()
            },
            client_hello_at: None,
            #[cfg(feature = "rsa-keys")]
            rsa: Default::default(),
        }
    }

    /// Tells the session whether the run was given any key material at all
    /// (true unless told otherwise). Without any, `tls.undecryptable` is an
    /// `info` that says so.
    pub fn with_keys_given(mut self, keys_given: bool) -> Session {
        self.keys_given = keys_given;
        self
    }

    /// Input bytes held now, per connection: each direction's partial
    /// record and partial handshake message (reused scratch space for
    /// decryption is not input and is not counted).
    pub fn held_bytes(&self) -> usize {
        let records: usize = self.flows.iter().map(Flow::held_bytes).sum();
        let messages: usize = self.messages.iter().map(Reassembler::held_bytes).sum();
        records + messages
    }

    /// What is known about this connection so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    fn flow(&mut self, dir: Dir) -> &mut Flow {
        &mut self.flows[dir.index()]
    }

    fn layer(&mut self, dir: Dir) -> &mut RecordLayer {
        &mut self.layers[dir.index()]
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
        let dropped = self.flow(dir).arrive(at, bytes.len());
        let mut input = bytes.get(dropped..).unwrap_or_default();
        let from = Arrival { keys, dir, at };
        loop {
            self.process_buffered(from, sink);
            if self.flow(dir).is_stopped() {
                self.summary.stats_mut(dir).bytes_unparsed += input.len() as u64;
                break;
            }
            if input.is_empty() {
                break;
            }
            input = self.flow(dir).fill(input);
        }
        self.summary.settle();
        bytes.len()
    }

    /// Handles whatever whole records (or resynchronisation) the buffer allows.
    fn process_buffered(&mut self, from: Arrival<'_>, sink: &mut impl Sink) {
        let dir = from.dir;
        loop {
            match self.flow(dir).next() {
                Next::NeedMore => return,
                Next::Stopped => {
                    let n = self.flow(dir).discard();
                    self.summary.stats_mut(dir).bytes_unparsed += n;
                    return;
                }
                Next::Resync { since, budget } => {
                    if !self.resync(dir, since, budget, sink) {
                        return;
                    }
                }
                Next::Invalid(e) => {
                    let flow = self.flow(dir);
                    let at = flow.frame();
                    let offset = flow.offset();
                    flow.lose_framing(at);
                    self.messages[dir.index()].reset();
                    // Records skipped while resynchronising take their share of a DEFLATE stream.
                    self.layer(dir).lose_context();
                    let message = format!("not a TLS record: {e}; looking for the next record");
                    let f = self
                        .finding(FindingCode::BadRecord, message, dir, at)
                        .at_offset(offset);
                    sink.push_finding(f);
                }
                Next::Record(h) => self.take_record(from, h, sink),
            }
        }
    }

    /// Processes the whole record at the front of the buffer and drops it.
    fn take_record(&mut self, from: Arrival<'_>, h: Header, sink: &mut impl Sink) {
        let (at, mut buf) = self.flow(from.dir).take_record();
        let total = h.total_len().min(buf.len());
        sink.on_record(from.dir, at, h.typ.to_u8(), h.len);
        if let Some(body) = buf.get_mut(h.header_len..total) {
            self.on_record(from.with_frame(at), &h, body, sink);
        }
        self.flow(from.dir).done(buf, &h);
    }

    /// Scans the buffer for a record header that fits; returns whether framing is back.
    fn resync(&mut self, dir: Dir, since: u64, budget: usize, sink: &mut impl Sink) -> bool {
        let tls13 = self.schedule.tls13();
        let search = self.limits.seq_search.max(1);
        let (flows, layers, scratch) = (&mut self.flows, &mut self.layers, &mut self.scratch);
        let (Some(flow), Some(layer)) = (flows.get_mut(dir.index()), layers.get_mut(dir.index()))
        else {
            return false;
        };
        // With a key, the record after a gap must authenticate at one of the next sequence numbers.
        let scan = flow.scan(since, budget, |h, window| {
            if !layer.needs_trial(h, tls13) {
                return Candidate::Accept;
            }
            match window.get(h.header_len..h.total_len()) {
                None => Candidate::Wait,
                Some(body) if layer.find_seq(h, body, search, scratch) => Candidate::Accept,
                Some(_) => Candidate::Reject,
            }
        });
        if scan.skipped > 0 {
            let skipped = scan.skipped as u64;
            self.summary.stats_mut(dir).bytes_unparsed += skipped;
            sink.on_plaintext_gap(dir, scan.skipped_at, skipped, GapReason::Unparsed);
        }
        match scan.outcome {
            Rescan::Found => {
                let at = self.flow(dir).frame();
                let i = scan.skipped;
                let message = format!(
                    "record boundary found again after the gap at frame {since} ({i} bytes skipped)"
                );
                let f = self.finding(FindingCode::Resync, message, dir, at);
                sink.push_finding(f);
                true
            }
            Rescan::NotYet => false,
            Rescan::Exhausted => {
                self.stop(dir, since, sink);
                false
            }
        }
    }

    /// Gives up on a direction whose framing was lost at frame `since`.
    fn stop(&mut self, dir: Dir, since: u64, sink: &mut impl Sink) {
        let (at, dropped) = self.flow(dir).stop();
        self.summary.stats_mut(dir).bytes_unparsed += dropped;
        let reason = format!("gap at frame {since}");
        self.summary.fail(reason.clone());
        let message = format!(
            "{reason}: no record boundary found again; rest of this direction not decrypted"
        );
        let f = self
            .finding(FindingCode::Gap, message, dir, at)
            .with_level(Level::Error);
        sink.push_finding(f);
        self.emit(sink, dir, at, EventKind::DecryptionFailed { reason });
    }

    /// `len` bytes of `dir` were lost by the capture.
    pub fn on_gap(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut impl Sink) {
        // The start of a record the gap cuts comes before the gap.
        self.open_cut_record(dir, sink);
        let cut = self.flow(dir).on_gap(at, len);
        if cut == GapCut::Stopped {
            return;
        }
        sink.on_plaintext_gap(dir, at, len, GapReason::CaptureGap);
        self.messages[dir.index()].reset();
        self.layer(dir).lose_context();
        let frame = at.frame;
        let message = match cut {
            GapCut::InsideRecord(h) => {
                if self.layer(dir).is_encrypted(&h) {
                    self.lost_record(dir, h.len as u64);
                }
                format!("gap at frame {frame}: {len} bytes lost inside a record; resuming at the next record")
            }
            GapCut::Lost | GapCut::Stopped => {
                format!("gap at frame {frame}: {len} bytes lost; looking for the next record")
            }
        };
        let f = self.finding(FindingCode::Gap, message, dir, at);
        sink.push_finding(f);
        self.summary.settle();
    }

    /// A record lost to a gap still used up a sequence number.
    fn lost_record(&mut self, dir: Dir, len: u64) {
        self.layer(dir).lost_record();
        let stats = self.summary.stats_mut(dir);
        stats.records_undecryptable += 1;
        stats.bytes_undecryptable += len;
    }

    /// The connection ended: reports records and messages cut off.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        for dir in Dir::BOTH {
            self.open_cut_record(dir, sink);
            let left = self.flow(dir).finish();
            let partial_message = self.messages[dir.index()].is_partial();
            self.summary.stats_mut(dir).bytes_unparsed += left.pending as u64;
            if left.pending > 0 && left.in_record {
                let pending = left.pending;
                let message = format!(
                    "connection ended inside a TLS record ({pending} bytes of it captured)"
                );
                let f = self.finding(FindingCode::Truncated, message, dir, left.at);
                sink.push_finding(f);
            }
            if partial_message {
                let message = "connection ended inside a handshake message";
                let f = self.finding(FindingCode::Truncated, message, dir, left.at);
                sink.push_finding(f);
            }
        }
        self.report_incomplete_handshake(sink);
        self.summary.settle();
    }

    /// A ClientHello without a ServerHello: say the handshake did not
    /// complete, and whether the server sent anything at all.
    fn report_incomplete_handshake(&self, sink: &mut impl Sink) {
        let Some(at) = self.client_hello_at else {
            return;
        };
        if self.summary.suite.is_some() {
            return;
        }
        let server = Dir::ServerToClient;
        let message = if self.flows[server.index()].offset() == 0 {
            "the server never answered the ClientHello: the TLS handshake did not complete"
        } else {
            "no ServerHello could be read in the server's bytes: the TLS handshake did not complete, or its start was not captured whole"
        };
        let f = self.finding(
            FindingCode::HandshakeIncomplete,
            message,
            Dir::ClientToServer,
            at,
        );
        sink.push_finding(f);
    }

    fn finding(
        &self,
        code: FindingCode,
        message: impl Into<String>,
        dir: Dir,
        at: FrameRef,
    ) -> Finding {
        // The offset of the record (or resynchronisation point) being handled.
        let offset = self.flows[dir.index()].offset();
        Finding::new(code, message)
            .in_stream(self.stream, Some(dir))
            .at(at)
            .at_offset(offset)
    }

    fn emit(&self, sink: &mut impl Sink, dir: Dir, at: FrameRef, kind: EventKind) {
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
            .field("handshake", self.handshake.stage())
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
