//! A browser HAR as an input: the same analysis a capture gets, with the
//! HAR's entries and WebSocket messages in place of TCP connections.
//!
//! Takes a HAR path (plain or gzip, recognised by content: [`is_har`]) and
//! [`Options`]; gives report events to an [`EventSink`] as they are read and
//! an [`Analyzed`] at the end, built by the same [`Wiring`] and capture-wide
//! layer as a capture's (sessions, BOSH routing, Finesse, reconnects).
//!
//! Reads the file twice, streaming both times: first only the REST requests
//! that carry a `requestId` (Chrome lists a WebSocket entry, with all its
//! messages, before the REST calls made while it was open, so an Update
//! would otherwise come before the request it answers), then everything.
//! Nothing holds all entries or messages. Never decides what the traffic
//! is (the stages do), never reports TCP or TLS facts a HAR does not have.
//! A HAR that cannot be read to its end is an error naming the byte offset
//! ([`PipelineError::Har`]), after the events read before it were given.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::capture::{CaptureError, CaptureSummary, Format, HarSummary};
use crate::decode::DecodeStats;
use crate::finding::Finding;
use crate::finesse;
use crate::har;
use crate::http;
use crate::pipeline::context::Wiring;
use crate::pipeline::har_feed::{HarCounts, HarFeed};
use crate::pipeline::{Analyzed, CaptureProgress, CaptureRun, Options, PipelineError};
use crate::report::sink::EventSink;

/// Whether the file at `path` is a HAR (by its first bytes); `false` for
/// stdin and for files that cannot be read (the capture reader says why).
pub(crate) fn is_har(path: &Path) -> bool {
    if path.as_os_str() == "-" {
        return false;
    }
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(4096);
    if file.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    har::detect(&head) == har::Probe::Har
}

/// Reads the HAR at `path` through every stage, emitting events into `sink`.
pub(crate) fn analyze(
    path: &Path,
    opts: &Options,
    sink: &mut dyn EventSink,
) -> Result<Analyzed, PipelineError> {
    let mut ctx = Wiring::new(
        opts.limits.clone(),
        opts.show_secrets,
        opts.raw,
        opts.xmpp_message_text,
        sink,
    );
    ctx.set_depth(opts.depth);
    ctx.events_only = opts.events_only;
    // The caps a capture's HTTP and WebSocket stages apply, so that a HAR
    // keeps no more of a body or message than a capture would.
    let limits = har::HarLimits {
        max_body: opts.limits.max_http_body,
        max_ws_message: opts.limits.max_ws_message,
        max_headers: opts.limits.max_http_headers,
        ..har::HarLimits::default()
    };
    let mut known = KnownRequests {
        finesse: &mut ctx.wide.finesse,
        limits: &opts.limits,
        show_secrets: opts.show_secrets,
    };
    let mut progress = opts.progress.as_ref().map(|p| p.start(path));
    // Each pass is half of the bar: the first reads the file up to halfway.
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let first = Told::new(progress.as_mut(), 0);
    // A file that breaks off is reported by the second pass, after what it read.
    let _ = har::read(open(path, first)?, &limits, &mut known);
    let mut feed = HarFeed::new(&mut ctx);
    let second = Told::new(progress.as_mut(), size / 2);
    let read = har::read(open(path, second)?, &limits, &mut feed);
    let counts = std::mem::take(&mut feed.counts);
    feed.finish();
    if let Some(progress) = progress.as_mut() {
        progress.finish();
    }
    let summary = read?;
    crate::pipeline::bosh::finish(&mut ctx);
    no_xmpp_finding(&mut ctx, &counts);
    let run = CaptureRun {
        summary: capture_summary(path, summary, counts),
        decode: DecodeStats::default(),
    };
    Ok(finish(ctx, run))
}

/// Where one pass tells its progress: half the bytes it read, after `base`.
struct Told<'p> {
    progress: Option<&'p mut Box<dyn CaptureProgress>>,
    base: u64,
}

impl<'p> Told<'p> {
    fn new(progress: Option<&'p mut Box<dyn CaptureProgress>>, base: u64) -> Told<'p> {
        Told { progress, base }
    }
}

/// The file (of which the reader inflates gzip); `told` hears the bytes read.
fn open<'p>(path: &Path, told: Told<'p>) -> Result<impl Read + 'p, PipelineError> {
    let file = File::open(path).map_err(|source| CaptureError::Open {
        path: path.to_owned(),
        source,
    })?;
    Ok(Counted {
        inner: BufReader::with_capacity(256 << 10, file),
        read: 0,
        since: 0,
        told,
    })
}

