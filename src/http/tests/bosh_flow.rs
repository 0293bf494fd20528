//! BOSH over one keep-alive connection: creation, auth, restart, long
//! polls, rid repeat and jump, terminate, a cut long poll, broken XML.

use super::*;
use crate::http::bosh::{Event, Role, Sessions};

const NS: &str = r#"xmlns="http://jabber.org/protocol/httpbind""#;

fn post(body: &str) -> Vec<u8> {
    format!(
        "POST /http-bind/ HTTP/1.1\r\nHost: finesse1:7443\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn poll(rid: u64) -> Vec<u8> {
    post(&format!(r#"<body rid="{rid}" sid="abc" {NS}/>"#))
}

fn script() -> (Vec<Step>, Vec<f64>) {
    let steps = vec![
        data(
            C,
            &post(&format!(
                r#"<body content="text/xml; charset=utf-8" hold="1" rid="100" to="finesse1" ver="1.6" wait="60" xml:lang="en" xmpp:version="1.0" {NS} xmlns:xmpp="urn:xmpp:xbosh"/>"#
            )),
        ),
        data(
            S,
            &ok(&format!(
                r#"<body sid="abc" wait="60" hold="1" requests="2" inactivity="30" polling="5" ver="1.6" from="finesse1" {NS} xmlns:stream="http://etherx.jabber.org/streams"><stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features></body>"#
            )),
        ),
        data(
            C,
            &post(&format!(
                r#"<body rid="101" sid="abc" {NS}><auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGFnZW50AHNlY3JldA==</auth></body>"#
            )),
        ),
        data(
            S,
            &ok(&format!(
                r#"<body sid="abc" {NS}><success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/></body>"#
            )),
        ),
        data(
            C,
            &post(&format!(
                r#"<body rid="102" sid="abc" to="finesse1" xmpp:restart="true" {NS} xmlns:xmpp="urn:xmpp:xbosh"/>"#
            )),
        ),
        data(
            S,
            &ok(&format!(
                r#"<body {NS}><stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features></body>"#
            )),
        ),
        data(C, &poll(103)),
        data(S, &ok(&format!("<body {NS}/>"))),
        data(C, &poll(103)),
        data(S, &ok(&format!("<body {NS}/>"))),
        data(C, &poll(106)),
        data(
            S,
            &ok(&format!(
                r#"<body type="terminate" condition="item-not-found" {NS}/>"#
            )),
        ),
        data(
            C,
            &post(&format!(
                r#"<body rid="107" sid="abc" {NS}><presence><show>away</presence></body>"#
            )),
        ),
        data(S, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        data(C, &poll(108)),
        Step::Close(S),
    ];
    let times = vec![
        0.0, 0.1, 1.0, 1.1, 2.0, 2.1, 3.0, 63.0, 64.0, 65.0, 66.0, 66.1, 67.0, 67.1, 70.0, 80.0,
    ];
    (steps, times)
}

fn bodies(rec: &Rec) -> Vec<bosh::Body> {
    rec.bosh()
        .into_iter()
        .filter_map(|e| match e {
            Event::Body(b) => Some(b.as_ref().clone()),
            Event::Unanswered(_) => None,
        })
        .collect()
}

#[test]
fn bosh_session_events_any_chunking() {
    let (steps, times) = script();
    let run = run_all_ways_at(&steps, &Limits::default(), false, Some(&times));
    let rec = run.rec();
    let b = bodies(&rec);
    assert_eq!(b.len(), 15);
    // Creation request and response.
    assert_eq!(
        (b[0].role, b[0].attrs.rid, b[0].attrs.wait, b[0].attrs.hold),
        (Role::Request, Some(100), Some(60), Some(1))
    );
    assert_eq!(b[0].attrs.xmpp_version.as_deref(), Some("1.0"));
    assert_eq!(b[1].attrs.sid.as_deref(), Some("abc"));
    assert_eq!(b[1].request.as_ref().unwrap().attrs.rid, Some(100));
    assert_eq!(
        b[1].stanzas[0].xml,
        r#"<stream:features xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>"#
    );
    // Auth goes up as its own element; the stanza keeps its payload for the XMPP stage.
    assert_eq!(b[2].stanzas[0].name, "auth");
    assert!(b[2].stanzas[0]
        .xml
        .starts_with(r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl""#));
    assert_eq!(
        b[3].stanzas[0].xml,
        r#"<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>"#
    );
    assert!(b[4].attrs.restart);
    assert_eq!(b[5].stanzas[0].name, "features");
    // A 60 s long poll that expired empty.
    assert!(b[7].is_empty_poll());
    assert_eq!(b[7].held_ms, Some(60_000.0));
    assert!(b[11].attrs.is_terminate());
    // Broken XML: a finding, the rid is still known, and the session goes on.
    assert_eq!(b[12].attrs.rid, Some(107));
    assert!(b[12].error.is_some());
    assert_eq!((b[13].status, b[13].error.is_some()), (Some(404), true));
    let unanswered: Vec<_> = rec
        .bosh()
        .into_iter()
        .filter(|e| matches!(e, Event::Unanswered(_)))
        .collect();
    assert_eq!(unanswered.len(), 1);
    assert_eq!(rec.codes(), ["bosh.malformed", "http.unanswered"]);
    // The SASL payload never reaches the exchange text.
    let auth_text = rec.exchanges()[1]
        .request
        .clone()
        .unwrap()
        .body
        .text
        .unwrap();
    assert!(!auth_text.contains("AGFnZW50AHNlY3JldA=="), "{auth_text}");
}

#[test]
fn bosh_session_findings() {
    let (steps, times) = script();
    let rec = run_with(&steps, Cut::Whole, &Limits::default(), false, Some(&times)).rec();
    let mut sessions = Sessions::new(&Limits::default());
    let mut findings: Vec<Finding> = Vec::new();
    for e in rec.bosh() {
        sessions.on_event(e, &mut findings);
    }
    let got: Vec<(&str, Option<u64>)> = findings.iter().map(|f| (f.code.code(), f.frame)).collect();
    assert_eq!(
        got,
        [
            ("bosh.rid_repeat", Some(9)),
            ("bosh.rid_jump", Some(11)),
            ("bosh.terminate", Some(12)),
            ("bosh.http_error", Some(14)),
            ("bosh.poll_cut", Some(16)),
        ],
        "{findings:#?}"
    );
    assert!(findings[1]
        .message
        .contains("rid jumped from 103 to 106: 2 request(s)"));
    assert!(findings[2].message.contains("item-not-found"));
    assert!(findings[4]
        .message
        .contains("cut after 10.0 s, before wait=60 s"));
    let s = sessions.sessions().next().unwrap();
    assert_eq!(
        (s.sid.as_str(), s.wait, s.hold, s.requests, s.inactivity),
        ("abc", Some(60), Some(1), Some(2), Some(30))
    );
    assert!(s.created_in_capture);
    assert_eq!(
        (s.restarts, s.empty_responses, s.last_rid),
        (1, 2, Some(108))
    );
    assert_eq!(s.terminated.as_deref(), Some("item-not-found"));
    assert_eq!(s.max_held_ms, 60_000.0);
}

#[test]
fn capture_end_is_not_a_cut_poll() {
    let (mut steps, times) = script();
    steps.pop(); // no close: the capture just stops
    let rec = run_with(&steps, Cut::Whole, &Limits::default(), false, Some(&times)).rec();
    let mut sessions = Sessions::new(&Limits::default());
    let mut findings: Vec<Finding> = Vec::new();
    for e in rec.bosh() {
        sessions.on_event(e, &mut findings);
    }
    assert!(!findings.iter().any(|f| f.code == "bosh.poll_cut"));
}

#[test]
fn rids_are_followed_across_connections() {
    // requests="2": the long poll waits on one connection while the next request goes on another.
    let mut a = Connection::new(1, &Limits::default(), false);
    let mut b = Connection::new(2, &Limits::default(), false);
    let mut rec = Rec::default();
    let create = post(&format!(
        r#"<body rid="10" wait="30" hold="1" to="f" {NS}/>"#
    ));
    let created = ok(&format!(
        r#"<body sid="s2" wait="30" hold="1" requests="2" {NS}/>"#
    ));
    a.on_data(C, frame(1, None), &create, &mut rec);
    a.on_data(S, frame(2, None), &created, &mut rec);
    a.on_data(
        C,
        frame(3, None),
        &post(&format!(r#"<body rid="11" sid="s2" {NS}/>"#)),
        &mut rec,
    );
    b.on_data(
        C,
        frame(4, None),
        &post(&format!(
            r#"<body rid="12" sid="s2" {NS}><presence/></body>"#
        )),
        &mut rec,
    );
    a.on_data(S, frame(5, None), &ok(&format!("<body {NS}/>")), &mut rec);
    b.on_data(S, frame(6, None), &ok(&format!("<body {NS}/>")), &mut rec);
    a.on_data(
        C,
        frame(7, None),
        &post(&format!(r#"<body rid="13" sid="s2" {NS}/>"#)),
        &mut rec,
    );
    a.finish(&mut rec);
    b.finish(&mut rec);
    let mut sessions = Sessions::new(&Limits::default());
    let mut findings: Vec<Finding> = Vec::new();
    for e in rec.bosh() {
        sessions.on_event(e, &mut findings);
    }
    assert!(findings.is_empty(), "{findings:#?}");
    let s = sessions.sessions().next().unwrap();
    assert_eq!(
        (s.last_rid, s.streams.clone(), s.request_count),
        (Some(13), vec![1, 2], 3)
    );
}

/// Findings of a session that ends with `terminate` bodies, by side.
fn terminate_findings(client_first: bool) -> Vec<Finding> {
    let create = post(&format!(
        r#"<body hold="1" rid="200" to="finesse1" wait="60" ver="1.6" {NS}/>"#
    ));
    let created = ok(&format!(r#"<body sid="abc" wait="60" hold="1" {NS}/>"#));
    let client = if client_first {
        format!(
            r#"<body rid="201" sid="abc" type="terminate" {NS}><presence type="unavailable" xmlns="jabber:client"/></body>"#
        )
    } else {
        format!(r#"<body rid="201" sid="abc" {NS}/>"#)
    };
    let steps = vec![
        data(C, &create),
        data(S, &created),
        data(C, &post(&client)),
        data(S, &ok(&format!(r#"<body type="terminate" {NS}/>"#))),
    ];
    let rec = run_with(&steps, Cut::Whole, &Limits::default(), false, None).rec();
    let mut sessions = Sessions::new(&Limits::default());
    let mut findings: Vec<Finding> = Vec::new();
    for e in rec.bosh() {
        sessions.on_event(e, &mut findings);
    }
    findings
}

#[test]
fn the_servers_answer_to_a_client_terminate_is_no_finding() {
    assert!(terminate_findings(true).is_empty());
    let server = terminate_findings(false);
    assert_eq!(server.len(), 1);
    assert_eq!(server[0].code, "bosh.terminate");
    assert!(server[0].message.contains("terminated by the server"));
}
