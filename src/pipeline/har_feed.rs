//! Feeds what the HAR reader gives to the same stages and sinks a capture's
//! connections feed: each HTTP entry is one exchange (REST to the Finesse
//! stage, `/http-bind` bodies to the BOSH route), each WebSocket entry one
//! connection-like unit whose recorded messages go through the WebSocket
//! sink to an XMPP session, as if the WebSocket stage had produced them.
//!
//! Takes `har::Entry`, `har::WsMessage` and `har::Finding` in file order;
//! gives report events, summaries and findings to the [`Wiring`]. Every
//! position is the HAR's (`FrameRef::har`: entry, message); `stream` is the
//! entry's index. Holds one WebSocket entry's state at a time and no
//! message beyond the call that feeds it. Never decides a protocol or
//! redacts by itself: the HTTP, BOSH and XMPP stages do, as for captures.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::finding::Finding;
use crate::har;
use crate::http;
use crate::limits::Limits;
use crate::pipeline::context::Wiring;
use crate::pipeline::har_entry::{exchange_of, server_of, upgrade_of, Times};
use crate::pipeline::stage_sinks::{HttpOut, WsOut, XmppOut, XmppOverWs};
use crate::position::{Dir, FrameRef, Timestamp};
use crate::report::from_stages::describe_ending;
use crate::report::model::{ByteAccounts, ConnectionReport, SessionReport};
use crate::ws;
use crate::xmpp;

/// What the feed counted, for the input's summary.
#[derive(Debug, Default)]
pub(crate) struct HarCounts {
    pub creator: Option<String>,
    pub entries: u64,
    pub websockets: u64,
    /// WebSocket entries that opened (101).
    pub websockets_opened: u64,
    /// WebSocket data messages (sent or received) read.
    pub messages: u64,
    pub first_time: Option<Timestamp>,
    pub last_time: Option<Timestamp>,
}

impl HarCounts {
    fn saw(&mut self, ts: Timestamp) {
        self.first_time = Some(self.first_time.map_or(ts, |t| t.min(ts)));
        self.last_time = Some(self.last_time.map_or(ts, |t| t.max(ts)));
    }
}

/// The WebSocket entry whose messages are being read.
struct Socket {
    entry: u64,
    started: Option<Timestamp>,
    server: Option<SocketAddr>,
    /// The handshake chose the `xmpp` subprotocol.
    wants_xmpp: bool,
    xmpp: Option<Box<XmppOverWs>>,
    /// The last message's place (or the upgrade's): where the socket ends.
    last: Option<FrameRef>,
    /// How the browser's WebSocket was set up, in words.
    detail: String,
    exchanges: u64,
}

/// The [`har::Sink`] of one HAR: everything read goes on into `ctx`.
pub(crate) struct HarFeed<'c, 's> {
    ctx: &'c mut Wiring<'s>,
    limits: Limits,
    socket: Option<Socket>,
    /// The entry being read and its start, to place the reader's findings.
    current: Option<(u64, Option<Timestamp>)>,
    /// The last message read (entry, index, time): its findings come right after it.
    last_message: Option<(u64, u64, Option<Timestamp>)>,
    pub counts: HarCounts,
}

impl<'c, 's> HarFeed<'c, 's> {
    pub fn new(ctx: &'c mut Wiring<'s>) -> Self {
        let limits = ctx.limits.clone();
        HarFeed {
            ctx,
            limits,
            socket: None,
            current: None,
            last_message: None,
            counts: HarCounts::default(),
        }
    }

