//! The Finesse stage fed by a real XMPP session and REST exchanges.

use std::borrow::Cow;

use super::*;
use crate::finding::{Finding, Findings};
use crate::finesse::Entered;
use crate::position::Timestamp;
use crate::xmpp::{PubsubItem, Session, Transport};

/// Everything the stage gave, in order, one line each.
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    updates: Vec<(Update, Option<RestMatch>)>,
    findings: Vec<Finding>,
}

impl Findings for Log {
    fn push_finding(&mut self, f: Finding) {
        self.lines.push(format!(
            "finding {} frame {:?} stream {:?}",
            f.code, f.frame, f.stream
        ));
        self.findings.push(f);
    }
}

impl Sink for Log {
    fn on_update(&mut self, at: &StanzaAt, update: Update, rest: Option<RestMatch>) {
        self.lines.push(format!(
            "update frame {}: {}",
            at.first.frame,
            update.summary()
        ));
        self.updates.push((update, rest));
    }
}

/// Feeds an XMPP session's stanzas and items to the stage, as the wiring does.
struct Wired<'a> {
    stage: &'a mut Stage,
    session: u32,
    stream: u64,
    log: &'a mut Log,
}

impl Wired<'_> {
    fn at(&self, s: &xmpp::Stanza<'_>) -> StanzaAt {
        StanzaAt {
            session: Some(self.session),
            stream: self.stream,
            session_stream: self.stream,
            dir: s.dir,
            first: s.first,
            last: s.last,
        }
    }
}

impl Findings for Wired<'_> {
    fn push_finding(&mut self, f: Finding) {
        self.log.push_finding(f);
    }
}

impl xmpp::Sink for Wired<'_> {
    fn on_stanza(&mut self, s: &xmpp::Stanza<'_>) {
        let at = self.at(s);
        self.stage.on_stanza(&at, s, self.log);
    }
    fn on_pubsub_items(&mut self, s: &xmpp::Stanza<'_>, items: &[PubsubItem<'_>]) {
        let at = self.at(s);
        self.stage.on_pubsub_items(&at, items, self.log);
    }
    fn on_tls_handover(&mut self, _: &xmpp::TlsHandover) {}
}

fn frame(n: u64, ms: i64) -> FrameRef {
    FrameRef::new(
        n,
        Timestamp::from_secs_nanos(1_772_446_500, (ms * 1_000_000) as u64),
    )
}

fn notification(node: &str, inner: &str) -> String {
    let escaped = quick_xml::escape::escape(inner);
    format!("<message xmlns='jabber:client' from='pubsub.f1'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='{node}'><item id='it1'><notification xmlns='http://jabber.org/protocol/pubsub'>{escaped}</notification></item></items></event></message>")
}

fn user(state: &str, reason: &str, request_id: &str) -> String {
    format!("<Update><data><user><loginId>1001</loginId><state>{state}</state><reasonCodeId>{reason}</reasonCodeId><ReasonCode><code>{reason}</code><label>Lunch</label></ReasonCode></user></data><event>PUT</event><requestId>{request_id}</requestId><source>/finesse/api/User/1001</source></Update>")
}

fn put_state(stage: &mut Stage, at: FrameRef, request_id: &str, log: &mut Log) {
    let exchange = RestExchange {
        stream: 5,
        request: Some(RestRequest {
            at,
            method: "PUT",
            path: "/finesse/api/User/1001",
            request_id: Some(request_id),
        }),
        response: Some(RestResponse {
            at,
            status: 202,
            reason: "Accepted",
            body: None,
        }),
    };
    stage.on_rest_exchange(&exchange, log);
}

fn feed(stage: &mut Stage, log: &mut Log, messages: &[(u64, i64, String)]) {
    let mut session = Session::new(1, Transport::WebSocket, &Limits::default(), false);
    let mut wired = Wired {
        stage,
        session: 7,
        stream: 1,
        log,
    };
    for (n, ms, xml) in messages {
        session.on_element(
            Dir::ServerToClient,
            frame(*n, *ms),
            xml.as_bytes(),
            &mut wired,
        );
    }
}

#[test]
fn an_update_answering_a_rest_call_carries_it_and_a_late_one_is_a_finding() {
    let mut stage = Stage::new(&Limits::default(), true);
    let mut log = Log::default();
    put_state(&mut stage, frame(10, 0), "r-1", &mut log);
    put_state(&mut stage, frame(11, 100), "r-2", &mut log);
    let messages = [
        (
            12,
            300,
            notification("/finesse/api/User/1001", &user("NOT_READY", "12", "r-1")),
        ),
        (
            20,
            9_000,
            notification("/finesse/api/User/1001", &user("READY", "", "r-2")),
        ),
        (
            30,
            9_500,
            notification("/finesse/api/User/1001", &user("READY", "", "")),
        ),
    ];
    feed(&mut stage, &mut log, &messages);
    assert_eq!(
        log.lines,
        [
            "update frame 12: User 1001 NOT_READY (reason 12 \"Lunch\")",
            "update frame 20: User 1001 READY",
            "finding finesse.slow_update frame Some(20) stream Some(1)",
            "update frame 30: User 1001 READY",
        ]
    );
    let rest = log.updates[0].1.as_ref().unwrap();
    assert_eq!(
        (rest.frame, rest.stream, rest.ms_before_update),
        (10, 5, 300.0)
    );
    assert!(log.updates[2].1.is_none());
    assert!(log.findings[0]
        .message
        .contains("requestId r-2) came 8.900 s after"));
    let facts = stage.take_session_facts(7);
    assert_eq!(facts.updates, 3);
    assert_eq!(facts.last_agent_state.as_deref(), Some("1001 READY"));
    assert_eq!(stage.take_session_facts(7), SessionFacts::default());
    // Two changes: the third Update repeats READY with the same reason.
    let changes = &stage.agents()["1001"].changes;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].state, "NOT_READY");
    assert_eq!(changes[0].reason_code.as_deref(), Some("12"));
    assert_eq!(changes[0].reason_label.as_deref(), Some("Lunch"));
    assert_eq!(changes[0].session, Some(7));
    assert!(
        matches!(&changes[1].entered, Entered::Rest { request_id, request } if request_id == "r-2" && request.frame == 11)
    );
}

