//! What a [`Session`] does with each whole record: choose and switch the
//! key of its direction's [`RecordLayer`] as the handshake goes, open the
//! record, then route its plaintext to the handshake parser, the alert log
//! or the application-data sink.
//!
//! Takes one record body (mutable: decryption is in place) with its header
//! and [`Arrival`]; gives plaintext, gaps, events, findings and summary
//! updates. Key changes follow RFC 8446 (early → handshake → application,
//! KeyUpdate) and RFC 5246 (ChangeCipherSpec); sequence numbers restart at
//! every key change. Never copies application data except for a trial
//! decryption when more than one key could apply.
//!
//! [`RecordLayer`]: crate::tls::record_layer::RecordLayer

use super::{Arrival, Session};
use crate::finding::Level;
use crate::tls::compression::InflateError;
use crate::tls::crypto::DecryptError;
use crate::tls::handshake as hs;
use crate::tls::keylog::Label;
use crate::tls::keys::{Key, KeyError};
use crate::tls::midstream::{self, Found, Outcome, SearchCaps, Stopped};
use crate::tls::record::{ContentType, Header};
use crate::tls::record_layer::{self, ReadState, Waiting};
use crate::tls::summary::{EventKind, GapReason, KeyPhase, Sink};
use crate::tls::FindingCode;

const CONTENT_CCS: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION: u8 = 23;

/// Later TLS 1.3 phases a failing record may belong to (a missed Finished
/// or EndOfEarlyData, or 0-RTT that was never decryptable).
fn later_phases(phase: KeyPhase) -> &'static [KeyPhase] {
    match phase {
        KeyPhase::Early => &[KeyPhase::Handshake, KeyPhase::Application],
        KeyPhase::Handshake => &[KeyPhase::Application],
        KeyPhase::Application | KeyPhase::Tls12 => &[],
    }
}

impl Session {
    pub(super) fn on_record(
        &mut self,
        from: Arrival<'_>,
        h: &Header,
        body: &mut [u8],
        sink: &mut impl Sink,
    ) {
        if self.layer(from.dir).is_encrypted(h) {
            self.on_encrypted(from, h, body, sink);
            return;
        }
        match h.typ {
            ContentType::Sslv2ClientHello => match hs::parse_sslv2_client_hello(body) {
                Ok(ch) => self.on_client_hello(from, ch, sink),
                Err(e) => self.bad_message(from, "SSLv2 ClientHello", &e.to_string(), sink),
            },
            ContentType::Handshake => self.feed_handshake(from, body, false, sink),
            ContentType::ChangeCipherSpec => self.on_ccs(from, sink),
            ContentType::Alert => self.on_alert(from, body, false, sink),
            ContentType::ApplicationData | ContentType::Heartbeat => {}
        }
    }

    /// First encrypted record of a direction: which key should open it.
    fn start_protect(&mut self, from: Arrival<'_>, sink: &mut impl Sink) {
        match self.handshake.first_phase(from.dir, self.schedule.tls13()) {
            Some(phase) => self.switch_phase(from, phase, sink),
            None => {
                self.summary.midstream = true;
                self.layer(from.dir).set(ReadState::Midstream {
                    tried: None,
                    stopped: None,
                });
            }
        }
    }

    /// Installs the key for `phase` (sequence 0), or a waiting state saying why there is none.
    pub(super) fn switch_phase(
        &mut self,
        from: Arrival<'_>,
        phase: KeyPhase,
        sink: &mut impl Sink,
    ) {
        let state = match self.schedule.build(from.keys, from.dir, phase) {
            Ok(mut candidates) if candidates.len() == 1 => {
                let key = candidates.remove(0);
                self.started(from, &key, 0, sink);
                ReadState::Open { key, seq: 0 }
            }
            // Several 0-RTT candidates: the first record picks one.
            Ok(_) => ReadState::Waiting(Waiting {
                phase,
                seq: 0,
                tried: u64::MAX,
                error: KeyError::NoServerHello,
            }),
            Err(error) => ReadState::Waiting(Waiting {
                phase,
                seq: 0,
                tried: from.keys.generation(),
                error,
            }),
        };
        self.layer(from.dir).set(state);
    }

