//! The application stage of one TCP connection: asks the stages' probes
//! (`tls::detect`, `http::detect`, `xmpp::detect`, `ws::probe`) what the
//! (decrypted) bytes are, feeds the stage that claims them, and switches at
//! the exact byte a stage asks for (HTTP's 101 to WebSocket or a CONNECT
//! tunnel, the XMPP stage's STARTTLS handover).
//!
//! Takes in-order bytes and gaps per direction with the [`Route`] they came
//! by; gives events to the capture-wide layer and, when bytes turn out to
//! be TLS, a [`StartTls`] request to the connection. Knows no protocol byte itself,
//! and never buffers more than [`PROBE_LIMIT`] bytes per direction while
//! undecided.

use std::mem;

use crate::finding::Finding;
use crate::pipeline::budget::{Holder, Holdings};
use crate::pipeline::context::Wiring;
use crate::pipeline::probe_order::{classify, layer_name, Guess};
use crate::pipeline::route::{Held, Route, StartTls};
use crate::pipeline::stage_sinks::{HttpOut, XmppOut};
use crate::pipeline::ws_app::WsApp;
use crate::pipeline::Depth;
use crate::position::{Dir, FrameRef};
use crate::report::sink::WebSocketStart;
use crate::{http, ws, xmpp};

/// Bytes buffered per direction before an undecided protocol is called unknown.
pub(crate) const PROBE_LIMIT: usize = 16 << 10;

enum App {
    Undecided,
    Http(Box<http::Connection>),
    WebSocket(Box<WsApp>),
    Xmpp(Box<XmppTcp>),
    /// Not a protocol xmppcap decodes; bytes are counted as unparsed.
    Opaque,
}

struct XmppTcp {
    framer: xmpp::StreamFramer,
    id: u32,
    /// Where the XMPP stream began: on plain TCP, TLS plaintext comes after
    /// STARTTLS; inside TLS (direct TLS, port 5223), it is the stream itself.
    started_on: Route,
}

impl XmppTcp {
    /// Feeds the framer `dir`'s bytes. Gives the request when the framer
    /// hands directions to TLS (STARTTLS), and how many bytes past a
    /// STARTTLS inside TLS were left undecoded (nested TLS is not decoded).
    fn on_data(
        &mut self,
        out: &mut XmppOut,
        dir: Dir,
        at: FrameRef,
        bytes: &[u8],
        route: Route,
    ) -> (Option<StartTls>, u64) {
        if route == Route::Tls && self.started_on == Route::Plain {
            self.framer.on_tls_data(dir, at, bytes, out);
            return (None, 0);
        }
        let taken = self.framer.on_data(dir, at, bytes, out);
        let rest = bytes.get(taken..).unwrap_or_default();
        let dirs: Vec<Dir> = out.handovers.drain(..).map(|h| h.dir).collect();
        if route == Route::Tls {
            (None, rest.len() as u64)
        } else if !dirs.is_empty() || !rest.is_empty() {
            (Some(starttls_request(dirs, dir, at, rest)), 0)
        } else {
            (None, 0)
        }
    }
}

pub(crate) struct AppStage {
    stream: u64,
    ports: ws::Ports,
    app: App,
    pending: Vec<Held>,
    /// The first bytes of each direction (up to [`PROBE_LIMIT`]) while undecided.
    probe: [Vec<u8>; 2],
    tcp_ended: bool,
    /// Protocol layers found, outermost first (TLS is added by the connection).
    pub layers: Vec<&'static str>,
    pub unparsed: [u64; 2],
    pub http_exchanges: u64,
    pub ws_summary: Option<ws::Summary>,
}

/// The XMPP session a connection carried, when it finished.
pub(crate) struct FinishedSession {
    pub id: u32,
    pub summary: xmpp::Summary,
    pub websocket: Option<String>,
}

impl AppStage {
    /// The stage is XMPP that began on plain TCP (so a TLS route means STARTTLS).
    pub fn carries_plain_xmpp(&self) -> bool {
        matches!(&self.app, App::Xmpp(x) if x.started_on == Route::Plain)
    }

