//! One TCP connection through every stage above TCP: each direction's
//! bytes follow its [`Route`], straight to the application stage
//! ([`AppStage`]) or through TLS first, and the route changes only when the
//! application stage asks ([`StartTls`]: TLS from the first byte, STARTTLS,
//! TLS in a CONNECT tunnel).
//!
//! Takes the TCP stage's data, gaps and ends for one stream; gives report
//! events and, when the connection is done, its [`ConnectionReport`] (and
//! the XMPP session it carried). Every byte is accounted for: decoded, lost
//! in the capture, undecryptable, or unparsed. A connection closed both ways
//! ([`ConnectionStack::settle_closed`]) shrinks to a [`SettledConnection`]:
//! its stages' results and held events, never its stages, until the TCP
//! stage ends its stream: at the ACK of the last FIN (usually the next
//! packet), or `flow_idle_timeout` later when the capture missed that ACK.
//! Then everything is filed and nothing of the connection stays.

use std::net::SocketAddr;

use crate::conn;
use crate::finding::{Finding, Findings};
use crate::pipeline::app_stage::AppStage;
use crate::pipeline::budget::{Holder, Holdings};
use crate::pipeline::context::Wiring;
use crate::pipeline::record::Emitted;
use crate::pipeline::route::{Held, Route, StartTls};
use crate::pipeline::settled::{Settled, SettledConnection};
use crate::position::{Dir, FrameRef};
use crate::report::from_stages;
use crate::report::model::ByteAccounts;
use crate::tcp::StreamStats;
use crate::tls::{self, KeyLog};

/// A connection in the analysis's table: open, with its stages, or settled
/// at its two FINs, as the small record its reports need. Both boxed: a
/// capture that misses the last ACKs leaves the table thousands of closed
/// connections for an hour of capture time.
pub(crate) enum Connection {
    Open(Box<ConnectionStack>),
    Settled(Box<SettledConnection>),
}

impl Connection {
    pub fn open(stack: ConnectionStack) -> Connection {
        Connection::Open(Box::new(stack))
    }

    /// Its client and server addresses.
    pub fn ends(&self) -> (SocketAddr, SocketAddr) {
        match self {
            Connection::Open(stack) => (stack.client, stack.server),
            Connection::Settled(settled) => (settled.client, settled.server),
        }
    }

    pub fn holdings(&self) -> Holdings {
        match self {
            Connection::Open(stack) => stack.holdings(),
            Connection::Settled(settled) => settled.holdings(),
        }
    }

    pub fn on_data(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        bytes: &[u8],
    ) {
        match self {
            Connection::Open(stack) => stack.on_data(ctx, keys, dir, at, bytes),
            Connection::Settled(settled) => settled.on_data(dir, at, bytes.len()),
        }
    }

    pub fn on_gap(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, len: u64) {
        match self {
            Connection::Open(stack) => stack.on_gap(ctx, dir, at, len),
            Connection::Settled(settled) => settled.on_gap(dir, len),
        }
    }

    pub fn on_tcp_end(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, rst: bool) {
        match self {
            Connection::Open(stack) => stack.on_tcp_end(ctx, dir, at, rst),
            Connection::Settled(settled) => settled.on_tcp_end(dir, at, rst),
        }
    }

    /// Open, with both FINs come: nothing more can reach its stages.
    pub fn both_fins(&self) -> bool {
        matches!(self, Connection::Open(stack) if stack.both_fins())
    }

    /// Its stages finish now ([`ConnectionStack::settle_closed`]); what is
    /// left is the settled record.
    pub fn settle_closed(self, ctx: &mut Wiring, keys: &KeyLog) -> Connection {
        match self {
            Connection::Open(stack) => {
                Connection::Settled(Box::new(stack.settle_closed(ctx, keys)))
            }
            settled @ Connection::Settled(_) => settled,
        }
    }

    /// Before [`Self::finish`] at the stream's release: see
    /// [`ConnectionStack::settle_at_end`] (a settled one did at its FINs).
    pub fn settle_at_end(&mut self, ctx: &mut Wiring, keys: &KeyLog) {
        if let Connection::Open(stack) = self {
            stack.settle_at_end(ctx, keys);
        }
    }

