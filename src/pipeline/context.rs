//! State shared by every connection of one capture: the options, where
//! events go, the summaries and findings kept for the report, and the
//! capture-wide layer ([`CaptureWide`]: session numbering, BOSH sessions,
//! the Finesse stage, the desktop story).
//!
//! Takes events and findings from the stage sinks; gives them to the
//! [`EventSink`] in the order they happen, and keeps what the report needs
//! at the end (session and connection summaries, a bounded finding log).
//! Never holds payload bytes.

use crate::conn;
use crate::finding::{Code, Finding};
use crate::limits::Limits;
use crate::pipeline::capture_wide::CaptureWide;
use crate::pipeline::record::{Emitted, Op, Recorder};
use crate::report::event::Event;
use crate::report::findings::FindingLog;
use crate::report::model::{ConnectionReport, SessionReport};
use crate::report::retention::{approx_bytes, Kept, Retention};
use crate::report::sink::EventSink;
use crate::xmpp;

/// Per-capture shared state.
pub(crate) struct Wiring<'s> {
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
    /// What the kept summaries and findings hold, against `max_report_bytes`.
    pub retention: Retention,
    pub sessions: Vec<SessionReport>,
    pub connections: Vec<ConnectionReport>,
    /// Keep no summaries, only count them (`Options::events_only`).
    pub events_only: bool,
    /// With `events_only`: each finished connection's two ends, by stream.
    pub connection_ends: std::collections::BTreeMap<u64, crate::pipeline::TcpEnds>,
    /// Connections and sessions that ended, kept or not (see `max_summaries`).
    pub connections_seen: u64,
    pub sessions_seen: u64,
    /// What spans connections.
    pub wide: CaptureWide,
    /// Facts the stage sinks read for the connection story during the
    /// current call, by stream; the connection drains them after each call.
    pub conn_facts: Vec<(u64, conn::Fact)>,
    /// The last connection summary, until its connection's report is kept.
    conn_summary: Option<conn::Summary>,
    /// While a closed connection's stages finish early: their events, held
    /// for the moment it leaves the TCP table (see [`Wiring::hold_events`]).
    held: Option<Vec<Emitted>>,
    /// On a worker thread (`-j N`): every call that reaches beyond the
    /// connection is recorded here instead of acted on (`pipeline::record`).
    recorder: Option<Recorder>,
}

impl<'s> Wiring<'s> {
    pub fn new(
        limits: Limits,
        show_secrets: bool,
        raw: bool,
        xmpp_message_text: bool,
        sink: &'s mut dyn EventSink,
    ) -> Self {
        let wide = CaptureWide::new(&limits, true);
        let retention = Retention::new(limits.max_report_bytes);
        Wiring {
            wide,
            retention,
            limits,
            show_secrets,
            raw,
            xmpp_message_text,
            keys_given: false,
            depth: crate::pipeline::Depth::default(),
            sink,
            findings: FindingLog::default(),
            sessions: Vec::new(),
            connections: Vec::new(),
            events_only: false,
            connection_ends: Default::default(),
            connections_seen: 0,
            sessions_seen: 0,
            conn_facts: Vec::new(),
            conn_summary: None,
            held: None,
            recorder: None,
        }
    }

    /// From now on, record instead of acting: this `Wiring` is worker
    /// `worker`'s of `workers` (see [`Recorder`]).
    pub fn record(&mut self, worker: usize, workers: usize) {
        self.recorder = Some(Recorder::new(worker, workers));
    }

    /// The calls recorded since the last time (none unless [`Self::record`]).
    pub fn take_ops(&mut self) -> Vec<Op> {
        self.recorder
            .as_mut()
            .map(|r| std::mem::take(&mut r.ops))
            .unwrap_or_default()
    }

    /// The recorder, when this `Wiring` records (on a worker thread).
    pub fn recorder(&mut self) -> Option<&mut Recorder> {
        self.recorder.as_mut()
    }

    /// A connection's story is told: the one place a `conn::Summary`
    /// reaches the capture-wide layer. Emits its `conn.summary` event and
    /// keeps it for the connection's report.
    pub fn on_conn_summary(&mut self, summary: &conn::Summary, user: Option<&str>) {
        self.emit(crate::report::from_stages::conn_summary(summary));
        let mut findings: Vec<Finding> = Vec::new();
        self.wide.on_connection(summary, user, &mut findings);
        for finding in findings {
            self.finding(finding, None, None);
        }
        self.conn_summary = Some(summary.clone());
    }

    /// A fact for the story of connection `stream`.
    pub fn conn_fact(&mut self, stream: u64, fact: conn::Fact) {
        self.conn_facts.push((stream, fact));
    }