    fn started(&mut self, from: Arrival<'_>, key: &Key, seq: u64, sink: &mut impl Sink) {
        self.summary
            .key_source
            .get_or_insert_with(|| key.source.to_string());
        let kind = EventKind::DecryptionStarted {
            phase: key.phase,
            key_source: key.source.to_string(),
            seq,
        };
        self.emit(sink, from.dir, from.at, kind);
    }

    fn on_encrypted(
        &mut self,
        from: Arrival<'_>,
        h: &Header,
        body: &mut [u8],
        sink: &mut impl Sink,
    ) {
        if self.layer(from.dir).is_clear() {
            self.start_protect(from, sink);
        }
        self.retry_waiting(from, h, body, sink);
        match self.layer(from.dir).take() {
            ReadState::Open { key, seq } => self.decrypt_open(from, h, body, key, seq, sink),
            ReadState::Waiting(waiting) => {
                let error = waiting.error.clone();
                let phase = waiting.phase;
                self.layer(from.dir).set(ReadState::Waiting(Waiting {
                    seq: waiting.seq + 1,
                    ..waiting
                }));
                if self.try_later(from, h, body, later_phases(phase), sink) {
                    return;
                }
                let why = error.reason();
                self.undecryptable(from.dir, from.at, h.len, error.gap_reason(), why, sink);
            }
            ReadState::Midstream { tried, stopped } => {
                self.on_midstream(from, h, body, (tried, stopped), sink)
            }
            ReadState::Clear => {}
        }
    }

    /// Opens a record with the direction's key; on failure tries the later
    /// TLS 1.3 phases before counting the record as undecryptable.
    fn decrypt_open(
        &mut self,
        from: Arrival<'_>,
        h: &Header,
        body: &mut [u8],
        mut key: Key,
        seq: u64,
        sink: &mut impl Sink,
    ) {
        let later = later_phases(key.phase);
        if !later.is_empty() {
            self.scratch.clear();
            self.scratch.extend_from_slice(body);
        }
        let phase = key.phase;
        let result = record_layer::open(&mut key, h, body, seq);
        let inflated = match (&result, key.inflate.as_mut()) {
            (Ok(plain), Some(inflater)) => {
                let fragment = body.get(plain.range.clone()).unwrap_or_default();
                Some(inflater.inflate(fragment, &mut self.inflated))
            }
            _ => None,
        };
        self.layer(from.dir).install(key, seq + 1);
        let e = match (result, inflated) {
            (Ok(plain), None) => {
                let data = body.get(plain.range).unwrap_or_default();
                return self.on_plain(from, plain.typ, data, phase, sink);
            }
            (Ok(plain), Some(Ok(()))) => {
                let data = std::mem::take(&mut self.inflated);
                self.on_plain(from, plain.typ, &data, phase, sink);
                self.inflated = data;
                return;
            }
            (Ok(_), Some(Err(e))) => return self.not_inflated(from, h, e, sink),
            (Err(e), _) => e,
        };
        if !later.is_empty() {
            body.copy_from_slice(&self.scratch);
            if self.try_later(from, h, body, later, sink) {
                return;
            }
        }
        // A compressed stream cannot go on past a record it did not read.
        self.layer(from.dir).lose_context();
        let frame = from.at.frame;
        let why = match e {
            DecryptError::Auth => format!("record authentication failed at frame {frame}"),
            other => format!("record at frame {frame} not decrypted: {other}"),
        };
        let reason = GapReason::AuthenticationFailed;
        self.undecryptable(from.dir, from.at, h.len, reason, why, sink);
    }

    /// A record decrypted but did not decompress: it is not passed up, and
    /// neither is the rest of this direction's compressed stream.
    fn not_inflated(
        &mut self,
        from: Arrival<'_>,
        h: &Header,
        e: InflateError,
        sink: &mut impl Sink,
    ) {
        let (dir, at) = (from.dir, from.at);
        let stats = self.summary.stats_mut(dir);
        stats.records_undecryptable += 1;
        stats.bytes_undecryptable += h.len as u64;
        sink.on_plaintext_gap(dir, at, h.len as u64, GapReason::DecompressionFailed);
        if e == InflateError::OutOfStep {
            return;
        }
        // Said whether or not an earlier reason was kept: a bomb is always news.
        let why = format!("record at frame {} not decompressed: {e}", at.frame);
        self.summary.fail(why.clone());
        let code = match e {
            InflateError::Bomb => FindingCode::DecompressionBomb,
            InflateError::ContextLost => FindingCode::DeflateContextLost,
            _ => FindingCode::DecompressionFailed,
        };
        let message = format!("{why}; the rest of this direction is not decompressed");
        let f = self.finding(code, message, dir, at);
        sink.push_finding(f);
        self.emit(sink, dir, at, EventKind::DecryptionFailed { reason: why });
    }