    /// The stream left the TCP table (or the budget cut it): files its
    /// reports, finishing its stages first when still open.
    pub fn finish(self, ctx: &mut Wiring, stats: Option<&StreamStats>) {
        match self {
            Connection::Open(stack) => stack.finish(ctx, stats),
            Connection::Settled(settled) => settled.finish(ctx, stats),
        }
    }
}

pub(crate) struct ConnectionStack {
    pub stream: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    tls: Option<Box<tls::Session>>,
    /// Where each direction's TCP bytes go (indexed by [`Dir::index`]).
    routes: [Route; 2],
    app: AppStage,
    bytes: ByteAccounts,
    /// The connection's story (`None` only in tests that need no summary).
    story: Option<conn::Tracker>,
    /// Directions whose TCP FIN came (every byte before it delivered).
    fin: [bool; 2],
}

impl ConnectionStack {
    pub fn new(stream: u64, client: SocketAddr, server: SocketAddr) -> ConnectionStack {
        ConnectionStack {
            stream,
            client,
            server,
            tls: None,
            routes: [Route::Plain; 2],
            app: AppStage::new(
                stream,
                crate::ws::Ports {
                    client: client.port(),
                    server: server.port(),
                },
            ),
            bytes: ByteAccounts::default(),
            story: None,
            fin: [false; 2],
        }
    }

    /// What this connection's stages hold now, by holder (for the memory budget).
    pub fn holdings(&self) -> Holdings {
        let mut held = Holdings::default();
        held.add(
            Holder::ConnectionState,
            std::mem::size_of::<ConnectionStack>() + crate::pipeline::budget::STACK_HEAP_BYTES,
        );
        if let Some(tls) = &self.tls {
            held.add(Holder::ConnectionState, std::mem::size_of::<tls::Session>());
            held.add(Holder::TlsRecords, tls.held_bytes());
        }
        self.app.add_holdings(&mut held);
        held
    }

    /// Tells this connection's story with `tracker`.
    pub fn with_story(mut self, tracker: conn::Tracker) -> ConnectionStack {
        self.story = Some(tracker);
        self
    }

    /// Gives the facts the stage sinks read during the last call to the story.
    fn take_facts(&mut self, ctx: &mut Wiring) {
        for (stream, fact) in ctx.conn_facts.drain(..) {
            if let Some(story) = self.story.as_mut().filter(|_| stream == self.stream) {
                story.on_fact(fact);
            }
        }
    }

    pub fn on_data(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        bytes: &[u8],
    ) {
        self.bytes.dir_mut(dir).tcp += bytes.len() as u64;
        if let Some(story) = self.story.as_mut() {
            story.on_tcp_data(dir, at);
        }
        match self.routes[dir.index()] {
            Route::Tls => self.tls_data(ctx, keys, dir, at, bytes),
            Route::Plain => {
                let request = self.app.on_data(ctx, dir, at, bytes, Route::Plain);
                self.start_tls(ctx, keys, request);
            }
        }
        self.take_facts(ctx);
    }

    pub fn on_gap(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, len: u64) {
        self.bytes.dir_mut(dir).gaps += len;
        match self.routes[dir.index()] {
            Route::Tls => self.tls_gap(ctx, dir, at, len),
            Route::Plain => self.app.on_gap(ctx, dir, at, len),
        }
        self.take_facts(ctx);
    }

    /// Before [`Self::finish`]: bytes still undecided on the plain route
    /// that turn out to be TLS (a ClientHello never answered) get their TLS
    /// stage, so the connection shows its TLS layer and handshake facts.
    pub fn settle_at_end(&mut self, ctx: &mut Wiring, keys: &KeyLog) {
        if self.routes.contains(&Route::Tls) {
            return;
        }
        let request = self.app.decide_at_end(ctx, Route::Plain);
        self.start_tls(ctx, keys, request);
    }

    pub fn on_tcp_end(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, rst: bool) {
        if let Some(story) = self.story.as_mut() {
            story.on_tcp_end(dir, at, rst);
        }
        self.app.on_tcp_end(ctx, dir, at, rst);
        self.take_facts(ctx);
        if !rst {
            if let Some(fin) = self.fin.get_mut(dir.index()) {
                *fin = true;
            }
        }
    }

