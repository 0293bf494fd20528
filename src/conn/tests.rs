//! The connection-story stage fed by hand: endings as first seen, roles
//! and keepalives from decrypted facts, and each finding with the input
//! that raises it.

use std::net::SocketAddr;

use super::{Basis, EndHow, Fact, Ping, Role, Side, Story, Tracker};
use crate::finding::Level;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};
use crate::tcp::{DirStats, Ending, Handshake, Origin, StreamStats};
use crate::tls;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;
/// 2026-03-02T09:00:00Z.
const T0: i64 = 1_772_442_000;

fn at(frame: u64, ms: i64) -> FrameRef {
    FrameRef::new(
        frame,
        Timestamp::from_nanos_i128(i128::from(T0 * 1000 + ms) * 1_000_000),
    )
}

fn client() -> SocketAddr {
    "192.168.10.21:50900".parse().unwrap()
}

fn server() -> SocketAddr {
    "10.20.30.41:8445".parse().unwrap()
}

fn tracker() -> Tracker {
    Tracker::new(
        0,
        client(),
        server(),
        at(1, 0),
        Origin::Handshake,
        &Limits::default(),
    )
}

/// Stats of a stream from frame 1 to `last`, with the handshake given.
fn stats(last: FrameRef, hs: Handshake, syn_ack: bool, bytes: [u64; 2]) -> StreamStats {
    StreamStats {
        stream: 0,
        client: client(),
        server: server(),
        origin: Origin::Handshake,
        first: at(1, 0),
        last,
        client_to_server: DirStats {
            bytes: bytes[0],
            ..DirStats::default()
        },
        server_to_client: DirStats {
            bytes: bytes[1],
            ..DirStats::default()
        },
        syn_seen: true,
        syn_ack_seen: syn_ack,
        fin_from_client: false,
        fin_from_server: false,
        rst_from: None,
        ending: Ending::OpenAtEnd,
        handshake: hs,
    }
}

fn handshake() -> Handshake {
    Handshake {
        syn: Some(at(1, 0)),
        last_syn: Some(at(1, 0)),
        syn_retries: 0,
        syn_ack: Some(at(2, 1)),
        ack: Some(at(3, 2)),
    }
}

fn codes(story: &Story) -> Vec<(&'static str, Level)> {
    story
        .findings
        .iter()
        .map(|f| (f.code.code(), f.level))
        .collect()
}

#[test]
fn a_rst_answering_the_syn_is_refused_by_the_server() {
    let mut t = tracker();
    t.on_tcp_end(S2C, at(2, 1), true);
    let hs = Handshake {
        syn_ack: None,
        ack: None,
        ..handshake()
    };
    let story = t.finish(Some(&stats(at(2, 1), hs, false, [0, 0])), None);
    let ended = &story.summary.ended;
    assert_eq!(ended.how, EndHow::Refused);
    assert_eq!(ended.by, Some(Side::Server));
    assert_eq!(ended.frame, Some(2));
    assert_eq!(story.summary.rtt_ms, None);
    assert!(story.findings.is_empty(), "{:?}", codes(&story));
}

#[test]
fn syns_never_answered_are_no_answer_with_their_retries() {
    let t = tracker();
    let hs = Handshake {
        last_syn: Some(at(3, 3000)),
        syn_retries: 2,
        syn_ack: None,
        ack: None,
        ..handshake()
    };
    let story = t.finish(Some(&stats(at(3, 3000), hs, false, [0, 0])), None);
    let ended = &story.summary.ended;
    assert_eq!(
        (ended.how, ended.by, ended.frame, ended.syn_retries),
        (EndHow::NoAnswer, None, Some(3), 2)
    );
}

