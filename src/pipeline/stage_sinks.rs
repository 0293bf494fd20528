//! The sinks between stages: each receives one stage's events,
//! turns them into report events (located in the connection and XMPP
//! session) and feeds the stage above where there is one (XMPP stanzas and
//! REST exchanges go on to the capture-wide Finesse stage).
//!
//! Takes stage events; gives report events to the [`Wiring`]. Never decides
//! protocols (that is `app_stage`'s) and never keeps payload beyond one call.

use crate::finding::{Finding, Findings};
use crate::finesse;
use crate::http;
use crate::pipeline::context::Wiring;
use crate::pipeline::record::{Emitted, Op, OwnedRest, OwnedStanza};
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::report::from_stages as convert;
use crate::xmpp;

/// Receives the XMPP stage's stanzas, pubsub items and STARTTLS switches,
/// and gives stanzas and items to the Finesse stage.
/// Events are buffered so a caller can put them after the message that
/// carried them; `flush` emits them.
pub(crate) struct XmppOut<'c, 's> {
    pub ctx: &'c mut Wiring<'s>,
    pub stream: u64,
    pub session: Option<u32>,
    /// The connection the XMPP session is filed under (for BOSH, its first
    /// one; otherwise `stream`).
    pub session_stream: u64,
    pub events: Vec<Emitted>,
    /// Directions the XMPP stage handed to TLS (STARTTLS) during this call.
    pub handovers: Vec<xmpp::TlsHandover>,
    /// Keep each stanza's redacted XML in its event: for `--raw`, or for the
    /// text of the WebSocket message that carried it.
    keep_raw: bool,
}

impl<'c, 's> XmppOut<'c, 's> {
    pub fn new(ctx: &'c mut Wiring<'s>, stream: u64, session: Option<u32>) -> Self {
        Self::with_buffer(ctx, stream, session, Vec::new())
    }

    /// Like [`XmppOut::new`], gathering events in `events` (an empty buffer
    /// kept from an earlier call: one per message adds up).
    pub fn with_buffer(
        ctx: &'c mut Wiring<'s>,
        stream: u64,
        session: Option<u32>,
        events: Vec<Emitted>,
    ) -> Self {
        let keep_raw = ctx.raw || (ctx.xmpp_message_text && !ctx.show_secrets);
        XmppOut {
            ctx,
            stream,
            session,
            session_stream: stream,
            events,
            handovers: Vec::new(),
            keep_raw,
        }
    }

    /// The redacted XML of the stanzas gathered so far, concatenated (what a
    /// WebSocket message carrying them may show); `None` when there are none.
    /// Only kept with `--raw` or when message texts are shown without secrets.
    pub fn stanza_text(&self) -> Option<String> {
        let mut texts = self.events.iter().filter_map(|e| match e {
            Emitted::Event(e) => match &e.detail {
                crate::report::event::Detail::XmppStanza(s) => s.raw.as_deref(),
                _ => None,
            },
            Emitted::Finesse(_) => None,
        });
        let first = texts.next()?;
        let mut all = first.to_owned();
        texts.for_each(|t| all.push_str(t));
        Some(all)
    }

    pub fn flush(&mut self) {
        for mut said in self.events.drain(..) {
            // The raw XML was kept for `stanza_text`; it is shown only with --raw.
            if let Emitted::Event(event) = &mut said {
                if let crate::report::event::Detail::XmppStanza(s) = &mut event.detail {
                    if !self.ctx.raw {
                        s.raw = None;
                    }
                }
            }
            self.ctx.emit_said(said);
        }
    }
}

impl Findings for XmppOut<'_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        let event = self
            .ctx
            .log_finding(finding, Some(self.stream), self.session);
        self.events.push(Emitted::Event(event));
    }
}