    pub fn new(stream: u64, ports: ws::Ports) -> AppStage {
        AppStage {
            stream,
            ports,
            app: App::Undecided,
            pending: Vec::new(),
            probe: [Vec::new(), Vec::new()],
            tcp_ended: false,
            layers: Vec::new(),
            unparsed: [0; 2],
            http_exchanges: 0,
            ws_summary: None,
        }
    }

    /// The XMPP session number of this connection, once known.
    pub fn session(&self) -> Option<u32> {
        match &self.app {
            App::Xmpp(x) => Some(x.id),
            App::WebSocket(w) => w.session(),
            _ => None,
        }
    }

    /// What this stage holds now, by holder (for the memory budget).
    pub fn add_holdings(&self, held: &mut Holdings) {
        let probed: usize = self.probe.iter().map(Vec::len).sum();
        let pending: usize = self
            .pending
            .iter()
            .map(|item| match item {
                Held::Data(_, _, bytes) => bytes.len(),
                Held::Gap(..) | Held::Undecrypted(..) => 0,
            })
            .sum();
        held.add(Holder::Probe, probed.saturating_add(pending));
        use std::mem::size_of;
        // The boxed stage itself is fixed state, charged as the connection's.
        match &self.app {
            App::Http(h) => {
                held.add(Holder::ConnectionState, size_of::<http::Connection>());
                held.add(Holder::HttpMessage, h.held_bytes());
            }
            App::WebSocket(w) => w.add_holdings(held),
            App::Xmpp(x) => {
                held.add(Holder::ConnectionState, size_of::<XmppTcp>());
                held.add(Holder::XmppStanza, x.framer.held_bytes());
            }
            App::Undecided | App::Opaque => {}
        }
    }

    /// The memory budget cut the connection: an XMPP session on it ends
    /// "not followed" rather than "still open at the end of the capture".
    pub fn not_followed(&mut self, ctx: &mut Wiring) {
        let stream = self.stream;
        match &mut self.app {
            App::WebSocket(w) => w.not_followed(ctx, stream),
            App::Xmpp(x) => {
                let mut out = XmppOut::new(ctx, stream, Some(x.id));
                x.framer
                    .on_transport_end(None, xmpp::Ending::NotFollowed, &mut out);
                out.flush();
            }
            App::Http(_) | App::Undecided | App::Opaque => {}
        }
    }

    /// In-order bytes of one direction, come by `route`. Gives a request
    /// when they (or bytes held before them) turn out to be TLS; only bytes
    /// on the plain route can: TLS inside TLS is not decoded.
    pub fn on_data(
        &mut self,
        ctx: &mut Wiring,
        dir: Dir,
        at: FrameRef,
        bytes: &[u8],
        route: Route,
    ) -> Option<StartTls> {
        if bytes.is_empty() {
            return None;
        }
        match &mut self.app {
            App::Undecided => {
                self.pending.push(Held::Data(dir, at, bytes.to_vec()));
                let probe = &mut self.probe[dir.index()];
                let room = PROBE_LIMIT.saturating_sub(probe.len());
                probe.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
                return self.decide(ctx, route, false);
            }
            App::Http(h) => {
                let mut out = HttpOut::new(ctx, self.stream);
                let taken = h.on_data(dir, at, bytes, &mut out);
                self.http_exchanges += out.exchanges;
                let (upgrade, bosh) = (out.upgrade.take(), mem::take(&mut out.bosh));
                ctx.feed_bosh(self.stream, &bosh);
                if !bosh.is_empty() && !self.layers.contains(&"bosh") {
                    self.layers.push("bosh");
                }
                if let Some(up) = upgrade {
                    let rest = bytes.get(taken..).unwrap_or_default();
                    return self.switch_after_upgrade(ctx, up, dir, at, rest, route);
                }
            }
            App::WebSocket(w) => w.on_data(ctx, self.stream, dir, at, bytes),
            App::Xmpp(x) => {
                let mut out = XmppOut::new(ctx, self.stream, Some(x.id));
                let (start_tls, not_decoded) = x.on_data(&mut out, dir, at, bytes, route);
                out.flush();
                self.unparsed[dir.index()] += not_decoded;
                return start_tls;
            }
            App::Opaque => self.unparsed[dir.index()] += bytes.len() as u64,
        }
        None
    }

