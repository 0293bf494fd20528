//! HTTP flows: keep-alive, pipelining, bodies, upgrades, redaction, errors, gaps.

use std::io::Write;

use super::*;
use crate::http::Protocol;

fn limits() -> Limits {
    Limits::default()
}

const GET1: &[u8] = b"GET /a HTTP/1.1\r\nHost: f\r\n\r\n";
const OK1: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
const GET2: &[u8] = b"GET /b HTTP/1.1\r\nHost: f\r\n\r\n";
const OK2: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";

#[test]
fn keep_alive_pairs_in_order_any_chunking() {
    let script = [data(C, GET1), data(S, OK1), data(C, GET2), data(S, OK2)];
    let run = run_all_ways(&script, &limits(), false);
    let rec = run.rec();
    let x = rec.exchanges();
    assert_eq!(x.len(), 2, "{:?}", rec.events);
    let (q, r) = (
        x[0].request.as_ref().unwrap(),
        x[0].response.as_ref().unwrap(),
    );
    assert_eq!(
        (q.method.as_str(), q.path.as_str(), q.version),
        ("GET", "/a", "HTTP/1.1")
    );
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.body.text.as_deref(), Some("hello"));
    assert_eq!((q.first.frame, r.first.frame, r.last.frame), (1, 2, 2));
    assert_eq!(x[0].latency_ms, Some(1000.0));
    assert_eq!(x[1].response.as_ref().unwrap().status, 204);
    assert_eq!(x[1].index, 1);
    assert!(rec.findings().is_empty(), "{:?}", rec.findings());
}

