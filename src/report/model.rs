//! The report model: what `xmppcap report` knows about one capture once it
//! has been read — connections, XMPP sessions, the timeline and findings.
//!
//! Built by the pipeline; rendered by `json` and `html` here and by the
//! `xmppcap` binary's table. Plain serialisable data (schema [`SCHEMA`],
//! documented in `docs/report.schema.json` and README). Never recomputes what
//! a stage measured.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::CaptureSummary;
use crate::decode::DecodeStats;
use crate::finding::{Finding, Level};
use crate::position::{Dir, Timestamp};
use crate::report::event::{Detail, Event};
use crate::tcp::StreamStats;

/// JSON schema identifier of `xmppcap report --format json`.
pub const SCHEMA: &str = "xmppcap.report/2";

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
    /// One per desktop (client address) with notification connections,
    /// refused or unanswered attempts, or REST traffic, in address order.
    /// Left out of JSON when empty (no connection story was told).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub desktops: Vec<crate::desktop::Desktop>,
    /// One per agent (login id), in login-id order: the agent's story
    /// ([`crate::report::agents`]). Left out of JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<crate::report::agents::AgentStory>,
    /// Events in capture order (time, then frame).
    pub timeline: Vec<Event>,
    /// Events left out of the timeline by the cap (NDJSON has them all).
    pub timeline_dropped: u64,
    /// Findings in frame order.
    pub findings: Vec<Finding>,
    /// TCP connections and XMPP sessions the capture had, listed or not:
    /// `connections` and `sessions` stop at the report's byte cap
    /// (`limits.report` says how many were left out). A filter sets them to
    /// what it kept. Not in JSON, whose `limits.report` finding gives them.
    #[serde(skip)]
    pub connections_seen: u64,
    #[serde(skip)]
    pub sessions_seen: u64,
}

impl Report {
    pub fn worst_level(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.level).max()
    }

    /// The timeline grouped in one pass: per session, the events its block
    /// shows (its own, and those of its connections that belong to no
    /// session yet: TCP, TLS, HTTP upgrade); and the connections that carried
    /// no session (REST calls, other traffic) with their HTTP exchanges, BOSH
    /// bodies and findings.
    pub fn grouped(&self) -> Grouped<'_> {
        let mut sessions_of: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for s in &self.sessions {
            for &stream in &s.streams {
                sessions_of.entry(stream).or_default().push(s.id);
            }
        }
        let mut sessions: BTreeMap<u32, Vec<&Event>> = BTreeMap::new();
        let mut connections: BTreeMap<u64, Vec<&Event>> = BTreeMap::new();
        for e in &self.timeline {
            let shown = in_session_timeline(e);
            match (e.session, e.stream) {
                (Some(id), _) if shown => sessions.entry(id).or_default().push(e),
                (None, Some(st)) if shown && sessions_of.contains_key(&st) => {
                    for &id in sessions_of.get(&st).into_iter().flatten() {
                        sessions.entry(id).or_default().push(e);
                    }
                }
                _ => {}
            }
            let listed = e.detail.is_http() || matches!(e.detail, Detail::Finding { .. });
            if let Some(st) = e
                .stream
                .filter(|st| listed && !sessions_of.contains_key(st))
            {
                connections.entry(st).or_default().push(e);
            }
        }
        let others = self
            .connections
            .iter()
            .filter(|c| !sessions_of.contains_key(&c.stream))
            .map(|c| (c, connections.remove(&c.stream).unwrap_or_default()))
            .collect();
        Grouped { sessions, others }
    }
}

/// The events a session's timeline shows: not the WebSocket messages (their
/// stanzas are shown) nor the TLS handshake's inner steps (NDJSON has them).
pub(crate) fn in_session_timeline(e: &Event) -> bool {
    use crate::tls::EventKind as K;
    match &e.detail {
        // A connection's story is shown under its session's header.
        Detail::WsMessage(_) | Detail::TcpClose { .. } | Detail::ConnSummary(_) => false,
        Detail::Tls { event } => !matches!(
            **event,
            K::ChangeCipherSpec
                | K::EncryptedExtensions { .. }
                | K::Finished
                | K::NewSessionTicket { .. }
                | K::DecryptionStarted { .. }
                | K::EndOfEarlyData
        ),
        _ => true,
    }
}

/// See [`Report::grouped`].
pub struct Grouped<'r> {
    sessions: BTreeMap<u32, Vec<&'r Event>>,
    /// Connections without a session, in stream order, with their events.
    pub others: Vec<(&'r ConnectionReport, Vec<&'r Event>)>,
}

impl<'r> Grouped<'r> {
    /// The events session `id`'s timeline shows, in timeline order.
    pub fn session(&self, id: u32) -> &[&'r Event] {
        self.sessions.get(&id).map_or(&[], Vec::as_slice)
    }
}

/// A key log source and how many secrets it gave.
#[derive(Clone, Debug, Serialize)]
pub struct KeySourceReport {
    pub source: String,
    pub secrets: usize,
    /// For the one entry standing for every source past `max_key_sources`:
    /// how many it stands for.
    #[serde(skip_serializing_if = "is_zero")]
    pub merged: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// The connection's story (`conn.summary`), keys or not.
    pub summary: Option<crate::conn::Summary>,
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
    /// What the Finesse stage read in its notifications (updates, last agent state).
    pub finesse: crate::finesse::SessionFacts,
}