    /// Both directions sent their FIN and every byte before them was
    /// delivered: nothing more can reach the stages.
    pub fn both_fins(&self) -> bool {
        self.fin == [true; 2]
    }

    /// Finishes the stages now, holding the events they say until
    /// [`SettledConnection::finish`] (when the TCP stage releases the
    /// stream, with its statistics), so that the output is the same as
    /// finishing them then. Gives what is left of the connection: its
    /// results, not its stages.
    pub fn settle_closed(
        mut self: Box<Self>,
        ctx: &mut Wiring,
        keys: &KeyLog,
    ) -> SettledConnection {
        ctx.hold_events();
        self.settle_at_end(ctx, keys);
        let settled = self.finish_stages(ctx);
        let mut events = ctx.take_held();
        // Held for up to `flow_idle_timeout`: no spare capacity.
        events.shrink_to_fit();
        self.into_settled(settled, events)
    }

    /// The stream left the TCP table: flush every stage and file the reports.
    /// Without `stats`, the memory budget cut it (`ConnTable`).
    pub fn finish(mut self: Box<Self>, ctx: &mut Wiring, stats: Option<&StreamStats>) {
        if stats.is_none() {
            self.app.not_followed(ctx);
        }
        let settled = self.finish_stages(ctx);
        self.into_settled(settled, Vec::new()).finish(ctx, stats);
    }

    /// Keeps of the finished stages only what the reports read.
    fn into_settled(
        mut self: Box<Self>,
        settled: Settled,
        events: Vec<Emitted>,
    ) -> SettledConnection {
        SettledConnection {
            stream: self.stream,
            client: self.client,
            server: self.server,
            layers: std::mem::take(&mut self.app.layers),
            http_exchanges: self.app.http_exchanges,
            websocket: self.app.ws_summary.take(),
            bytes: self.bytes,
            story: self.story,
            settled,
            events,
        }
    }

    /// Flushes the TLS and application stages; gives what the reports need of them.
    fn finish_stages(&mut self, ctx: &mut Wiring) -> Settled {
        let stream = self.stream;
        let session_hint = self.app.session();
        if let Some(tls) = self.tls.as_mut() {
            let mut out = TlsOut {
                ctx,
                app: &mut self.app,
                bytes: &mut self.bytes,
                story: self.story.as_mut(),
                stream,
                session: session_hint,
            };
            tls.finish(&mut out);
        }
        let route = if self.tls.is_some() {
            Route::Tls
        } else {
            Route::Plain
        };
        let starttls = self.app.carries_plain_xmpp() && self.routes.contains(&Route::Tls);
        let finished = self.app.finish(ctx, route);
        self.take_facts(ctx);
        for dir in Dir::BOTH {
            self.bytes.dir_mut(dir).unparsed += self.app.unparsed[dir.index()];
        }
        let tls = self.tls.as_ref().map(|t| t.summary().clone());
        if let Some(summary) = &tls {
            ctx.note_tls(summary);
        }
        Settled {
            finished,
            tls,
            starttls,
        }
    }

    /// Follows the application stage's request: the directions it names
    /// take the TLS route from here on, starting with the bytes it carries.
    fn start_tls(&mut self, ctx: &mut Wiring, keys: &KeyLog, request: Option<StartTls>) {
        let Some(request) = request else { return };
        for dir in request.dirs {
            self.routes[dir.index()] = Route::Tls;
        }
        for item in request.replay {
            match item {
                Held::Data(dir, at, bytes) => self.tls_data(ctx, keys, dir, at, &bytes),
                // Undecrypted bytes come from a TLS stage: never held before one.
                Held::Gap(dir, at, len) | Held::Undecrypted(dir, at, len, _) => {
                    self.tls_gap(ctx, dir, at, len)
                }
            }
        }
    }