    /// A waiting direction whose key may have arrived since (a DSB later in the
    /// capture), or 0-RTT with several candidate AEADs: tries again.
    fn retry_waiting(&mut self, from: Arrival<'_>, h: &Header, body: &[u8], sink: &mut impl Sink) {
        let ReadState::Waiting(Waiting {
            phase, seq, tried, ..
        }) = self.layer(from.dir).state()
        else {
            return;
        };
        let (phase, seq) = (*phase, *seq);
        if *tried == from.keys.generation() {
            return;
        }
        let tried = from.keys.generation();
        let error = match self.schedule.build(from.keys, from.dir, phase) {
            Ok(candidates) => {
                let single = candidates.len() == 1;
                for mut key in candidates {
                    if single
                        || key
                            .try_seqs(h, body, seq..seq + 1, &mut self.scratch)
                            .is_some()
                    {
                        self.started(from, &key, seq, sink);
                        self.layer(from.dir).install(key, seq);
                        return;
                    }
                }
                KeyError::WrongKey(phase)
            }
            Err(error) => error,
        };
        self.layer(from.dir).set(ReadState::Waiting(Waiting {
            phase,
            seq,
            tried,
            error,
        }));
    }

    /// Tries each later phase's key at sequence 0; on success switches to it and handles the record.
    fn try_later(
        &mut self,
        from: Arrival<'_>,
        h: &Header,
        body: &mut [u8],
        phases: &[KeyPhase],
        sink: &mut impl Sink,
    ) -> bool {
        for &phase in phases {
            let Ok(candidates) = self.schedule.build(from.keys, from.dir, phase) else {
                continue;
            };
            for mut key in candidates {
                if key.try_seqs(h, body, 0..1, &mut self.scratch).is_none() {
                    continue;
                }
                if phase != KeyPhase::Early && from.dir == crate::position::Dir::ClientToServer {
                    self.handshake.early_data_over();
                }
                self.started(from, &key, 0, sink);
                let Ok(plain) = record_layer::open(&mut key, h, body, 0) else {
                    continue;
                };
                self.layer(from.dir).install(key, 1);
                let data = body.get(plain.range).unwrap_or_default();
                self.on_plain(from, plain.typ, data, phase, sink);
                return true;
            }
        }
        false
    }

    /// A record of a direction joined mid-stream: searches the key log once
    /// per key log generation (never once per record), then counts the
    /// record as undecryptable if nothing opened it.
    fn on_midstream(
        &mut self,
        from: Arrival<'_>,
        h: &Header,
        body: &mut [u8],
        (tried, mut stopped): (Option<u64>, Option<Stopped>),
        sink: &mut impl Sink,
    ) {
        if tried != Some(from.keys.generation()) {
            let caps = SearchCaps {
                max_seq: self.limits.seq_search,
                max_bytes: self.limits.midstream_search_bytes,
            };
            let prefer = self.schedule.client_random;
            let scratch = &mut self.scratch;
            stopped = match midstream::search(from.keys, from.dir, h, body, caps, prefer, scratch) {
                Outcome::Found(found) => {
                    if self.midstream_open(from, h, body, found, sink) {
                        return;
                    }
                    None
                }
                Outcome::NotFound => None,
                Outcome::Stopped(at) => Some(at),
            };
        }
        self.layer(from.dir).set(ReadState::Midstream {
            tried: Some(from.keys.generation()),
            stopped,
        });
        let only_tls12 =
            from.keys.has_label(Label::MasterSecret) && !from.keys.has_label(Label::ClientTraffic0);
        let mut why = if only_tls12 {
            "ClientHello not captured (TLS 1.2 master secrets cannot be used without the handshake randoms)".to_string()
        } else {
            "ClientHello not captured".to_string()
        };
        if let Some(at) = stopped {
            why = format!("{why}; {}", at.clause());
        }
        let reason = GapReason::ClientHelloNotCaptured;
        self.undecryptable(from.dir, from.at, h.len, reason, why, sink);
    }

