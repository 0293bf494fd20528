//! The committed HARs under fixtures/har/: real Chromium 156 exports written
//! by DevTools itself (tools/har-recorder/record.js) and the edge cases
//! derived from them (tools/har-recorder/edge-cases.js). Counts are checked
//! against an independent whole-document parse (serde_json::Value), content
//! against what the recorder's server and page are known to have said.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::position::Dir;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/har")
        .join(name)
}

fn read_fixture(name: &str) -> (Result<Summary, Error>, Collected) {
    let file = File::open(path(name)).expect("fixture present");
    let mut sink = Collected::default();
    let result = read(file, &HarLimits::default(), &mut sink);
    (result, sink)
}

/// The whole document as a `Value`: the oracle for counts.
fn oracle(name: &str) -> Value {
    let mut bytes = std::fs::read(path(name)).expect("fixture present");
    if name.ends_with(".gz") {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .expect("gzip");
        bytes = plain;
    }
    serde_json::from_slice(&bytes).expect("valid JSON")
}

/// Entries and messages match the oracle one for one.
fn check_against_oracle(name: &str, sink: &Collected) {
    let doc = oracle(name);
    let entries = doc["log"]["entries"].as_array().expect("entries");
    assert_eq!(sink.entries.len(), entries.len(), "{name}");
    for (entry, raw) in sink.entries.iter().zip(entries) {
        assert_eq!(
            entry.request.url,
            raw["request"]["url"].as_str().unwrap_or_default()
        );
        let raw_messages = raw["_webSocketMessages"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let given: Vec<_> = sink
            .messages
            .iter()
            .filter(|m| m.entry == entry.index)
            .collect();
        assert_eq!(
            given.len(),
            raw_messages.len(),
            "{name} entry {}",
            entry.index
        );
        for (message, raw) in given.iter().zip(raw_messages) {
            let text = raw["data"].as_str().unwrap_or_default();
            match &message.payload {
                WsPayload::Data {
                    dir,
                    opcode: 1,
                    data,
                    ..
                } => {
                    assert_eq!(data.as_slice(), text.as_bytes());
                    let expected = if raw["type"] == "send" {
                        Dir::ClientToServer
                    } else {
                        Dir::ServerToClient
                    };
                    assert_eq!(*dir, expected);
                }
                WsPayload::Data { opcode: 2, .. } => {}
                WsPayload::Error { text: error } => assert_eq!(error, text),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

fn data_text(message: &WsMessage) -> Option<(Dir, &str)> {
    match &message.payload {
        WsPayload::Data { dir, data, .. } => Some((*dir, std::str::from_utf8(data).ok()?)),
        WsPayload::Error { .. } => None,
    }
}

fn session_entry(sink: &Collected) -> &Entry {
    let found = sink
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::WebSocket && e.response.status == Some(101));
    found.expect("a WebSocket that opened")
}

#[test]
fn websocket_recording_gives_the_xmpp_session_and_the_rest_put() {
    let (result, sink) = read_fixture("finesse-ws.har");
    let summary = result.expect("reads");
    check_against_oracle("finesse-ws.har", &sink);
    let header = sink.header.as_ref().expect("header");
    assert_eq!(
        (header.creator.as_deref(), header.version.as_deref()),
        (Some("WebInspector"), Some("1.2"))
    );

    let ws = session_entry(&sink);
    assert_eq!(ws.request.method, "GET");
    assert_eq!(ws.request.header("Sec-WebSocket-Protocol"), Some("xmpp"));
    assert_eq!(
        ws.request.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; client_max_window_bits")
    );
    assert_eq!(
        ws.response.header("sec-websocket-extensions"),
        Some("permessage-deflate")
    );
    assert_eq!(
        ws.server_ip, None,
        "Chrome leaves serverIPAddress empty for WebSockets"
    );
    let messages: Vec<_> = sink
        .messages
        .iter()
        .filter(|m| m.entry == ws.index)
        .filter_map(data_text)
        .collect();
    assert_eq!(summary.messages, sink.messages.len());
    let first = messages.first().expect("messages");
    assert_eq!(first.0, Dir::ClientToServer);
    assert!(
        first.1.starts_with("<open ") && first.1.contains("urn:ietf:params:xml:ns:xmpp-framing"),
        "{}",
        first.1
    );
    assert!(messages
        .iter()
        .any(|(d, t)| *d == Dir::ClientToServer && t.starts_with("<auth mechanism=\"PLAIN\"")));
    assert!(messages
        .iter()
        .any(|(_, t)| t.contains("id=\"_bind_auth_2\"")));
    assert!(
        messages.iter().any(|(_, t)| t.contains("AT&amp;amp;T")),
        "the call variable, escaped twice"
    );
    let close = "<close xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\"/>";
    let tail = messages
        .get(messages.len().saturating_sub(2)..)
        .unwrap_or_default();
    assert_eq!(
        tail,
        [(Dir::ClientToServer, close), (Dir::ServerToClient, close)]
    );
    // The notification the server sent after its <close/> is in
    // finesse-ws.pcapng but not here: it arrived after the page's Close frame,
    // and Chrome records nothing after that.
    assert!(!messages.iter().any(|(_, t)| t.contains("LOGOUT")));

    let put = sink
        .entries
        .iter()
        .find(|e| e.request.method == "PUT")
        .expect("REST PUT");
    assert_eq!(
        put.request.url,
        "http://127.0.0.1:18445/finesse/api/User/1001"
    );
    let request_id = put.request.header("requestId").expect("requestId header");
    assert_eq!(request_id.len(), 36);
    assert!(put
        .request
        .header("Authorization")
        .is_some_and(|v| v.starts_with("Basic ")));
    let body = put.request.body.as_ref().and_then(Body::text);
    assert_eq!(body, Some("<User><state>READY</state></User>"));
    assert_eq!(
        (put.response.status, put.response.status_text.as_str()),
        (Some(202), "Accepted")
    );
    // The Update echoing the requestId arrived over the WebSocket after the PUT.
    let echo = sink.messages.iter().find(|m| {
        data_text(m).is_some_and(|(_, t)| {
            t.contains(&format!("&lt;requestId&gt;{request_id}&lt;/requestId&gt;"))
        })
    });
    let echo = echo.expect("the requestId-matched Update");
    assert!(echo.time > put.started);

    // Times: messages in order, inside their entry.
    let times: Vec<_> = sink
        .messages
        .iter()
        .filter(|m| m.entry == ws.index)
        .filter_map(|m| m.time)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(times.first() >= ws.started.as_ref() && times.last() <= ws.ended().as_ref());

    let codes: Vec<_> = sink.findings.iter().map(Finding::code).collect();
    assert_eq!(
        codes,
        [
            "har.websocket_never_sent",
            "har.websocket_failed",
            "har.negative_sizes"
        ]
    );
    match &sink.findings[0] {
        Finding::WebSocketNeverSent {
            entry: 0,
            url,
            reason,
        } => {
            assert_eq!(url, "ws://127.0.0.1:18446/ws/");
            assert!(reason
                .as_deref()
                .is_some_and(|r| r.contains("ERR_CONNECTION_REFUSED")));
        }
        other => panic!("{other:?}"),
    }
    match &sink.findings[1] {
        Finding::WebSocketFailed {
            status: 0,
            reason: Some(reason),
            ..
        } => assert!(reason.contains("503")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sanitized_export_drops_credentials_headers_but_keeps_payloads() {
    let (result, sink) = read_fixture("finesse-ws-sanitized.har");
    result.expect("reads");
    check_against_oracle("finesse-ws-sanitized.har", &sink);
    for entry in &sink.entries {
        for name in ["Cookie", "Authorization"] {
            assert_eq!(
                entry.request.header(name),
                None,
                "entry {} {name}",
                entry.index
            );
        }
        assert_eq!(entry.response.header("Set-Cookie"), None);
    }
    let put = sink
        .entries
        .iter()
        .find(|e| e.request.method == "PUT")
        .expect("REST PUT");
    assert!(put.request.header("requestId").is_some());
    // The SASL PLAIN credentials are still inside: redaction is a later stage's job.
    assert!(sink
        .messages
        .iter()
        .any(|m| data_text(m).is_some_and(|(_, t)| t.starts_with("<auth "))));
    let codes: Vec<_> = sink.findings.iter().map(Finding::code).collect();
    assert_eq!(
        codes,
        [
            "har.websocket_never_sent",
            "har.websocket_failed",
            "har.negative_sizes"
        ]
    );
}

#[test]
fn bosh_recording_gives_request_and_response_bodies() {
    let (result, sink) = read_fixture("finesse-bosh.har.gz");
    let summary = result.expect("reads gzip");
    check_against_oracle("finesse-bosh.har.gz", &sink);
    assert_eq!(summary.messages, 0);
    let posts: Vec<_> = sink
        .entries
        .iter()
        .filter(|e| e.request.method == "POST")
        .collect();
    let preflights = sink
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Preflight)
        .count();
    assert!(posts.len() >= 8, "{}", posts.len());
    assert_eq!(
        preflights,
        posts.len(),
        "one CORS preflight per cross-origin POST (Max-Age 0)"
    );
    let bodies: Vec<(&str, &str)> = posts
        .iter()
        .map(|e| {
            let request = e
                .request
                .body
                .as_ref()
                .and_then(Body::text)
                .unwrap_or_default();
            let response = e
                .response
                .body
                .as_ref()
                .and_then(Body::text)
                .unwrap_or_default();
            (request, response)
        })
        .collect();
    for (request, response) in &bodies {
        assert!(
            request.starts_with("<body ")
                && request.contains("http://jabber.org/protocol/httpbind"),
            "{request}"
        );
        assert!(response.starts_with("<body "), "{response}");
    }
    let (first_request, first_response) = bodies[0];
    assert!(first_request.contains("wait=\"10\"") && first_request.contains("hold=\"1\""));
    assert!(first_response.contains("sid=\"b0sh1f00d4c1e\""));
    assert!(bodies
        .iter()
        .any(|(q, _)| q.contains("mechanism=\"PLAIN\"")));
    assert!(bodies.iter().any(|(_, r)| r.contains("<success ")));
    assert!(bodies
        .iter()
        .any(|(q, _)| q.contains("xmpp:restart=\"true\"")));
    assert!(
        bodies.last().is_some_and(
            |(q, r)| q.contains("type=\"terminate\"") && r.contains("type=\"terminate\"")
        )
    );
    let put = sink
        .entries
        .iter()
        .find(|e| e.request.method == "PUT")
        .expect("REST PUT");
    let request_id = put.request.header("requestId").expect("requestId");
    let echoed = format!("&lt;requestId&gt;{request_id}&lt;/requestId&gt;");
    assert!(
        bodies.iter().any(|(_, r)| r.contains(&echoed)),
        "the Update came back in a BOSH response"
    );
    let codes: Vec<_> = sink.findings.iter().map(Finding::code).collect();
    assert_eq!(codes, ["har.negative_sizes"]);
}

#[test]
fn export_while_the_socket_is_open() {
    let (result, sink) = read_fixture("finesse-ws-open.har.gz");
    result.expect("reads");
    check_against_oracle("finesse-ws-open.har.gz", &sink);
    let ws = session_entry(&sink);
    assert_eq!(
        ws.timings.receive,
        Some(0.0),
        "no close yet: nothing after the last frame"
    );
    let last = sink
        .messages
        .iter()
        .rfind(|m| m.entry == ws.index)
        .and_then(data_text)
        .expect("messages");
    assert_eq!(last.0, Dir::ServerToClient);
    assert!(
        last.1.starts_with("<iq ") && last.1.contains("type=\"result\""),
        "the ping result: {}",
        last.1
    );
    assert!(!sink
        .findings
        .iter()
        .any(|f| f.code() == "har.messages_after_close"));
}

#[test]
fn binary_messages_are_decoded_from_base64() {
    let (result, sink) = read_fixture("finesse-binary.har");
    result.expect("reads");
    check_against_oracle("finesse-binary.har", &sink);
    let payloads: Vec<_> = sink
        .messages
        .iter()
        .filter_map(|m| match &m.payload {
            WsPayload::Data {
                dir,
                opcode,
                data,
                full_len,
            } => Some((*dir, *opcode, data.clone(), *full_len)),
            WsPayload::Error { .. } => None,
        })
        .collect();
    let short = vec![0u8, 1, 2, 3, 0xfe, 0xff];
    let long: Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
    let expected = [
        (Dir::ClientToServer, 2, short.clone(), 6),
        (Dir::ClientToServer, 2, long.clone(), 300),
        (Dir::ClientToServer, 1, b"text after binary".to_vec(), 17),
        (Dir::ServerToClient, 2, short, 6),
        (Dir::ServerToClient, 2, long, 300),
        (Dir::ServerToClient, 1, b"text after binary".to_vec(), 17),
    ];
    assert_eq!(payloads, expected);
    let codes: Vec<_> = sink.findings.iter().map(Finding::code).collect();
    assert_eq!(codes, ["har.negative_sizes"]);
}

#[test]
fn rest_only_har_has_no_websocket() {
    let (result, sink) = read_fixture("edge-rest-only.har");
    assert_eq!(result.map(|s| (s.entries, s.messages)).ok(), Some((4, 0)));
    assert!(sink.entries.iter().all(|e| e.kind == EntryKind::Http));
    assert!(sink
        .entries
        .iter()
        .any(|e| e.request.header("requestId").is_some()));
    assert_eq!(sink.findings, vec![]);
}

#[test]
fn failed_websockets_are_findings() {
    let (result, sink) = read_fixture("edge-failed-websocket.har");
    result.expect("reads");
    assert_eq!(sink.entries.len(), 2);
    assert_eq!(
        (
            sink.entries[0].request.method.as_str(),
            sink.entries[0].started
        ),
        ("", None)
    );
    assert_eq!(
        sink.messages[0].time, None,
        "a monotonic clock, not a wall clock"
    );
    let codes: Vec<_> = sink.findings.iter().map(Finding::code).collect();
    assert_eq!(codes, ["har.websocket_never_sent", "har.websocket_failed"]);
}

#[test]
fn out_of_order_entries_keep_file_order() {
    let (result, sink) = read_fixture("edge-out-of-order.har");
    result.expect("reads");
    check_against_oracle("edge-out-of-order.har", &sink);
    assert_eq!(sink.entries[0].request.method, "PUT");
    let out_of_order: Vec<_> = sink
        .findings
        .iter()
        .filter(|f| f.code() == "har.out_of_order")
        .collect();
    assert_eq!(
        out_of_order.len(),
        5,
        "each entry that started before the PUT: {out_of_order:?}"
    );
    assert!(matches!(
        out_of_order[0],
        Finding::OutOfOrder {
            entry: 2,
            previous_entry: 0,
            ..
        }
    ));
}

#[test]
fn truncated_har_gives_what_came_before_the_cut() {
    let (result, sink) = read_fixture("edge-truncated.har");
    let len = std::fs::metadata(path("edge-truncated.har"))
        .map(|m| m.len())
        .unwrap_or_default();
    match result {
        Err(Error::Truncated { offset }) => assert_eq!(offset, len),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sink.entries.len(),
        4,
        "three page entries, then the session"
    );
    assert_eq!(sink.entries[3].response.status, Some(101));
    let session: Vec<_> = sink.messages.iter().filter(|m| m.entry == 3).collect();
    assert_eq!(session.len(), 10, "the eleventh message was cut");
}

#[test]
fn invalid_har_names_the_byte() {
    let (result, sink) = read_fixture("edge-invalid.har");
    let bytes = std::fs::read(path("edge-invalid.har")).unwrap_or_default();
    match result {
        Err(Error::Syntax { offset, .. }) => assert_eq!(bytes.get(offset as usize), Some(&b';')),
        other => panic!("{other:?}"),
    }
    assert_eq!(sink.entries.len(), 1, "the entry before the bad byte");
}

#[test]
fn detection_claims_the_hars_and_none_of_the_captures() {
    let first = |path: PathBuf| {
        let mut head = Vec::new();
        let file = File::open(path).expect("fixture present");
        file.take(4096).read_to_end(&mut head).expect("readable");
        head
    };
    for name in [
        "finesse-ws.har",
        "finesse-bosh.har.gz",
        "edge-truncated.har",
        "edge-invalid.har",
    ] {
        assert_eq!(detect(&first(self::path(name))), Probe::Har, "{name}");
    }
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let captures = [
        fixtures.join("har/finesse-ws.pcapng"),
        fixtures.join("tcp-in-order.pcap"),
        fixtures.join("tcp-in-order.pcap.gz"),
        fixtures.join("tcp-ns-bigendian.pcap"),
        fixtures.join("tcp-two-sections.pcapng"),
    ];
    for capture in captures {
        assert_eq!(
            detect(&first(capture.clone())),
            Probe::NotHar,
            "{}",
            capture.display()
        );
    }
}