    /// The TLS stage of this connection, created at its first byte, with
    /// the sink that takes its plaintext up to the application stage.
    fn tls_and_out<'a, 'c, 's>(
        &'a mut self,
        ctx: &'c mut Wiring<'s>,
    ) -> (&'a mut tls::Session, TlsOut<'a, 'c, 's>) {
        let stream = self.stream;
        let session = self.app.session();
        let tls = self.tls.get_or_insert_with(|| {
            Box::new(tls::Session::new(stream, &ctx.limits).with_keys_given(ctx.keys_given))
        });
        let out = TlsOut {
            ctx,
            app: &mut self.app,
            bytes: &mut self.bytes,
            story: self.story.as_mut(),
            stream,
            session,
        };
        (tls, out)
    }

    fn tls_data(&mut self, ctx: &mut Wiring, keys: &KeyLog, dir: Dir, at: FrameRef, bytes: &[u8]) {
        let (tls, mut out) = self.tls_and_out(ctx);
        out.bytes.dir_mut(dir).tls += bytes.len() as u64;
        tls.on_data(keys, dir, at, bytes, &mut out);
    }

    fn tls_gap(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, len: u64) {
        let (tls, mut out) = self.tls_and_out(ctx);
        tls.on_gap(dir, at, len, &mut out);
    }
}

/// Receives the TLS stage's plaintext (for the application side), its
/// undecryptable stretches and its handshake events.
struct TlsOut<'a, 'c, 's> {
    ctx: &'c mut Wiring<'s>,
    app: &'a mut AppStage,
    bytes: &'a mut ByteAccounts,
    story: Option<&'a mut conn::Tracker>,
    stream: u64,
    session: Option<u32>,
}

impl Findings for TlsOut<'_, '_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        self.ctx.finding(finding, Some(self.stream), self.session);
    }
}