#[test]
fn pipelined_requests_pair_fifo_with_head_and_interim() {
    let reqs = [
        &b"GET /1 HTTP/1.1\r\nHost: f\r\n\r\n"[..],
        b"HEAD /2 HTTP/1.1\r\nHost: f\r\n\r\n",
        b"POST /3 HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    ]
    .concat();
    let resps = [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    ]
    .concat();
    let run = run_all_ways(&[data(C, &reqs), data(S, &resps)], &limits(), false);
    let rec = run.rec();
    let x = rec.exchanges();
    let pairs: Vec<_> = x
        .iter()
        .map(|e| {
            (
                e.request.as_ref().unwrap().path.clone(),
                e.response.as_ref().unwrap().status,
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [("/1".into(), 200), ("/2".into(), 200), ("/3".into(), 201)]
    );
    assert_eq!(x[1].response.as_ref().unwrap().body.wire_len, 0);
    assert_eq!(x[2].informational, [100]);
    assert_eq!(x[2].request.as_ref().unwrap().body.text, None);
    assert_eq!(x[2].request.as_ref().unwrap().body.wire_len, 3);
    assert!(rec.findings().is_empty());
}

#[test]
fn chunked_response_with_trailers() {
    let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n4\r\n{\"a\"\r\n3;x=1\r\n:1}\r\n0\r\nX-Sum: 9\r\n\r\n";
    let run = run_all_ways(
        &[data(C, GET1), data(S, resp), data(C, GET2)],
        &limits(),
        false,
    );
    let rec = run.rec();
    let r = rec.exchanges()[0].response.clone().unwrap();
    assert_eq!(r.body.text.as_deref(), Some("{\"a\":1}"));
    assert_eq!(r.body.trailers, ["X-Sum"]);
    assert!(rec.exchanges()[1].unanswered);
    assert_eq!(rec.codes(), ["http.unanswered"]);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn with_body(head: &str, body: &[u8]) -> Vec<u8> {
    [head.as_bytes(), body].concat()
}

#[test]
fn gzip_body_is_inflated() {
    let body = gzip(b"<ApiErrors><ApiError><ErrorType>Authentication Failure</ErrorType></ApiError></ApiErrors>");
    let resp = with_body(
        &format!("HTTP/1.1 401 Unauthorized\r\nContent-Encoding: gzip\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n", body.len()),
        &body,
    );
    let run = run_all_ways(&[data(C, GET1), data(S, &resp)], &limits(), false);
    let rec = run.rec();
    let r = rec.exchanges()[0].response.clone().unwrap();
    assert!(r
        .body
        .text
        .unwrap()
        .contains("<ErrorType>Authentication Failure</ErrorType>"));
    assert_eq!(r.body.wire_len, body.len() as u64);
    assert!(rec.findings().is_empty());
}

#[test]
fn gzip_bomb_is_capped_with_a_finding() {
    let bomb = gzip(&vec![b'a'; 4 << 20]);
    let resp = with_body(
        &format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n", bomb.len()),
        &bomb,
    );
    let lim = Limits {
        max_http_body: 64 << 10,
        ..limits()
    };
    let run = run_with(
        &[data(C, GET1), data(S, &resp)],
        Cut::Whole,
        &lim,
        false,
        None,
    );
    let rec = run.rec();
    assert_eq!(rec.codes(), ["http.inflate_limit"]);
    let r = rec.exchanges()[0].response.clone().unwrap();
    assert!(r.body.decoded_len <= 64 << 10);
}

#[test]
fn body_over_cap_is_counted_and_skipped() {
    let lim = Limits {
        max_http_body: 4,
        ..limits()
    };
    let run = run_all_ways(
        &[data(C, GET1), data(S, OK1), data(C, GET2), data(S, OK2)],
        &lim,
        false,
    );
    let rec = run.rec();
    let r = rec.exchanges()[0].response.clone().unwrap();
    assert_eq!(
        (r.body.wire_len, r.body.skipped, r.body.text.as_deref()),
        (5, 1, Some("hell"))
    );
    assert_eq!(rec.codes(), ["http.body_truncated"]);
    assert_eq!(rec.exchanges().len(), 2);
}

#[test]
fn close_delimited_response_ends_at_close() {
    let resp = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
    let script = [
        data(C, GET1),
        data(S, resp),
        data(S, b" and more"),
        Step::Close(S),
    ];
    let run = run_all_ways(&script, &limits(), false);
    let rec = run.rec();
    let r = rec.exchanges()[0].response.clone().unwrap();
    assert_eq!(r.body.text.as_deref(), Some("all of it and more"));
    assert!(r.body.complete);
    assert_eq!(r.last.frame, 3);
    assert!(rec.findings().is_empty());
}

const WS_REQ: &[u8] = b"GET /ws/ HTTP/1.1\r\nHost: finesse1:8445\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
const WS_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
const WS_FRAME: &[u8] = b"\x81\x05<open>";

#[test]
fn websocket_upgrade_hands_over_at_the_exact_byte() {
    let s2c = [WS_101, WS_FRAME].concat();
    let c2s_frame = b"\x81\x85abcd\x5d\x0d\x13\x01\x0f";
    let run = run_all_ways(
        &[data(C, WS_REQ), data(S, &s2c), data(C, c2s_frame)],
        &limits(),
        false,
    );
    let rec = run.rec();
    let up = rec.upgrades()[0].clone();
    assert_eq!(up.protocol, Protocol::Websocket);
    assert_eq!(up.server_offset, WS_101.len() as u64);
    assert_eq!((up.server_at.frame, up.client_at.frame), (2, 1));
    assert_eq!(up.client_offset, WS_REQ.len() as u64);
    assert_eq!(up.accept_valid, Some(true));
    assert_eq!(up.subprotocol.as_deref(), Some("xmpp"));
    assert_eq!(
        up.extensions_offered.as_deref(),
        Some("permessage-deflate; client_max_window_bits")
    );
    assert_eq!(
        up.extensions_accepted.as_deref(),
        Some("permessage-deflate")
    );
    assert!(up.client_held.is_empty());
    assert_eq!(run.handed[S.index()], WS_FRAME);
    assert_eq!(run.handed[C.index()], c2s_frame);
    // The exchange comes before the upgrade, and nothing is left unanswered.
    assert!(matches!(rec.events[0], Ev::Exchange(_)));
    assert!(rec.findings().is_empty(), "{:?}", rec.findings());
}

#[test]
fn client_bytes_before_the_101_are_handed_over_in_order() {
    let early = [WS_REQ, WS_FRAME].concat();
    let run = run_all_ways(
        &[
            data(C, &early),
            data(C, b"\x81\x01x"),
            data(S, WS_101),
            data(C, b"\x81\x01y"),
        ],
        &limits(),
        false,
    );
    let rec = run.rec();
    let up = rec.upgrades()[0].clone();
    let held: Vec<(u64, Vec<u8>)> = up
        .client_held
        .iter()
        .map(|h| (h.at.frame, h.bytes.clone()))
        .collect();
    assert_eq!(held, [(1, WS_FRAME.to_vec()), (2, b"\x81\x01x".to_vec())]);
    assert_eq!(run.handed[C.index()], b"\x81\x01y");
}

#[test]
fn gaps_while_holding_client_bytes_are_kept_in_place() {
    let script = [
        data(C, WS_REQ),
        Step::Gap(C, 3),
        data(C, b"xyz"),
        Step::Gap(C, 2),
        data(S, WS_101),
    ];
    let rec = run_all_ways(&script, &limits(), false).rec();
    let up = rec.upgrades()[0].clone();
    let held: Vec<_> = up
        .client_held
        .iter()
        .map(|h| (h.at.frame, h.gap_before, h.bytes.clone()))
        .collect();
    assert_eq!(held, [(3, 3, b"xyz".to_vec())]);
    assert_eq!(up.client_dropped, 2);
}

#[test]
fn unanswered_upgrade_leaves_held_bytes_unparsed() {
    let mut conn = Connection::new(1, &limits(), false);
    let mut rec = Rec::default();
    assert_eq!(
        conn.on_data(C, frame(1, None), &[WS_REQ, b"abc"].concat(), &mut rec),
        WS_REQ.len() + 3
    );
    conn.finish(&mut rec);
    assert_eq!(conn.unparsed(C), 3);
    assert_eq!(rec.codes(), ["http.unanswered"]);
}

#[test]
fn refused_upgrades_are_findings_and_http_goes_on() {
    for (status, words) in [
        ("503 Service Unavailable", "Openfire"),
        ("401 Unauthorized", "authentication"),
        ("403 Forbidden", "forbids"),
        ("404 Not Found", "no WebSocket endpoint"),
    ] {
        let req = String::from_utf8_lossy(WS_REQ).replace("Sec-WebSocket-Protocol: xmpp\r\n", "");
        let resp = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        let script = [
            data(C, req.as_bytes()),
            data(C, GET2),
            data(S, resp.as_bytes()),
            data(S, OK1),
        ];
        let run = run_all_ways(&script, &limits(), false);
        let rec = run.rec();
        assert!(rec.upgrades().is_empty());
        let f = rec.findings();
        assert_eq!(rec.codes(), ["http.ws_refused"], "{status}");
        assert!(f[0].message.contains(words), "{status}: {}", f[0].message);
        assert_eq!(f[0].frame, Some(3));
        // The request held behind the upgrade is parsed once the refusal arrives.
        let paths: Vec<_> = rec
            .exchanges()
            .iter()
            .map(|e| e.request.as_ref().unwrap().path.clone())
            .collect();
        assert_eq!(paths, ["/ws/", "/b"]);
    }
}

#[test]
fn wrong_accept_is_an_error_finding() {
    let bad = String::from_utf8_lossy(WS_101).replace(
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let run = run_all_ways(
        &[data(C, WS_REQ), data(S, bad.as_bytes())],
        &limits(),
        false,
    );
    let rec = run.rec();
    assert_eq!(rec.codes(), ["http.ws_bad_accept"]);
    assert_eq!(rec.upgrades()[0].accept_valid, Some(false));
}

#[test]
fn non_websocket_101_is_another_protocol() {
    let req = b"POST /v1.24/containers/x/attach?stream=1 HTTP/1.1\r\nHost: d\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n";
    let resp = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00";
    let run = run_all_ways(
        &[data(C, req), data(S, resp), data(C, b"ls\n")],
        &limits(),
        false,
    );
    let rec = run.rec();
    assert_eq!(rec.upgrades()[0].protocol, Protocol::Other("tcp".into()));
    assert_eq!(run.handed[S.index()], b"\x01\x00\x00\x00");
    assert_eq!(run.handed[C.index()], b"ls\n");
}

#[test]
fn connect_tunnel_switches() {
    let req = b"CONNECT finesse1:8445 HTTP/1.1\r\nHost: finesse1:8445\r\n\r\n";
    let resp = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03";
    let run = run_all_ways(
        &[data(C, req), data(C, b"\x16\x03\x01"), data(S, resp)],
        &limits(),
        false,
    );
    let rec = run.rec();
    assert_eq!(rec.upgrades()[0].protocol, Protocol::Tunnel);
    assert_eq!(rec.upgrades()[0].client_held[0].bytes, b"\x16\x03\x01");
    assert_eq!(run.handed[S.index()], b"\x16\x03\x03");
}

const SECRET_REQ: &[u8] = b"PUT /finesse/api/User/1001?password=hunter2 HTTP/1.1\r\nHost: f\r\nAuthorization: Basic MTAwMTpodW50ZXIy\r\nCookie: JSESSIONID=abc; lang=en\r\nrequestId: 5f1c\r\nContent-Type: application/xml\r\nContent-Length: 38\r\n\r\n<User><state>READY</state></User>\r\n\r\n\r\n";
const SECRET_RESP: &[u8] = b"HTTP/1.1 202 Accepted\r\nSet-Cookie: JSESSIONID=xyz; Path=/; Secure\r\nContent-Length: 0\r\n\r\n";

#[test]
fn redaction_on_and_off() {
    let script = [data(C, SECRET_REQ), data(S, SECRET_RESP)];
    let run = run_all_ways(&script, &limits(), false);
    let rec = run.rec();
    let x = rec.exchanges()[0].clone();
    let q = x.request.unwrap();
    assert_eq!(q.path, "/finesse/api/User/1001?password=<redacted>");
    assert_eq!(q.headers.authorization.as_deref(), Some("Basic <redacted>"));
    assert_eq!(
        q.headers.cookie.as_deref(),
        Some("JSESSIONID=<redacted>; lang=<redacted>")
    );
    assert_eq!(q.headers.request_id.as_deref(), Some("5f1c"));
    assert!(q
        .body
        .text
        .as_deref()
        .unwrap()
        .starts_with("<User><state>READY</state></User>"));
    let r = x.response.unwrap();
    assert_eq!(
        r.headers.set_cookie,
        ["JSESSIONID=<redacted>; Path=/; Secure"]
    );
    let json = serde_json::to_string(&rec.exchanges()[0]).unwrap();
    assert!(
        !json.contains("hunter2") && !json.contains("MTAwMTpodW50ZXIy") && !json.contains("xyz")
    );

    let shown = run_with(&script, Cut::Whole, &limits(), true, None).rec();
    let q = shown.exchanges()[0].request.clone().unwrap();
    assert_eq!(q.path, "/finesse/api/User/1001?password=hunter2");
    assert_eq!(
        q.headers.authorization.as_deref(),
        Some("Basic MTAwMTpodW50ZXIy")
    );
}

#[test]
fn malformed_heads_name_their_finding_and_parsing_resumes() {
    let cases: [(&[u8], &str); 5] = [
        (b"GET / HTTQ/1.1\r\n\r\n", "http.bad_start_line"),
        (
            b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "http.bad_header",
        ),
        (
            b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
            "http.too_many_headers",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "http.conflicting_lengths",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            "http.bad_content_length",
        ),
    ];
    let lim = Limits {
        max_http_headers: 2,
        ..limits()
    };
    for (bad, code) in cases {
        let c2s = [bad, GET2].concat();
        let run = run_all_ways(&[data(C, &c2s), data(S, OK2), data(S, OK2)], &lim, false);
        let rec = run.rec();
        assert_eq!(rec.codes().first(), Some(&code), "{:?}", rec.codes());
        let paths: Vec<_> = rec
            .exchanges()
            .iter()
            .filter_map(|e| e.request.clone())
            .map(|r| r.path)
            .collect();
        assert_eq!(paths.last().map(String::as_str), Some("/b"), "{code}");
    }
}

#[test]
fn oversized_head_is_a_finding() {
    let lim = Limits {
        max_http_head: 64,
        ..limits()
    };
    let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(100));
    let c2s = [long.as_bytes(), GET2].concat();
    let run = run_all_ways(&[data(C, &c2s), data(S, OK2)], &lim, false);
    let rec = run.rec();
    assert_eq!(rec.codes()[0], "http.head_too_large");
    assert_eq!(rec.exchanges()[0].request.as_ref().unwrap().path, "/b");
}

#[test]
fn transfer_encoding_and_length_conflict() {
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    let rec = run_all_ways(&[data(C, GET1), data(S, resp)], &limits(), false).rec();
    assert_eq!(rec.codes(), ["http.length_conflict"]);
    assert_eq!(
        rec.exchanges()[0].response.as_ref().unwrap().body.wire_len,
        2
    );
}

#[test]
fn bad_chunk_size_cuts_the_body() {
    let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 204 No Content\r\n\r\n";
    let rec = run_all_ways(
        &[data(C, GET1), data(C, GET2), data(S, resp)],
        &limits(),
        false,
    )
    .rec();
    assert_eq!(rec.codes()[..2], ["http.bad_chunk_size", "http.resync"]);
    let x = rec.exchanges();
    assert!(!x[0].response.as_ref().unwrap().body.complete);
    assert_eq!(x[1].response.as_ref().unwrap().status, 204);
}

#[test]
fn gap_in_a_head_resynchronises_at_the_next_request() {
    let script = [
        data(C, b"GET /lost HTTP/1.1\r\nHo"),
        Step::Gap(C, 50),
        data(C, b"st: x\r\n\r\n"),
        data(C, GET2),
        data(S, OK2),
    ];
    let run = run_all_ways(&script, &limits(), false);
    let rec = run.rec();
    assert_eq!(rec.codes(), ["http.gap", "http.resync"]);
    assert_eq!(rec.findings()[0].frame, Some(2));
    assert_eq!(rec.findings()[1].frame, Some(4));
    let x = rec.exchanges();
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].request.as_ref().unwrap().path, "/b");
}

/// A partial key log: the server's bytes were captured but not decrypted.
/// They are told once as "not decrypted" (info) and summed at the end,
/// never as lost; the request without a readable answer is no warning.
#[test]
fn undecrypted_server_bytes_are_not_decrypted_never_lost() {
    const WHY: &str = "no key for the server's direction";
    let script = [
        data(C, GET1),
        Step::Undecrypted(S, 120, WHY),
        data(C, GET2),
        Step::Undecrypted(S, 30, WHY),
        Step::Undecrypted(S, 12, WHY),
    ];
    let rec = run_all_ways(&script, &limits(), false).rec();
    assert_eq!(
        rec.codes(),
        [
            "http.not_decrypted",
            "http.not_decrypted",
            "http.response_not_decrypted",
            "http.response_not_decrypted",
        ]
    );
    let f = rec.findings();
    assert_eq!(
        f[0].message,
        "120 bytes not decrypted (no key for the server's direction); parsing resynchronises at the next message start"
    );
    assert_eq!(f[0].level, crate::finding::Level::Info);
    assert_eq!(
        f[1].message,
        "42 more bytes not decrypted in 2 more stretches of the server's direction"
    );
    assert!(f.iter().all(|f| f.level == crate::finding::Level::Info));
    assert_eq!(rec.exchanges().len(), 2);
}

#[test]
fn gap_inside_a_length_body_keeps_sync() {
    let script = [
        data(C, GET1),
        data(S, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01"),
        Step::Gap(S, 4),
        data(S, b"6789"),
        data(C, GET2),
        data(S, OK2),
    ];
    let rec = run_all_ways(&script, &limits(), false).rec();
    assert_eq!(rec.codes(), ["http.gap"]);
    let x = rec.exchanges();
    assert_eq!(x[0].response.as_ref().unwrap().body.missing, 4);
    assert_eq!(x[1].response.as_ref().unwrap().status, 204);
}

#[test]
fn unanswered_request_and_orphan_response() {
    let rec = run_all_ways(&[data(S, OK2), data(C, GET1)], &limits(), false).rec();
    assert_eq!(
        rec.codes(),
        ["http.response_without_request", "http.unanswered"]
    );
    let x = rec.exchanges();
    assert!(x[0].request.is_none() && !x[0].unanswered);
    assert!(x[1].response.is_none() && x[1].unanswered);
}

#[test]
fn rest_error_body_is_kept_as_text() {
    let body = "<ApiErrors><ApiError><ErrorType>Invalid State</ErrorType><ErrorMessage>Cannot change state</ErrorMessage></ApiError></ApiErrors>";
    let resp = format!("HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let rec = run_all_ways(
        &[data(C, SECRET_REQ), data(S, resp.as_bytes())],
        &limits(),
        false,
    )
    .rec();
    let x = rec.exchanges()[0].clone();
    assert_eq!(x.request.unwrap().method, "PUT");
    let r = x.response.unwrap();
    assert_eq!((r.status, r.body.text.as_deref()), (400, Some(body)));
}

#[test]
fn garbage_instead_of_a_response_is_skipped() {
    let rec = run_all_ways(
        &[data(C, GET1), data(S, b"\x00\x01garbage\r\n"), data(S, OK2)],
        &limits(),
        false,
    )
    .rec();
    assert_eq!(rec.codes(), ["http.bad_start_line", "http.resync"]);
    assert_eq!(rec.exchanges()[0].response.as_ref().unwrap().status, 204);
}

#[test]
fn fuzz_smoke_is_deterministic_and_panic_free() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: [&[u8]; 10] = [
        GET1,
        OK1,
        WS_REQ,
        WS_101,
        SECRET_REQ,
        b"0\r\n\r\n",
        b"\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><iq/></body>",
        b"HTTP/1.1 ",
    ];
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..(next() % 12) {
            let p = pieces[(next() % pieces.len() as u64) as usize];
            let cut = (next() as usize) % (p.len() + 1);
            input.extend_from_slice(&p[..cut]);
            input.push((next() & 0xff) as u8);
        }
        crate::fuzzing::http_connection(&input);
        crate::fuzzing::http_heads(&input);
        crate::fuzzing::http_bosh_body(&input);
    }
}

#[test]
fn held_bytes_are_the_head_and_body_read_so_far() {
    let at = FrameRef::new(1, Timestamp::default());
    let mut conn = Connection::new(0, &limits(), false);
    let mut rec = Rec::default();
    let post = b"POST /x HTTP/1.1\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n";
    let (head, end) = post.split_at(20);
    assert_eq!(conn.held_bytes(), 0);
    conn.on_data(C, at, head, &mut rec);
    assert_eq!(conn.held_bytes(), 20, "a head waiting for its end");
    conn.on_data(C, at, end, &mut rec);
    conn.on_data(C, at, b"0123", &mut rec);
    assert_eq!(conn.held_bytes(), 4, "the body kept so far");
    conn.on_data(C, at, b"456789", &mut rec);
    assert_eq!(
        conn.held_bytes(),
        10,
        "the request's body text waits for its response"
    );
    conn.on_data(S, at, OK2, &mut rec);
    assert_eq!(conn.held_bytes(), 0, "paired and given: nothing held");
    assert_eq!(rec.exchanges().len(), 1);
}
