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
use crate::http::{self, bosh};
use crate::limits::Limits;
use crate::pipeline::context::Wiring;
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
            over.session
                .on_transport_end(socket.last, xmpp::Ending::HarUnknown, &mut out);
            over.session.finish(&mut out);
            out.flush();
            let summary = over.session.summary().clone();
            layers.push("xmpp");
            session = Some(over.id);
            self.ctx.keep_session(SessionReport {
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
        let truncated = full_len > data.len();
        let text = std::str::from_utf8(&data)
            .ok()
            .filter(|_| opcode == 1 && !truncated);
        let opcode = if opcode == 1 {
            ws::MessageOpcode::Text
        } else {
            ws::MessageOpcode::Binary
        };
        let recorded = ws::Message {
            stream: socket.entry,
            dir,
            frame: at,
            last_frame: at,
            time: ts,
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
            payload: &data,
        };
        let mut out = WsOut {
            ctx: self.ctx,
            stream: socket.entry,
            xmpp: &mut socket.xmpp,
            wants_xmpp: socket.wants_xmpp,
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
        self.message(message);
    }

    fn on_finding(&mut self, finding: har::Finding) {
        let entry = finding.entry().map(|e| e as u64);
        let mut located = Finding::new(finding.code(), finding.to_string());
        if let Some(entry) = entry {
            let message = finding.message().map(|m| m as u64);
            let time = self
                .current
                .filter(|(e, _)| *e == entry)
                .and_then(|(_, t)| t);
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

/// When an entry's request and response were, from `startedDateTime` and `timings`.
struct Times {
    request: FrameRef,
    response_first: FrameRef,
    response_last: FrameRef,
}

impl Times {
    fn of(entry: &har::Entry) -> Times {
        let index = entry.index as u64;
        let started = entry.started.unwrap_or_default();
        let t = &entry.timings;
        // The response begins after blocking, DNS, connect, send and wait
        // (HAR 1.2 §timings); a WebSocket's `wait` and `time` span the
        // socket's whole life, so its 101 is placed after `send`.
        let socket = entry.kind == har::EntryKind::WebSocket;
        let wait = if socket { None } else { t.wait };
        let until_response: f64 = [t.blocked, t.dns, t.connect, t.send, wait]
            .iter()
            .flatten()
            .filter(|ms| ms.is_finite() && **ms > 0.0)
            .sum();
        let after = |ms: f64| {
            Timestamp::from_nanos_i128(i128::from(started.as_nanos()) + (ms * 1e6) as i128)
        };
        let first = after(until_response);
        let last = entry
            .ended()
            .filter(|l| *l >= first && !socket)
            .unwrap_or(first);
        Times {
            request: FrameRef::har(index, None, started),
            response_first: FrameRef::har(index, None, first),
            response_last: FrameRef::har(index, None, last),
        }
    }
}

/// The entry as an HTTP exchange (built by the HTTP stage from parts, with
/// its redaction and caps) and its BOSH bodies; findings go to `ctx`.
fn exchange_of(
    entry: &har::Entry,
    limits: &Limits,
    ctx: &mut Wiring,
) -> (Option<http::Exchange>, Vec<bosh::Event>) {
    let stream = entry.index as u64;
    let times = Times::of(entry);
    let q = &entry.request;
    let r = &entry.response;
    let q_headers: Vec<(&str, &str)> = q
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    let r_headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    let q_body = q.body.as_ref().map_or(&[][..], |b| b.data.as_slice());
    let r_body = r.body.as_ref().map_or(&[][..], |b| b.data.as_slice());
    let target = target_of(&q.url);
    let request = (!q.method.is_empty()).then(|| http::RequestParts {
        method: &q.method,
        target,
        message: http::MessageParts {
            first: times.request,
            last: times.request,
            minor: minor_of(&q.http_version),
            headers: &q_headers,
            body: q_body,
        },
    });
    // Chrome writes status 0 when no response came.
    let response = r
        .status
        .filter(|s| *s != 0)
        .map(|status| http::ResponseParts {
            status,
            reason: &r.status_text,
            message: http::MessageParts {
                first: times.response_first,
                last: times.response_last,
                minor: minor_of(&r.http_version),
                headers: &r_headers,
                body: r_body,
            },
        });
    if request.is_none() && response.is_none() {
        return (None, Vec::new());
    }
    let at = http::ExchangeAt {
        stream,
        index: 0,
        limits,
        show_secrets: ctx.show_secrets,
    };
    let mut findings = Vec::new();
    let exchange =
        http::exchange_from_parts(at, request.as_ref(), response.as_ref(), &mut findings);
    let bosh = bosh_bodies(
        stream,
        &times,
        q_body,
        response.map(|r| (r.status, r_body)),
        limits,
        &mut findings,
    );
    for f in findings {
        ctx.finding(f, Some(stream), None);
    }
    (Some(exchange), bosh)
}

/// The BOSH bodies of an entry: its request body when it is one, and the
/// response that answers it (paired by entry, as the browser recorded them).
fn bosh_bodies(
    stream: u64,
    times: &Times,
    request: &[u8],
    response: Option<(u16, &[u8])>,
    limits: &Limits,
    findings: &mut Vec<Finding>,
) -> Vec<bosh::Event> {
    let caps = bosh::Caps {
        max_depth: limits.max_xml_depth,
        max_stanza: limits.max_stanza_bytes,
    };
    let mut parse = |bytes: &[u8], at: FrameRef| {
        let parsed = bosh::looks_like(bytes)
            .then(|| bosh::parse(bytes, caps))
            .flatten()?;
        if let Some(e) = &parsed.error {
            let f = Finding::new(e.code(), format!("BOSH body: {e}")).at(at);
            findings.push(f.in_stream(stream, None));
        }
        Some(parsed)
    };
    let mut events = Vec::new();
    let Some(asked) = parse(request, times.request) else {
        return events;
    };
    let attrs = asked.attrs.clone();
    events.push(bosh_event(
        stream,
        bosh::Role::Request,
        times.request,
        times.request,
        asked,
    ));
    let Some((status, bytes)) = response else {
        return events;
    };
    let is_bosh = bosh::looks_like(bytes);
    let answer = parse(bytes, times.response_first).unwrap_or_default();
    let mut body = bosh_body(
        stream,
        bosh::Role::Response,
        times.response_first,
        times.response_last,
        answer,
    );
    body.status = Some(status);
    body.request = Some(bosh::RequestRef {
        attrs,
        first: times.request,
        last: times.request,
    });
    body.held_ms = Some(bosh::millis(times.request, times.response_first));
    if !is_bosh {
        body.error = Some(format!("the answer (HTTP {status}) carries no BOSH <body>"));
    }
    events.push(bosh::Event::Body(Box::new(body)));
    events
}

fn bosh_event(
    stream: u64,
    role: bosh::Role,
    first: FrameRef,
    last: FrameRef,
    p: bosh::Parsed,
) -> bosh::Event {
    bosh::Event::Body(Box::new(bosh_body(stream, role, first, last, p)))
}

fn bosh_body(
    stream: u64,
    role: bosh::Role,
    first: FrameRef,
    last: FrameRef,
    p: bosh::Parsed,
) -> bosh::Body {
    let dir = match role {
        bosh::Role::Request => Dir::ClientToServer,
        bosh::Role::Response => Dir::ServerToClient,
    };
    bosh::Body {
        stream,
        dir,
        role,
        first,
        last,
        status: None,
        attrs: p.attrs,
        stanzas: p.stanzas,
        error: p.error.map(|e| e.to_string()),
        request: None,
        held_ms: None,
    }
}

/// The 101 answer of a WebSocket entry as the HTTP stage's upgrade.
fn upgrade_of(entry: &har::Entry, times: &Times) -> http::Upgrade {
    let q = &entry.request;
    let r = &entry.response;
    let accept_valid = q
        .header("sec-websocket-key")
        .zip(r.header("sec-websocket-accept"))
        .map(|(key, accept)| ws::accept_key(key) == accept.trim());
    http::Upgrade {
        stream: entry.index as u64,
        protocol: http::Protocol::Websocket,
        server_at: times.response_first,
        server_offset: 0,
        client_at: times.request,
        client_offset: 0,
        client_held: Vec::new(),
        client_dropped: 0,
        subprotocol: r.header("sec-websocket-protocol").map(str::to_owned),
        extensions_offered: q.header("sec-websocket-extensions").map(str::to_owned),
        extensions_accepted: r.header("sec-websocket-extensions").map(str::to_owned),
        accept_valid,
    }
}

/// The request-target of a URL: its path and query, without the fragment
/// (`/` when it has no path; a query without a path is dropped with it).
pub(crate) fn target_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let without_fragment = after_scheme.split('#').next().unwrap_or_default();
    let authority_end = without_fragment
        .find(['/', '?'])
        .unwrap_or(without_fragment.len());
    match without_fragment.get(authority_end..) {
        Some(target) if target.starts_with('/') => target,
        _ => "/",
    }
}

/// `HTTP/1.0` is minor 0; everything else (1.1, h2, h3) reads as 1.1.
fn minor_of(version: &str) -> u8 {
    u8::from(!version.eq_ignore_ascii_case("HTTP/1.0"))
}

/// The server's address: `serverIPAddress` and the URL's port (or the
/// scheme's); `None` when the browser left the address empty.
fn server_of(entry: &har::Entry) -> Option<SocketAddr> {
    let ip: IpAddr = entry
        .server_ip
        .as_deref()?
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .ok()?;
    let url = &entry.request.url;
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let port = authority
        .rsplit_once(':')
        .filter(|(host, _)| !host.ends_with(']') || authority.starts_with('['))
        .and_then(|(_, port)| port.parse().ok())
        .or(match scheme {
            "https" | "wss" => Some(443),
            "http" | "ws" => Some(80),
            _ => None,
        })?;
    Some(SocketAddr::new(ip, port))
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::har::{Entry, EntryKind, Request, Response, Timings};

    fn entry(kind: EntryKind, url: &str, server_ip: Option<&str>) -> Entry {
        Entry {
            index: 4,
            kind,
            started: Some(Timestamp::from_secs_nanos(1_000, 0)),
            time_ms: Some(500.0),
            timings: Timings {
                blocked: Some(2.0),
                dns: None,
                connect: Some(-1.0),
                ssl: None,
                send: Some(1.0),
                wait: Some(400.0),
                receive: Some(97.0),
            },
            resource_type: None,
            initiator: None,
            server_ip: server_ip.map(str::to_owned),
            connection: None,
            request: Request {
                method: "GET".to_owned(),
                url: url.to_owned(),
                ..Request::default()
            },
            response: Response::default(),
        }
    }

    #[test]
    fn a_url_gives_its_request_target() {
        let cases = [
            (
                "https://finesse1:8445/finesse/api/User/1001?a=1#x",
                "/finesse/api/User/1001?a=1",
            ),
            ("wss://finesse1/ws/", "/ws/"),
            ("http://finesse1", "/"),
            ("http://finesse1?token=secret", "/"),
            ("http://[::1]:8080/http-bind/", "/http-bind/"),
            ("/relative?q", "/relative?q"),
            ("", "/"),
        ];
        for (url, target) in cases {
            assert_eq!(target_of(url), target, "{url}");
        }
    }

    #[test]
    fn the_server_is_the_recorded_address_and_the_url_port() {
        let addr = |url, ip| server_of(&entry(EntryKind::Http, url, ip));
        assert_eq!(
            addr("https://finesse1:8445/x", Some("10.20.30.41")),
            "10.20.30.41:8445".parse().ok()
        );
        assert_eq!(
            addr("https://finesse1/x", Some("10.20.30.41")),
            "10.20.30.41:443".parse().ok()
        );
        assert_eq!(
            addr("ws://finesse1/ws/", Some("10.20.30.41")),
            "10.20.30.41:80".parse().ok()
        );
        assert_eq!(
            addr("http://[::1]:8080/", Some("[::1]")),
            "[::1]:8080".parse().ok()
        );
        assert_eq!(addr("http://[::1]/", Some("::1")), "[::1]:80".parse().ok());
        // Chrome leaves WebSocket addresses empty; the reader gives None.
        assert_eq!(addr("ws://finesse1/ws/", None), None);
        assert_eq!(addr("ftp://finesse1/x", Some("10.0.0.1")), None);
        assert_eq!(addr("https://finesse1/x", Some("not an address")), None);
    }

    #[test]
    fn versions_other_than_http_1_0_read_as_1_1() {
        assert_eq!(minor_of("HTTP/1.0"), 0);
        for v in ["HTTP/1.1", "http/2.0", "h3", ""] {
            assert_eq!(minor_of(v), 1, "{v}");
        }
    }

    #[test]
    fn a_response_comes_after_the_waits_and_a_101_before_the_socket_lives() {
        let http = Times::of(&entry(EntryKind::Http, "https://f/x", None));
        let ms = |at: FrameRef| at.ts.nanos_since(Timestamp::from_secs_nanos(1_000, 0)) / 1_000_000;
        // blocked 2 + send 1 + wait 400; -1 and absent timings count nothing.
        assert_eq!(
            (
                ms(http.request),
                ms(http.response_first),
                ms(http.response_last)
            ),
            (0, 403, 500)
        );
        assert_eq!(http.request.position().to_string(), "e4");
        let socket = Times::of(&entry(EntryKind::WebSocket, "wss://f/ws/", None));
        assert_eq!(
            (ms(socket.response_first), ms(socket.response_last)),
            (3, 3)
        );
    }
}