    /// `len` bytes of one direction are missing (capture loss, or TLS records
    /// that could not be decrypted).
    pub fn on_gap(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, len: u64) {
        let stream = self.stream;
        match &mut self.app {
            App::Undecided => self.pending.push(Held::Gap(dir, at, len)),
            App::Http(h) => h.on_gap(dir, at, len, &mut HttpOut::new(ctx, stream)),
            App::WebSocket(w) => w.on_gap(ctx, stream, dir, at, len),
            App::Xmpp(x) => {
                let mut out = XmppOut::new(ctx, stream, Some(x.id));
                x.framer.on_gap(dir, at, len, &mut out);
                out.flush();
            }
            App::Opaque => {}
        }
    }

    /// `len` bytes of `dir` were captured but the TLS stage could not
    /// decrypt them (`why`): the stage above resynchronises as after a gap
    /// but says "not decrypted".
    pub fn on_undecrypted(
        &mut self,
        ctx: &mut Wiring,
        dir: Dir,
        at: FrameRef,
        len: u64,
        why: String,
    ) {
        let stream = self.stream;
        match &mut self.app {
            App::Undecided => self.pending.push(Held::Undecrypted(dir, at, len, why)),
            App::Http(h) => h.on_undecrypted(dir, at, len, &why, &mut HttpOut::new(ctx, stream)),
            App::WebSocket(w) => w.on_undecrypted(ctx, stream, (dir, at, len), &why),
            App::Xmpp(x) => {
                let mut out = XmppOut::new(ctx, stream, Some(x.id));
                x.framer.on_undecrypted(dir, at, len, &why, &mut out);
                out.flush();
            }
            App::Opaque => {}
        }
    }

    /// A FIN or RST from the side sending `dir`.
    pub fn on_tcp_end(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, rst: bool) {
        let stream = self.stream;
        let first_end = !mem::replace(&mut self.tcp_ended, true);
        match &mut self.app {
            App::Http(h) => h.on_close(dir, at, &mut HttpOut::new(ctx, stream)),
            App::WebSocket(w) => w.on_tcp_end(ctx, stream, dir, at, rst),
            App::Xmpp(x) if first_end => {
                let mut out = XmppOut::new(ctx, stream, Some(x.id));
                let how = xmpp::Ending::TcpClosed {
                    by: Some(dir),
                    reset: rst,
                };
                x.framer.on_transport_end(Some(at), how, &mut out);
                out.flush();
            }
            _ => {}
        }
    }

    /// The connection is about to end with its protocol still undecided
    /// (a ClientHello the server never answered): decide on what there is,
    /// so that bytes found to be TLS still reach a TLS stage.
    pub fn decide_at_end(&mut self, ctx: &mut Wiring, route: Route) -> Option<StartTls> {
        let has_data = self.pending.iter().any(|p| matches!(p, Held::Data(..)));
        if matches!(self.app, App::Undecided) && has_data {
            return self.decide(ctx, route, true);
        }
        None
    }

    /// The connection is over: flush every stage. Gives the XMPP session it carried.
    pub fn finish(&mut self, ctx: &mut Wiring, route: Route) -> Option<FinishedSession> {
        let has_data = self.pending.iter().any(|p| matches!(p, Held::Data(..)));
        if matches!(self.app, App::Undecided) && has_data {
            // The TLS stage has finished: bytes found to be TLS only now are
            // past decrypting.
            let _too_late = self.decide(ctx, route, true);
        }
        let stream = self.stream;
        match mem::replace(&mut self.app, App::Opaque) {
            App::Undecided | App::Opaque => None,
            App::Http(mut h) => {
                let mut out = HttpOut::new(ctx, stream);
                h.finish(&mut out);
                let bosh = mem::take(&mut out.bosh);
                ctx.feed_bosh(stream, &bosh);
                for dir in Dir::BOTH {
                    self.unparsed[dir.index()] += h.unparsed(dir);
                }
                None
            }
            App::WebSocket(w) => {
                let (summary, session) = w.finish(ctx, stream);
                self.ws_summary = Some(summary);
                session
            }
            App::Xmpp(mut x) => {
                let mut out = XmppOut::new(ctx, stream, Some(x.id));
                x.framer.finish(&mut out);
                out.flush();
                for dir in Dir::BOTH {
                    self.unparsed[dir.index()] += x.framer.unparsed(dir);
                }
                Some(FinishedSession {
                    id: x.id,
                    summary: x.framer.summary().clone(),
                    websocket: None,
                })
            }
        }
    }

