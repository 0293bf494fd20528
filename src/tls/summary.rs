//! What the TLS stage tells the stages above it and the report: the sink
//! trait, handshake events, plaintext-gap reasons and the per-connection
//! summary.
//!
//! Takes nothing from the wire itself; gives plain serialisable types with
//! snake_case field names. Never holds key material: key sources are named,
//! secrets are not.

use serde::Serialize;

use super::handshake::CertSummary;
use crate::finding::Findings;
use crate::position::{Dir, FrameRef};

/// Where the TLS stage delivers what it found, in capture order.
pub trait Sink: Findings {
    /// Decrypted application data of one record, in order per direction;
    /// `at` is the frame holding the record's first byte.
    fn on_plaintext(&mut self, dir: Dir, at: FrameRef, bytes: &[u8]);
    /// Application data that exists but cannot be given: `len` is the
    /// encrypted length (the plaintext was at most that long) or, for a
    /// capture gap, the number of bytes the capture lost.
    fn on_plaintext_gap(&mut self, dir: Dir, at: FrameRef, len: u64, reason: GapReason);
    /// A handshake milestone for the timeline.
    fn on_tls_event(&mut self, event: &Event);
    /// Every whole record as framed on the wire, opened or not: its
    /// direction, the frame of its first byte, its outer content type
    /// (RFC 8446 §5.1: 23 for everything encrypted in TLS 1.3) and its body
    /// length. What the connection story reads when there are no keys.
    fn on_record(&mut self, _dir: Dir, _at: FrameRef, _content_type: u8, _len: usize) {}
}

/// Why a stretch of application data is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// No secret for this connection in any key source.
    NoKey,
    /// 0-RTT data without a `CLIENT_EARLY_TRAFFIC_SECRET`.
    NoEarlyKey,
    /// The capture began after the ClientHello and no key log secret fits.
    ClientHelloNotCaptured,
    /// The negotiated cipher suite cannot be decrypted by xmppcap.
    UnsupportedSuite,
    /// The records are compressed with a method xmppcap does not know.
    UnsupportedCompression,
    /// The record decrypted but did not decompress (or would inflate past the limit).
    DecompressionFailed,
    /// The AEAD tag or MAC did not match.
    AuthenticationFailed,
    /// The capture lost bytes of this direction.
    CaptureGap,
    /// Bytes that are not TLS records, or a record cut off at the end.
    Unparsed,
}

impl GapReason {
    /// Why bytes of `dir` that were captured could not be decrypted, in
    /// words for the stages above ("no key for the server's direction");
    /// `None` when the bytes were not captured or are not TLS records: those
    /// are lost or unparsed, not undecryptable.
    pub fn why_not_decrypted(self, dir: Dir) -> Option<String> {
        let side = dir.side();
        let why = match self {
            GapReason::CaptureGap | GapReason::Unparsed => return None,
            GapReason::NoKey => format!("no key for the {side}'s direction"),
            GapReason::NoEarlyKey => "0-RTT data without CLIENT_EARLY_TRAFFIC_SECRET".to_string(),
            GapReason::ClientHelloNotCaptured => {
                "the ClientHello was not captured and no key log secret fits".to_string()
            }
            GapReason::UnsupportedSuite => "cipher suite not supported".to_string(),
            GapReason::UnsupportedCompression => "TLS compression method not supported".to_string(),
            GapReason::DecompressionFailed => "TLS decompression failed".to_string(),
            GapReason::AuthenticationFailed => {
                format!("record authentication failed in the {side}'s direction")
            }
        };
        Some(why)
    }
}

/// Which key opened (or was meant to open) a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPhase {
    /// TLS 1.3 0-RTT (`CLIENT_EARLY_TRAFFIC_SECRET`).
    Early,
    /// TLS 1.3 handshake traffic secret.
    Handshake,
    /// TLS 1.3 application traffic secret (generation after KeyUpdates).
    Application,
    /// TLS 1.2 and earlier: keys from the master secret.
    Tls12,
}

/// One handshake milestone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub stream: u64,
    pub dir: Dir,
    pub at: FrameRef,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    ClientHello {
        sni: Option<String>,
        alpn: Vec<String>,
        /// Versions offered (`supported_versions`, or the legacy field).
        versions: Vec<String>,
        suites: Vec<String>,
        psk: bool,
        early_data: bool,
        sslv2: bool,
    },
    ServerHello {
        version: String,
        suite: String,
        hello_retry_request: bool,
        psk: bool,
        alpn: Option<String>,
    },
    EncryptedExtensions {
        alpn: Option<String>,
        early_data_accepted: bool,
    },
    Certificate {
        certificates: Vec<CertSummary>,
    },
    ChangeCipherSpec,
    Finished,
    EndOfEarlyData,
    Alert {
        level: String,
        description: String,
        encrypted: bool,
    },
    NewSessionTicket {
        lifetime: u32,
        max_early_data: Option<u32>,
    },
    KeyUpdate {
        update_requested: bool,
        /// Generation of the new application traffic secret (1 after the first update).
        generation: u32,
    },
    DecryptionStarted {
        phase: KeyPhase,
        key_source: String,
        /// First sequence number decrypted (not 0 when found by searching mid-stream).
        seq: u64,
    },
    DecryptionFailed {
        reason: String,
    },
}

