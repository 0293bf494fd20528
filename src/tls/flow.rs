//! What a [`Session`] does with each whole record: decrypt it (choosing and
//! switching keys as the handshake goes), then route its plaintext to the
//! handshake parser, the alert log or the application-data sink.
//!
//! Takes one record body (mutable: decryption is in place) with its header
//! and first frame; gives plaintext, gaps, events, findings and summary
//! updates. Key changes follow RFC 8446 (early → handshake → application,
//! KeyUpdate) and RFC 5246 (ChangeCipherSpec); sequence numbers restart at
//! every key change. Never copies application data except for a trial
//! decryption when more than one key could apply.

use super::crypto::DecryptError;
use super::handshake as hs;
use super::keylog::KeyLog;
use super::keys::{self, Key, KeyError};
use super::record::{ContentType, Header};
use super::session::{Protect, Session};
use super::summary::{EventKind, GapReason, KeyPhase, Sink};
use crate::common::{Dir, FrameRef};
use crate::finding::Level;

const CONTENT_CCS: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION: u8 = 23;

impl Session {
    /// Whether this record is protected: everything after ChangeCipherSpec in
    /// TLS ≤ 1.2, application_data records in TLS 1.3 (and before the version is known).
    pub(super) fn record_is_encrypted(&self, dir: Dir, h: &Header) -> bool {
        let tls12 = match &self.halves[dir.index()].protect {
            Protect::Clear => false,
            Protect::Active { key, .. } => key.phase == KeyPhase::Tls12,
            Protect::Waiting { phase, .. } => *phase == KeyPhase::Tls12,
            // Unknown version: a 2-byte alert is in clear, anything else is not.
            Protect::Midstream { .. } => !(h.typ == ContentType::Alert && h.len == 2),
        };
        match h.typ {
            ContentType::ApplicationData => true,
            ContentType::Sslv2ClientHello => false,
            _ => tls12,
        }
    }

    pub(super) fn on_record(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        h: &Header,
        body: &mut [u8],
        sink: &mut impl Sink,
    ) {
        if self.record_is_encrypted(dir, h) {
            self.on_encrypted(keys, dir, at, h, body, sink);
            return;
        }
        match h.typ {
            ContentType::Sslv2ClientHello => match hs::parse_sslv2_client_hello(body) {
                Ok(ch) => self.on_client_hello(dir, at, ch, sink),
                Err(e) => self.bad_message(dir, at, "SSLv2 ClientHello", &e.to_string(), sink),
            },
            ContentType::Handshake => self.feed_handshake(keys, dir, at, body, false, sink),
            ContentType::ChangeCipherSpec => self.on_ccs(keys, dir, at, sink),
            ContentType::Alert => self.on_alert(dir, at, body, false, sink),
            ContentType::ApplicationData | ContentType::Heartbeat => {}
        }
    }

    /// First encrypted record of a direction: which key should open it.
    fn start_protect(&mut self, keys: &KeyLog, dir: Dir, at: FrameRef, sink: &mut impl Sink) {
        let client = dir == Dir::ClientToServer;
        let phase = if !self.client_hello_seen {
            self.summary.midstream = true;
            self.halves[dir.index()].protect = Protect::Midstream { tried: None };
            return;
        } else if client && self.early_pending {
            KeyPhase::Early
        } else if self.params.tls13() {
            KeyPhase::Handshake
        } else {
            KeyPhase::Tls12
        };
        self.switch_phase(keys, dir, at, phase, sink);
    }

    /// Installs the key for `phase` (sequence 0), or a waiting state saying why there is none.
    pub(super) fn switch_phase(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        phase: KeyPhase,
        sink: &mut impl Sink,
    ) {
        self.halves[dir.index()].protect = match keys::build(&self.params, keys, dir, phase) {
            Ok(mut candidates) if candidates.len() == 1 => {
                let key = candidates.remove(0);
                self.started(dir, at, &key, 0, sink);
                Protect::Active { key, seq: 0 }
            }
            // Several 0-RTT candidates: the first record picks one.
            Ok(_) => Protect::Waiting {
                phase,
                seq: 0,
                tried: u64::MAX,
                error: KeyError::NoServerHello,
            },
            Err(error) => Protect::Waiting {
                phase,
                seq: 0,
                tried: keys.generation(),
                error,
            },
        };
    }

    fn started(&mut self, dir: Dir, at: FrameRef, key: &Key, seq: u64, sink: &mut impl Sink) {
        self.summary
            .key_source
            .get_or_insert_with(|| key.source.to_string());
        let kind = EventKind::DecryptionStarted {
            phase: key.phase,
            key_source: key.source.to_string(),
            seq,
        };
        self.emit(sink, dir, at, kind);
    }