impl xmpp::Sink for XmppOut<'_, '_> {
    fn on_stanza(&mut self, stanza: &xmpp::Stanza<'_>) {
        let mut event = convert::stanza(self.stream, stanza, self.keep_raw);
        event.session = self.session;
        self.events.push(Emitted::Event(event));
        let ping = ping_part(stanza);
        self.ctx
            .conn_fact(self.stream, crate::conn::Fact::Stanza { ping });
        let at = self.stanza_at(stanza);
        if let Some(recorder) = self.ctx.recorder() {
            let slot = recorder.finesse_slot();
            let stanza = OwnedStanza::of(stanza);
            recorder.ops.push(Op::FinesseStanza { slot, at, stanza });
            self.events.push(Emitted::Finesse(slot));
            return;
        }
        let events = finesse_on_stanza(self.ctx, &at, stanza);
        self.events.extend(events.into_iter().map(Emitted::Event));
    }

    fn on_pubsub_items(&mut self, stanza: &xmpp::Stanza<'_>, items: &[xmpp::PubsubItem<'_>]) {
        let at = self.stanza_at(stanza);
        if self.ctx.recorder().is_some() {
            // The Finesse stage reads notifications at this depth only; the
            // reading is pure, and most of its work: done here.
            if self.ctx.depth != crate::pipeline::Depth::Finesse {
                return;
            }
            let read = finesse::read_notifications(items, &self.ctx.limits);
            if let Some(recorder) = self.ctx.recorder() {
                let slot = recorder.finesse_slot();
                let stanza = OwnedStanza::of(stanza);
                let op = Op::FinessePubsub {
                    slot,
                    at,
                    stanza,
                    read,
                };
                recorder.ops.push(op);
                self.events.push(Emitted::Finesse(slot));
            }
            return;
        }
        let events = finesse_on_pubsub(self.ctx, &at, stanza, items);
        self.events.extend(events.into_iter().map(Emitted::Event));
    }

    fn on_tls_handover(&mut self, handover: &xmpp::TlsHandover) {
        let mut event = convert::tls_handover(self.stream, handover);
        event.session = self.session;
        self.events.push(Emitted::Event(event));
        self.handovers.push(*handover);
    }
}

impl XmppOut<'_, '_> {
    fn stanza_at(&self, stanza: &xmpp::Stanza<'_>) -> finesse::StanzaAt {
        finesse::StanzaAt {
            session: self.session,
            stream: self.stream,
            session_stream: self.session_stream,
            dir: stanza.dir,
            first: stanza.first,
            last: stanza.last,
        }
    }
}

/// The capture-wide Finesse stage hears of a stanza: its events (Updates,
/// findings logged as they come), in the order it gave them.
pub(crate) fn finesse_on_stanza(
    ctx: &mut Wiring,
    at: &finesse::StanzaAt,
    stanza: &xmpp::Stanza<'_>,
) -> Vec<Event> {
    let mut out = FinesseOut::default();
    ctx.wide.finesse.on_stanza(at, stanza, &mut out);
    finesse_events(ctx, at, stanza, out)
}