/// Counters for one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirStats {
    /// Encrypted records opened (handshake, alerts and application data).
    pub records_decrypted: u64,
    /// Application data bytes given to the next stage.
    pub bytes_decrypted: u64,
    /// Encrypted records that could not be opened.
    pub records_undecryptable: u64,
    /// Bytes of those records.
    pub bytes_undecryptable: u64,
    /// Bytes that were not TLS records: skipped while looking for a record
    /// boundary, after the direction stopped, or cut off at the end.
    pub bytes_unparsed: u64,
}

/// Whether a connection was decrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decrypted {
    /// Every encrypted record.
    Yes,
    /// Some records.
    Partly,
    /// None.
    No,
    /// No encrypted record was seen.
    #[default]
    NothingEncrypted,
}

/// An alert as the report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertSeen {
    pub level: String,
    pub description: String,
    pub dir: Dir,
    pub frame: u64,
    pub encrypted: bool,
}

/// 0-RTT facts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EarlyData {
    pub offered: bool,
    pub accepted: bool,
    /// Early-data application bytes decrypted.
    pub bytes_decrypted: u64,
}

/// Everything known about one TLS connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Wireshark `tcp.stream`.
    pub stream: u64,
    pub version: Option<String>,
    pub suite: Option<String>,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub alpn: Option<String>,
    /// Record compression the ServerHello chose (`deflate`, RFC 3749); absent for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// The client random in hex (public: it travels in clear), for matching key logs.
    pub client_random: Option<String>,
    pub certificates: Vec<CertSummary>,
    /// Which key file or DSB gave the secrets used.
    pub key_source: Option<String>,
    pub decrypted: Decrypted,
    /// Why not everything was decrypted (the first reason met).
    pub reason: Option<String>,
    pub alerts: Vec<AlertSeen>,
    /// Alerts beyond `limits.max_tls_list_items`, counted only.
    #[serde(skip_serializing_if = "is_zero")]
    pub alerts_omitted: u64,
    pub c2s: DirStats,
    pub s2c: DirStats,
    pub hello_retry_request: bool,
    /// The server accepted a pre-shared key (TLS 1.3) or resumed a session (TLS 1.2).
    pub resumption: bool,
    pub early_data: EarlyData,
    pub key_updates: u32,
    /// The connection was joined after its ClientHello.
    pub midstream: bool,
}

impl Summary {
    /// The connection in a few words: version, suite, SNI, and whether it was decrypted.
    pub fn describe(&self) -> String {
        let s = self;
        let mut parts = vec![s.version.clone().unwrap_or_else(|| "TLS".to_owned())];
        parts.extend(s.suite.clone());
        if let Some(sni) = &s.sni {
            parts.push(format!("SNI {sni}"));
        }
        if let Some(method) = &s.compression {
            parts.push(format!("compression {method}"));
        }
        parts.push(match s.decrypted {
            Decrypted::Yes => "decrypted".to_owned(),
            Decrypted::Partly => format!(
                "partly decrypted ({})",
                s.reason.as_deref().unwrap_or("see findings")
            ),
            Decrypted::No => format!("not decrypted: {}", s.reason.as_deref().unwrap_or("no key")),
            Decrypted::NothingEncrypted if s.suite.is_none() && s.client_random.is_some() => {
                "handshake not completed (a ClientHello, no ServerHello)".to_owned()
            }
            Decrypted::NothingEncrypted => "nothing encrypted".to_owned(),
        });
        parts.join(", ")
    }

    pub(crate) fn stats_mut(&mut self, dir: Dir) -> &mut DirStats {
        match dir {
            Dir::ClientToServer => &mut self.c2s,
            Dir::ServerToClient => &mut self.s2c,
        }
    }

    /// Keeps the first reason: later ones are usually consequences.
    pub(crate) fn fail(&mut self, reason: impl Into<String>) -> bool {
        if self.reason.is_none() {
            self.reason = Some(reason.into());
            true
        } else {
            false
        }
    }

    /// Derives `decrypted` from the counters.
    pub(crate) fn settle(&mut self) {
        let ok = self.c2s.records_decrypted + self.s2c.records_decrypted;
        let bad = self.c2s.records_undecryptable + self.s2c.records_undecryptable;
        self.decrypted = match (ok, bad) {
            (0, 0) => Decrypted::NothingEncrypted,
            (_, 0) => Decrypted::Yes,
            (0, _) => Decrypted::No,
            _ => Decrypted::Partly,
        };
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    #[test]
    fn events_serialise_flat_with_snake_case() {
        let e = Event {
            stream: 3,
            dir: Dir::ServerToClient,
            at: FrameRef::new(9, Timestamp::default()),
            kind: EventKind::KeyUpdate {
                update_requested: true,
                generation: 1,
            },
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""event":"key_update""#), "{json}");
        assert!(json.contains(r#""dir":"s2c""#) && json.contains(r#""update_requested":true"#));
    }

    #[test]
    fn settle_and_first_reason() {
        let mut s = Summary::default();
        s.settle();
        assert_eq!(s.decrypted, Decrypted::NothingEncrypted);
        s.c2s.records_decrypted = 2;
        s.settle();
        assert_eq!(s.decrypted, Decrypted::Yes);
        s.s2c.records_undecryptable = 1;
        s.settle();
        assert_eq!(s.decrypted, Decrypted::Partly);
        assert!(s.fail("gap at frame 7"));
        assert!(!s.fail("later"));
        assert_eq!(s.reason.as_deref(), Some("gap at frame 7"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""decrypted":"partly""#));
    }
}
