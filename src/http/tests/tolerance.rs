//! One bad byte must not hide a session: a malformed header line is a
//! finding about that header, the exchange and the upgrade go on. Also the
//! Content-Length too large to believe.

use super::*;
use crate::http::Protocol;

const REQ_START: &[u8] = b"GET /ws/ HTTP/1.1\r\nHost: finesse1:8445\r\n";
const REQ_REST: &[u8] = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n";
const RESP_START: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n";
const RESP_REST: &[u8] = b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n";
const FRAME: &[u8] = b"\x81\x05<open>";

/// A bad header line, the byte where it goes wrong (from the line's start),
/// and what the finding says about it.
const BAD_LINES: [(&[u8], usize, &str); 7] = [
    (
        b"User-Agent: Mozilla/5.0 \x1b[0m Finesse",
        24,
        "byte 0x1b in the value",
    ),
    (b"User-Agent: a\x00b", 13, "byte 0x00 in the value"),
    (b"User-Agent: a\x7fb", 13, "byte 0x7f in the value"),
    (b"User-Agent: a\rb", 13, "a bare CR (no LF after it)"),
    (b"User\xffAgent: a", 4, "byte 0xff in the name"),
    (b"User-Agent Mozilla", 10, "byte 0x20 in the name"),
    (b"UserAgentWithoutColon", 21, "no colon after the name"),
];

/// Runs the handshake with `line` in the request (`in_request`) or in the
/// 101, in every chunking; checks the upgrade went on; gives the findings
/// and the offset of the bad line in its direction.
fn handshake_with(line: &[u8], in_request: bool) -> (Rec, u64) {
    let with = |start: &[u8], rest: &[u8]| [start, line, b"\r\n", rest].concat();
    let (req, resp) = if in_request {
        (with(REQ_START, REQ_REST), [RESP_START, RESP_REST].concat())
    } else {
        ([REQ_START, REQ_REST].concat(), with(RESP_START, RESP_REST))
    };
    let line_at = if in_request {
        REQ_START.len()
    } else {
        RESP_START.len()
    };
    let s2c = [resp.as_slice(), FRAME].concat();
    let run = run_all_ways(
        &[data(C, &req), data(S, &s2c), data(C, FRAME)],
        &Limits::default(),
        false,
    );
    let rec = run.rec();
    let ups = rec.upgrades();
    assert_eq!(
        ups.len(),
        1,
        "{:?}: {:?}",
        line.escape_ascii().to_string(),
        rec.codes()
    );
    let up = ups[0];
    assert_eq!(up.protocol, Protocol::Websocket);
    assert_eq!(up.accept_valid, Some(true));
    assert_eq!(up.subprotocol.as_deref(), Some("xmpp"));
    assert_eq!(
        (up.client_offset, up.server_offset),
        (req.len() as u64, resp.len() as u64)
    );
    assert_eq!(run.handed, [FRAME.to_vec(), FRAME.to_vec()]);
    let x = rec.exchanges();
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].response.as_ref().map(|r| r.status), Some(101));
    (rec, line_at as u64)
}

#[test]
fn a_bad_request_header_is_a_finding_and_the_upgrade_goes_on() {
    for (line, at, says) in BAD_LINES {
        let (rec, line_at) = handshake_with(line, true);
        let shown = line.escape_ascii().to_string();
        assert_eq!(rec.codes(), ["http.bad_header"], "{shown}");
        let f = rec.findings()[0].clone();
        assert_eq!(f.dir, Some(C), "{shown}");
        assert_eq!(f.frame, Some(1), "{shown}");
        assert_eq!(f.offset, Some(line_at + at as u64), "{shown}");
        assert!(f.message.contains(says), "{shown}: {}", f.message);
        assert!(f.message.contains("on line 3 of the head"), "{}", f.message);
        assert!(f.message.contains("the request goes on"), "{}", f.message);
        // The header was skipped: the exchange shows no User-Agent.
        let q = rec.exchanges()[0].request.clone().unwrap();
        assert_eq!(q.headers.user_agent, None, "{shown}");
        assert_eq!(q.headers.host.as_deref(), Some("finesse1:8445"));
    }
}

