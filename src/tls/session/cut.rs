//! A record whose start was captured and whose end was not (cut by the
//! snaplen, or by the end of the capture), under a stream-cipher AEAD.
//!
//! Takes the partial record the flow holds when a gap or the end comes;
//! gives its captured plaintext upward, decrypted without its tag and said
//! to be unauthenticated (`tls.unauthenticated`), so that a truncated
//! capture still shows which stanzas began. Never gives plaintext of a
//! handshake-phase or compressed record, and never advances the sequence
//! number (the gap or the end accounts for the record).

use super::Session;
use crate::finding::Level;
use crate::position::{Dir, FrameRef};
use crate::tls::record::ContentType;
use crate::tls::record_layer::ReadState;
use crate::tls::{FindingCode, KeyPhase, Sink};

/// What the report says of a cut record.
#[derive(Clone, Copy)]
struct CutRecord {
    dir: Dir,
    /// Frame of the record's first byte.
    at: FrameRef,
    /// Body bytes captured, and the body length the header gives.
    captured: usize,
    record_len: usize,
    /// Plaintext bytes given upward.
    plain: usize,
    tls13: bool,
}

impl Session {
    /// Decrypts the captured start of the record `dir` has begun, if the
    /// direction is open with a key whose cipher can, and gives it upward.
    pub(super) fn open_cut_record(&mut self, dir: Dir, sink: &mut impl Sink) {
        let at = self.flow(dir).frame();
        let (flows, layers, scratch) = (&self.flows, &self.layers, &mut self.scratch);
        let Some((h, body)) = flows.get(dir.index()).and_then(|f| f.partial_record()) else {
            return;
        };
        if h.typ != ContentType::ApplicationData {
            return;
        }
        let (record_len, captured) = (h.len, body.len());
        scratch.clear();
        scratch.extend_from_slice(body);
        let Some(ReadState::Open { key, seq }) = layers.get(dir.index()).map(|l| l.state()) else {
            return;
        };
        let tls13 = match key.phase {
            KeyPhase::Application => true,
            KeyPhase::Tls12 => false,
            // Handshake records carry no stanza; 0-RTT is rare: not guessed at.
            KeyPhase::Early | KeyPhase::Handshake => return,
        };
        if key.inflate.is_some() {
            return;
        }
        let Some(range) = key.dec.decrypt_prefix(record_len, scratch, *seq) else {
            return;
        };
        if range.is_empty() {
            return;
        }
        let plain = scratch.get(range).unwrap_or_default().to_vec();
        let cut = CutRecord {
            dir,
            at,
            captured,
            record_len,
            plain: plain.len(),
            tls13,
        };
        self.report_unauthenticated(&cut, sink);
        sink.on_plaintext(dir, at, &plain);
    }

    fn report_unauthenticated(&self, cut: &CutRecord, sink: &mut impl Sink) {
        let CutRecord {
            dir,
            at,
            captured,
            record_len,
            plain,
            tls13,
        } = *cut;
        let frame = at.frame;
        let assumed = if tls13 {
            "; TLS 1.3 keeps a record's content type at its end, which was not captured, so these bytes are taken as application data by assumption"
        } else {
            ""
        };
        let message = format!(
            "the record at frame {frame} was cut by the capture ({captured} of its {record_len} bytes): \
             its first {plain} bytes of plaintext are given decrypted but unauthenticated \
             (the tag was not captured, so nothing proves them undamaged){assumed}"
        );
        let f = self
            .finding(FindingCode::Unauthenticated, message, dir, at)
            .with_level(Level::Info);
        sink.push_finding(f);
    }
}
