//! State shared by every connection of one capture: the key log, where
//! events go, XMPP session numbering, BOSH sessions and the REST requests
//! waiting for the Finesse update that echoes their `requestId`.
//!
//! Takes events and findings from the connection adapters; gives them to the
//! [`EventSink`] in the order they happen, and keeps what the report needs
//! at the end (session and connection summaries, a bounded finding log).
//! Never holds payload bytes.

use std::collections::{BTreeMap, VecDeque};

use crate::common::FrameRef;
use crate::finding::{Finding, Layer, Level};
use crate::limits::Limits;
use crate::report::event::{Event, RestRequest};
use crate::report::findings::FindingLog;
use crate::report::model::{ConnectionReport, SessionReport};
use crate::report::sink::EventSink;

/// REST requests remembered for `requestId` matching.
const MAX_PENDING_REST: usize = 4096;

/// Per-capture shared state.
pub(crate) struct CaptureWide<'s> {
    pub limits: Limits,
    pub show_secrets: bool,
    /// Keep each stanza's redacted XML in its event (`--raw`).
    pub raw: bool,
    /// Keep the text of WebSocket messages that carried XMPP.
    pub xmpp_message_text: bool,
    /// Some key material was given (key log, DSB, RSA key): without any, an
    /// undecryptable connection is expected and only worth an `info`.
    pub keys_given: bool,
    /// The highest layer decoded.
    pub depth: crate::pipeline::Depth,
    pub sink: &'s mut dyn EventSink,
    pub findings: FindingLog,
    next_session: u32,
    pub sessions: Vec<SessionReport>,
    pub connections: Vec<ConnectionReport>,
    /// Connections and sessions that ended, kept or not (see `max_summaries`).
    pub connections_seen: u64,
    pub sessions_seen: u64,
    rest: BTreeMap<String, RestPending>,
    rest_order: VecDeque<String>,
    pub bosh: crate::pipeline::bosh::BoshState,
}

#[derive(Clone, Debug)]
struct RestPending {
    at: FrameRef,
    stream: u64,
    method: String,
    path: String,
}

impl<'s> CaptureWide<'s> {
    pub fn new(
        limits: Limits,
        show_secrets: bool,
        raw: bool,
        xmpp_message_text: bool,
        sink: &'s mut dyn EventSink,
    ) -> Self {
        CaptureWide {
            limits,
            show_secrets,
            raw,
            xmpp_message_text,
            keys_given: false,
            depth: crate::pipeline::Depth::default(),
            sink,
            findings: FindingLog::default(),
            next_session: 0,
            sessions: Vec::new(),
            connections: Vec::new(),
            connections_seen: 0,
            sessions_seen: 0,
            rest: BTreeMap::new(),
            rest_order: VecDeque::new(),
            bosh: Default::default(),
        }
    }

    /// Keeps a finished connection's summary, up to `limits.max_summaries`.
    pub fn keep_connection(&mut self, c: ConnectionReport) {
        self.connections_seen += 1;
        if self.connections.len() < self.limits.max_summaries {
            self.connections.push(c);
        } else if self.connections_seen == self.limits.max_summaries as u64 + 1 {
            self.summary_limit(Layer::Tcp, "tcp.summary_limit", "connections");
        }
    }

    /// Keeps a finished XMPP session's summary, up to `limits.max_summaries`.
    pub fn keep_session(&mut self, s: SessionReport) {
        self.sessions_seen += 1;
        if self.sessions.len() < self.limits.max_summaries {
            self.sessions.push(s);
        } else if self.sessions_seen == self.limits.max_summaries as u64 + 1 {
            self.summary_limit(Layer::Xmpp, "xmpp.summary_limit", "XMPP sessions");
        }
    }

    fn summary_limit(&mut self, layer: Layer, code: &'static str, what: &str) {
        let cap = self.limits.max_summaries;
        let message = format!(
            "more than {cap} {what}: the rest are in the NDJSON events, not in the summaries (limits)"
        );
        self.finding(Finding::new(Level::Warn, layer, code, message), None, None);
    }

    /// A new XMPP session number (1-based).
    pub fn new_session(&mut self) -> u32 {
        self.next_session += 1;
        self.next_session
    }

    pub fn emit(&mut self, event: Event) {
        self.sink.emit(event);
    }

    /// Records a finding located in `stream` (when the stage did not say)
    /// and emits it as an event.
    pub fn finding(&mut self, finding: Finding, stream: Option<u64>, session: Option<u32>) {
        let event = self.log_finding(finding, stream, session);
        self.sink.emit(event);
    }

    /// Records a finding and gives its event, for the caller to emit in order.
    pub fn log_finding(
        &mut self,
        mut finding: Finding,
        stream: Option<u64>,
        session: Option<u32>,
    ) -> Event {
        if finding.code == "tls.undecryptable" && !self.keys_given && finding.level > Level::Info {
            finding.level = Level::Info;
            finding.message.push_str(" (no key material was given)");
        }
        if finding.stream.is_none() {
            finding.stream = stream;
        }
        let finding = finding.clipped();
        let mut event = Event::finding(&finding);
        event.session = session;
        self.findings.push(finding);
        event
    }

    /// Remembers a REST request carrying a `requestId` header.
    pub fn remember_rest(
        &mut self,
        request_id: &str,
        at: FrameRef,
        stream: u64,
        method: &str,
        path: &str,
    ) {
        if request_id.is_empty() {
            return;
        }
        if self.rest.len() >= MAX_PENDING_REST {
            if let Some(oldest) = self.rest_order.pop_front() {
                self.rest.remove(&oldest);
            }
        }
        let pending = RestPending {
            at,
            stream,
            method: method.to_owned(),
            path: path.to_owned(),
        };
        if self.rest.insert(request_id.to_owned(), pending).is_none() {
            self.rest_order.push_back(request_id.to_owned());
        }
    }

    /// The REST request an update echoes, with the time between them.
    pub fn match_rest(&self, request_id: Option<&str>, update_at: FrameRef) -> Option<RestRequest> {
        let pending = self.rest.get(request_id.filter(|r| !r.is_empty())?)?;
        Some(RestRequest {
            frame: pending.at.frame,
            stream: pending.stream,
            method: pending.method.clone(),
            path: pending.path.clone(),
            ms_before_update: update_at.ts.nanos_since(pending.at.ts) as f64 / 1e6,
        })
    }
}