/// The capture-wide Finesse stage reads the pubsub items of a stanza: its
/// events, as [`finesse_on_stanza`].
pub(crate) fn finesse_on_pubsub(
    ctx: &mut Wiring,
    at: &finesse::StanzaAt,
    stanza: &xmpp::Stanza<'_>,
    items: &[xmpp::PubsubItem<'_>],
) -> Vec<Event> {
    let mut out = FinesseOut::default();
    ctx.wide.finesse.on_pubsub_items(at, items, &mut out);
    finesse_events(ctx, at, stanza, out)
}

/// [`finesse_on_pubsub`] with the notifications already read.
pub(crate) fn finesse_on_read(
    ctx: &mut Wiring,
    at: &finesse::StanzaAt,
    stanza: &xmpp::Stanza<'_>,
    read: Vec<Result<finesse::Update, Finding>>,
) -> Vec<Event> {
    let mut out = FinesseOut::default();
    ctx.wide.finesse.on_read_notifications(at, read, &mut out);
    finesse_events(ctx, at, stanza, out)
}

/// The Finesse stage's output about `stanza`, as report events in the
/// order it was given (findings logged now).
fn finesse_events(
    ctx: &mut Wiring,
    at: &finesse::StanzaAt,
    stanza: &xmpp::Stanza<'_>,
    out: FinesseOut,
) -> Vec<Event> {
    let mut events = Vec::new();
    for item in out.items {
        match item {
            FinesseItem::Update(update, rest) => {
                let rest = rest.map(|r| crate::report::event::RestRequest {
                    frame: r.frame,
                    stream: r.stream,
                    method: r.method,
                    path: r.path,
                    ms_before_update: r.ms_before_update,
                });
                let mut event = convert::finesse(at.stream, stanza, *update, rest);
                event.session = at.session;
                events.push(event);
            }
            FinesseItem::Finding(finding) => {
                events.push(ctx.log_finding(finding, Some(at.stream), at.session));
            }
        }
    }
    events
}

/// The capture-wide Finesse stage hears of a REST exchange (its findings
/// located in the exchange's connection).
pub(crate) fn finesse_on_rest(ctx: &mut Wiring, rest: &finesse::RestExchange<'_>) {
    let mut out = FinesseOut::default();
    ctx.wide.finesse.on_rest_exchange(rest, &mut out);
    for item in out.items {
        if let FinesseItem::Finding(finding) = item {
            ctx.finding(finding, Some(rest.stream), None);
        }
    }
}

/// The XMPP stage's words for a ping and its answer (`ping`, `ping → pong
/// 0.9 ms`): whether this stanza is one, for the connection's keepalive count.
fn ping_part(stanza: &xmpp::Stanza<'_>) -> Option<crate::conn::Ping> {
    let id = stanza.id.as_deref()?.to_owned();
    let (dir, at) = (stanza.dir, stanza.first);
    if stanza.summary.starts_with("ping → ") {
        Some(crate::conn::Ping::Answer { dir, at, id })
    } else if stanza.summary == "ping" && stanza.kind.as_deref() == Some("get") {
        Some(crate::conn::Ping::Request { dir, at, id })
    } else {
        None
    }
}

/// What the Finesse stage gave during one call, in order (the stage is
/// part of the context, so it cannot write into the context directly).
#[derive(Default)]
struct FinesseOut {
    items: Vec<FinesseItem>,
}

enum FinesseItem {
    Update(Box<finesse::Update>, Option<finesse::RestMatch>),
    Finding(Finding),
}

impl Findings for FinesseOut {
    fn push_finding(&mut self, finding: Finding) {
        self.items.push(FinesseItem::Finding(finding));
    }
}

impl finesse::Sink for FinesseOut {
    fn on_update(
        &mut self,
        _: &finesse::StanzaAt,
        update: finesse::Update,
        rest: Option<finesse::RestMatch>,
    ) {
        self.items.push(FinesseItem::Update(Box::new(update), rest));
    }
}

/// Receives the HTTP stage's exchanges, upgrades and BOSH bodies.
pub(crate) struct HttpOut<'c, 's> {
    pub ctx: &'c mut Wiring<'s>,
    pub stream: u64,
    pub upgrade: Option<http::Upgrade>,
    pub exchanges: u64,
    pub bosh: Vec<http::bosh::Event>,
}

impl<'c, 's> HttpOut<'c, 's> {
    pub fn new(ctx: &'c mut Wiring<'s>, stream: u64) -> Self {
        HttpOut {
            ctx,
            stream,
            upgrade: None,
            exchanges: 0,
            bosh: Vec::new(),
        }
    }
}

impl Findings for HttpOut<'_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        self.ctx.finding(finding, Some(self.stream), None);
    }
}