#[test]
fn a_server_initiated_change_and_the_findings_after_the_updates() {
    let mut stage = Stage::new(&Limits::default(), true);
    let mut log = Log::default();
    let forced = "<Update><data><user><loginId>1002</loginId><state>LOGOUT</state><reasonCodeId>255</reasonCodeId></user></data><event>PUT</event></Update>";
    let two_items = notification("/finesse/api/User/1002", forced).replace(
        "</item></items>",
        "</item><item id='it2'><notification xmlns='http://jabber.org/protocol/pubsub'>&lt;nope/&gt;</notification></item></items>",
    );
    feed(&mut stage, &mut log, &[(3, 0, two_items)]);
    assert_eq!(
        log.lines,
        [
            "update frame 3: User 1002 LOGOUT (reason 255)",
            "finding finesse.forced_logout frame Some(3) stream Some(1)",
            "finding finesse.malformed_notification frame Some(3) stream Some(1)",
        ]
    );
    let change = &stage.agents()["1002"].changes[0];
    assert_eq!(
        (change.state.as_str(), &change.entered),
        ("LOGOUT", &Entered::ServerInitiated)
    );
}

#[test]
fn without_reading_notifications_presence_and_rest_are_still_followed() {
    let mut stage = Stage::new(&Limits::default(), false);
    let mut log = Log::default();
    let gone = "<presence xmlns='jabber:client' type='unavailable' from='finesse@f1.example.com/Finesse'/>".to_owned();
    let update = notification("/finesse/api/User/1001", &user("READY", "", ""));
    feed(&mut stage, &mut log, &[(4, 0, gone), (5, 1, update)]);
    assert_eq!(
        log.lines,
        ["finding xmpp.finesse_unavailable frame Some(4) stream Some(1)"]
    );
    assert_eq!(stage.take_session_facts(7), SessionFacts::default());
    assert!(stage.agents().is_empty());
    let failed = RestExchange {
        stream: 9,
        request: Some(RestRequest {
            at: frame(6, 2),
            method: "PUT",
            path: "/finesse/api/User/1001",
            request_id: None,
        }),
        response: Some(RestResponse {
            at: frame(7, 3),
            status: 503,
            reason: "Service Unavailable",
            body: None,
        }),
    };
    stage.on_rest_exchange(&failed, &mut log);
    assert_eq!(log.findings[1].code, "http.rest_error");
    assert_eq!(
        (log.findings[1].frame, log.findings[1].stream),
        (Some(7), Some(9))
    );
}

#[test]
fn held_bytes_counts_requests_and_facts_and_drops_what_is_taken() {
    let mut stage = Stage::new(&Limits::default(), true);
    let mut log = Log::default();
    assert_eq!(stage.held_bytes(), 0);
    put_state(&mut stage, frame(1, 0), "r-1", &mut log);
    let with_request = stage.held_bytes();
    assert!(with_request >= "r-1".len() * 2 + "PUT".len() + "/finesse/api/User/1001".len());
    let item = PubsubItem {
        node: Cow::Borrowed("/finesse/api/User/1001"),
        item_id: None,
        name: "notification",
        text: &user("READY", "", "r-1"),
    };
    let stanza = xmpp::Stanza {
        dir: Dir::ServerToClient,
        first: frame(2, 5),
        last: frame(2, 5),
        name: "message",
        kind: None,
        id: None,
        from: None,
        to: None,
        summary: String::new(),
        raw: Cow::Borrowed(""),
    };
    let at = StanzaAt {
        session: Some(3),
        stream: 1,
        session_stream: 1,
        dir: stanza.dir,
        first: stanza.first,
        last: stanza.last,
    };
    stage.on_pubsub_items(&at, &[item], &mut log);
    let with_facts = stage.held_bytes();
    assert!(with_facts > with_request);
    stage.take_session_facts(3);
    assert!(stage.held_bytes() < with_facts);
}

#[test]
fn a_cut_request_id_is_said_once_and_still_matched() {
    let mut stage = Stage::new(&Limits::default(), true);
    let mut log = Log::default();
    let long = "x".repeat(60_000);
    put_state(&mut stage, frame(1, 0), &long, &mut log);
    put_state(&mut stage, frame(2, 0), &format!("y{long}"), &mut log);
    assert_eq!(
        log.lines,
        ["finding finesse.request_id_cut frame Some(1) stream Some(5)"]
    );
    assert!(log.findings[0].message.contains("of 60000 bytes"));
    let update = notification("/finesse/api/User/1001", &user("READY", "", &long));
    feed(&mut stage, &mut log, &[(3, 40, update)]);
    assert_eq!(log.updates[0].1.as_ref().map(|r| r.frame), Some(1));
    assert!(stage.held_bytes() < 4 * 1024);
}