    /// Chooses the protocol from the pending bytes, then replays them.
    fn decide(&mut self, ctx: &mut Wiring, route: Route, at_end: bool) -> Option<StartTls> {
        let guess = self.guess(ctx, route == Route::Tls, at_end);
        let app = match guess {
            Guess::NeedMore => return None,
            Guess::Tls => {
                // Everything so far, and everything after, belongs to TLS.
                self.probe = [Vec::new(), Vec::new()];
                return Some(StartTls {
                    dirs: Dir::BOTH.to_vec(),
                    replay: mem::take(&mut self.pending),
                });
            }
            Guess::Http => App::Http(Box::new(http::Connection::new(
                self.stream,
                &ctx.limits,
                ctx.show_secrets,
            ))),
            Guess::Xmpp => {
                let (id, session) = ctx.start_xmpp_session(self.stream, xmpp::Transport::Tcp);
                let framer = xmpp::StreamFramer::over(session);
                App::Xmpp(Box::new(XmppTcp {
                    framer,
                    id,
                    started_on: route,
                }))
            }
            // `http` and `tls` stop here: the bytes are counted as unparsed, without a finding.
            Guess::WebSocket if ctx.depth == Depth::Http => App::Opaque,
            Guess::WebSocket => {
                let mut ws = ws::Connection::new_midstream(self.stream, &ctx.limits);
                ws.set_ports(self.ports);
                App::WebSocket(Box::new(WsApp::new(ws, false)))
            }
            Guess::Unknown => {
                self.report_unknown(ctx);
                App::Opaque
            }
        };
        self.layers.push(layer_name(guess));
        self.app = app;
        self.probe = [Vec::new(), Vec::new()];
        let held = mem::take(&mut self.pending);
        self.replay(ctx, held, route)
    }

    /// Feeds held items in order; once a direction switches to TLS, its
    /// later items join the request instead.
    fn replay(&mut self, ctx: &mut Wiring, items: Vec<Held>, route: Route) -> Option<StartTls> {
        let mut start_tls: Option<StartTls> = None;
        for item in items {
            if let Some(request) = start_tls.as_mut().filter(|r| r.switches(item.dir())) {
                request.replay.push(item);
                continue;
            }
            let more = match item {
                Held::Data(dir, at, bytes) => self.on_data(ctx, dir, at, &bytes, route),
                Held::Gap(dir, at, len) => {
                    self.on_gap(ctx, dir, at, len);
                    None
                }
                Held::Undecrypted(dir, at, len, why) => {
                    self.on_undecrypted(ctx, dir, at, len, why);
                    None
                }
            };
            StartTls::merge(&mut start_tls, more);
        }
        start_tls
    }

    /// What the pending bytes look like: the first direction to give a
    /// definite answer wins; a direction without bytes yet waits.
    fn guess(&self, ctx: &Wiring, via_tls: bool, at_end: bool) -> Guess {
        let [c2s, s2c] = &self.probe;
        let max_frame = ctx.limits.max_ws_resync_frame as u64;
        let websocket = ws::probe([c2s, s2c], Some(self.ports), max_frame, at_end);
        let answer = |dir: Dir| classify(&self.probe[dir.index()], dir, via_tls, websocket);
        let full = self.probe.iter().any(|p| p.len() >= PROBE_LIMIT);
        if answer(Dir::ClientToServer) == Guess::Tls {
            // A TLS client may have reached a server that speaks plain XMPP
            // (the XMPP stage names that): the server's first bytes tell.
            return match answer(Dir::ServerToClient) {
                Guess::Xmpp => Guess::Xmpp,
                Guess::NeedMore if !at_end && !full => Guess::NeedMore,
                _ => Guess::Tls,
            };
        }
        let mut unknown = [false; 2];
        for dir in Dir::BOTH {
            let bytes = &self.probe[dir.index()];
            let full = bytes.len() >= PROBE_LIMIT;
            match answer(dir) {
                Guess::NeedMore => unknown[dir.index()] = full || (at_end && !bytes.is_empty()),
                Guess::Unknown => unknown[dir.index()] = true,
                definite => return definite,
            }
        }
        // Both sides unknown, one side past the probe limit (never buffer
        // more), or the end: the protocol is not one xmppcap decodes.
        if unknown == [true, true] || full || at_end {
            Guess::Unknown
        } else {
            Guess::NeedMore
        }
    }

