//! The report model: what `xmppcap report` knows about one capture once it
//! has been read — connections, XMPP sessions, the timeline and findings.
//!
//! Built by the pipeline; rendered by `table`, `json` and `html`. Plain
//! serialisable data (schema [`SCHEMA`], documented in `docs/report.schema.json`
//! and README). Never recomputes what a stage measured.

use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::CaptureSummary;
use crate::common::{Dir, Timestamp};
use crate::decode::DecodeStats;
use crate::finding::{Finding, Level};
use crate::report::event::Event;
use crate::tcp::StreamStats;

/// JSON schema identifier of `xmppcap report --format json`.
pub const SCHEMA: &str = "xmppcap.report/1";

/// Everything the report says about one capture.
#[derive(Debug, Serialize)]
pub struct Report {
    pub capture: CaptureSummary,
    pub decode: DecodeStats,
    /// Key sources used for TLS decryption (names only, never secrets).
    pub keys: Vec<KeySourceReport>,
    /// One per TCP connection, in `tcp.stream` order.
    pub connections: Vec<ConnectionReport>,
    /// One per XMPP session, in order of appearance.
    pub sessions: Vec<SessionReport>,
    /// Events in capture order (time, then frame).
    pub timeline: Vec<Event>,
    /// Events left out of the timeline by the cap (NDJSON has them all).
    pub timeline_dropped: u64,
    /// Findings in frame order.
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn worst_level(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.level).max()
    }

    /// The key sources in words: `keys/a.keys (6 secrets), pcapng DSB at byte 120 (2 secrets)` or `none`.
    pub fn keys_in_words(&self) -> String {
        if self.keys.is_empty() {
            return "none".to_owned();
        }
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{} ({} secrets)", k.source, k.secrets))
            .collect();
        keys.join(", ")
    }

    /// Connections that carried no XMPP session (REST calls, other traffic).
    pub fn other_connections(&self) -> Vec<&ConnectionReport> {
        self.connections
            .iter()
            .filter(|c| !self.sessions.iter().any(|s| s.streams.contains(&c.stream)))
            .collect()
    }

    /// What to list under such a connection: its HTTP exchanges, BOSH bodies and findings.
    pub fn connection_events(&self, stream: u64) -> Vec<&Event> {
        self.timeline
            .iter()
            .filter(|e| {
                e.stream == Some(stream)
                    && (e.kind.starts_with("http.") || e.kind == "bosh.body" || e.kind == "finding")
            })
            .collect()
    }

    /// The events a session's timeline shows: its own, and those of its
    /// connections that belong to no session yet (TCP, TLS, HTTP upgrade).
    pub fn session_events(&self, s: &SessionReport) -> Vec<&Event> {
        self.timeline
            .iter()
            .filter(|e| {
                e.session == Some(s.id)
                    || (e.session.is_none() && e.stream.is_some_and(|st| s.streams.contains(&st)))
            })
            .filter(|e| crate::report::table::in_session_timeline(e))
            .collect()
    }
}

/// A key log source and how many secrets it gave.
#[derive(Clone, Debug, Serialize)]
pub struct KeySourceReport {
    pub source: String,
    pub secrets: usize,
}

/// What was found on one TCP connection, layer by layer.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionReport {
    pub stream: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The protocol stack, outermost first: `tls`, `http`, `websocket`, `xmpp`, `bosh`, `opaque`.
    pub layers: Vec<&'static str>,
    pub tcp: Option<StreamStats>,
    pub tls: Option<crate::tls::Summary>,
    pub websocket: Option<crate::ws::Summary>,
    pub http_exchanges: u64,
    /// XMPP session carried (WebSocket or plain TCP), if any.
    pub session: Option<u32>,
    /// Where every byte of each direction went.
    pub bytes: ByteAccounts,
}

/// Every payload byte of a connection, accounted for per direction.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ByteAccounts {
    pub c2s: ByteAccount,
    pub s2c: ByteAccount,
}

impl ByteAccounts {
    pub fn dir_mut(&mut self, dir: Dir) -> &mut ByteAccount {
        match dir {
            Dir::ClientToServer => &mut self.c2s,
            Dir::ServerToClient => &mut self.s2c,
        }
    }

    pub fn dir(&self, dir: Dir) -> &ByteAccount {
        match dir {
            Dir::ClientToServer => &self.c2s,
            Dir::ServerToClient => &self.s2c,
        }
    }
}

/// One direction's bytes: captured payload, bytes the capture lost, and of
/// the TLS part how much was decrypted or not, and bytes no parser took.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ByteAccount {
    /// TCP payload bytes delivered in order.
    pub tcp: u64,
    /// Bytes the capture lost (TCP gaps).
    pub gaps: u64,
    /// TLS bytes (records) of this direction.
    pub tls: u64,
    /// Application bytes decrypted from them.
    pub decrypted: u64,
    /// Application data that could not be decrypted (ciphertext length).
    pub undecryptable: u64,
    /// Bytes no parser could read (unknown protocol, garbage, resynchronisation).
    pub unparsed: u64,
}

/// One XMPP session, whatever its transport.
#[derive(Clone, Debug, Serialize)]
pub struct SessionReport {
    pub id: u32,
    /// TCP streams that carried it (several for BOSH).
    pub streams: Vec<u64>,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    /// TLS of the (first) connection, in a few words.
    pub tls: Option<String>,
    /// WebSocket details (`permessage-deflate`, how it closed) or BOSH sid.
    pub transport_detail: Option<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// How it ended, in words.
    pub ended: String,
    /// What the XMPP stage knows (JID, SASL, bind, presence, subscriptions, pings...).
    pub xmpp: crate::xmpp::Summary,
}