    /// The end of the HAR: the last WebSocket entry ends.
    pub fn finish(&mut self) -> &mut Wiring<'s> {
        self.close_socket();
        self.ctx
    }

    fn http_entry(&mut self, entry: &har::Entry) {
        let stream = entry.index as u64;
        let (exchange, bosh_events) = exchange_of(entry, &self.limits, self.ctx);
        let mut out = HttpOut::new(self.ctx, stream);
        if let Some(exchange) = &exchange {
            http::Sink::on_exchange(&mut out, exchange);
        }
        for event in &bosh_events {
            http::Sink::on_bosh(&mut out, event);
        }
        let bosh = std::mem::take(&mut out.bosh);
        crate::pipeline::bosh::feed(self.ctx, stream, &bosh);
        if entry.kind == har::EntryKind::Preflight {
            // The browser's CORS check, not the page's call: its exchange is
            // in the events, not a line of its own among the connections.
            return;
        }
        let mut layers = vec!["http"];
        if !bosh.is_empty() {
            layers.push("bosh");
        }
        self.ctx.keep_connection(connection_report(
            stream,
            server_of(entry),
            layers,
            u64::from(exchange.is_some()),
            None,
        ));
    }

    fn open_socket(&mut self, entry: &har::Entry) {
        let stream = entry.index as u64;
        let (mut exchange, _) = exchange_of(entry, &self.limits, self.ctx);
        if let Some(exchange) = exchange.as_mut() {
            // The browser records when the socket closed, not when its 101 came.
            exchange.latency_ms = None;
        }
        let times = Times::of(entry);
        let mut out = HttpOut::new(self.ctx, stream);
        if let Some(exchange) = &exchange {
            http::Sink::on_exchange(&mut out, exchange);
        }
        let upgrade = (entry.response.status == Some(101)).then(|| upgrade_of(entry, &times));
        if let Some(upgrade) = &upgrade {
            http::Sink::on_upgrade(&mut out, upgrade);
        }
        let subprotocol = upgrade.as_ref().and_then(|u| u.subprotocol.clone());
        let extensions = upgrade.as_ref().and_then(|u| u.extensions_accepted.clone());
        let mut detail = "recorded by the browser (messages already inflated)".to_owned();
        if let Some(ext) = &extensions {
            detail.push_str(&format!(", extensions: {ext}"));
        }
        self.socket = Some(Socket {
            entry: stream,
            started: entry.started,
            server: server_of(entry),
            wants_xmpp: subprotocol
                .as_deref()
                .is_some_and(|p| p.split(',').any(|p| p.trim().eq_ignore_ascii_case("xmpp"))),
            xmpp: None,
            last: upgrade.map(|u| u.server_at),
            detail,
            exchanges: u64::from(exchange.is_some()),
        });
        self.counts.websockets += 1;
        self.counts.websockets_opened += u64::from(entry.response.status == Some(101));
    }

    /// The WebSocket entry ends: its XMPP session ends as "unknown (HAR)",
    /// since the browser records no Close frame.
    fn close_socket(&mut self) {
        let Some(mut socket) = self.socket.take() else {
            return;
        };
        let stream = socket.entry;
        let mut layers = vec!["http", "websocket"];
        let mut session = None;
        if let Some(mut over) = socket.xmpp.take() {
            let mut out = XmppOut::new(self.ctx, stream, Some(over.id));
            // A session that sent its <close/> ended, over a socket whose end
            // the browser did not record; one without was still open when
            // the HAR was saved (nothing it subscribed to was left behind yet).
            let closed = over.session.summary().close.is_some();
            if closed {
                over.session
                    .on_transport_end(socket.last, xmpp::Ending::HarUnknown, &mut out);
            }
            over.session.finish(&mut out);
            out.flush();
            let mut summary = over.session.summary().clone();
            if let Some(end) = summary.end.as_mut() {
                end.how = xmpp::Ending::HarUnknown;
            }
            layers.push("xmpp");
            session = Some(over.id);
            self.ctx.keep_session(SessionReport {
                finesse: Default::default(),
                id: over.id,
                streams: vec![stream],
                client: None,
                server: socket.server,
                tls: None,
                transport_detail: Some(socket.detail),
                start: socket
                    .started
                    .into_iter()
                    .chain(summary.first.map(|a| a.ts))
                    .min(),
                end: summary.last_seen().map(|a| a.ts),
                ended: describe_ending(&summary),
                xmpp: summary,
            });
        }
        self.ctx.keep_connection(connection_report(
            stream,
            socket.server,
            layers,
            socket.exchanges,
            session,
        ));
    }

    fn message(&mut self, message: har::WsMessage) {
        let Some(socket) = self
            .socket
            .as_mut()
            .filter(|s| s.entry == message.entry as u64)
        else {
            return;
        };
        let har::WsPayload::Data {
            dir,
            opcode,
            data,
            full_len,
        } = message.payload
        else {
            // A browser error line: the reader's finding says it.
            return;
        };
        self.counts.messages += 1;
        // A message with no wall-clock time (the reader said so) stays where the socket was.
        let ts = message
            .time
            .or(socket.last.map(|l| l.ts))
            .or(socket.started)
            .unwrap_or_default();
        self.counts.saw(ts);
        let at = FrameRef::har(socket.entry, Some(message.index as u64), ts);
        let recorded = recorded_message(socket.entry, dir, at, opcode, &data, full_len);
        let mut out = WsOut {
            ctx: self.ctx,
            stream: socket.entry,
            xmpp: &mut socket.xmpp,
            wants_xmpp: socket.wants_xmpp,
            not_followed: false,
        };
        ws::Sink::on_message(&mut out, &recorded);
        socket.last = Some(at);
    }
}

