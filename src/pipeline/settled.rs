//! A connection whose stages finished ([`SettledConnection`]): what its
//! reports need of them, kept until the TCP stage ends its stream, then
//! filed; and the story's end ([`StoryEnd`]), told on this thread or
//! recorded for the merger with `-j N`.
//!
//! Takes a settled connection's late TCP data, gaps and ends (counted,
//! never parsed: its stages are gone); gives its held events, its
//! connection and session reports and its story's findings. Holds no
//! stage, no payload byte.

use std::net::SocketAddr;

use crate::conn;
use crate::pipeline::app_stage::FinishedSession;
use crate::pipeline::budget::{Holder, Holdings};
use crate::pipeline::context::Wiring;
use crate::pipeline::record::{Emitted, Op};
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::report::from_stages;
use crate::report::model::{ByteAccounts, ConnectionReport, SessionReport};
use crate::tcp::StreamStats;
use crate::tls;

/// What the stages said of a connection when they finished.
#[derive(Default)]
pub(crate) struct Settled {
    pub finished: Option<FinishedSession>,
    pub tls: Option<tls::Summary>,
    pub starttls: bool,
}

/// A connection whose stages finished at its two FINs, as it waits for the
/// TCP stage to end its stream (at the last FIN's ACK, or up to
/// `flow_idle_timeout` later without it): the
/// stages' results, the events they said and the connection's story, not the
/// stages (a TLS session, an inflater, an XMPP parser) nor the stack that
/// held them.
pub(crate) struct SettledConnection {
    pub stream: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The application stage's layers, in the order it found them.
    pub layers: Vec<&'static str>,
    pub http_exchanges: u64,
    pub websocket: Option<crate::ws::Summary>,
    pub bytes: ByteAccounts,
    pub story: Option<conn::Tracker>,
    pub settled: Settled,
    /// Said by the stages as they finished, emitted at [`Self::finish`].
    pub events: Vec<Emitted>,
}

impl SettledConnection {
    /// What it holds (for the memory budget): itself and its held events.
    pub fn holdings(&self) -> Holdings {
        let events = self.events.len() * std::mem::size_of::<Event>();
        let mut held = Holdings::default();
        held.add(
            Holder::ConnectionState,
            std::mem::size_of::<SettledConnection>() + events,
        );
        held
    }

    /// The TCP stage delivers nothing after both FINs; were it to, the
    /// stages are gone: its bytes are counted, unparsed.
    pub fn on_data(&mut self, dir: Dir, at: FrameRef, len: usize) {
        let bytes = self.bytes.dir_mut(dir);
        bytes.tcp += len as u64;
        bytes.unparsed += len as u64;
        if let Some(story) = self.story.as_mut() {
            story.on_tcp_data(dir, at);
        }
    }

    pub fn on_gap(&mut self, dir: Dir, len: u64) {
        self.bytes.dir_mut(dir).gaps += len;
    }

    pub fn on_tcp_end(&mut self, dir: Dir, at: FrameRef, rst: bool) {
        if let Some(story) = self.story.as_mut() {
            story.on_tcp_end(dir, at, rst);
        }
    }

    /// The stream left the TCP table: emit the held events and file the reports.
    pub fn finish(mut self, ctx: &mut Wiring, stats: Option<&StreamStats>) {
        for said in std::mem::take(&mut self.events) {
            ctx.emit_said(said);
        }
        let Settled {
            finished,
            tls: tls_summary,
            starttls,
        } = std::mem::take(&mut self.settled);
        let mut layers = Vec::new();
        if starttls {
            // Plain XMPP first, then TLS, with XMPP inside.
            layers.push("xmpp");
        }
        if tls_summary.is_some() {
            layers.push("tls");
        }
        layers.extend(self.layers.iter().copied());
        if let Some(f) = &finished {
            if !layers.contains(&"xmpp") {
                layers.push("xmpp");
            }
            let mut report = session_report(f, &self, tls_summary.as_ref());
            // The session starts with its connection, not its first stanza.
            report.start = stats
                .map(|s| s.first.ts)
                .into_iter()
                .chain(report.start)
                .min();
            ctx.keep_session(report);
        }
        let session = finished.as_ref().map(|f| f.id);
        let user = finished.as_ref().and_then(|f| f.summary.user());
        self.tell_story(ctx, stats, tls_summary.as_ref(), session, user.as_deref());
        ctx.keep_connection(ConnectionReport {
            stream: self.stream,
            client: self.client,
            server: self.server,
            layers,
            tcp: stats.cloned(),
            tls: tls_summary,
            websocket: self.websocket,
            http_exchanges: self.http_exchanges,
            session,
            bytes: self.bytes,
            summary: None,
        });
    }

    /// The connection's story, now that it ended: its findings, then its
    /// summary to the capture-wide layer.
    fn tell_story(
        &mut self,
        ctx: &mut Wiring,
        stats: Option<&StreamStats>,
        tls: Option<&tls::Summary>,
        session: Option<u32>,
        user: Option<&str>,
    ) {
        let Some(story) = self.story.take() else {
            return;
        };
        let end = StoryEnd {
            stream: self.stream,
            story,
            stats: stats.cloned(),
            tls: tls.cloned(),
            session,
            user: user.map(str::to_owned),
        };
        match ctx.recorder() {
            // The story may still hear of its BOSH bodies' stanzas, which
            // are capture-wide: it is told where those are fed.
            Some(recorder) => recorder.ops.push(Op::Story(Box::new(end))),
            None => end.tell(ctx),
        }
    }
}

/// A connection's story at its end, with what its telling needs.
#[derive(Debug)]
pub(crate) struct StoryEnd {
    pub stream: u64,
    pub story: conn::Tracker,
    pub stats: Option<StreamStats>,
    pub tls: Option<tls::Summary>,
    pub session: Option<u32>,
    pub user: Option<String>,
}

impl StoryEnd {
    /// The story's findings, then its summary to the capture-wide layer.
    pub fn tell(self, ctx: &mut Wiring) {
        let story = self.story.finish(self.stats.as_ref(), self.tls.as_ref());
        for finding in story.findings {
            ctx.finding(finding, Some(self.stream), self.session);
        }
        ctx.on_conn_summary(&story.summary, self.user.as_deref());
    }
}

fn session_report(
    f: &FinishedSession,
    conn: &SettledConnection,
    tls: Option<&tls::Summary>,
) -> SessionReport {
    SessionReport {
        finesse: Default::default(),
        id: f.id,
        streams: vec![conn.stream],
        client: Some(conn.client),
        server: Some(conn.server),
        tls: tls.map(tls::Summary::describe),
        transport_detail: f.websocket.clone(),
        start: f.summary.first.map(|a| a.ts),
        end: f.summary.last_seen().map(|a| a.ts),
        ended: from_stages::describe_ending(&f.summary),
        xmpp: f.summary.clone(),
    }
}