#[test]
fn the_first_fin_or_rst_says_how_it_ended_and_open_otherwise() {
    let mut t = tracker();
    t.on_tcp_end(C2S, at(9, 500), false);
    t.on_tcp_end(S2C, at(10, 501), true);
    let story = t.finish(Some(&stats(at(10, 501), handshake(), true, [10, 10])), None);
    let ended = &story.summary.ended;
    assert_eq!(
        (ended.how, ended.by, ended.frame),
        (EndHow::Fin, Some(Side::Client), Some(9))
    );
    assert_eq!(story.summary.rtt_ms, Some(2.0));
    assert!((story.summary.duration_s - 0.501).abs() < 1e-9);

    let open = tracker().finish(Some(&stats(at(4, 10), handshake(), true, [1, 1])), None);
    assert_eq!(
        (open.summary.ended.how, open.summary.ended.by),
        (EndHow::Open, None)
    );
}

#[test]
fn a_connection_cut_by_the_budget_is_not_followed_and_lasts_as_far_as_it_was_seen() {
    let mut t = tracker();
    t.on_tls_event(&hello(client_hello(), 4, C2S));
    t.on_tcp_data(C2S, at(4, 3));
    t.on_tcp_data(S2C, at(7, 250));
    // No statistics: the memory budget finished it (`ConnTable`).
    let story = t.finish(None, Some(&tls::Summary::default()));
    let ended = &story.summary.ended;
    assert_eq!(
        (ended.how, ended.by, ended.frame),
        (EndHow::NotFollowed, None, None)
    );
    assert!((story.summary.duration_s - 0.25).abs() < 1e-9);
    assert!(
        codes(&story).is_empty(),
        "no ServerHello seen before the cut is no failed handshake: {:?}",
        story.findings
    );

    let mut t = tracker();
    t.on_tcp_end(C2S, at(9, 500), false);
    let story = t.finish(None, None);
    assert_eq!(
        story.summary.ended.how,
        EndHow::Fin,
        "a FIN seen before the cut says how"
    );
}

/// A decrypted WebSocket session with two answered pings and a ping/pong pair.
fn decrypted_websocket(t: &mut Tracker) {
    t.on_fact(Fact::WebSocket { xmpp: true });
    for _ in 0..5 {
        t.on_fact(Fact::Stanza { ping: None });
    }
    for (i, ms) in [10_000, 20_000].into_iter().enumerate() {
        let frame = 20 + 2 * i as u64;
        let id = format!("ping_{i}");
        t.on_fact(Fact::Stanza {
            ping: Some(Ping::Request {
                dir: C2S,
                at: at(frame, ms),
                id: id.clone(),
            }),
        });
        t.on_fact(Fact::Stanza {
            ping: Some(Ping::Answer {
                dir: S2C,
                at: at(frame + 1, ms + 1),
                id,
            }),
        });
    }
    t.on_fact(Fact::WsPing {
        dir: S2C,
        at: at(30, 30_000),
    });
    t.on_fact(Fact::WsPong { answers: Some(30) });
    // A pong answering no ping seen counts nothing.
    t.on_fact(Fact::WsPong { answers: Some(99) });
}

#[test]
fn decrypted_facts_give_the_role_and_count_the_keepalives() {
    let mut t = tracker();
    decrypted_websocket(&mut t);
    let story = t.finish(
        Some(&stats(at(40, 35_000), handshake(), true, [9, 9])),
        None,
    );
    let s = &story.summary;
    assert_eq!(
        (s.role, s.role_basis),
        (Role::XmppWebsocket, Basis::Decrypted)
    );
    assert_eq!(s.keepalive.exchanges, Some(3));
    assert_eq!(s.keepalive.basis, Basis::Decrypted);
    // Exchanges at 10, 20 and 30 s, dated by their requests.
    assert_eq!(s.keepalive.interval_s, Some(10.0));
    assert_eq!(s.keepalive.last_frame, Some(30));
}

#[test]
fn a_notification_connection_reset_by_the_server_is_a_warn_when_seen() {
    let mut t = tracker();
    decrypted_websocket(&mut t);
    t.on_tcp_end(S2C, at(40, 35_000), true);
    let story = t.finish(
        Some(&stats(at(40, 35_000), handshake(), true, [9, 9])),
        None,
    );
    assert_eq!(codes(&story), vec![("conn.reset", Level::Warn)]);
    let f = &story.findings[0];
    assert_eq!(f.frame, Some(40));
    assert!(f.message.contains("seen decrypted"), "{}", f.message);
}