    fn report_unknown(&self, ctx: &mut Wiring) {
        let first = self.pending.iter().find_map(|p| match p {
            Held::Data(_, at, _) => Some(*at),
            Held::Gap(..) | Held::Undecrypted(..) => None,
        });
        let mut f = Finding::new(
            crate::tcp::FindingCode::StreamNotDecoded,
            format!(
                "connection {} carries something other than TLS, HTTP, WebSocket or XMPP: its bytes are counted as unparsed",
                self.stream
            ),
        );
        if let Some(at) = first {
            f = f.at(at);
        }
        ctx.finding(f, Some(self.stream), None);
    }

    /// After an HTTP upgrade: WebSocket framing, an opaque protocol, or a tunnel.
    fn switch_after_upgrade(
        &mut self,
        ctx: &mut Wiring,
        up: http::Upgrade,
        dir: Dir,
        at: FrameRef,
        rest: &[u8],
        route: Route,
    ) -> Option<StartTls> {
        match &up.protocol {
            http::Protocol::Websocket if ctx.depth == Depth::Http => {
                self.app = App::Opaque;
                self.layers.push("websocket");
            }
            http::Protocol::Websocket => {
                let (negotiated, problems) = ws::Negotiated::from_headers(
                    up.extensions_offered.as_deref(),
                    up.extensions_accepted.as_deref(),
                    up.subprotocol.as_deref(),
                );
                for p in problems {
                    let f = p
                        .to_finding()
                        .at(up.server_at)
                        .in_stream(self.stream, Some(Dir::ServerToClient));
                    ctx.finding(f, Some(self.stream), None);
                }
                let wants_xmpp = up
                    .subprotocol
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case("xmpp"));
                let mut conn = ws::Connection::new(self.stream, negotiated, &ctx.limits);
                conn.set_stream_offset(Dir::ClientToServer, up.client_offset);
                conn.set_stream_offset(Dir::ServerToClient, up.server_offset);
                let start = WebSocketStart {
                    over_tls: route == Route::Tls,
                    client_offset: up.client_offset,
                    server_offset: up.server_offset,
                };
                ctx.sink.on_websocket_start(self.stream, start);
                self.app = App::WebSocket(Box::new(WsApp::new(conn, wants_xmpp)));
                self.layers.push("websocket");
            }
            http::Protocol::Other(_) => self.app = App::Opaque,
            http::Protocol::Tunnel => self.app = App::Undecided,
        }
        self.replay(ctx, past_upgrade(up, dir, at, rest), route)
    }
}

/// The client's bytes the HTTP stage held past an upgrade, then the rest of
/// the bytes that carried its answer: in arrival order, for the new stage.
fn past_upgrade(up: http::Upgrade, dir: Dir, at: FrameRef, rest: &[u8]) -> Vec<Held> {
    let mut items = Vec::new();
    for held in up.client_held {
        if held.gap_before > 0 {
            items.push(Held::Gap(Dir::ClientToServer, held.at, held.gap_before));
        }
        items.push(Held::Data(Dir::ClientToServer, held.at, held.bytes));
    }
    if up.client_dropped > 0 {
        items.push(Held::Gap(
            Dir::ClientToServer,
            up.client_at,
            up.client_dropped,
        ));
    }
    items.push(Held::Data(dir, at, rest.to_vec()));
    items
}

/// The XMPP stage handed `dirs` to TLS (STARTTLS) while fed `dir`'s bytes,
/// of which `rest` were past the switch.
fn starttls_request(mut dirs: Vec<Dir>, dir: Dir, at: FrameRef, rest: &[u8]) -> StartTls {
    let mut replay = Vec::new();
    if !rest.is_empty() {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
        replay.push(Held::Data(dir, at, rest.to_vec()));
    }
    StartTls { dirs, replay }
}
