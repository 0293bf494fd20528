//! The connection-story stage: one [`Tracker`] per TCP connection, fed as
//! the connection goes, giving its [`Summary`] and findings at the end.
//!
//! Takes the TCP stage's data and ends of the stream, each TLS record as
//! framed (works without keys), the TLS handshake events, and the [`Fact`]s
//! the stages above established in clear or decrypted; gives a [`Story`]
//! when the connection ends. Keeps streaming counters and a few frames per
//! direction, never a per-record log; the keepalive interval sample is
//! capped by `limits.max_keepalive_intervals`.

use std::net::SocketAddr;

use crate::finding::Finding;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::tcp::{Origin, StreamStats};
use crate::tls;

use super::notice::{self, Evidence, Silence};
use super::rhythm::{self, Inference, Tally};
use super::role::{self, Decoded, WireEvidence};
use super::{
    certificate, Basis, DirFacts, EndHow, Ended, IdleGap, Keepalive, Opened, Side, Summary,
    TlsFacts,
};

/// Idle gaps listed per connection (the rest are counted in the reasons).
const MAX_IDLE_GAPS: usize = 16;
/// TLS record content type of application data (RFC 8446 §5.1).
const APPLICATION_DATA: u8 = 23;
/// How long after the first application record client turns count as
/// the connection's opening (a login is a few round trips at once).
const OPENING_NS: i64 = 2_000_000_000;
/// The largest encrypted alert (2 bytes, plus TLS 1.2 GCM's 24 of overhead).
const ALERT_MAX: usize = 26;
/// Ping ids longer than this are not remembered (an XMPP id is short).
const MAX_PING_ID: usize = 128;

/// The keepalive rhythm as counted (decrypted) or inferred.
fn counted(tally: &Tally, basis: Basis) -> Keepalive {
    Keepalive {
        exchanges: Some(tally.exchanges),
        interval_s: tally.median_interval_s(),
        last_time: tally.last.map(|f| f.ts),
        last_frame: tally.last.map(|f| f.frame),
        basis,
        not_inferred_because: None,
    }
}

/// No count: the wire cannot tell this role's keepalives apart.
fn declined(because: &'static str) -> Keepalive {
    Keepalive {
        exchanges: None,
        interval_s: None,
        last_time: None,
        last_frame: None,
        basis: Basis::Inferred,
        not_inferred_because: Some(because),
    }
}

/// A fact the stages above read in clear or decrypted bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// An HTTP upgrade to WebSocket; `xmpp` when the `xmpp` subprotocol was agreed.
    WebSocket { xmpp: bool },
    /// An XMPP stanza; `ping` when the XMPP stage said it is a ping or the answer to one.
    Stanza { ping: Option<Ping> },
    /// A BOSH body.
    BoshBody,
    /// An HTTP exchange; `rest` when its path is under `/finesse/api/`.
    HttpExchange { rest: bool },
    /// A WebSocket ping frame.
    WsPing { dir: Dir, at: FrameRef },
    /// A WebSocket pong frame, with the frame of the ping it answers.
    WsPong { answers: Option<u64> },
}

/// An XEP-0199 ping or its answer, as the XMPP stage matched them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ping {
    Request { dir: Dir, at: FrameRef, id: String },
    Answer { dir: Dir, at: FrameRef, id: String },
}

/// What a finished connection tells.
#[derive(Clone, Debug, PartialEq)]
pub struct Story {
    pub summary: Summary,
    pub findings: Vec<Finding>,
}

/// One connection's story as it goes.
#[derive(Debug)]
pub struct Tracker {
    stream: u64,
    client: SocketAddr,
    server: SocketAddr,
    origin: Origin,
    first: FrameRef,
    max_intervals: usize,
    /// The first FIN or RST: how, from which side, where.
    first_end: Option<(EndHow, Dir, FrameRef)>,
    /// SYN → first client byte: the round trip the reply window starts from.
    rtt_estimate_ms: Option<f64>,
    records: [u64; 2],
    last_record: [Option<FrameRef>; 2],
    unprompted: u64,
    /// The first application record, and the client turns soon after it.
    first_app: Option<FrameRef>,
    early_client_turns: u64,
    last_app_dir: Option<Dir>,
    /// TLS 1.3 was chosen and the client's Finished has not passed yet.
    client_finished_pending: bool,
    inference: Option<Inference>,
    idle: rhythm::IdleGaps,
    silence: Silence,
    decoded: Decoded,
    decrypted: Tally,
    pending_pings: [Option<(String, FrameRef)>; 2],
    ws_ping: Option<(Dir, FrameRef)>,
    client_hello: Option<FrameRef>,
    server_hello: bool,
    certificate_at: Option<FrameRef>,
}