impl har::Sink for HarFeed<'_, '_> {
    fn on_log(&mut self, header: &har::LogHeader) {
        self.counts.creator = match (&header.creator, &header.creator_version) {
            (Some(name), Some(version)) => Some(format!("{name} {version}")),
            (name, _) => name.clone(),
        };
    }

    fn on_entry(&mut self, entry: har::Entry) {
        self.close_socket();
        self.counts.entries += 1;
        if let Some(ts) = entry.started {
            self.counts.saw(ts);
        }
        if let Some(ts) = entry.ended() {
            self.counts.saw(ts);
        }
        self.current = Some((entry.index as u64, entry.started));
        match entry.kind {
            har::EntryKind::WebSocket => self.open_socket(&entry),
            har::EntryKind::Http | har::EntryKind::Preflight => self.http_entry(&entry),
        }
    }

    fn on_ws_message(&mut self, message: har::WsMessage) {
        self.last_message = Some((message.entry as u64, message.index as u64, message.time));
        self.message(message);
    }

    fn on_finding(&mut self, finding: har::Finding) {
        let entry = finding.entry().map(|e| e as u64);
        let mut located = Finding::new(finding.code(), finding.to_string());
        if let Some(entry) = entry {
            let message = finding.message().map(|m| m as u64);
            let time = self.finding_time(entry, message);
            located.frame = Some(FrameRef::har(entry, message, Timestamp::default()).frame);
            located.time = time;
            located.stream = Some(entry);
        }
        let session = self
            .socket
            .as_ref()
            .filter(|s| Some(s.entry) == entry)
            .and_then(|s| s.xmpp.as_ref().map(|x| x.id));
        self.ctx.finding(located, None, session);
    }
}

impl HarFeed<'_, '_> {
    /// When the reader's finding about `entry` (and `message`) happened: the
    /// message's time when it was just read, else the entry's start when the
    /// entry is the one being read; unknown for findings given later.
    fn finding_time(&self, entry: u64, message: Option<u64>) -> Option<Timestamp> {
        let of_message = self
            .last_message
            .filter(|(e, m, _)| *e == entry && Some(*m) == message)
            .and_then(|(_, _, t)| t);
        let of_entry = self
            .current
            .filter(|(e, _)| *e == entry)
            .and_then(|(_, t)| t);
        of_message.or(of_entry)
    }
}

/// A message as the WebSocket stage would have given it: one frame, already
/// inflated by the browser; text only when it is whole, valid UTF-8 and text.
fn recorded_message(
    stream: u64,
    dir: Dir,
    at: FrameRef,
    opcode: u8,
    data: &[u8],
    full_len: usize,
) -> ws::Message<'_> {
    let truncated = full_len > data.len();
    let text = std::str::from_utf8(data)
        .ok()
        .filter(|_| opcode == 1 && !truncated);
    let opcode = if opcode == 1 {
        ws::MessageOpcode::Text
    } else {
        ws::MessageOpcode::Binary
    };
    ws::Message {
        stream,
        dir,
        frame: at,
        last_frame: at,
        time: at.ts,
        opcode,
        compressed: false,
        frames: 1,
        wire_len: full_len as u64,
        len: Some(full_len as u64),
        truncated,
        not_inflated: None,
        known_bytes: None,
        inflate_cap: None,
        text,
        payload: data,
    }
}

/// A HAR entry's line among the connections: no client address (a HAR
/// has none), the server when the browser recorded it.
fn connection_report(
    stream: u64,
    server: Option<SocketAddr>,
    layers: Vec<&'static str>,
    http_exchanges: u64,
    session: Option<u32>,
) -> ConnectionReport {
    let unknown = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    ConnectionReport {
        stream,
        client: unknown,
        server: server.unwrap_or(unknown),
        layers,
        tcp: None,
        tls: None,
        websocket: None,
        http_exchanges,
        session,
        bytes: ByteAccounts::default(),
        summary: None,
    }
}
