//! One TCP connection through every stage above TCP: each direction's
//! bytes follow its [`Route`], straight to the application stage
//! ([`AppStage`]) or through TLS first, and the route changes only when the
//! application stage asks ([`StartTls`]: TLS from the first byte, STARTTLS,
//! TLS in a CONNECT tunnel).
//!
//! Takes the TCP stage's data, gaps and ends for one stream; gives report
//! events and, when the connection is done, its [`ConnectionReport`] (and
//! the XMPP session it carried). Every byte is accounted for: decoded, lost
//! in the capture, undecryptable, or unparsed.

use std::net::SocketAddr;

use crate::conn;
use crate::finding::{Finding, Findings};
use crate::pipeline::app_stage::{AppStage, FinishedSession};
use crate::pipeline::budget::{Holder, Holdings};
use crate::pipeline::context::Wiring;
use crate::pipeline::route::{Held, Route, StartTls};
use crate::position::{Dir, FrameRef};
use crate::report::from_stages;
use crate::report::model::{ByteAccounts, ConnectionReport, SessionReport};
use crate::tcp::StreamStats;
use crate::tls::{self, KeyLog};

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
    /// Its stages finished once both FINs came (see [`Self::settle_closed`]).
    settled: Option<Settled>,
}

/// What a connection whose stages finished keeps until the TCP stage
/// releases its stream (up to `flow_idle_timeout` later): the stages' results
/// and the events they said, not the stages (a TLS session, an inflater, an
/// XMPP parser: tens of kilobytes each, for every connection of the hour).
struct Settled {
    finished: Option<FinishedSession>,
    tls: Option<tls::Summary>,
    starttls: bool,
    events: Vec<crate::report::event::Event>,
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
            settled: None,
        }
    }

    /// What this connection's stages hold now, by holder (for the memory budget).
    pub fn holdings(&self) -> Holdings {
        let mut held = Holdings::default();
        if let Some(settled) = &self.settled {
            // Its stages are gone (both FINs came): what is left is the stack
            // and the events it holds until the stream leaves the TCP table.
            let events = settled.events.len() * std::mem::size_of::<crate::report::event::Event>();
            held.add(
                Holder::ConnectionState,
                std::mem::size_of::<ConnectionStack>() + events,
            );
            return held;
        }
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
        if self.settled.is_some() {
            // The TCP stage delivers nothing after both FINs; were it to, the stages are gone.
            self.bytes.dir_mut(dir).unparsed += bytes.len() as u64;
            return;
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
        if self.settled.is_some() {
            return;
        }
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
        if self.routes.contains(&Route::Tls) || self.settled.is_some() {
            return;
        }
        let request = self.app.decide_at_end(ctx, Route::Plain);
        self.start_tls(ctx, keys, request);
    }

    pub fn on_tcp_end(&mut self, ctx: &mut Wiring, dir: Dir, at: FrameRef, rst: bool) {
        if let Some(story) = self.story.as_mut() {
            story.on_tcp_end(dir, at, rst);
        }
        if self.settled.is_some() {
            return;
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
    /// [`Self::finish`] (when the TCP stage releases the stream, with its
    /// statistics), so that the output is the same as finishing them then.
    pub fn settle_closed(&mut self, ctx: &mut Wiring, keys: &KeyLog) {
        if self.settled.is_some() {
            return;
        }
        ctx.hold_events();
        self.settle_at_end(ctx, keys);
        let mut settled = self.finish_stages(ctx);
        settled.events = ctx.take_held();
        self.tls = None;
        self.settled = Some(settled);
    }

    /// The stream left the TCP table: flush every stage (unless
    /// [`Self::settle_closed`] did) and file the reports.
    pub fn finish(mut self, ctx: &mut Wiring, stats: Option<&StreamStats>) {
        let stream = self.stream;
        let settled = match self.settled.take() {
            Some(mut settled) => {
                for event in std::mem::take(&mut settled.events) {
                    ctx.emit(event);
                }
                settled
            }
            None => self.finish_stages(ctx),
        };
        let Settled {
            finished,
            tls: tls_summary,
            starttls,
            ..
        } = settled;
        let mut layers = Vec::new();
        if starttls {
            // Plain XMPP first, then TLS, with XMPP inside.
            layers.push("xmpp");
        }
        if tls_summary.is_some() {
            layers.push("tls");
        }
        layers.extend(self.app.layers.iter().copied());
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
            stream,
            client: self.client,
            server: self.server,
            layers,
            tcp: stats.cloned(),
            tls: tls_summary,
            websocket: self.app.ws_summary.take(),
            http_exchanges: self.app.http_exchanges,
            session: finished.as_ref().map(|f| f.id),
            bytes: self.bytes,
            summary: None,
        });
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
            ctx.wide.tls.note(summary);
        }
        Settled {
            finished,
            tls,
            starttls,
            events: Vec::new(),
        }
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
        if let Some(story) = self.story.take() {
            let story = story.finish(stats, tls);
            for finding in story.findings {
                ctx.finding(finding, Some(self.stream), session);
            }
            ctx.on_conn_summary(&story.summary, user);
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

fn session_report(
    f: &FinishedSession,
    conn: &ConnectionStack,
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
        if let Some(settle) = fins {
            let at = FrameRef::new(script.len() as u64 + 1, Timestamp::default());
            stack.on_tcp_end(&mut ctx, C2S, at, false);
            assert!(!stack.both_fins());
            stack.on_tcp_end(&mut ctx, S2C, at, false);
            assert!(stack.both_fins());
            if settle {
                let open = stack.holdings().total();
                stack.settle_closed(&mut ctx, &keys);
                // Settled, it holds no buffer and less than its open stages.
                let held = stack.holdings();
                assert!(stack.tls.is_none() && held.total() < open);
                assert_eq!(held.buffers(), 0);
                // A stray segment after both FINs reaches no stage.
                stack.on_data(&mut ctx, &keys, C2S, at, &client_hello());
                assert!(stack.tls.is_none());
            }
        }
        stack.finish(&mut ctx, None);
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