impl Tracker {
    /// A connection whose first packet (`Opened`) was at `at`.
    pub fn new(
        stream: u64,
        client: SocketAddr,
        server: SocketAddr,
        at: FrameRef,
        origin: Origin,
        limits: &Limits,
    ) -> Tracker {
        Tracker {
            stream,
            client,
            server,
            origin,
            first: at,
            max_intervals: limits.max_keepalive_intervals,
            first_end: None,
            rtt_estimate_ms: None,
            records: [0, 0],
            last_record: [None, None],
            unprompted: 0,
            first_app: None,
            early_client_turns: 0,
            last_app_dir: None,
            client_finished_pending: false,
            inference: None,
            idle: rhythm::IdleGaps::default(),
            silence: Silence::default(),
            decoded: Decoded::default(),
            decrypted: Tally::default(),
            pending_pings: [None, None],
            ws_ping: None,
            client_hello: None,
            server_hello: false,
            certificate_at: None,
        }
    }

    /// In-order TCP payload of one direction.
    pub fn on_tcp_data(&mut self, dir: Dir, at: FrameRef) {
        if dir == Dir::ClientToServer
            && self.rtt_estimate_ms.is_none()
            && self.origin == Origin::Handshake
        {
            let ns = at.ts.nanos_since(self.first.ts).max(0);
            self.rtt_estimate_ms = Some(ns as f64 / 1e6);
        }
        self.idle.on_activity(at, MAX_IDLE_GAPS);
    }

    /// A FIN or RST from `dir`; only the first one says how it ended.
    pub fn on_tcp_end(&mut self, dir: Dir, at: FrameRef, rst: bool) {
        let how = if rst { EndHow::Rst } else { EndHow::Fin };
        self.first_end.get_or_insert((how, dir, at));
        self.idle.on_activity(at, MAX_IDLE_GAPS);
        if let Some(inference) = self.inference.as_mut() {
            inference.on_end(at.ts);
        }
    }

    /// One TLS record as framed on the wire (content type, body length).
    pub fn on_record(&mut self, dir: Dir, at: FrameRef, content_type: u8, len: usize) {
        if let Some(n) = self.records.get_mut(dir.index()) {
            *n = n.saturating_add(1);
        }
        if content_type != APPLICATION_DATA {
            return;
        }
        let reply_ns = rhythm::reply_window_ns(self.rtt_estimate_ms);
        let client_last = self.last_record[Dir::ClientToServer.index()];
        if dir == Dir::ServerToClient
            && client_last.is_none_or(|c| at.ts.nanos_since(c.ts) > reply_ns)
        {
            self.unprompted = self.unprompted.saturating_add(1);
        }
        self.silence.on_record(dir, at);
        if self.client_finished_pending && dir == Dir::ClientToServer {
            // TLS 1.3: the client's first encrypted record is its Finished.
            self.client_finished_pending = false;
        } else {
            self.count_turn(dir, at, len);
        }
        if let Some(slot) = self.last_record.get_mut(dir.index()) {
            *slot = Some(at);
        }
        let (rtt, cap) = (self.rtt_estimate_ms, self.max_intervals);
        self.inference
            .get_or_insert_with(|| Inference::new(rtt, cap))
            .on_record(dir, at, len);
    }

    /// A client record after server records (or first) is a turn.
    fn count_turn(&mut self, dir: Dir, at: FrameRef, len: usize) {
        let first = *self.first_app.get_or_insert(at);
        // TLS 1.3's encrypted handshake and closing alerts are records too:
        // a turn is a client record longer than an alert after server records.
        let turn = dir == Dir::ClientToServer && self.last_app_dir != Some(dir) && len > ALERT_MAX;
        // A connection joined mid-way shows no opening.
        let opening = self.origin != Origin::MidStream;
        if turn && opening && at.ts.nanos_since(first.ts) <= OPENING_NS {
            self.early_client_turns = self.early_client_turns.saturating_add(1);
        }
        self.last_app_dir = Some(dir);
    }