    /// The search found the key: opens the record and installs the key after it.
    fn midstream_open(
        &mut self,
        from: Arrival<'_>,
        h: &Header,
        body: &mut [u8],
        found: Found,
        sink: &mut impl Sink,
    ) -> bool {
        let Found {
            mut key,
            seq,
            client_random,
        } = found;
        self.midstream_found(from, &key, seq, client_random, sink);
        let Ok(plain) = record_layer::open(&mut key, h, body, seq) else {
            return false;
        };
        self.layer(from.dir).install(key, seq.saturating_add(1));
        let data = body.get(plain.range).unwrap_or_default();
        self.on_plain(from, plain.typ, data, KeyPhase::Application, sink);
        true
    }

    fn midstream_found(
        &mut self,
        from: Arrival<'_>,
        key: &Key,
        seq: u64,
        random: [u8; 32],
        sink: &mut impl Sink,
    ) {
        self.schedule.client_random = Some(random);
        self.schedule.version = Some(0x0304);
        if let Some((_, aead)) = &key.secret {
            let suite = aead.tls13_suite();
            self.schedule.suite = Some(suite.id);
            self.summary.suite = Some(suite.name.to_string());
        }
        self.summary.version = Some("TLS 1.3".into());
        self.summary.client_random = Some(random.iter().map(|b| format!("{b:02x}")).collect());
        let message = format!(
            "joined mid-connection: a key log secret opens this direction at sequence number {seq}"
        );
        let f = self.finding(FindingCode::Midstream, message, from.dir, from.at);
        sink.push_finding(f);
        self.started(from, key, seq, sink);
    }

    /// Counts a record that stays encrypted and tells the next stage bytes are missing.
    pub(super) fn undecryptable(
        &mut self,
        dir: crate::position::Dir,
        at: crate::position::FrameRef,
        len: usize,
        reason: GapReason,
        why: String,
        sink: &mut impl Sink,
    ) {
        let stats = self.summary.stats_mut(dir);
        stats.records_undecryptable += 1;
        stats.bytes_undecryptable += len as u64;
        sink.on_plaintext_gap(dir, at, len as u64, reason);
        if self.summary.fail(why.clone()) {
            // Wrong keys or damaged records are errors; a missing key is what
            // any capture without a complete key log shows, and all there is
            // to expect when no key material was given at all.
            let (level, message) = if !self.keys_given {
                (Level::Info, format!("{why} (no key material was given)"))
            } else if reason == GapReason::AuthenticationFailed {
                (Level::Error, why.clone())
            } else {
                (Level::Warn, why.clone())
            };
            let f = self
                .finding(FindingCode::Undecryptable, message, dir, at)
                .with_level(level);
            sink.push_finding(f);
            self.emit(sink, dir, at, EventKind::DecryptionFailed { reason: why });
        }
    }

    fn on_plain(
        &mut self,
        from: Arrival<'_>,
        typ: u8,
        data: &[u8],
        phase: KeyPhase,
        sink: &mut impl Sink,
    ) {
        let dir = from.dir;
        self.summary.stats_mut(dir).records_decrypted += 1;
        match typ {
            CONTENT_APPLICATION => {
                self.summary.stats_mut(dir).bytes_decrypted += data.len() as u64;
                if phase == KeyPhase::Early {
                    self.summary.early_data.bytes_decrypted += data.len() as u64;
                }
                sink.on_plaintext(dir, from.at, data);
            }
            CONTENT_HANDSHAKE => self.feed_handshake(from, data, true, sink),
            CONTENT_ALERT => self.on_alert(from, data, true, sink),
            CONTENT_CCS => self.on_ccs(from, sink),
            _ => {}
        }
    }

    fn on_ccs(&mut self, from: Arrival<'_>, sink: &mut impl Sink) {
        self.emit(sink, from.dir, from.at, EventKind::ChangeCipherSpec);
        let tls13 = self.schedule.tls13();
        if self.handshake.change_cipher_spec(from.dir, tls13) {
            self.switch_phase(from, KeyPhase::Tls12, sink);
        }
    }
}