/// A reader that tells a progress tracker how far it got, every 4 MiB.
struct Counted<'p, R> {
    inner: R,
    read: u64,
    since: u64,
    told: Told<'p>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.since >= 4 << 20 {
            self.since = self.read;
            let at = self.told.base + self.read / 2;
            if let Some(p) = self.told.progress.as_mut() {
                p.update(at);
            }
        }
        Ok(n)
    }
}

/// The first pass: REST requests with a `requestId`, remembered by the
/// Finesse stage so that the Updates read later find them. Its findings
/// are dropped: the second pass, which feeds each exchange whole, gives them.
struct KnownRequests<'a> {
    finesse: &'a mut finesse::Stage,
    limits: &'a crate::limits::Limits,
    show_secrets: bool,
}

impl har::Sink for KnownRequests<'_> {
    fn on_entry(&mut self, entry: har::Entry) {
        let q = &entry.request;
        if entry.kind != har::EntryKind::Http || q.header("requestId").is_none() {
            return;
        }
        let stream = entry.index as u64;
        let headers: Vec<(&str, &str)> = q
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        let at = crate::position::FrameRef::har(stream, None, entry.started.unwrap_or_default());
        let parts = http::RequestParts {
            method: &q.method,
            target: crate::pipeline::har_entry::target_of(&q.url),
            message: http::MessageParts {
                first: at,
                last: at,
                minor: 1,
                headers: &headers,
                body: &[],
            },
        };
        let place = http::ExchangeAt {
            stream,
            index: 0,
            limits: self.limits,
            show_secrets: self.show_secrets,
        };
        let mut dropped = Vec::new();
        let exchange = http::exchange_from_parts(place, Some(&parts), None, &mut dropped);
        let Some(request) = &exchange.request else {
            return;
        };
        let rest = finesse::RestExchange {
            stream,
            request: Some(finesse::RestRequest {
                at: request.first,
                method: &request.method,
                path: &request.path,
                request_id: request.headers.request_id.as_deref(),
            }),
            response: None,
        };
        self.finesse.on_rest_exchange(&rest, &mut dropped);
    }
    fn on_ws_message(&mut self, _: har::WsMessage) {}
    fn on_finding(&mut self, _: har::Finding) {}
}

/// Why the HAR gives no XMPP, when it gives none: the report then tells
/// only the HTTP side, and says so.
fn no_xmpp_finding(ctx: &mut Wiring, counts: &HarCounts) {
    if ctx.sessions_seen > 0 {
        return;
    }
    let creator = counts.creator.as_deref().unwrap_or("an unnamed tool");
    let chromium = creator.starts_with("WebInspector");
    let why = if !chromium && counts.messages == 0 {
        format!("the HAR was written by {creator}, which records no WebSocket messages (Chrome and Edge do)")
    } else if counts.websockets == 0 {
        "the HAR holds no WebSocket entry and no BOSH body: the page opened none while the browser recorded (open DevTools before the desktop logs in)".to_owned()
    } else if counts.websockets_opened == 0 {
        "no WebSocket of the HAR opened (see the har.websocket_* findings)".to_owned()
    } else if counts.messages == 0 {
        "the HAR's WebSocket entries hold no messages: saved without content, or the socket never carried any".to_owned()
    } else {
        "none of the HAR's WebSocket messages is XMPP".to_owned()
    };
    let message = format!("no XMPP in this HAR: {why}; only the HTTP exchanges are reported");
    ctx.finding(Finding::new(har::FindingCode::NoXmpp, message), None, None);
}

fn capture_summary(path: &Path, read: har::Summary, counts: HarCounts) -> CaptureSummary {
    let gzip = File::open(path)
        .ok()
        .and_then(|f| {
            let mut magic = Vec::with_capacity(2);
            f.take(2).read_to_end(&mut magic).ok()?;
            Some(magic == [0x1f, 0x8b])
        })
        .unwrap_or(false);
    let mut summary = CaptureSummary::new(path.display().to_string(), Format::Har, gzip);
    summary.first_time = counts.first_time;
    summary.last_time = counts.last_time;
    summary.file_bytes = read.bytes;
    summary.har = Some(HarSummary {
        creator: counts.creator,
        entries: counts.entries,
        websockets: counts.websockets,
        messages: counts.messages,
    });
    summary
}