impl http::Sink for HttpOut<'_, '_> {
    fn on_exchange(&mut self, exchange: &http::Exchange) {
        self.exchanges += 1;
        let rest = exchange
            .request
            .as_ref()
            .is_some_and(|q| q.path.starts_with("/finesse/api/"));
        self.ctx
            .conn_fact(self.stream, crate::conn::Fact::HttpExchange { rest });
        self.ctx.emit(convert::exchange(exchange));
        let rest = finesse::RestExchange {
            stream: self.stream,
            request: exchange.request.as_ref().map(|q| finesse::RestRequest {
                at: q.first,
                method: &q.method,
                path: &q.path,
                request_id: q.headers.request_id.as_deref(),
            }),
            response: exchange.response.as_ref().map(|r| finesse::RestResponse {
                at: r.first,
                status: r.status,
                reason: &r.reason,
                body: r.body.text.as_deref(),
            }),
        };
        match self.ctx.recorder() {
            Some(recorder) => recorder.ops.push(Op::RestExchange(OwnedRest::of(&rest))),
            None => finesse_on_rest(self.ctx, &rest),
        }
    }

    fn on_upgrade(&mut self, upgrade: &http::Upgrade) {
        self.ctx.emit(convert::upgrade(upgrade));
        if matches!(upgrade.protocol, http::Protocol::Websocket) {
            let xmpp = upgrade.subprotocol.as_deref() == Some("xmpp");
            self.ctx
                .conn_fact(self.stream, crate::conn::Fact::WebSocket { xmpp });
        }
        self.upgrade = Some(upgrade.clone());
    }

    fn on_bosh(&mut self, event: &http::bosh::Event) {
        if let http::bosh::Event::Body(body) = event {
            self.ctx.emit(convert::bosh_body(body));
            self.ctx.conn_fact(self.stream, crate::conn::Fact::BoshBody);
        }
        // The XMPP side of BOSH is capture-wide (one session spans connections):
        // the analysis feeds it after this call.
        self.bosh.push(event.clone());
    }
}

/// Locates findings in one connection before handing them to the context.
pub(crate) struct StreamFindings<'c, 's> {
    pub ctx: &'c mut Wiring<'s>,
    pub stream: u64,
    pub session: Option<u32>,
}

impl Findings for StreamFindings<'_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        self.ctx.finding(finding, Some(self.stream), self.session);
    }
}

/// Event buffer capacity kept from one WebSocket message to the next.
const KEEP_EVENTS: usize = 16;

/// An XMPP session carried over WebSocket, with its report number.
pub(crate) struct XmppOverWs {
    pub session: xmpp::Session,
    pub id: u32,
    /// The (empty) buffer its messages' events are gathered in.
    pub events: Vec<Emitted>,
}

/// Receives the WebSocket stage's messages and control frames; text
/// messages of an XMPP connection go on to the XMPP stage.
pub(crate) struct WsOut<'a, 'c, 's> {
    pub ctx: &'c mut Wiring<'s>,
    pub stream: u64,
    pub xmpp: &'a mut Option<Box<XmppOverWs>>,
    /// The handshake negotiated the `xmpp` subprotocol.
    pub wants_xmpp: bool,
    /// The memory budget cut the connection: a WebSocket still open ends
    /// its session "not followed", not "open at the end of the capture".
    pub not_followed: bool,
}

impl WsOut<'_, '_, '_> {
    fn session_id(&self) -> Option<u32> {
        self.xmpp.as_ref().map(|x| x.id)
    }

    /// Starts the XMPP session at the first message that needs it.
    fn start_xmpp_if_needed(&mut self, text: &str) {
        if self.xmpp.is_some() {
            return;
        }
        if self.wants_xmpp || xmpp::looks_like_ws_message(text) {
            let (id, session) = self
                .ctx
                .start_xmpp_session(self.stream, xmpp::Transport::WebSocket);
            *self.xmpp = Some(Box::new(XmppOverWs {
                session,
                id,
                events: Vec::new(),
            }));
        }
    }
}

impl Findings for WsOut<'_, '_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        let session = self.session_id();
        self.ctx.finding(finding, Some(self.stream), session);
    }
}