#[test]
fn a_reset_resting_on_an_inferred_role_alone_is_info() {
    // Port 5222 says xmpp-tcp; the client reset it before any traffic came back.
    let mut t = Tracker::new(
        0,
        client(),
        "10.20.30.41:5222".parse().unwrap(),
        at(1, 0),
        Origin::Handshake,
        &Limits::default(),
    );
    t.on_tcp_end(C2S, at(5, 100), true);
    let story = t.finish(Some(&stats(at(5, 100), handshake(), true, [10, 0])), None);
    assert_eq!(story.summary.role, Role::XmppTcp);
    assert_eq!(codes(&story), vec![("conn.reset", Level::Info)]);
    assert!(story.findings[0].message.contains("only inferred"));
}

#[test]
fn a_rhythm_that_stops_long_before_the_end_is_keepalive_stopped() {
    let mut t = tracker();
    decrypted_websocket(&mut t);
    t.on_tcp_end(S2C, at(90, 150_000), true);
    let story = t.finish(
        Some(&stats(at(90, 150_000), handshake(), true, [9, 9])),
        None,
    );
    let found = codes(&story);
    assert!(
        found.contains(&("keepalive.stopped", Level::Info)),
        "{found:?}"
    );
    let f = story
        .findings
        .iter()
        .find(|f| f.code.code() == "keepalive.stopped")
        .unwrap();
    assert_eq!(f.frame, Some(30));
    assert!(
        f.message.contains("stopped 120.0 s before"),
        "{}",
        f.message
    );
}

#[test]
fn records_unanswered_past_the_timeout_are_peer_silent() {
    let mut t = tracker();
    t.on_record(S2C, at(5, 10), 23, 300);
    t.on_record(C2S, at(6, 11), 23, 300);
    // The client sends for 25 s and hears nothing.
    for (i, s) in [0, 10, 25].into_iter().enumerate() {
        t.on_record(C2S, at(10 + i as u64, 1000 + s * 1000), 23, 60);
    }
    let story = t.finish(
        Some(&stats(at(20, 30_000), handshake(), true, [9, 9])),
        None,
    );
    assert_eq!(codes(&story), vec![("conn.peer_silent", Level::Info)]);
    let f = &story.findings[0];
    assert_eq!(f.frame, Some(6));
    assert!(
        f.message.starts_with("the server sent nothing for 26.0 s"),
        "{}",
        f.message
    );
}

fn tls_summary(version: &str, alerts: Vec<tls::AlertSeen>) -> tls::Summary {
    tls::Summary {
        version: Some(version.to_owned()),
        sni: Some("finesse1.example.com".to_owned()),
        alerts,
        ..tls::Summary::default()
    }
}

fn hello(kind: tls::EventKind, frame: u64, dir: Dir) -> tls::Event {
    tls::Event {
        stream: 0,
        dir,
        at: at(frame, 1),
        kind,
    }
}

fn client_hello() -> tls::EventKind {
    tls::EventKind::ClientHello {
        sni: Some("finesse1.example.com".to_owned()),
        alpn: Vec::new(),
        versions: Vec::new(),
        suites: Vec::new(),
        psk: false,
        early_data: false,
        sslv2: false,
    }
}

#[test]
fn a_clienthello_without_serverhello_or_with_a_fatal_alert_failed() {
    let mut t = tracker();
    t.on_tls_event(&hello(client_hello(), 4, C2S));
    t.on_tcp_end(S2C, at(5, 2), false);
    let summary = tls::Summary::default();
    let story = t.finish(
        Some(&stats(at(5, 2), handshake(), true, [200, 0])),
        Some(&summary),
    );
    assert_eq!(codes(&story), vec![("tls.handshake_failed", Level::Warn)]);
    assert!(story.findings[0].message.contains("got no ServerHello"));

    let mut t = tracker();
    t.on_tls_event(&hello(client_hello(), 4, C2S));
    let alert = tls::AlertSeen {
        level: "fatal".to_owned(),
        description: "handshake_failure".to_owned(),
        dir: S2C,
        frame: 6,
        encrypted: false,
    };
    let summary = tls_summary("TLS 1.2", vec![alert]);
    let story = t.finish(
        Some(&stats(at(6, 2), handshake(), true, [200, 7])),
        Some(&summary),
    );
    assert_eq!(codes(&story), vec![("tls.handshake_failed", Level::Warn)]);
    assert_eq!(story.findings[0].frame, Some(6));
    let facts = story.summary.tls.as_ref().unwrap();
    assert_eq!(facts.alerts, vec!["fatal handshake_failure from server"]);
}