#[test]
fn the_finding_names_the_header_and_shows_its_value_escaped() {
    let (rec, _) = handshake_with(BAD_LINES[0].0, true);
    assert_eq!(
        rec.findings()[0].message,
        format!(
            "request header \"User-Agent\" on line 3 of the head: byte 0x1b in the value at stream offset {}; the header is skipped and the request goes on (line: \"Mozilla/5.0 \\x1b[0m Finesse\")",
            REQ_START.len() + 24
        )
    );
}

#[test]
fn a_bad_response_header_is_a_finding_and_the_upgrade_goes_on() {
    for (line, at, says) in BAD_LINES {
        let (rec, line_at) = handshake_with(line, false);
        let shown = line.escape_ascii().to_string();
        assert_eq!(rec.codes(), ["http.bad_header"], "{shown}");
        let f = rec.findings()[0].clone();
        assert_eq!((f.dir, f.frame), (Some(S), Some(2)), "{shown}");
        assert_eq!(f.offset, Some(line_at + at as u64), "{shown}");
        assert!(f.message.contains(says), "{shown}: {}", f.message);
        assert!(f.message.contains("the response goes on"), "{}", f.message);
    }
}

#[test]
fn non_ascii_bytes_in_a_value_are_kept_without_a_finding() {
    let (rec, _) = handshake_with(b"User-Agent: Agent \xc3\xa9\x80\xff", true);
    assert!(rec.findings().is_empty(), "{:?}", rec.codes());
    let q = rec.exchanges()[0].request.clone().unwrap();
    assert_eq!(
        q.headers.user_agent.as_deref(),
        Some("Agent \u{e9}\u{fffd}\u{fffd}")
    );
}

#[test]
fn a_content_length_too_large_to_believe_cannot_delimit_the_body() {
    let huge = b"POST /a HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nxyz\r\n";
    let next = b"GET /b HTTP/1.1\r\nHost: f\r\n\r\n";
    let ok = b"HTTP/1.1 204 No Content\r\n\r\n";
    let script = [
        data(C, &[huge.as_slice(), next].concat()),
        data(S, &[ok.as_slice(), ok].concat()),
    ];
    let rec = run_all_ways(&script, &Limits::default(), false).rec();
    let f = rec.findings()[0].clone();
    assert_eq!(f.code, "http.bad_content_length");
    assert_eq!(
        f.message,
        "Content-Length 18446744073709551615 exceeds the 1 TiB cap (1099511627776 bytes): no capture holds a body that long; the request body cannot be delimited"
    );
    // As for any bad length: the body is skipped up to the next request.
    assert_eq!(rec.codes(), ["http.bad_content_length", "http.resync"]);
    let paths: Vec<_> = rec
        .exchanges()
        .iter()
        .filter_map(|x| x.request.as_ref().map(|q| q.path.clone()))
        .collect();
    assert_eq!(paths, ["/a", "/b"]);
}

#[test]
fn a_control_byte_in_the_request_target_is_a_finding_and_the_upgrade_goes_on() {
    let req = [
        b"GET /ws/\x1b]0;pwned\x07 HTTP/1.1\r\nHost: finesse1:8445\r\n".as_slice(),
        REQ_REST,
    ]
    .concat();
    let s2c = [RESP_START, RESP_REST, FRAME].concat();
    let run = run_all_ways(
        &[data(C, &req), data(S, &s2c), data(C, FRAME)],
        &Limits::default(),
        false,
    );
    let rec = run.rec();
    assert_eq!(rec.upgrades().len(), 1, "{:?}", rec.codes());
    assert_eq!(
        rec.codes(),
        ["http.bad_start_line", "http.bad_start_line"],
        "{:?}",
        rec.findings()
    );
    let f = &rec.findings()[0];
    assert_eq!(f.offset, Some(8));
    assert!(
        f.message
            .starts_with("request line: byte 0x1b in the request target at stream offset 8; read as `?` and the request goes on"),
        "{}",
        f.message
    );
    let q = rec.exchanges()[0].request.clone().unwrap();
    assert_eq!(q.path, "/ws/?]0;pwned?");
}
