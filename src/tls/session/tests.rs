//! Session tests: hellos, resynchronising after garbage, unsupported suites, alerts, mid-stream records.

use super::*;
use crate::position::Timestamp;
use crate::tls::testutil::Collect;

fn at(frame: u64) -> FrameRef {
    FrameRef::new(frame, Timestamp::default())
}

fn record(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3];
    r.extend((body.len() as u16).to_be_bytes());
    r.extend(body);
    r
}

/// A minimal TLS 1.2 ServerHello choosing `suite` (RFC 5246 §7.4.1.3).
fn server_hello(suite: u16) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend([0x22; 32]);
    b.push(0);
    b.extend(suite.to_be_bytes());
    b.push(0);
    let mut m = vec![2, 0, 0, b.len() as u8];
    m.extend(b);
    record(22, &m)
}

#[test]
fn sslv2_client_hello_starts_a_session() {
    // RFC 5246 E.2: 2-byte header, type 1, version 3.1, specs, no session id, 16-byte challenge.
    let mut body = vec![1, 3, 1, 0, 3, 0, 0, 0, 16, 0, 0, 0x2f];
    body.extend([0xab; 16]);
    let mut rec = vec![0x80, body.len() as u8];
    rec.extend(&body);
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    s.on_data(&KeyLog::new(), Dir::ClientToServer, at(1), &rec, &mut sink);
    assert!(matches!(
        sink.events[0].kind,
        EventKind::ClientHello { sslv2: true, .. }
    ));
    assert!(s
        .summary()
        .client_random
        .as_deref()
        .unwrap()
        .ends_with(&"ab".repeat(16)));
}

#[test]
fn garbage_then_records_resynchronises() {
    let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
    bytes.extend(record(21, &[1, 0]));
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    s.on_data(
        &KeyLog::new(),
        Dir::ServerToClient,
        at(3),
        &bytes,
        &mut sink,
    );
    let codes: Vec<&str> = sink.findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.bad_record", "tls.resync"]);
    assert_eq!(
        sink.findings[0].message,
        "not a TLS record: unknown record content type 71; looking for the next record"
    );
    assert_eq!(s.summary().alerts[0].description, "close_notify");
    assert_eq!(s.summary().s2c.bytes_unparsed, 16);
}

#[test]
fn unsupported_suite_is_the_reason() {
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    s.on_data(
        &KeyLog::new(),
        Dir::ServerToClient,
        at(2),
        &server_hello(0x0005),
        &mut sink,
    );
    assert_eq!(
        s.summary().reason.as_deref(),
        Some("xmppcap does not decrypt RC4: suite 0x0005 (TLS_RSA_WITH_RC4_128_SHA)")
    );
    assert_eq!(sink.findings[0].code, "tls.unsupported_suite");
    assert_eq!(s.summary().version.as_deref(), Some("TLS 1.2"));
}

#[test]
fn fatal_alert_and_truncated_record_at_the_end() {
    let mut bytes = record(21, &[2, 40]);
    bytes.extend(&record(22, &[1, 0, 0, 9, 3])[..7]);
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    s.on_data(
        &KeyLog::new(),
        Dir::ServerToClient,
        at(4),
        &bytes,
        &mut sink,
    );
    s.finish(&mut sink);
    let messages: Vec<&str> = sink.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "fatal alert handshake_failure from the server",
            "connection ended inside a TLS record (7 bytes of it captured)"
        ]
    );
    assert_eq!(s.summary().s2c.bytes_unparsed, 7);
}

#[test]
fn encrypted_record_without_any_hello_is_midstream() {
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    s.on_data(
        &KeyLog::new(),
        Dir::ClientToServer,
        at(9),
        &record(23, &[0x55; 40]),
        &mut sink,
    );
    assert!(s.summary().midstream);
    assert_eq!(
        s.summary().reason.as_deref(),
        Some("ClientHello not captured")
    );
    assert_eq!(
        sink.gaps,
        [(
            Dir::ClientToServer,
            9,
            40,
            GapReason::ClientHelloNotCaptured
        )]
    );
}

#[test]
fn held_bytes_are_the_partial_record_and_handshake_message() {
    let hello = server_hello(0x002f);
    let (first, rest) = hello.split_at(3);
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    let keys = KeyLog::new();
    let s2c = Dir::ServerToClient;
    assert_eq!(s.held_bytes(), 0);
    s.on_data(&keys, s2c, at(1), first, &mut sink);
    assert_eq!(s.held_bytes(), 3, "a record header in progress");
    s.on_data(&keys, s2c, at(2), rest, &mut sink);
    assert_eq!(s.held_bytes(), 0, "the whole record was handled");
    // A handshake message split over two records: its first part is held.
    let message = hello.get(5..).unwrap();
    let (head, tail) = message.split_at(10);
    s.on_data(&keys, s2c, at(3), &record(22, head), &mut sink);
    assert_eq!(s.held_bytes(), 10);
    s.on_data(&keys, s2c, at(4), &record(22, tail), &mut sink);
    assert_eq!(s.held_bytes(), 0);
}