#[test]
fn an_expired_or_misnamed_certificate_seen_in_clear_is_a_warn() {
    let mut t = tracker();
    t.on_tls_event(&hello(client_hello(), 4, C2S));
    let server_hello = tls::EventKind::ServerHello {
        version: "TLS 1.2".to_owned(),
        suite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned(),
        hello_retry_request: false,
        psk: false,
        alpn: None,
    };
    t.on_tls_event(&hello(server_hello, 6, S2C));
    t.on_tls_event(&hello(
        tls::EventKind::Certificate {
            certificates: Vec::new(),
        },
        6,
        S2C,
    ));
    let mut summary = tls_summary("TLS 1.2", Vec::new());
    summary.certificates = vec![tls::CertSummary {
        subject: "CN=finesse2.example.com".to_owned(),
        subject_cn: Some("finesse2.example.com".to_owned()),
        issuer: "CN=Example CA".to_owned(),
        sans: vec!["finesse2.example.com".to_owned()],
        not_before: Some("2024-01-01T00:00:00.000000Z".to_owned()),
        not_after: Some("2025-01-01T00:00:00.000000Z".to_owned()),
        ..tls::CertSummary::default()
    }];
    let story = t.finish(
        Some(&stats(at(9, 50), handshake(), true, [300, 3000])),
        Some(&summary),
    );
    assert_eq!(codes(&story), vec![("tls.certificate", Level::Warn)]);
    let f = &story.findings[0];
    assert_eq!(f.frame, Some(6));
    assert!(f.message.contains("expired on 2025-01-01"), "{}", f.message);
    assert!(
        f.message
            .contains("does not name the SNI finesse1.example.com"),
        "{}",
        f.message
    );
    assert!(f.message.ends_with("(seen in clear)"), "{}", f.message);
    let cert = story
        .summary
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_ref())
        .unwrap();
    assert_eq!(
        (cert.validity, cert.name_mismatch, cert.encrypted),
        (Some("expired"), true, false)
    );
}

#[test]
fn inferred_keepalives_come_from_record_rhythm_without_keys() {
    let mut t = tracker();
    t.on_tcp_data(C2S, at(4, 1));
    // Login burst, then three client pings answered at once, 10 s apart.
    for i in 0..8u64 {
        let dir = if i % 2 == 0 { C2S } else { S2C };
        t.on_record(dir, at(5 + i, 2 + i as i64), 23, 120);
    }
    for k in 0..3u64 {
        let ms = 10_000 * (k as i64 + 1);
        t.on_record(C2S, at(20 + 2 * k, ms), 23, 60);
        t.on_record(S2C, at(21 + 2 * k, ms + 1), 23, 50);
    }
    t.on_tcp_end(C2S, at(40, 45_000), false);
    let story = t.finish(
        Some(&stats(at(41, 45_001), handshake(), true, [900, 900])),
        None,
    );
    let k = &story.summary.keepalive;
    assert_eq!((k.exchanges, k.basis), (Some(3), Basis::Inferred));
    assert_eq!(k.interval_s, Some(10.0));
    assert_eq!(k.last_frame, Some(24));
    assert_eq!(story.summary.role, Role::XmppWebsocket);
    assert_eq!(story.summary.c2s.tls_records, 7);
}