/// The end of the HAR (BOSH sessions have finished): the summaries are
/// sorted as a capture's are. A HAR has no TCP connections, so no
/// connection summaries and no desktop story (its reconnects show as the
/// sessions' order and endings).
fn finish(mut ctx: Wiring, run: CaptureRun) -> Analyzed {
    let mut sessions = std::mem::take(&mut ctx.sessions);
    sessions.sort_by_key(|s| s.id);
    let mut connections = std::mem::take(&mut ctx.connections);
    connections.sort_by_key(|c| c.stream);
    // An NDJSON run keeps no connection reports, only their ends.
    for s in sessions.iter_mut().filter(|s| s.server.is_none()) {
        let Some(&first) = s.streams.first() else {
            continue;
        };
        let server = match connections.binary_search_by_key(&first, |c| c.stream) {
            Ok(i) => connections.get(i).map(|c| c.server),
            Err(_) => ctx.connection_ends.get(&first).map(|&(_, server)| server),
        };
        s.server = server.filter(|a| !a.ip().is_unspecified());
    }
    let findings = ctx.take_findings();
    Analyzed {
        run,
        keys: Vec::new(),
        connections,
        sessions,
        desktops: Vec::new(),
        connections_seen: ctx.connections_seen,
        sessions_seen: ctx.sessions_seen,
        findings,
        finesse: ctx.wide.finesse.take_records(),
        memory_peak: 0,
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::{report, Options};
    use crate::position::{HarPosition, Position};
    use crate::report::event::Detail;
    use crate::report::ndjson::Selection;

    /// A HAR written for one test, removed when dropped.
    struct TempHar(std::path::PathBuf);

    impl TempHar {
        fn new(name: &str, text: &str) -> TempHar {
            let path =
                std::env::temp_dir().join(format!("xmppcap-{}-{name}.har", std::process::id()));
            std::fs::write(&path, text).expect("temp file writable");
            TempHar(path)
        }
    }

    impl Drop for TempHar {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const HEAD: &str = r#"{"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, "entries": ["#;

    /// A socket that closed 100 ms after it opened, with a message Chrome
    /// recorded after that: the message is kept, with the reader's finding.
    #[test]
    fn messages_recorded_after_the_close_are_kept_and_the_ending_is_unknown() {
        let har = TempHar::new(
            "late",
            &format!(
                r#"{HEAD}{{"_resourceType": "websocket", "startedDateTime": "2026-03-02T09:00:00.000Z", "time": 100,
                "request": {{"method": "GET", "url": "wss://finesse1:8445/ws/", "httpVersion": "HTTP/1.1", "headers": [{{"name": "Sec-WebSocket-Protocol", "value": "xmpp"}}]}},
                "response": {{"status": 101, "statusText": "Switching Protocols", "httpVersion": "HTTP/1.1", "headers": [{{"name": "Sec-WebSocket-Protocol", "value": "xmpp"}}]}},
                "timings": {{"send": 0, "wait": 100, "receive": 0}},
                "_webSocketMessages": [
                  {{"type": "send", "time": 1772442000.01, "opcode": 1, "data": "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='finesse1' version='1.0'/>"}},
                  {{"type": "send", "time": 1772442000.02, "opcode": 1, "data": "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHUAc2VjcmV0</auth>"}},
                  {{"type": "receive", "time": 1772442005.0, "opcode": 1, "data": "<message xmlns='jabber:client' from='pubsub.finesse1'/>"}}
                ]}}]}}}}"#
            ),
        );
        let model = report(&har.0, &Options::default(), Selection::All).expect("reads");
        let codes: Vec<&str> = model.findings.iter().map(|f| f.code.code()).collect();
        assert!(codes.contains(&"har.messages_after_close"), "{codes:?}");
        let late = model
            .timeline
            .iter()
            .find(|e| matches!(&e.detail, Detail::XmppStanza(s) if s.name == "message"))
            .expect("the late message's stanza");
        let place = Position::Har(HarPosition {
            entry: 0,
            message: Some(2),
        });
        assert_eq!(late.position(), Some(place));
        assert_eq!((late.stream, late.session), (Some(0), Some(1)));
        let session = model.sessions.first().expect("a session");
        assert_eq!(session.ended, "unknown (HAR)");
        assert!(!session.ended.contains("1006"));
        let json = serde_json::to_string(&model.timeline).expect("serialises");
        assert!(!json.contains("AHUAc2VjcmV0"), "SASL PLAIN payload shown");
        assert_eq!(model.capture.har.as_ref().map(|h| h.messages), Some(3));
    }

    /// Every prefix of a real Chromium HAR is either the whole report or an
    /// error naming where the JSON broke off, never a panic; each is cut at
    /// a different place (every 997th byte, and the last 64 bytes one by one).
    #[test]
    fn every_prefix_of_a_har_is_an_error_at_its_end_or_the_whole_report() {
        use crate::har;
        use crate::pipeline::PipelineError;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let whole = std::fs::read(root.join("fixtures/har/finesse-ws.har")).expect("fixture");
        let full = TempHar::new("whole", std::str::from_utf8(&whole).expect("UTF-8"));
        let complete = report(&full.0, &Options::default(), Selection::All).expect("reads");
        let cuts = (1..whole.len())
            .step_by(997)
            .chain(whole.len().saturating_sub(64)..whole.len());
        for cut in cuts {
            let prefix = String::from_utf8_lossy(whole.get(..cut).unwrap_or_default()).into_owned();
            let har = TempHar::new("prefix", &prefix);
            match report(&har.0, &Options::default(), Selection::All) {
                Err(PipelineError::Har(har::Error::Truncated { offset })) => {
                    assert!(offset <= cut as u64, "cut {cut}: offset {offset}");
                }
                // Too short to be recognised as a HAR: read as a capture, refused.
                Err(PipelineError::Capture(_)) => assert!(cut < 16, "cut {cut}"),
                Err(other) => panic!("cut {cut}: {other}"),
                // Only trailing whitespace was cut.
                Ok(model) => assert_eq!(model.timeline.len(), complete.timeline.len(), "cut {cut}"),
            }
        }
    }

    /// BOSH request and response bodies pair by entry; the session's stream
    /// is its first request's entry, and its SASL payload is redacted.
    #[test]
    fn bosh_bodies_pair_by_entry_into_one_session() {
        let post = |n: usize, rid: u64, body: &str, answer: &str| {
            format!(
                r#"{{"_resourceType": "xhr", "startedDateTime": "2026-03-02T09:00:0{n}.000Z", "time": 20,
                "request": {{"method": "POST", "url": "https://finesse1:7443/http-bind/", "httpVersion": "HTTP/1.1", "headers": [],
                  "postData": {{"mimeType": "text/xml", "text": "<body rid='{rid}' sid='s1' xmlns='http://jabber.org/protocol/httpbind'>{body}</body>"}}}},
                "response": {{"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [],
                  "content": {{"mimeType": "text/xml", "text": "<body xmlns='http://jabber.org/protocol/httpbind'>{answer}</body>"}}}},
                "serverIPAddress": "10.20.30.41", "timings": {{"send": 1, "wait": 10, "receive": 9}}}}"#
            )
        };
        let entries = [
            post(0, 10, "", "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"),
            r#"{"_resourceType": "preflight", "startedDateTime": "2026-03-02T09:00:00.500Z", "time": 1, "request": {"method": "OPTIONS", "url": "https://finesse1:7443/http-bind/", "httpVersion": "HTTP/1.1", "headers": [{"name": "Access-Control-Request-Method", "value": "POST"}]}, "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": []}, "timings": {}}"#.to_owned(),
            post(1, 11, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHUAc2VjcmV0</auth>", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
        ];
        let har = TempHar::new("bosh", &format!("{HEAD}{}]}}}}", entries.join(",")));
        let model = report(&har.0, &Options::default(), Selection::All).expect("reads");
        assert_eq!(model.sessions.len(), 1, "{:?}", model.findings);
        let session = &model.sessions[0];
        assert_eq!(session.streams, [0, 2]);
        assert_eq!(session.server, "10.20.30.41:7443".parse().ok());
        assert_eq!(
            session
                .xmpp
                .sasl
                .as_ref()
                .and_then(|s| s.outcome.as_deref()),
            Some("success")
        );
        // The preflight's exchange is an event, not a line among the connections.
        let streams: Vec<u64> = model.connections.iter().map(|c| c.stream).collect();
        assert_eq!(streams, [0, 2]);
        assert!(model
            .timeline
            .iter()
            .any(|e| e.stream == Some(1) && e.kind() == "http.exchange"));
        let json = serde_json::to_string(&model.timeline).expect("serialises");
        assert!(!json.contains("AHUAc2VjcmV0"), "SASL PLAIN payload shown");
        assert!(!model
            .findings
            .iter()
            .any(|f| f.code.code() == "har.no_xmpp"));
    }
}