/// A minimal TLS 1.2 ClientHello offering one suite, no extensions
/// (RFC 5246 §7.4.1.2).
fn client_hello() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend([0x11; 32]);
    b.push(0);
    b.extend([0, 2, 0xc0, 0x2f, 1, 0]);
    let mut m = vec![1, 0, 0, b.len() as u8];
    m.extend(b);
    record(22, &m)
}

#[test]
fn a_client_hello_never_answered_is_an_incomplete_handshake() {
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    let keys = KeyLog::new();
    s.on_data(
        &keys,
        Dir::ClientToServer,
        at(4),
        &client_hello(),
        &mut sink,
    );
    s.finish(&mut sink);
    let codes: Vec<&str> = sink.findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.handshake_incomplete"]);
    assert_eq!(
        sink.findings[0].message,
        "the server never answered the ClientHello: the TLS handshake did not complete"
    );
    assert_eq!(sink.findings[0].frame, Some(4));
    assert_eq!(
        s.summary().describe(),
        "TLS, handshake not completed (a ClientHello, no ServerHello)"
    );
    // Answered: no finding.
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    s.on_data(
        &keys,
        Dir::ClientToServer,
        at(4),
        &client_hello(),
        &mut sink,
    );
    s.on_data(
        &keys,
        Dir::ServerToClient,
        at(5),
        &server_hello(0xc02f),
        &mut sink,
    );
    s.finish(&mut sink);
    assert!(sink
        .findings
        .iter()
        .all(|f| f.code != "tls.handshake_incomplete"));
    // The server sent bytes, none of them a ServerHello.
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    s.on_data(
        &keys,
        Dir::ClientToServer,
        at(4),
        &client_hello(),
        &mut sink,
    );
    s.on_data(
        &keys,
        Dir::ServerToClient,
        at(5),
        &record(21, &[2, 40]),
        &mut sink,
    );
    s.finish(&mut sink);
    let incomplete: Vec<&str> = sink
        .findings
        .iter()
        .filter(|f| f.code == "tls.handshake_incomplete")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        incomplete,
        ["no ServerHello could be read in the server's bytes: the TLS handshake did not complete, or its start was not captured whole"]
    );
}

#[test]
fn a_stopped_midstream_search_runs_once_and_its_reason_stays() {
    use crate::tls::keylog::KeySource;
    use crate::tls::midstream::{Stopped, DERIVATION_BYTES, TRIAL_FIXED_BYTES};
    use crate::tls::record_layer::ReadState;
    let mut lines = String::new();
    for random in ["01", "02", "03"] {
        let (random, secret) = (random.repeat(32), "77".repeat(32));
        lines += &format!("CLIENT_TRAFFIC_SECRET_0 {random} {secret}\n");
    }
    let mut keys = KeyLog::new();
    keys.add_text(
        lines.as_bytes(),
        KeySource::Named("t.keys".into()),
        &mut Vec::new(),
    );
    // Work for one secret in full (two SHA-256 AEADs at 64 sequence numbers), not two.
    let per_secret = 2 * DERIVATION_BYTES + 2 * 64 * (40 + TRIAL_FIXED_BYTES);
    let limits = Limits {
        tls_midstream_search_bytes: per_secret + per_secret / 2,
        ..Limits::default()
    };
    let mut s = Session::new(1, &limits);
    let mut sink = Collect::default();
    let expected = Stopped {
        tried: 1,
        secrets: 3,
    };
    for frame in [9, 10] {
        let bytes = record(23, &[0x55; 40]);
        s.on_data(&keys, Dir::ClientToServer, at(frame), &bytes, &mut sink);
        // The generation searched is kept: the next record is not searched again.
        let state = s.layers[Dir::ClientToServer.index()].state();
        assert!(
            matches!(state, ReadState::Midstream { tried: Some(g), stopped: Some(st) }
                if *g == keys.generation() && *st == expected),
            "{state:?}"
        );
    }
    assert_eq!(s.summary().c2s.records_undecryptable, 2);
    assert_eq!(
        s.summary().reason.as_deref(),
        Some("ClientHello not captured; the mid-stream search stopped after 1 of 3 secrets (tls_midstream_search_bytes)")
    );
}