/// A tracker for a connection to `port`, fed without keys the records of a
/// BOSH session's second connection: a login (auth, restart, bind,
/// session, presence) answered at once, then client pings answered at
/// once at 10 and 20 s, then nothing until the client's FIN at 120 s.
/// Record lengths are the shape of `fixtures/finesse-bosh.pcapng`
/// stream 1 (pings 457 → 305, the session iq 465 → 286).
fn undecrypted_bosh(port: u16) -> Story {
    let server: SocketAddr = format!("10.20.30.41:{port}").parse().unwrap();
    let mut t = Tracker::new(
        0,
        client(),
        server,
        at(1, 0),
        Origin::Handshake,
        &Limits::default(),
    );
    t.on_tcp_data(C2S, at(4, 1));
    let login = [(456, 236), (430, 390), (490, 385), (465, 286), (413, 178)];
    for (i, (request, answer)) in login.into_iter().enumerate() {
        let (frame, ms) = (10 + 2 * i as u64, 5 + 5 * i as i64);
        t.on_record(C2S, at(frame, ms), 23, request);
        t.on_record(S2C, at(frame + 1, ms + 2), 23, answer);
    }
    for (frame, ms) in [(30, 10_000), (32, 20_000)] {
        t.on_record(C2S, at(frame, ms), 23, 457);
        t.on_record(S2C, at(frame + 1, ms + 2), 23, 305);
    }
    t.on_tcp_end(C2S, at(40, 120_000), false);
    t.finish(
        Some(&stats(at(41, 120_001), handshake(), true, [9, 9])),
        None,
    )
}

#[test]
fn without_keys_a_bosh_connection_declines_the_keepalive_count_with_its_reason() {
    let story = undecrypted_bosh(7443);
    let s = &story.summary;
    assert_eq!((s.role, s.role_basis), (Role::XmppBosh, Basis::Inferred));
    let k = &s.keepalive;
    assert_eq!(
        (k.exchanges, k.interval_s, k.last_frame),
        (None, None, None)
    );
    assert_eq!(k.basis, Basis::Inferred);
    assert_eq!(
        k.not_inferred_because,
        Some("BOSH carries pings inside HTTP polls; record sizes cannot tell them apart")
    );
    // No rhythm was stated, so none can have stopped.
    assert!(story.findings.is_empty(), "{:?}", codes(&story));
    let json = serde_json::to_value(k).unwrap();
    assert_eq!(json["exchanges"], serde_json::Value::Null);
    assert!(json["not_inferred_because"].is_string());
}

#[test]
fn the_same_records_on_the_desktop_port_are_counted_and_their_stop_reported() {
    // What the inference says of those records where it is trusted: the
    // two pings, and a rhythm that stopped 100 s before the FIN.
    let story = undecrypted_bosh(8445);
    let k = &story.summary.keepalive;
    assert_eq!((k.exchanges, k.last_frame), (Some(2), Some(32)));
    assert_eq!(k.not_inferred_because, None);
    assert!(
        codes(&story).contains(&("keepalive.stopped", Level::Info)),
        "{:?}",
        codes(&story)
    );
    let json = serde_json::to_value(k).unwrap();
    assert!(json.get("not_inferred_because").is_none(), "{json}");
}

#[test]
fn a_held_bosh_poll_is_no_peer_silence_but_past_the_longest_wait_it_is() {
    // A poll held 25 s until the client's next request displaces it
    // (hold=1): silence for a WebSocket, a held request for BOSH.
    let run = |port: u16, held_s: i64| {
        let server: SocketAddr = format!("10.20.30.41:{port}").parse().unwrap();
        let mut t = Tracker::new(
            0,
            client(),
            server,
            at(1, 0),
            Origin::Handshake,
            &Limits::default(),
        );
        t.on_record(C2S, at(5, 10), 23, 341);
        t.on_record(S2C, at(6, 12), 23, 178);
        t.on_record(C2S, at(7, 1000), 23, 341);
        t.on_record(C2S, at(8, 1000 + held_s * 1000), 23, 457);
        t.on_record(S2C, at(9, 1002 + held_s * 1000), 23, 178);
        let end = at(10, 2000 + held_s * 1000);
        codes(&t.finish(Some(&stats(end, handshake(), true, [9, 9])), None))
    };
    assert_eq!(run(7443, 25), vec![]);
    assert_eq!(run(8445, 25), vec![("conn.peer_silent", Level::Info)]);
    assert_eq!(run(7443, 65), vec![("conn.peer_silent", Level::Info)]);
}