    /// Keeps a finished connection's summary, up to `limits.max_summaries`.
    pub fn keep_connection(&mut self, mut c: ConnectionReport) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.ops.push(Op::KeepConnection(Box::new(c)));
            return;
        }
        if let Some(summary) = self.conn_summary.take() {
            if summary.stream == c.stream {
                c.summary = Some(summary);
            }
        }
        self.connections_seen += 1;
        if self.events_only {
            // A BOSH session's ends are its first connection's, filled in at
            // the end (`analysis::fill_bosh_endpoints`).
            if self.connection_ends.len() < self.limits.max_summaries
                && self
                    .retention
                    .admit(Kept::ConnectionEnds, CONNECTION_ENDS_BYTES)
            {
                self.connection_ends.insert(c.stream, (c.client, c.server));
            }
            return;
        }
        if self.connections.len() < self.limits.max_summaries {
            if self
                .retention
                .admit(Kept::ConnectionSummary, approx_bytes(&c))
            {
                self.connections.push(c);
            }
        } else if self.connections_seen == self.limits.max_summaries as u64 + 1 {
            self.summary_limit(crate::tcp::FindingCode::SummaryLimit.into(), "connections");
        }
    }

    /// The highest layer decoded: the Finesse stage reads notifications only
    /// when it is [`Depth::Finesse`](crate::pipeline::Depth::Finesse). Set
    /// before the first packet.
    pub fn set_depth(&mut self, depth: crate::pipeline::Depth) {
        self.depth = depth;
        let read_notifications = depth == crate::pipeline::Depth::Finesse;
        self.wide = CaptureWide::new(&self.limits, read_notifications);
    }

    /// Keeps a finished XMPP session's summary, up to `limits.max_summaries`,
    /// with what the Finesse stage counted for it.
    pub fn keep_session(&mut self, mut s: SessionReport) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.ops.push(Op::KeepSession(Box::new(s)));
            return;
        }
        self.sessions_seen += 1;
        let kept = self.sessions.len() < self.limits.max_summaries;
        // Filed even when not kept: the Finesse stage lets go of its facts.
        self.wide.file_session(&mut s);
        if self.events_only {
            // NDJSON's agent.summary lines list each agent's sessions: keep
            // what they read (ids, streams, node, JID, times, ending) and
            // nothing else, for sessions with an agent only.
            if kept && crate::report::agents::session_agent(&s).is_some() {
                let s = for_agent_stories(s);
                if self.retention.admit(Kept::SessionSummary, approx_bytes(&s)) {
                    self.sessions.push(s);
                }
            }
            return;
        }
        if kept {
            if self.retention.admit(Kept::SessionSummary, approx_bytes(&s)) {
                self.sessions.push(s);
            }
        } else if self.sessions_seen == self.limits.max_summaries as u64 + 1 {
            self.summary_limit(xmpp::FindingCode::SummaryLimit.into(), "XMPP sessions");
        }
    }

    fn summary_limit(&mut self, code: Code, what: &str) {
        let cap = self.limits.max_summaries;
        let message = format!(
            "more than {cap} {what}: the rest are in the NDJSON events, not in the summaries (limits)"
        );
        self.finding(Finding::new(code, message), None, None);
    }

    /// A new XMPP session carried by connection `stream` over `transport`,
    /// configured from the capture's options, with its report number
    /// (1-based, in the order sessions start): the one place XMPP sessions
    /// are made.
    pub fn start_xmpp_session(
        &mut self,
        stream: u64,
        transport: xmpp::Transport,
    ) -> (u32, xmpp::Session) {
        let id = match self.recorder.as_mut() {
            Some(recorder) => recorder.name_session(),
            None => self.wide.number_session(),
        };
        let session = xmpp::Session::new(stream, transport, &self.limits, self.show_secrets)
            .with_automatic_feeds(crate::finesse::automatic_feed);
        (id, session)
    }

    pub fn emit(&mut self, event: Event) {
        if let Some(held) = &mut self.held {
            held.push(Emitted::Event(event));
        } else if let Some(recorder) = self.recorder.as_mut() {
            recorder.ops.push(Op::Emit(event));
        } else {
            self.sink.emit(event);
        }
    }

    /// Emits what a stack said: an event, or (recording) the place of a
    /// Finesse call's events.
    pub fn emit_said(&mut self, said: Emitted) {
        match said {
            Emitted::Event(event) => self.emit(event),
            Emitted::Finesse(slot) => {
                if let Some(held) = &mut self.held {
                    held.push(said);
                } else if let Some(recorder) = self.recorder.as_mut() {
                    recorder.ops.push(Op::EmitFinesse(slot));
                }
            }
        }
    }

    /// A TLS connection finished: the no-keys advice counts it.
    pub fn note_tls(&mut self, summary: &crate::tls::Summary) {
        match self.recorder.as_mut() {
            Some(recorder) => recorder.ops.push(Op::TlsNote(Box::new(summary.clone()))),
            None => self.wide.tls.note(summary),
        }
    }

    /// The BOSH events of connection `stream`, to the capture-wide BOSH
    /// routing (`pipeline::bosh`).
    pub fn feed_bosh(&mut self, stream: u64, events: &[crate::http::bosh::Event]) {
        match self.recorder.as_mut() {
            Some(_) if events.is_empty() => {}
            Some(recorder) => recorder.ops.push(Op::Bosh {
                stream,
                events: events.to_vec(),
            }),
            None => crate::pipeline::bosh::feed(self, stream, events),
        }
    }

    /// A connection cut early for the budget closed: its report gets its
    /// TCP statistics and the bytes that came after the cut, as unparsed.
    pub fn close_cut(&mut self, stream: u64, after: [u64; 2], stats: &crate::tcp::StreamStats) {
        if let Some(recorder) = self.recorder.as_mut() {
            let stats = Box::new(stats.clone());
            recorder.ops.push(Op::CloseCut {
                stream,
                after,
                stats,
            });
            return;
        }
        let Some(report) = self
            .connections
            .iter_mut()
            .rev()
            .find(|c| c.stream == stream)
        else {
            return;
        };
        report.tcp = Some(stats.clone());
        for dir in crate::position::Dir::BOTH {
            let n = after.get(dir.index()).copied().unwrap_or(0);
            let bytes = report.bytes.dir_mut(dir);
            bytes.tcp += n;
            bytes.unparsed += n;
        }
    }

    /// From now until [`Wiring::take_held`], events are kept instead of
    /// emitted: a connection whose TCP ends both closed finishes its stages
    /// at once (freeing their state) but must still say it where it said
    /// it before, when the TCP stage releases the stream.
    pub fn hold_events(&mut self) {
        self.held = Some(Vec::new());
    }

    /// The events held since [`Wiring::hold_events`]; emitting goes on as usual.
    pub fn take_held(&mut self) -> Vec<Emitted> {
        self.held.take().unwrap_or_default()
    }

    /// Records a finding located in `stream` (when the stage did not say)
    /// and emits it as an event.
    pub fn finding(&mut self, finding: Finding, stream: Option<u64>, session: Option<u32>) {
        let event = self.log_finding(finding, stream, session);
        self.emit(event);
    }

    /// Records a finding and gives its event, for the caller to emit in order.
    pub fn log_finding(
        &mut self,
        mut finding: Finding,
        stream: Option<u64>,
        session: Option<u32>,
    ) -> Event {
        if finding.stream.is_none() {
            finding.stream = stream;
        }
        let finding = finding.clipped();
        let mut event = Event::finding(&finding);
        event.session = session;
        match self.recorder.as_mut() {
            Some(recorder) => recorder.ops.push(Op::LogFinding(finding)),
            None => self.findings.push_within(finding, &mut self.retention),
        }
        event
    }

    /// The end of the analysis: the kept findings in order, with their
    /// summaries, and `limits.report` (emitted too) when the report's byte
    /// cap left something out.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        let mut findings = std::mem::take(&mut self.findings).into_sorted();
        if let Some(cut) = self.retention.finding() {
            self.emit(Event::finding(&cut));
            findings.push(cut);
        }
        findings
    }
}

/// What one entry of `Wiring::connection_ends` holds: its key, two socket
/// addresses and its share of the map's nodes.
const CONNECTION_ENDS_BYTES: usize = 96;

/// A session's report cut down to what the agents' stories read (see
/// `report::agents::build`): an NDJSON run keeps only these.
fn for_agent_stories(mut s: SessionReport) -> SessionReport {
    s.tls = None;
    s.transport_detail = None;
    s.finesse = Default::default();
    let x = &mut s.xmpp;
    let user = x.sasl.take().and_then(|sasl| sasl.user);
    x.sasl = user.map(|user| xmpp::Sasl {
        user: Some(user),
        ..Default::default()
    });
    x.from = None;
    x.stream_id = None;
    x.version = None;
    x.lang = None;
    x.features = Default::default();
    x.starttls = None;
    x.bind = None;
    x.presence = None;
    x.subscriptions = Vec::new();
    x.stream_error = None;
    x.close = None;
    x.end = None;
    s
}