impl tls::Sink for TlsOut<'_, '_, '_> {
    fn on_plaintext(&mut self, dir: Dir, at: FrameRef, bytes: &[u8]) {
        self.bytes.dir_mut(dir).decrypted += bytes.len() as u64;
        self.ctx.sink.on_plaintext(self.stream, dir, at, bytes);
        // Inside TLS the application stage never asks for TLS again.
        let _nested = self.app.on_data(self.ctx, dir, at, bytes, Route::Tls);
    }

    fn on_plaintext_gap(&mut self, dir: Dir, at: FrameRef, len: u64, reason: tls::GapReason) {
        let why = format!("{reason:?}");
        self.ctx
            .sink
            .on_plaintext_gap(self.stream, dir, at, len, &why);
        match reason {
            tls::GapReason::CaptureGap => {}
            tls::GapReason::Unparsed => self.bytes.dir_mut(dir).unparsed += len,
            _ => self.bytes.dir_mut(dir).undecryptable += len,
        }
        match reason.why_not_decrypted(dir) {
            Some(why) => self.app.on_undecrypted(self.ctx, dir, at, len, why),
            None => self.app.on_gap(self.ctx, dir, at, len),
        }
    }

    fn on_record(&mut self, dir: Dir, at: FrameRef, content_type: u8, len: usize) {
        if let Some(story) = self.story.as_deref_mut() {
            story.on_record(dir, at, content_type, len);
        }
    }

    fn on_tls_event(&mut self, event: &tls::Event) {
        if let Some(story) = self.story.as_deref_mut() {
            story.on_tls_event(event);
        }
        let mut e = from_stages::tls_event(event);
        e.session = self.session;
        self.ctx.emit(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::position::Timestamp;
    use crate::report::event::Event;
    use crate::report::sink::EventSink;
    use crate::tcp::Origin;

    const C2S: Dir = Dir::ClientToServer;
    const S2C: Dir = Dir::ServerToClient;

    #[derive(Default)]
    struct Kinds(Vec<String>);

    impl EventSink for Kinds {
        fn emit(&mut self, event: Event) {
            let kind = event.kind().to_owned();
            // The story's words show its counters: they must not depend on chunking.
            self.0.push(match &event.detail {
                crate::report::event::Detail::ConnSummary(_) => format!("{kind} {}", event.summary),
                _ => kind,
            });
        }
    }

    /// A TLS record of `typ` holding one handshake message of `kind` (RFC 5246 §6.2.1, §7.4).
    fn handshake_record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut message = vec![kind, 0, 0, body.len() as u8];
        message.extend(body);
        let mut record = vec![22, 3, 1, 0, message.len() as u8];
        record.extend(message);
        record
    }

    /// Hello body: version, random, empty session id, then `rest` (RFC 5246 §7.4.1.2-3).
    fn hello(random: u8, rest: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([random; 32]);
        body.push(0);
        body.extend(rest);
        body
    }

    fn client_hello() -> Vec<u8> {
        handshake_record(1, &hello(0x11, &[0, 2, 0, 0x2f, 1, 0]))
    }

    fn server_hello() -> Vec<u8> {
        handshake_record(2, &hello(0x22, &[0, 0x2f, 0]))
    }

    /// Feeds `script`, each segment split into pieces of `step` bytes; gives
    /// the event kinds, the routes at the end and the connection's layers.
    fn run(script: &[(Dir, Vec<u8>)], step: usize) -> (Vec<String>, [Route; 2], Vec<&'static str>) {
        run_ending(script, step, None)
    }

    /// [`run`], and with `fins`, both FINs come after the script (settling
    /// the stages then when `fins` is true) before the stream leaves the table.
    fn run_ending(
        script: &[(Dir, Vec<u8>)],
        step: usize,
        fins: Option<bool>,
    ) -> (Vec<String>, [Route; 2], Vec<&'static str>) {
        let mut kinds = Kinds::default();
        let mut ctx = Wiring::new(Limits::default(), false, false, false, &mut kinds);
        let keys = KeyLog::new();
        let client = "10.0.0.1:50000".parse().unwrap();
        let server = "10.0.0.2:5222".parse().unwrap();
        let start = FrameRef::new(1, Timestamp::default());
        let story = conn::Tracker::new(0, client, server, start, Origin::Handshake, &ctx.limits);
        let mut stack = ConnectionStack::new(0, client, server).with_story(story);
        for (frame, (dir, bytes)) in script.iter().enumerate() {
            let at = FrameRef::new(frame as u64 + 1, Timestamp::default());
            for piece in bytes.chunks(step) {
                stack.on_data(&mut ctx, &keys, *dir, at, piece);
            }
        }
        let routes = stack.routes;
        let mut conn = Connection::open(stack);
        let mut stray = 0;
        if let Some(settle) = fins {
            let at = FrameRef::new(script.len() as u64 + 1, Timestamp::default());
            conn.on_tcp_end(&mut ctx, C2S, at, false);
            assert!(!conn.both_fins());
            conn.on_tcp_end(&mut ctx, S2C, at, false);
            assert!(conn.both_fins());
            if settle {
                let open = conn.holdings().total();
                conn = conn.settle_closed(&mut ctx, &keys);
                // Settled, it is the small record: no buffer, less than its open stages.
                let held = conn.holdings();
                assert!(matches!(conn, Connection::Settled(_)) && held.total() < open);
                assert_eq!(held.buffers(), 0);
                assert!(!conn.both_fins(), "settled once");
                // A stray segment after both FINs reaches no stage: counted, unparsed.
                let hello = client_hello();
                conn.on_data(&mut ctx, &keys, C2S, at, &hello);
                stray = hello.len() as u64;
                conn.settle_at_end(&mut ctx, &keys);
            }
        }
        conn.finish(&mut ctx, None);
        if let Some(report) = ctx.connections.first() {
            let sent: usize = script
                .iter()
                .filter(|(d, _)| *d == C2S)
                .map(|(_, b)| b.len())
                .sum();
            assert_eq!(report.bytes.dir(C2S).tcp, sent as u64 + stray);
            assert!(report.bytes.dir(C2S).unparsed >= stray);
        }
        let layers = ctx.connections.first().map(|c| c.layers.clone());
        drop(ctx);
        (kinds.0, routes, layers.unwrap_or_default())
    }

    /// A connection whose stages finish at its FINs says the same, in the
    /// same place, as one finished when the stream leaves the TCP table.
    #[test]
    fn settling_at_the_fins_changes_nothing_said() {
        let scripts = [
            vec![(C2S, client_hello()), (S2C, server_hello())],
            vec![(C2S, b"<stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>".to_vec())],
            vec![(C2S, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec())],
        ];
        for script in &scripts {
            let late = run_ending(script, usize::MAX, Some(false));
            let early = run_ending(script, usize::MAX, Some(true));
            assert_eq!(early.0, late.0);
            assert_eq!(early.2, late.2);
        }
    }

    fn same_whatever_the_chunking(
        script: &[(Dir, Vec<u8>)],
    ) -> (Vec<String>, [Route; 2], Vec<&'static str>) {
        let whole = run(script, usize::MAX);
        for step in [1, 2, 3, 7, 64] {
            assert_eq!(run(script, step), whole, "pieces of {step} bytes");
        }
        whole
    }

    #[test]
    fn a_connection_that_starts_with_tls_takes_the_tls_route_both_ways() {
        let script = [(C2S, client_hello()), (S2C, server_hello())];
        let (kinds, routes, layers) = same_whatever_the_chunking(&script);
        assert_eq!(routes, [Route::Tls, Route::Tls]);
        assert!(kinds.contains(&"tls.client_hello".to_owned()), "{kinds:?}");
        assert!(kinds.contains(&"tls.server_hello".to_owned()), "{kinds:?}");
        assert_eq!(layers, vec!["tls"]);
        let story = kinds.iter().find(|k| k.starts_with("conn.summary"));
        assert!(
            story.is_some_and(|s| s.contains("role xmpp-tcp (inferred: port 5222")),
            "{kinds:?}"
        );
    }

    #[test]
    fn starttls_switches_each_direction_at_the_byte_the_xmpp_stage_names() {
        let ns =
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'";
        let tls_ns = "xmlns='urn:ietf:params:xml:ns:xmpp-tls'";
        let script = [
            (
                C2S,
                format!("<?xml version='1.0'?><stream:stream to='example.com' {ns}>").into_bytes(),
            ),
            (
                S2C,
                format!(
                    "<?xml version='1.0'?><stream:stream from='example.com' id='s1' {ns}>\
                     <stream:features><starttls {tls_ns}><required/></starttls></stream:features>"
                )
                .into_bytes(),
            ),
            (C2S, format!("<starttls {tls_ns}/>").into_bytes()),
            (S2C, format!("<proceed {tls_ns}/>").into_bytes()),
            (C2S, client_hello()),
            (S2C, server_hello()),
        ];
        let (kinds, routes, layers) = same_whatever_the_chunking(&script);
        assert_eq!(routes, [Route::Tls, Route::Tls]);
        let position = |kind: &str| kinds.iter().position(|k| k == kind);
        let starttls = position("xmpp.starttls").expect("a STARTTLS handover");
        let hello = position("tls.client_hello").expect("the ClientHello decoded as TLS");
        assert!(starttls < hello, "{kinds:?}");
        assert!(kinds.contains(&"tls.server_hello".to_owned()), "{kinds:?}");
        assert_eq!(layers, vec!["xmpp", "tls", "xmpp"]);
    }

    #[test]
    fn tls_inside_a_connect_tunnel_switches_after_the_200() {
        let script = [
            (
                C2S,
                b"CONNECT finesse.example:443 HTTP/1.1\r\nHost: finesse.example:443\r\n\r\n"
                    .to_vec(),
            ),
            (S2C, b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec()),
            (C2S, client_hello()),
            (S2C, server_hello()),
        ];
        let (kinds, routes, layers) = same_whatever_the_chunking(&script);
        assert_eq!(routes, [Route::Tls, Route::Tls]);
        let position = |kind: &str| kinds.iter().position(|k| k == kind);
        let upgrade = position("http.upgrade").expect("the tunnel opened");
        let hello = position("tls.client_hello").expect("TLS inside the tunnel");
        assert!(upgrade < hello, "{kinds:?}");
        assert!(
            layers.contains(&"http") && layers.contains(&"tls"),
            "{layers:?}"
        );
    }

    #[test]
    fn plain_xmpp_keeps_the_plain_route() {
        let ns =
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'";
        let script = [
            (
                C2S,
                format!("<stream:stream to='example.com' {ns}>").into_bytes(),
            ),
            (
                S2C,
                format!("<stream:stream from='example.com' id='s2' {ns}>").into_bytes(),
            ),
            (C2S, b"<presence/>".to_vec()),
        ];
        let (kinds, routes, layers) = same_whatever_the_chunking(&script);
        assert_eq!(routes, [Route::Plain, Route::Plain]);
        assert!(!kinds.iter().any(|k| k.starts_with("tls.")), "{kinds:?}");
        assert_eq!(layers, vec!["xmpp"]);
    }
}