    /// A TLS handshake milestone.
    pub fn on_tls_event(&mut self, event: &tls::Event) {
        match event.kind {
            tls::EventKind::ClientHello { .. } => {
                self.client_hello.get_or_insert(event.at);
            }
            tls::EventKind::ServerHello { ref version, .. } => {
                self.server_hello = true;
                self.client_finished_pending = version == "TLS 1.3";
            }
            tls::EventKind::Certificate { .. } => {
                self.certificate_at.get_or_insert(event.at);
            }
            _ => {}
        }
    }

    /// A fact read in clear or decrypted bytes.
    pub fn on_fact(&mut self, fact: Fact) {
        let d = &mut self.decoded;
        match fact {
            Fact::WebSocket { xmpp } => {
                d.websocket = true;
                d.websocket_xmpp |= xmpp;
            }
            Fact::Stanza { ping } => {
                d.stanzas = d.stanzas.saturating_add(1);
                if let Some(ping) = ping {
                    self.on_ping(ping);
                }
            }
            Fact::BoshBody => d.bosh_bodies = d.bosh_bodies.saturating_add(1),
            Fact::HttpExchange { rest } => {
                d.http_exchanges = d.http_exchanges.saturating_add(1);
                d.rest_exchanges = d.rest_exchanges.saturating_add(u64::from(rest));
            }
            Fact::WsPing { dir, at } => self.ws_ping = Some((dir, at)),
            Fact::WsPong { answers } => {
                let ping = self.ws_ping.filter(|(_, at)| Some(at.frame) == answers);
                if let Some((dir, at)) = ping {
                    self.decrypted.add(dir, at, self.max_intervals);
                    self.ws_ping = None;
                }
            }
        }
    }

    /// A ping request waits for its answer from the other side; the
    /// exchange is dated by the request.
    fn on_ping(&mut self, ping: Ping) {
        match ping {
            Ping::Request { dir, at, id } if id.len() <= MAX_PING_ID => {
                if let Some(slot) = self.pending_pings.get_mut(dir.index()) {
                    *slot = Some((id, at));
                }
            }
            Ping::Request { .. } => {}
            Ping::Answer { dir, at, id } => {
                let asker = dir.flip();
                let request = self
                    .pending_pings
                    .get_mut(asker.index())
                    .and_then(|slot| slot.take_if(|(pending, _)| *pending == id));
                let began = request.map_or(at, |(_, at)| at);
                self.decrypted.add(asker, began, self.max_intervals);
            }
        }
    }

    /// The story of the connection, now that it ended (or the capture did).
    pub fn finish(self, stats: Option<&StreamStats>, tls: Option<&tls::Summary>) -> Story {
        let summary = self.summary(stats, tls);
        let pinger = match summary.keepalive.basis {
            Basis::Decrypted => self.decrypted.last_by,
            Basis::Inferred => self.inferred_tally().last_by,
        };
        let evidence = Evidence {
            silence: &self.silence,
            client_hello: self.client_hello,
            server_hello: self.server_hello,
            certificate_at: self.certificate_at,
            last_record: self.last_record,
            pinger,
            tls,
        };
        let findings = notice::findings(&summary, &evidence);
        Story { summary, findings }
    }

    fn summary(&self, stats: Option<&StreamStats>, tls: Option<&tls::Summary>) -> Summary {
        // Cut by the budget (no statistics): as far as it was followed.
        let last = stats.map_or(self.idle.last().unwrap_or(self.first), |s| s.last);
        let duration_s = last.ts.secs_since(self.first.ts).max(0.0);
        let rtt_ms = stats.and_then(|s| s.handshake.rtt_ms());
        let inferred = self.inferred_tally();
        let sni = tls.and_then(|t| t.sni.clone());
        let alpn = tls.and_then(|t| t.alpn.clone());
        let wire = WireEvidence {
            server_port: self.server.port(),
            sni: sni.as_deref(),
            alpn: alpn.as_deref(),
            duration_s,
            client_records: self.records[0],
            server_records: self.records[1],
            unprompted_server_records: self.unprompted,
            keepalives: inferred.exchanges,
            early_client_turns: self.early_client_turns,
        };
        let (role, role_basis, role_reasons) = role::role(&self.decoded, &wire);
        let keepalive = match self.keepalive_basis(role_basis, tls) {
            Basis::Decrypted => counted(&self.decrypted, Basis::Decrypted),
            Basis::Inferred => match rhythm::not_inferable(role) {
                Some(because) => declined(because),
                None => counted(&inferred, Basis::Inferred),
            },
        };
        Summary {
            stream: self.stream,
            client: self.client,
            server: self.server,
            sni: sni.clone(),
            role,
            role_basis,
            role_reasons,
            opened: match self.origin {
                Origin::Handshake | Origin::SynAck => Opened::Syn,
                Origin::MidStream => Opened::Midstream,
            },
            first: self.first,
            ended: self.ended(stats),
            duration_s,
            c2s: self.dir_facts(stats, Dir::ClientToServer),
            s2c: self.dir_facts(stats, Dir::ServerToClient),
            rtt_ms,
            idle_gaps: self.idle_gaps(),
            keepalive,
            tls: tls.map(|t| self.tls_facts(t)),
        }
    }