    /// Later TLS 1.3 phases a failing record may belong to (a missed Finished
    /// or EndOfEarlyData, or 0-RTT that was never decryptable).
    fn later_phases(&self, phase: KeyPhase) -> &'static [KeyPhase] {
        match phase {
            KeyPhase::Early => &[KeyPhase::Handshake, KeyPhase::Application],
            KeyPhase::Handshake => &[KeyPhase::Application],
            KeyPhase::Application | KeyPhase::Tls12 => &[],
        }
    }

    fn on_encrypted(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        h: &Header,
        body: &mut [u8],
        sink: &mut impl Sink,
    ) {
        if matches!(self.halves[dir.index()].protect, Protect::Clear) {
            self.start_protect(keys, dir, at, sink);
        }
        self.retry_waiting(keys, dir, at, h, body, sink);
        let protect = std::mem::replace(&mut self.halves[dir.index()].protect, Protect::Clear);
        match protect {
            Protect::Active { key, seq } => {
                self.decrypt_active(keys, dir, at, h, body, key, seq, sink)
            }
            Protect::Waiting {
                phase,
                seq,
                tried,
                error,
            } => {
                self.halves[dir.index()].protect = Protect::Waiting {
                    phase,
                    seq: seq + 1,
                    tried,
                    error: error.clone(),
                };
                if self.try_later(keys, dir, at, h, body, self.later_phases(phase), sink) {
                    return;
                }
                self.undecryptable(dir, at, h.len, error.gap_reason(), error.reason(), sink);
            }
            Protect::Midstream { tried } => self.on_midstream(keys, dir, at, h, body, tried, sink),
            Protect::Clear => {}
        }
    }

    /// Opens a record with the direction's key; on failure tries the later
    /// TLS 1.3 phases before counting the record as undecryptable.
    #[allow(clippy::too_many_arguments)]
    fn decrypt_active(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        h: &Header,
        body: &mut [u8],
        mut key: Key,
        seq: u64,
        sink: &mut impl Sink,
    ) {
        let later = self.later_phases(key.phase);
        if !later.is_empty() {
            self.scratch.clear();
            self.scratch.extend_from_slice(body);
        }
        let phase = key.phase;
        let result = key.dec.decrypt(h.typ.to_u8(), h.version, body, seq);
        self.halves[dir.index()].protect = Protect::Active { key, seq: seq + 1 };
        let e = match result {
            Ok(plain) => {
                let data = body.get(plain.range).unwrap_or_default();
                return self.on_plain(keys, dir, at, plain.typ, data, phase, sink);
            }
            Err(e) => e,
        };
        if !later.is_empty() {
            body.copy_from_slice(&self.scratch);
            if self.try_later(keys, dir, at, h, body, later, sink) {
                return;
            }
        }
        let why = match e {
            DecryptError::Auth => format!("record authentication failed at frame {}", at.frame),
            other => format!("record at frame {} not decrypted: {other}", at.frame),
        };
        self.undecryptable(dir, at, h.len, GapReason::AuthenticationFailed, why, sink);
    }

    /// A waiting direction whose key may have arrived since (a DSB later in the
    /// capture), or 0-RTT with several candidate AEADs: tries again.
    fn retry_waiting(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        h: &Header,
        body: &[u8],
        sink: &mut impl Sink,
    ) {
        let Protect::Waiting {
            phase, seq, tried, ..
        } = &self.halves[dir.index()].protect
        else {
            return;
        };
        let (phase, seq) = (*phase, *seq);
        if *tried == keys.generation() {
            return;
        }
        match keys::build(&self.params, keys, dir, phase) {
            Ok(candidates) => {
                let single = candidates.len() == 1;
                for mut key in candidates {
                    if single
                        || keys::try_seqs(&mut key, h, body, seq..seq + 1, &mut self.scratch)
                            .is_some()
                    {
                        self.started(dir, at, &key, seq, sink);
                        self.halves[dir.index()].protect = Protect::Active { key, seq };
                        return;
                    }
                }
                self.halves[dir.index()].protect = Protect::Waiting {
                    phase,
                    seq,
                    tried: keys.generation(),
                    error: KeyError::WrongKey(phase),
                };
            }
            Err(error) => {
                self.halves[dir.index()].protect = Protect::Waiting {
                    phase,
                    seq,
                    tried: keys.generation(),
                    error,
                };
            }
        }
    }

    /// Tries each later phase's key at sequence 0; on success switches to it and handles the record.
    #[allow(clippy::too_many_arguments)]
    fn try_later(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        h: &Header,
        body: &mut [u8],
        phases: &[KeyPhase],
        sink: &mut impl Sink,
    ) -> bool {
        for &phase in phases {
            let Ok(candidates) = keys::build(&self.params, keys, dir, phase) else {
                continue;
            };
            for mut key in candidates {
                if keys::try_seqs(&mut key, h, body, 0..1, &mut self.scratch).is_none() {
                    continue;
                }
                if phase != KeyPhase::Early {
                    self.early_pending &= dir != Dir::ClientToServer;
                }
                self.started(dir, at, &key, 0, sink);
                let Ok(plain) = key.dec.decrypt(h.typ.to_u8(), h.version, body, 0) else {
                    continue;
                };
                self.halves[dir.index()].protect = Protect::Active { key, seq: 1 };
                let data = body.get(plain.range).unwrap_or_default();
                self.on_plain(keys, dir, at, plain.typ, data, phase, sink);
                return true;
            }
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    fn on_midstream(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        h: &Header,
        body: &mut [u8],
        tried: Option<u64>,
        sink: &mut impl Sink,
    ) {
        if tried != Some(keys.generation()) {
            let prefer = self.params.client_random;
            if let Some((key, seq, random)) = keys::midstream_search(
                keys,
                dir,
                h,
                body,
                self.seq_search,
                prefer,
                &mut self.scratch,
            ) {
                self.midstream_found(dir, at, &key, seq, random, sink);
                let mut key = key;
                if let Ok(plain) = key.dec.decrypt(h.typ.to_u8(), h.version, body, seq) {
                    self.halves[dir.index()].protect = Protect::Active { key, seq: seq + 1 };
                    let data = body.get(plain.range).unwrap_or_default();
                    self.on_plain(keys, dir, at, plain.typ, data, KeyPhase::Application, sink);
                    return;
                }
            }
        }
        self.halves[dir.index()].protect = Protect::Midstream {
            tried: Some(keys.generation()),
        };
        let only_tls12 = keys
            .all(super::keylog::Label::MasterSecret)
            .next()
            .is_some()
            && keys
                .all(super::keylog::Label::ClientTraffic0)
                .next()
                .is_none();
        let why = if only_tls12 {
            "ClientHello not captured (TLS 1.2 master secrets cannot be used without the handshake randoms)"
        } else {
            "ClientHello not captured"
        };
        self.undecryptable(
            dir,
            at,
            h.len,
            GapReason::ClientHelloNotCaptured,
            why.to_string(),
            sink,
        );
    }

    fn midstream_found(
        &mut self,
        dir: Dir,
        at: FrameRef,
        key: &Key,
        seq: u64,
        random: [u8; 32],
        sink: &mut impl Sink,
    ) {
        self.params.client_random = Some(random);
        self.params.version = Some(0x0304);
        if let Some((_, aead)) = &key.secret {
            let suite = aead.tls13_suite();
            self.params.suite = Some(suite.id);
            self.summary.suite = Some(suite.name.to_string());
        }
        self.summary.version = Some("TLS 1.3".into());
        self.summary.client_random = Some(random.iter().map(|b| format!("{b:02x}")).collect());
        let f = self.finding(
            Level::Info,
            "tls.midstream",
            format!("joined mid-connection: a key log secret opens this direction at sequence number {seq}"),
            dir,
            at,
        );
        sink.push_finding(f);
        self.started(dir, at, key, seq, sink);
    }

    /// Counts a record that stays encrypted and tells the next stage bytes are missing.
    pub(super) fn undecryptable(
        &mut self,
        dir: Dir,
        at: FrameRef,
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
            // any capture without a complete key log shows.
            let level = if reason == GapReason::AuthenticationFailed {
                Level::Error
            } else {
                Level::Warn
            };
            let f = self.finding(level, "tls.undecryptable", why.clone(), dir, at);
            sink.push_finding(f);
            self.emit(sink, dir, at, EventKind::DecryptionFailed { reason: why });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_plain(
        &mut self,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        typ: u8,
        data: &[u8],
        phase: KeyPhase,
        sink: &mut impl Sink,
    ) {
        self.summary.stats_mut(dir).records_decrypted += 1;
        match typ {
            CONTENT_APPLICATION => {
                self.summary.stats_mut(dir).bytes_decrypted += data.len() as u64;
                if phase == KeyPhase::Early {
                    self.summary.early_data.bytes_decrypted += data.len() as u64;
                }
                sink.on_plaintext(dir, at, data);
            }
            CONTENT_HANDSHAKE => self.feed_handshake(keys, dir, at, data, true, sink),
            CONTENT_ALERT => self.on_alert(dir, at, data, true, sink),
            CONTENT_CCS => self.on_ccs(keys, dir, at, sink),
            _ => {}
        }
    }

    fn on_ccs(&mut self, keys: &KeyLog, dir: Dir, at: FrameRef, sink: &mut impl Sink) {
        self.emit(sink, dir, at, EventKind::ChangeCipherSpec);
        // TLS 1.3 middlebox-compatibility CCS changes nothing (RFC 8446 §D.4);
        // before the ServerHello only a client that cannot speak 1.3 means it.
        let tls12 = if self.server_hello_seen {
            !self.params.tls13()
        } else {
            !self.client_offers_tls13
        };
        if tls12 {
            self.switch_phase(keys, dir, at, KeyPhase::Tls12, sink);
        }
    }
}