impl crate::ws::Sink for WsOut<'_, '_, '_> {
    fn on_message(&mut self, m: &crate::ws::Message<'_>) {
        self.ctx.sink.on_ws_message(m);
        let (stream, show_secrets) = (self.stream, self.ctx.show_secrets);
        let text = m
            .text
            .filter(|_| m.opcode == crate::ws::MessageOpcode::Text);
        let Some(text) = text else {
            let mut event = convert::ws_message(m, None);
            event.session = self.session_id();
            self.ctx.emit(event);
            return;
        };
        self.start_xmpp_if_needed(text);
        let Some(over) = self.xmpp.as_deref_mut() else {
            self.ctx.emit(convert::ws_message(m, Some(text.to_owned())));
            return;
        };
        let buffer = std::mem::take(&mut over.events);
        let mut out = XmppOut::with_buffer(self.ctx, stream, Some(over.id), buffer);
        over.session
            .on_ws_message(m.dir, m.frame, m.last_frame, text, &mut out);
        let shown = if !out.ctx.xmpp_message_text {
            // The stanza events say what the message held; its text only with --raw or `ws`.
            None
        } else if show_secrets {
            Some(text.to_owned())
        } else {
            // Nothing parsed: show only harmless whitespace, never unparsed XML that may hold credentials.
            out.stanza_text()
                .or_else(|| text.trim().is_empty().then(|| text.to_owned()))
        };
        let mut event = convert::ws_message(m, shown);
        event.session = Some(over.id);
        out.ctx.emit(event);
        out.flush();
        if out.events.capacity() <= KEEP_EVENTS {
            over.events = out.events;
        }
    }

    fn on_control(&mut self, c: &crate::ws::Control<'_>) {
        let fact = match c.opcode {
            crate::ws::ControlOpcode::Ping => Some(crate::conn::Fact::WsPing {
                dir: c.dir,
                at: c.frame,
            }),
            crate::ws::ControlOpcode::Pong => Some(crate::conn::Fact::WsPong {
                answers: c.answers_frame,
            }),
            crate::ws::ControlOpcode::Close => None,
        };
        if let Some(fact) = fact {
            self.ctx.conn_fact(self.stream, fact);
        }
        let mut event = convert::ws_control(c);
        event.session = self.session_id();
        self.ctx.emit(event);
    }

    fn on_closed(&mut self, closed: &crate::ws::Closed) {
        let session = self.session_id();
        if let Some(mut event) = convert::ws_closed(closed) {
            event.session = session;
            self.ctx.emit(event);
        }
        let stream = self.stream;
        if let Some(over) = self.xmpp.as_deref_mut() {
            let (at, how) = ws_ending(closed, self.not_followed);
            let mut out = XmppOut::new(self.ctx, stream, Some(over.id));
            over.session.on_transport_end(at, how, &mut out);
            out.flush();
        }
    }
}

/// How the XMPP session over a WebSocket ended, from the WebSocket's close.
fn ws_ending(closed: &crate::ws::Closed, not_followed: bool) -> (Option<FrameRef>, xmpp::Ending) {
    match (closed.first, &closed.tcp_end) {
        (Some(by), _) => {
            let sent = if by == Dir::ClientToServer {
                &closed.c2s
            } else {
                &closed.s2c
            };
            let at = sent.as_ref().map(|s| s.frame);
            let code = sent.as_ref().and_then(|s| s.code);
            let reason = sent.as_ref().and_then(|s| s.reason.clone());
            (at, xmpp::Ending::WebSocketClose { code, reason, by })
        }
        (None, Some(end)) => (
            Some(end.frame),
            xmpp::Ending::WebSocketAbnormal {
                dropped_by: Some(end.dir),
            },
        ),
        (None, None) if not_followed => (None, xmpp::Ending::NotFollowed),
        (None, None) => (None, xmpp::Ending::CaptureEnded),
    }
}