    fn inferred_tally(&self) -> Tally {
        self.inference
            .as_ref()
            .map(Inference::tally)
            .unwrap_or_default()
    }

    /// Keepalives are counted from decrypted facts when the connection's
    /// encrypted part (if any) was decrypted; a clear STARTTLS preamble
    /// read without keys says nothing of the pings after it.
    fn keepalive_basis(&self, role_basis: Basis, tls: Option<&tls::Summary>) -> Basis {
        let undecrypted = tls.is_some_and(|t| t.decrypted == tls::Decrypted::No);
        if role_basis == Basis::Decrypted && !undecrypted {
            Basis::Decrypted
        } else {
            Basis::Inferred
        }
    }

    fn ended(&self, stats: Option<&StreamStats>) -> Ended {
        let hs = stats.map(|s| s.handshake).unwrap_or_default();
        let syn_retries = hs.syn_retries;
        let unanswered = hs.syn.is_some() && stats.is_some_and(|s| !s.syn_ack_seen);
        let side = |d: Dir| match d {
            Dir::ClientToServer => Side::Client,
            Dir::ServerToClient => Side::Server,
        };
        let (how, by, at) = match self.first_end {
            Some((EndHow::Rst, Dir::ServerToClient, at)) if unanswered => {
                (EndHow::Refused, Some(Side::Server), Some(at))
            }
            Some((how, dir, at)) => (how, Some(side(dir)), Some(at)),
            None if unanswered => (EndHow::NoAnswer, None, hs.last_syn),
            // Finished without TCP statistics: the budget cut it.
            None if stats.is_none() => (EndHow::NotFollowed, None, None),
            None => (EndHow::Open, None, None),
        };
        Ended {
            how,
            by,
            frame: at.map(|a| a.frame),
            time: at.map(|a| a.ts),
            syn_retries,
        }
    }

    fn dir_facts(&self, stats: Option<&StreamStats>, dir: Dir) -> DirFacts {
        let tcp = stats.map(|s| *s.dir(dir)).unwrap_or_default();
        DirFacts {
            payload_bytes: tcp.bytes,
            tls_records: self.records.get(dir.index()).copied().unwrap_or(0),
            retransmitted_bytes: tcp.retransmitted_bytes,
            zero_windows: tcp.zero_windows,
        }
    }

    fn idle_gaps(&self) -> Vec<IdleGap> {
        self.idle
            .gaps
            .iter()
            .map(|(from, to)| IdleGap {
                from: *from,
                to: *to,
                seconds: to.ts.secs_since(from.ts),
            })
            .collect()
    }

    fn tls_facts(&self, t: &tls::Summary) -> TlsFacts {
        let alerts = t
            .alerts
            .iter()
            .filter(|a| !a.encrypted)
            .map(|a| format!("{} {} from {}", a.level, a.description, a.dir.side()))
            .collect();
        let reason = (t.decrypted != tls::Decrypted::Yes)
            .then(|| t.reason.clone())
            .flatten();
        TlsFacts {
            version: t.version.clone(),
            suite: t.suite.clone(),
            sni: t.sni.clone(),
            alpn: t.alpn.clone(),
            certificate: certificate::certificate_facts(
                t.certificates.first(),
                t.version.as_deref(),
                t.sni.as_deref(),
                self.first.ts,
            ),
            alerts,
            resumed: t.resumption,
            decrypted: t.decrypted,
            not_decrypted_because: reason,
        }
    }
}
