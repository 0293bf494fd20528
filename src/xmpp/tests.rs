//! Session tests: whole conversations as a Finesse desktop has them over
//! WebSocket (RFC 7395 framing, SASL PLAIN, Strophe.js iq ids, pubsub
//! subscriptions and pings), and the failures support engineers look for.

use super::testkit::{frame, Collect};
use super::*;
use crate::finding::Level;
use crate::limits::Limits;
use crate::position::Dir::{ClientToServer as C, ServerToClient as S};

const PLAIN_B64: &str = "ADEwMDEAczNjcmV0IVB3"; // "\0" "1001" "\0" "s3cret!Pw"
const PASSWORD: &str = "s3cret!Pw";

fn notification_message(node: &str, inner: &str) -> String {
    let escaped = quick_xml::escape::escape(inner);
    format!(
        "<message xmlns='jabber:client' from='pubsub.finesse1.example.com' to='1001@finesse1.example.com/desktop' id='Xy12abCd'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='{node}'><item id='3f6c1a'><notification xmlns='http://jabber.org/protocol/pubsub'>{escaped}</notification></item></items></event></message>"
    )
}

const USER_READY: &str = "<Update><data><user><loginId>1001</loginId><extension>1001001</extension><state>NOT_READY</state><pendingState></pendingState><reasonCodeId>3</reasonCodeId><ReasonCode><code>12</code><label>Lunch</label></ReasonCode><stateChangeTime>2026-03-02T10:15:01.123Z</stateChangeTime></user></data><event>PUT</event><requestId>r-1</requestId><source>/finesse/api/User/1001</source></Update>";

const DIALOG: &str = "<Update><data><dialogs><Dialog><fromAddress>3001</fromAddress><id>16777217</id><mediaProperties><callvariables><CallVariable><name>callVariable1</name><value>AT&amp;T</value></CallVariable></callvariables></mediaProperties><state>ALERTING</state><toAddress>1001</toAddress></Dialog></dialogs></data><event>POST</event><requestId></requestId><source>/finesse/api/Dialog/16777217</source></Update>";

/// The desktop's side and the server's, in wire order: (dir, frame, ms, xml).
fn finesse_conversation() -> Vec<(Dir, u64, i64, String)> {
    let open_c = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='finesse1.example.com' version='1.0'/>";
    let open_s = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='finesse1.example.com' id='a1b2c3' xml:lang='en' version='1.0'/>";
    let v = vec![
        (C, 10, 0, open_c.to_owned()),
        (S, 11, 3, open_s.to_owned()),
        (S, 11, 3, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>".to_owned()),
        (C, 12, 5, format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{PLAIN_B64}</auth>")),
        (S, 13, 40, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_owned()),
        (C, 14, 41, open_c.to_owned()),
        (S, 15, 43, open_s.replace("a1b2c3", "d4e5f6")),
        (S, 15, 43, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>".to_owned()),
        (C, 16, 50, "<iq type='set' id='_bind_auth_2' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desktop</resource></bind></iq>".to_owned()),
        (S, 17, 62, "<iq type='result' id='_bind_auth_2' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>1001@finesse1.example.com/desktop</jid></bind></iq>".to_owned()),
        (C, 18, 63, "<iq type='set' id='_session_auth_2' xmlns='jabber:client'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>".to_owned()),
        (S, 19, 68, "<iq type='result' id='_session_auth_2' xmlns='jabber:client'/>".to_owned()),
        (C, 20, 70, "<presence xmlns='jabber:client'/>".to_owned()),
        (C, 21, 80, "<iq type='set' to='pubsub.finesse1.example.com' id='sub1' xmlns='jabber:client'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='/finesse/api/Team/3/Users' jid='1001@finesse1.example.com/desktop'/></pubsub></iq>".to_owned()),
        (S, 22, 95, "<iq type='result' from='pubsub.finesse1.example.com' id='sub1' xmlns='jabber:client'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='/finesse/api/Team/3/Users' jid='1001@finesse1.example.com/desktop' subid='Xk2f' subscription='subscribed'/></pubsub></iq>".to_owned()),
        (S, 23, 1000, notification_message("/finesse/api/User/1001", USER_READY)),
        (S, 24, 2000, notification_message("/finesse/api/User/1001/Dialogs", DIALOG)),
        (C, 25, 10_000, "<iq type='get' id='ping1' to='finesse1.example.com' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>".to_owned()),
        (S, 26, 10_008, "<iq type='result' id='ping1' from='finesse1.example.com' xmlns='jabber:client'/>".to_owned()),
        (C, 27, 11_000, "<iq type='set' to='pubsub.finesse1.example.com' id='unsub1' xmlns='jabber:client'><pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='/finesse/api/Team/3/Users' jid='1001@finesse1.example.com/desktop' subid='Xk2f'/></pubsub></iq>".to_owned()),
        (S, 28, 11_010, "<iq type='result' from='pubsub.finesse1.example.com' id='unsub1' xmlns='jabber:client'/>".to_owned()),
        (C, 29, 12_000, "<presence type='unavailable' xmlns='jabber:client'/>".to_owned()),
        (C, 30, 12_001, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_owned()),
        (S, 31, 12_003, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_owned()),
    ];
    v
}

fn run(messages: &[(Dir, u64, i64, String)], show_secrets: bool) -> (Session, Collect) {
    let mut session = Session::new(7, Transport::WebSocket, &Limits::default(), show_secrets);
    let mut sink = Collect::default();
    for (dir, n, ms, xml) in messages {
        session.on_element(*dir, frame(*n, *ms), xml.as_bytes(), &mut sink);
    }
    (session, sink)
}

fn end(session: &mut Session, sink: &mut Collect, how: Ending) {
    session.on_transport_end(Some(frame(99, 20_000)), how, sink);
    session.finish(sink);
}

#[test]
fn full_finesse_websocket_conversation() {
    let (mut session, mut sink) = run(&finesse_conversation(), false);
    end(
        &mut session,
        &mut sink,
        Ending::WebSocketClose {
            code: Some(1000),
            reason: None,
            by: C,
        },
    );
    let got = sink.summaries();
    let want = [
        ("open", "stream open to finesse1.example.com"),
        ("open", "stream open from finesse1.example.com, id a1b2c3"),
        ("stream:features", "features: SASL PLAIN"),
        ("auth", "auth PLAIN as 1001 (password redacted)"),
        ("success", "success: authenticated as 1001"),
        ("open", "stream open to finesse1.example.com (restart)"),
        (
            "open",
            "stream open from finesse1.example.com, id d4e5f6 (restart)",
        ),
        ("stream:features", "features: bind, session (optional)"),
        ("iq", "bind desktop"),
        (
            "iq",
            "bind result 1001@finesse1.example.com/desktop (12 ms)",
        ),
        ("iq", "session"),
        ("iq", "session result (5 ms)"),
        ("presence", "presence available"),
        (
            "iq",
            "subscribe /finesse/api/Team/3/Users for 1001@finesse1.example.com/desktop",
        ),
        (
            "iq",
            "subscribe /finesse/api/Team/3/Users → subscribed (15 ms)",
        ),
        ("message", "event /finesse/api/User/1001 item 3f6c1a"),
        (
            "message",
            "event /finesse/api/User/1001/Dialogs item 3f6c1a",
        ),
        ("iq", "ping"),
        ("iq", "ping → pong 8 ms"),
        (
            "iq",
            "unsubscribe /finesse/api/Team/3/Users for 1001@finesse1.example.com/desktop (subid Xk2f)",
        ),
        (
            "iq",
            "unsubscribe /finesse/api/Team/3/Users → unsubscribed (10 ms)",
        ),
        ("presence", "presence unavailable"),
        ("close", "close"),
        ("close", "close"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    assert!(sink.findings.is_empty(), "{:?}", sink.findings);
    // Updates follow the stanza that carried them.
    let i = sink
        .log
        .iter()
        .position(|l| l.contains("event /finesse/api/User/1001 item"))
        .unwrap();
    assert_eq!(
        sink.log[i + 1],
        "item after message: /finesse/api/User/1001 3f6c1a <notification>"
    );
    assert_eq!(sink.items.len(), 2);
    // The payload comes out unescaped once: the notification's own document.
    assert_eq!(sink.items[0].3, USER_READY);
    assert!(sink.items[1].3.contains("<value>AT&amp;T</value>"));
    let s = session.summary();
    assert_eq!(s.jid.as_deref(), Some("1001@finesse1.example.com/desktop"));
    assert_eq!(s.client, Some("Strophe.js"));
    assert_eq!(s.restarts, 1);
    assert!(s.session_established);
    assert_eq!(s.sasl.as_ref().unwrap().user.as_deref(), Some("1001"));
    assert_eq!(s.subscriptions[0].subid.as_deref(), Some("Xk2f"));
    assert_eq!(s.subscriptions[0].outcome.as_deref(), Some("subscribed"));
    assert_eq!(s.pings.answered, 1);
    assert_eq!(s.stanzas, [11, 13]);
    assert_eq!(s.pubsub_events, 2);
    assert!(s.close.as_ref().unwrap().answered);
    assert!(!sink.json.contains(PASSWORD) && !sink.json.contains(PLAIN_B64));
    assert!(sink.stanzas[3].raw.contains("[redacted]"));
}

#[test]
fn show_secrets_reveals_the_password() {
    let (_, sink) = run(&finesse_conversation(), true);
    assert_eq!(
        sink.stanzas[3].summary,
        "auth PLAIN as 1001, password \"s3cret!Pw\""
    );
    assert!(sink.stanzas[3].raw.contains(PLAIN_B64));
}

#[test]
fn every_secret_is_redacted_everywhere() {
    let scram_final = "Yz1iaXdzLHI9YWJjLHA9YzJWamNtVjBVSEp2YjJZPQ==";
    let digest = "dXNlcm5hbWU9InRvbSIscmVhbG09ImNzLXhtcHAubGFuIixub25jZT0iMTUzMDc1MTg4ODE1MjAyNTYzNDEiLGNub25jZT0iZWVlMTkwZmUxNTAyMzc5NzIzNzViNGFhM2MiLG5jPTAwMDAwMDAxLHFvcD1hdXRoLGRpZ2VzdC11cmk9InhtcHAvY3MteG1wcC5sYW4iLHJlc3BvbnNlPThlMWEzODE2OTk2ZmZlM2Q4N2EzNDY4YzMyZGE4ZDk1LGNoYXJzZXQ9dXRmLTg=";
    let msgs = vec![
        (C, 1, 0, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>YWRtaW5AeAAxMDAxAHMzY3JldCFQdw==</auth>".to_owned()),
        (C, 2, 1, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1zZXJnaW8scj0yOElFQUFBQUFBQWJsU1ZhQUFBQUFBPT0=</auth>".to_owned()),
        (C, 3, 2, format!("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{scram_final}</response>")),
        (C, 4, 3, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>".to_owned()),
        (C, 5, 4, format!("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{digest}</response>")),
        (C, 6, 5, "<iq type='set' id='a1'><query xmlns='jabber:iq:auth'><username>bob</username><password>s3cret!Pw</password><resource>r</resource></query></iq>".to_owned()),
        (C, 7, 6, "<presence to='room@muc/x'><x xmlns='http://jabber.org/protocol/muc'><password>s3cret!Pw</password></x></presence>".to_owned()),
        (C, 8, 7, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-OAUTH2'>ADEwMDEAczNjcmV0IVB3</auth>".to_owned()),
    ];
    let (session, sink) = run(&msgs, false);
    for secret in [
        PASSWORD,
        "YWRtaW5AeAAxMDAxAHMzY3JldCFQdw==",
        scram_final,
        digest,
        PLAIN_B64,
    ] {
        assert!(
            !sink.json.contains(secret),
            "{secret} leaked:\n{}",
            sink.json
        );
    }
    let got: Vec<&str> = sink.stanzas.iter().map(|s| s.summary.as_str()).collect();
    assert_eq!(
        got,
        [
            "auth PLAIN as 1001 for admin@x (password redacted)",
            "auth SCRAM-SHA-1 as sergio",
            "response SCRAM-SHA-1 (proof redacted)",
            "auth DIGEST-MD5",
            "response DIGEST-MD5 as tom (redacted)",
            "iq set jabber:iq:auth as bob",
            "presence available to room@muc/x",
            "auth X-OAUTH2 as 1001 (token redacted)",
        ]
    );
    assert_eq!(
        session.summary().sasl.as_ref().unwrap().user.as_deref(),
        Some("1001")
    );
    // With show_secrets, the raw XML is untouched.
    let (_, shown) = run(&msgs, true);
    assert!(shown.json.contains(digest) && shown.json.contains(PASSWORD));
}

#[test]
fn digest_md5_user_and_failure() {
    // ndpi/jabber.pcap, stream 4: DIGEST-MD5 answered by <failure>.
    let msgs = vec![
        (C, 230, 0, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>".to_owned()),
        (S, 231, 1, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>bm9uY2U9IjE1MzA3NTE4ODgxNTIwMjU2MzQxIixxb3A9ImF1dGgiLGNoYXJzZXQ9dXRmLTgsYWxnb3JpdGhtPW1kNS1zZXNz</challenge>".to_owned()),
        (C, 233, 2, "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dXNlcm5hbWU9InRvbSIscmVhbG09ImNzLXhtcHAubGFuIixub25jZT0iMTUzMDc1MTg4ODE1MjAyNTYzNDEiLGNub25jZT0iZWVlMTkwZmUxNTAyMzc5NzIzNzViNGFhM2MiLG5jPTAwMDAwMDAxLHFvcD1hdXRoLGRpZ2VzdC11cmk9InhtcHAvY3MteG1wcC5sYW4iLHJlc3BvbnNlPThlMWEzODE2OTk2ZmZlM2Q4N2EzNDY4YzMyZGE4ZDk1LGNoYXJzZXQ9dXRmLTg=</response>".to_owned()),
        (S, 235, 3, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text xml:lang='en'>Invalid username or password</text></failure>".to_owned()),
    ];
    let (session, sink) = run(&msgs, false);
    assert_eq!(
        sink.stanzas[3].summary,
        "failure not-authorized: Invalid username or password"
    );
    assert_eq!(sink.codes(), ["xmpp.sasl_failure"]);
    assert_eq!(sink.findings[0].level, Level::Error);
    assert_eq!(sink.findings[0].frame, Some(235));
    assert_eq!(
        sink.findings[0].message,
        "SASL DIGEST-MD5 authentication failed for tom: not-authorized (Invalid username or password)"
    );
    let sasl = session.summary().sasl.clone().unwrap();
    assert_eq!(
        (sasl.user.as_deref(), sasl.outcome.as_deref()),
        (Some("tom"), Some("failure"))
    );
}

#[test]
fn conflict_stream_error_names_the_resource() {
    let mut msgs = finesse_conversation();
    msgs.truncate(13);
    msgs.push((S, 40, 30_000, "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error>".to_owned()));
    let (mut session, mut sink) = run(&msgs, false);
    end(
        &mut session,
        &mut sink,
        Ending::WebSocketClose {
            code: Some(1000),
            reason: None,
            by: S,
        },
    );
    assert_eq!(sink.stanzas.last().unwrap().name, "stream:error");
    assert_eq!(
        sink.stanzas.last().unwrap().summary,
        "stream error conflict: Replaced by new connection"
    );
    assert_eq!(sink.codes(), ["xmpp.conflict"]);
    assert!(
        sink.findings[0].message.contains("(desktop)"),
        "{}",
        sink.findings[0].message
    );
    let err = session.summary().stream_error.clone().unwrap();
    assert_eq!(err.condition.as_deref(), Some("conflict"));
}

#[test]
fn other_stream_errors_and_redirects() {
    let cases = [
        ("<stream:error xmlns:stream='http://etherx.jabber.org/streams'><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", "xmpp.system_shutdown"),
        ("<stream:error><connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", "xmpp.connection_timeout"),
        ("<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", "xmpp.stream_error"),
        ("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='wss://finesse2.example.com:8445/ws/'/>", "xmpp.redirect"),
    ];
    for (xml, code) in cases {
        let (_, sink) = run(&[(S, 1, 0, xml.to_owned())], false);
        assert_eq!(sink.codes(), [code], "{xml}");
    }
    let (s, sink) = run(&[(S, 1, 0, cases[3].0.to_owned())], false);
    assert_eq!(
        sink.stanzas[0].summary,
        "close, see-other-uri wss://finesse2.example.com:8445/ws/"
    );
    assert_eq!(
        s.summary().close.as_ref().unwrap().see_other_uri.as_deref(),
        Some("wss://finesse2.example.com:8445/ws/")
    );
}

#[test]
fn unanswered_ping_and_late_traffic() {
    let msgs = vec![
        (
            C,
            1,
            0,
            "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>".to_owned(),
        ),
        (
            S,
            2,
            1_000,
            "<iq type='get' id='s1' from='finesse1.example.com'><ping xmlns='urn:xmpp:ping'/></iq>"
                .to_owned(),
        ),
        (
            C,
            3,
            1_002,
            "<iq type='result' id='s1' to='finesse1.example.com'/>".to_owned(),
        ),
        (
            C,
            4,
            30_000,
            "<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>".to_owned(),
        ),
        (S, 5, 45_000, "<iq type='result' id='p2'/>".to_owned()),
        (
            C,
            6,
            60_000,
            "<iq type='get' id='p3'><ping xmlns='urn:xmpp:ping'/></iq>".to_owned(),
        ),
    ];
    let (mut session, mut sink) = run(&msgs, false);
    end(
        &mut session,
        &mut sink,
        Ending::WebSocketAbnormal {
            dropped_by: Some(S),
        },
    );
    assert_eq!(sink.stanzas[2].summary, "ping → pong 2 ms");
    assert_eq!(sink.stanzas[4].summary, "ping → pong 15000 ms");
    assert_eq!(
        sink.codes(),
        [
            "xmpp.slow_ping_reply",
            "xmpp.ended_without_close",
            "xmpp.unanswered_ping",
            "xmpp.unanswered_ping"
        ]
    );
    let p1 = &sink.findings[2];
    assert_eq!((p1.frame, p1.level), (Some(1), Level::Warn));
    assert_eq!(
        p1.message,
        "the client's ping (id p1) got no reply in the 60.0 s that followed"
    );
    // p3 was sent as the session ended: maybe not a fault.
    assert_eq!(sink.findings[3].level, Level::Info);
    let pings = &session.summary().pings;
    assert_eq!(
        (pings.sent, pings.answered, pings.unanswered),
        ([3, 1], 2, 2)
    );
}

#[test]
fn notification_delivery_problems() {
    let msgs = vec![
        (S, 1, 0, "<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>1001@f/desktop</jid></bind></iq>".to_owned()),
        (C, 2, 1, "<presence><priority>-1</priority></presence>".to_owned()),
        (C, 3, 2, "<iq type='set' id='s1' to='pubsub.f'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='/finesse/api/Queue/5' jid='1001@f'/></pubsub></iq>".to_owned()),
        (S, 4, 3, "<iq type='error' id='s1' from='pubsub.f'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>".to_owned()),
        (C, 5, 4, "<iq type='set' id='s2' to='pubsub.f'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='/finesse/api/Team/3/Users' jid='1001@f/desktop'/></pubsub></iq>".to_owned()),
        (S, 6, 5, "<iq type='result' id='s2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='/finesse/api/Team/3/Users' subscription='pending'/></pubsub></iq>".to_owned()),
        (S, 7, 6, notification_message("/finesse/api/User/1001", "<Update><data><user><loginId>1001</loginId><state>LOGOUT</state><reasonCodeId>255</reasonCodeId></user></data><event>PUT</event></Update>")),
        (S, 8, 7, notification_message("/finesse/api/SystemInfo", "<Update><data><user>")),
        (S, 9, 8, "<presence from='finesse@finesse1.example.com/finesse' type='unavailable'/>".to_owned()),
    ];
    let (_, sink) = run(&msgs, false);
    assert_eq!(
        sink.codes(),
        [
            "xmpp.negative_priority",
            "xmpp.subscription_bare_jid",
            "xmpp.subscription_failed",
            "xmpp.subscription_failed",
        ]
    );
    // What the notifications and the presence from finesse@ mean is the Finesse stage's.
    assert_eq!(sink.items.len(), 2);
    assert_eq!(
        sink.stanzas[3].summary,
        "subscribe /finesse/api/Queue/5 → error cancel/item-not-found (1 ms)"
    );
    assert_eq!(
        sink.stanzas[5].summary,
        "subscribe /finesse/api/Team/3/Users → pending (1 ms)"
    );
}

#[test]
fn no_presence_after_authentication_is_a_finding() {
    let mut msgs = finesse_conversation();
    msgs.truncate(12);
    let (mut session, mut sink) = run(&msgs, false);
    session.finish(&mut sink);
    assert_eq!(sink.codes(), ["xmpp.no_presence"]);
}

#[test]
fn malformed_xml_is_a_finding_and_the_session_goes_on() {
    let msgs = vec![
        (C, 1, 0, "<iq type='get' id='x'><query></iq>".to_owned()),
        (C, 2, 1, "\u{feff}garbage".to_owned()),
        (
            C,
            3,
            2,
            "<iq type='get' id='y'><ping xmlns='urn:xmpp:ping'/></iq>".to_owned(),
        ),
        (S, 4, 3, "<iq type='result' id='y'/>".to_owned()),
        (
            S,
            5,
            4,
            "<message><body>a &unknown; b</body></message>".to_owned(),
        ),
    ];
    let (session, sink) = run(&msgs, false);
    assert_eq!(
        sink.codes(),
        [
            "xmpp.malformed_xml",
            "xmpp.malformed_xml",
            "xmpp.malformed_xml"
        ]
    );
    assert_eq!(sink.findings[0].frame, Some(1));
    assert_eq!(sink.stanzas[0].name, "iq");
    assert!(sink.stanzas[0].summary.starts_with("malformed XML"));
    assert_eq!(sink.stanzas[3].summary, "ping → pong 1 ms");
    assert_eq!(session.summary().malformed, 3);
    // Unparsed iqs may hold secrets: not shown.
    assert!(sink.stanzas[0].raw.contains("not shown"));
}

#[test]
fn legacy_stream_header_over_websocket_and_whitespace() {
    let msgs = vec![
        (C, 1, 0, "<?xml version='1.0'?><stream:stream to='f' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>".to_owned()),
        (S, 2, 1, " <stream:stream from='f' id='z' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>".to_owned()),
        (C, 3, 2, "  \n".to_owned()),
        (C, 4, 3, "</stream:stream>".to_owned()),
    ];
    let (session, sink) = run(&msgs, false);
    let got: Vec<(&str, &str)> = sink
        .stanzas
        .iter()
        .map(|s| (s.name.as_str(), s.summary.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("stream:stream", "stream open to f"),
            ("stream:stream", "stream open from f, id z"),
            ("stream:features", "features: bind"),
            ("/stream:stream", "stream end"),
        ]
    );
    assert!(sink.findings.is_empty());
    assert_eq!(session.summary().close.as_ref().unwrap().by, C);
}

#[test]
fn messages_show_type_address_and_capped_body() {
    let long = "x".repeat(300);
    let msgs = vec![
        (C, 1, 0, "<message id='m' to='lucas@example.com' type='chat'><body>hola que tal estas</body></message>".to_owned()),
        (S, 2, 1, "<message type='error' from='lucas@example.com'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>".to_owned()),
        (S, 3, 2, format!("<message from='a@b'><body>{long}</body></message>")),
    ];
    let (_, sink) = run(&msgs, false);
    assert_eq!(
        sink.stanzas[0].summary,
        "message chat to lucas@example.com: \"hola que tal estas\""
    );
    assert_eq!(sink.stanzas[0].kind.as_deref(), Some("chat"));
    assert_eq!(
        sink.stanzas[1].summary,
        "message error from lucas@example.com: service-unavailable"
    );
    assert_eq!(
        sink.stanzas[2].summary.chars().count(),
        "message normal from a@b: \"\"".chars().count() + 121
    );
}

#[test]
fn pending_iqs_are_capped() {
    let limits = Limits {
        max_pending_iqs: 2,
        ..Limits::default()
    };
    let mut session = Session::new(1, Transport::Bosh, &limits, false);
    let mut sink = Collect::default();
    for i in 0..4 {
        let xml = format!("<iq type='get' id='q{i}'><query xmlns='jabber:iq:roster'/></iq>");
        session.on_element(C, frame(i, i as i64), xml.as_bytes(), &mut sink);
    }
    session.on_element(S, frame(9, 9), b"<iq type='result' id='q0'/>", &mut sink);
    assert_eq!(sink.stanzas[4].summary, "iq result (no matching request)");
    session.on_element(S, frame(10, 10), b"<iq type='result' id='q3'/>", &mut sink);
    assert_eq!(
        sink.stanzas[5].summary,
        "iq get query (jabber:iq:roster) → result (7 ms)"
    );
    assert_eq!(sink.codes(), ["xmpp.pending_iq_limit"]);
}

#[test]
fn over_long_iq_ids_are_not_kept_for_a_reply() {
    let (mut session, mut sink) = run(&[], false);
    let id = "x".repeat(100_000);
    let xml = format!("<iq type='get' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>");
    session.on_element(C, frame(1, 1), xml.as_bytes(), &mut sink);
    assert_eq!(
        sink.stanzas[0].summary,
        "ping (id too long to match a reply)"
    );
    let reply = format!("<iq type='result' id='{id}'/>");
    session.on_element(S, frame(2, 2), reply.as_bytes(), &mut sink);
    assert_eq!(sink.stanzas[1].summary, "iq result (no matching request)");
}

/// Throughput of the session on a WebSocket session full of pubsub events
/// (run with `cargo test --release -- --ignored --nocapture xmpp::tests::throughput`).
#[test]
#[ignore]
fn throughput_pubsub_events() {
    struct Count(usize, usize);
    impl crate::finding::Findings for Count {
        fn push_finding(&mut self, _: crate::finding::Finding) {}
    }
    impl Sink for Count {
        fn on_stanza(&mut self, s: &Stanza<'_>) {
            self.0 += s.summary.len();
        }
        fn on_pubsub_items(&mut self, _: &Stanza<'_>, items: &[super::PubsubItem<'_>]) {
            self.1 += items.iter().map(|i| i.text.len()).sum::<usize>();
        }
        fn on_tls_handover(&mut self, _: &TlsHandover) {}
    }
    let messages: Vec<String> = (0..1000)
        .map(|i| {
            if i % 2 == 0 {
                notification_message("/finesse/api/User/1001", USER_READY)
            } else {
                notification_message("/finesse/api/User/1001/Dialogs", DIALOG)
            }
        })
        .collect();
    let bytes: usize = messages.iter().map(String::len).sum();
    let mut session = Session::new(1, Transport::WebSocket, &Limits::default(), false);
    let mut sink = Count(0, 0);
    let rounds = 200;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for m in &messages {
            session.on_element(S, frame(1, 0), m.as_bytes(), &mut sink);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = (bytes * rounds) as f64 / 1e6;
    eprintln!(
        "{mb:.0} MB of pubsub events ({} B each) in {secs:.2} s: {:.0} MB/s, {:.0} k stanzas/s",
        bytes / messages.len(),
        mb / secs,
        (messages.len() * rounds) as f64 / secs / 1e3
    );
    assert!(sink.1 > 0);
}

#[test]
#[ignore]
fn throughput_parts() {
    let limits = Limits::default();
    let user = notification_message("/finesse/api/User/1001", USER_READY);
    let t = std::time::Instant::now();
    let n = 200_000;
    for _ in 0..n {
        std::hint::black_box(crate::finesse::parse_notification(USER_READY, &limits).unwrap());
    }
    eprintln!(
        "notification parse: {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            element::parse_element(
                &user,
                &element::Namespaces::default(),
                &limits,
                &mut crate::xmpp::escaped::Scratch::default(),
            )
            .unwrap(),
        );
    }
    eprintln!(
        "stanza parse: {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut s = scan::Scanner::default();
        std::hint::black_box(s.scan(user.as_bytes()));
    }
    eprintln!("scan: {:.2} µs", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let u = crate::finesse::parse_notification(USER_READY, &limits).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(u.summary());
        std::hint::black_box(u.findings());
    }
    eprintln!(
        "summary+findings: {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

#[test]
#[ignore]
fn throughput_parts2() {
    let user = notification_message("/finesse/api/User/1001", USER_READY);
    let esc = quick_xml::escape::escape(USER_READY).into_owned();
    let n = 200_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(quick_xml::escape::unescape(&esc).unwrap());
    }
    eprintln!(
        "unescape {} B: {:.2} µs",
        esc.len(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(std::str::from_utf8(user.as_bytes()).unwrap());
        std::hint::black_box(user.as_bytes().to_vec());
    }
    eprintln!(
        "utf8+copy {} B: {:.2} µs",
        user.len(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let plain = user.replace(&esc, "x");
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            element::parse_element(
                &plain,
                &element::Namespaces::default(),
                &Limits::default(),
                &mut crate::xmpp::escaped::Scratch::default(),
            )
            .unwrap(),
        );
    }
    eprintln!(
        "stanza without payload {} B: {:.2} µs",
        plain.len(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

#[test]
#[ignore]
fn loop_notification() {
    let limits = Limits::default();
    for _ in 0..1_000_000 {
        std::hint::black_box(crate::finesse::parse_notification(USER_READY, &limits).unwrap());
    }
}

#[test]
#[ignore]
fn loop_stanza() {
    let user = notification_message("/finesse/api/User/1001", USER_READY);
    let plain = user.replace(&*quick_xml::escape::escape(USER_READY), "x");
    for _ in 0..1_000_000 {
        std::hint::black_box(
            element::parse_element(
                &plain,
                &element::Namespaces::default(),
                &Limits::default(),
                &mut crate::xmpp::escaped::Scratch::default(),
            )
            .unwrap(),
        );
    }
}

#[test]
fn unclosed_header_with_another_prefix_is_still_a_header() {
    let msgs = vec![(
        C,
        1,
        0,
        "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client' to='f'>"
            .to_owned(),
    )];
    let (_, sink) = run(&msgs, false);
    assert_eq!(sink.stanzas[0].name, "s:stream");
    assert_eq!(
        sink.stanzas[0].summary,
        "stream open to f (no version: pre-RFC 3920 stream)"
    );
    assert!(sink.findings.is_empty());
    let (_, sink) = run(&[(C, 1, 0, "<iq type='get'>".to_owned())], false);
    assert_eq!(sink.codes(), ["xmpp.malformed_xml"]);
    assert!(
        sink.findings[0].message.contains("not closed"),
        "{}",
        sink.findings[0].message
    );
}

#[test]
fn well_known_features_are_named_in_words() {
    let features = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><ver xmlns='urn:xmpp:features:rosterver'/><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/><sm xmlns='urn:xmpp:sm:3'/><x-odd xmlns='urn:example'/></stream:features>";
    let (_, sink) = run(&[(S, 3, 0, features.to_owned())], false);
    assert_eq!(
        sink.stanzas[0].summary,
        "features: roster versioning, bind, caps, stream management, x-odd"
    );
}

#[test]
fn a_session_lasts_until_its_transport_dropped() {
    let (mut session, mut sink) = run(&finesse_conversation()[..4], false);
    assert_eq!(session.summary().last_seen().map(|f| f.frame), Some(12));
    end(
        &mut session,
        &mut sink,
        Ending::WebSocketAbnormal {
            dropped_by: Some(S),
        },
    );
    // `end` drops it at frame 99, long after the last stanza.
    assert_eq!(session.summary().last.map(|f| f.frame), Some(12));
    assert_eq!(session.summary().last_seen().map(|f| f.frame), Some(99));
}

#[test]
fn a_message_of_countless_elements_stops_at_the_node_cap() {
    let limits = Limits {
        max_xml_nodes: 100,
        ..Limits::default()
    };
    let mut session = Session::new(1, Transport::WebSocket, &limits, false);
    let mut sink = Collect::default();
    let flood = "<a/>".repeat(10_000);
    session.on_element(S, frame(1, 1), flood.as_bytes(), &mut sink);
    assert_eq!(sink.stanzas.len(), 101);
    assert!(sink.stanzas[100]
        .summary
        .contains("more than 100 elements in one message"));
}

/// The entry for inputs without TCP under them (a HAR's WebSocket messages):
/// the same conversation gives the same stanzas and findings as elements.
#[test]
fn whole_websocket_messages_give_what_elements_give() {
    let (_, by_element) = run(&finesse_conversation(), false);
    let mut session = Session::new(7, Transport::WebSocket, &Limits::default(), false);
    let mut by_message = Collect::default();
    for (dir, n, ms, xml) in finesse_conversation() {
        let at = frame(n, ms);
        session.on_ws_message(dir, at, at, &xml, &mut by_message);
    }
    assert_eq!(by_message.log, by_element.log);
    assert_eq!(by_message.stanzas, by_element.stanzas);
}

fn findings_of(sink: &Collect, code: &str) -> Vec<(Level, Option<u64>, String)> {
    sink.findings
        .iter()
        .filter(|f| f.code == code)
        .map(|f| (f.level, f.frame, f.message.clone()))
        .collect()
}

#[test]
fn a_stream_open_without_answer_is_a_finding() {
    let open = finesse_conversation()[0].clone();
    let (mut session, mut sink) = run(std::slice::from_ref(&open), false);
    end(
        &mut session,
        &mut sink,
        Ending::TcpClosed {
            by: Some(C),
            reset: false,
        },
    );
    assert_eq!(
        findings_of(&sink, "xmpp.no_stream_response"),
        [(Level::Warn, Some(10), "the server never answered the client's stream open to finesse1.example.com: no stream header, features or stream error came back before the session ended (TCP closed by the client)".to_owned())]
    );
    // The capture ended before anything came back.
    let (mut session, mut sink) = run(std::slice::from_ref(&open), false);
    session.finish(&mut sink);
    let found = findings_of(&sink, "xmpp.no_stream_response");
    assert!(
        found[0].2.ends_with("came back by the end of the capture"),
        "{found:?}"
    );
    // Any answer at all, even a stream error, is an answer.
    let error = (S, 11, 1, "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>".to_owned());
    let (mut session, mut sink) = run(&[open, error], false);
    session.finish(&mut sink);
    assert!(findings_of(&sink, "xmpp.no_stream_response").is_empty());
    // No client open, no finding (a capture that starts mid-session).
    let (mut session, mut sink) = run(&finesse_conversation()[3..4], false);
    session.finish(&mut sink);
    assert!(findings_of(&sink, "xmpp.no_stream_response").is_empty());
}

fn auth(mechanism: &str, text: &str) -> (Dir, u64, i64, String) {
    let xml = if text.is_empty() {
        format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'/>")
    } else {
        format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{text}</auth>"
        )
    };
    (C, 1, 0, xml)
}

#[test]
fn an_empty_initial_response_is_said_not_redacted() {
    // RFC 6120 §6.4.2: no text is no initial response, `=` an empty one.
    for (mechanism, text, want) in [
        ("PLAIN", "", "auth PLAIN (no initial response)"),
        ("PLAIN", "=", "auth PLAIN (empty initial response)"),
        ("LOGIN", "", "auth LOGIN (no initial response)"),
        ("LOGIN", "=", "auth LOGIN (empty initial response)"),
        ("X-OAUTH2", "=", "auth X-OAUTH2 (empty initial response)"),
        ("LOGIN", "dG9t", "auth LOGIN (initial response redacted)"),
        ("PLAIN", PLAIN_B64, "auth PLAIN as 1001 (password redacted)"),
    ] {
        let (session, sink) = run(&[auth(mechanism, text)], false);
        assert_eq!(sink.stanzas[0].summary, want, "{mechanism} {text:?}");
        let redacted = sink.stanzas[0].raw.contains("redacted");
        assert_eq!(
            redacted,
            want.contains("redacted"),
            "{}",
            sink.stanzas[0].raw
        );
        let sasl = session.summary().sasl.clone().unwrap();
        assert_eq!(sasl.mechanism.as_deref(), Some(mechanism));
    }
}

#[test]
fn each_registration_feature_is_named_for_its_namespace() {
    // Prosody 0.12 with mod_register_ibr and mod_invites_register.
    let features = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><register xmlns='http://jabber.org/features/iq-register'/><register xmlns='urn:xmpp:ibr-token:0'/><register xmlns='urn:xmpp:invite'/><auth xmlns='http://jabber.org/features/iq-auth'/><sub xmlns='urn:xmpp:features:pre-approval'/><csi xmlns='urn:xmpp:csi:0'/><register xmlns='urn:example'/></stream:features>";
    let (_, sink) = run(&[(S, 3, 0, features.to_owned())], false);
    assert_eq!(
        sink.stanzas[0].summary,
        "features: in-band registration (XEP-0077), pre-authenticated registration (XEP-0445 invitation token), invitation registration (XEP-0401, older namespace), legacy auth (XEP-0078), presence pre-approval, client state indication, register"
    );
}

fn subscribe(n: u64, node: &str, jid: &str) -> [(Dir, u64, i64, String); 2] {
    let id = format!("sub{n}");
    [
        (C, n, n as i64, format!("<iq type='set' id='{id}' to='pubsub.f'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='{node}' jid='{jid}'/></pubsub></iq>")),
        (S, n + 1, n as i64 + 1, format!("<iq type='result' id='{id}' from='pubsub.f'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='{node}' jid='{jid}' subid='s{n}' subscription='subscribed'/></pubsub></iq>")),
    ]
}

fn unsubscribe(n: u64, node: &str, subid: &str) -> [(Dir, u64, i64, String); 2] {
    let id = format!("unsub{n}");
    [
        (C, n, n as i64, format!("<iq type='set' id='{id}' to='pubsub.f'><pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='{node}' jid='1001@f/desktop' subid='{subid}'/></pubsub></iq>")),
        (S, n + 1, n as i64 + 1, format!("<iq type='result' id='{id}' from='pubsub.f'/>")),
    ]
}

#[test]
fn a_bare_jid_subscription_is_advice_not_a_failure() {
    let (_, sink) = run(&subscribe(10, "/finesse/api/Team/3/Users", "1001@f"), false);
    assert_eq!(
        findings_of(&sink, "xmpp.subscription_bare_jid"),
        [(Level::Info, Some(10), "the subscription to /finesse/api/Team/3/Users uses the bare JID 1001@f: the notification service delivers it to every available resource of the user (this desktop included); Cisco asks for the full JID on explicit subscriptions so that the user's other resources are not sent the same traffic".to_owned())]
    );
    let (_, full) = run(
        &subscribe(10, "/finesse/api/Team/3/Users", "1001@f/desktop"),
        false,
    );
    assert!(full.findings.is_empty(), "{:?}", full.codes());
}

/// A server that delivers `/feeds/mine` unasked (the XMPP stage's own
/// knowledge of such nodes is none: the application says which).
fn mine_is_automatic(node: &str) -> Option<&'static str> {
    (node == "/feeds/mine").then_some("the server delivers it unasked")
}

fn run_with_feeds(messages: &[(Dir, u64, i64, String)], feeds: AutomaticFeeds) -> Collect {
    let mut session = Session::new(7, Transport::WebSocket, &Limits::default(), false)
        .with_automatic_feeds(feeds);
    let mut sink = Collect::default();
    for (dir, n, ms, xml) in messages {
        session.on_element(*dir, frame(*n, *ms), xml.as_bytes(), &mut sink);
    }
    sink
}

#[test]
fn subscriptions_to_automatic_feeds_are_redundant() {
    let sink = run_with_feeds(
        &subscribe(10, "/feeds/mine", "1001@f/desktop"),
        mine_is_automatic,
    );
    assert_eq!(
        findings_of(&sink, "xmpp.subscription_redundant"),
        [(
            Level::Info,
            Some(10),
            "the subscription to /feeds/mine is redundant: the server delivers it unasked"
                .to_owned()
        )]
    );
    let other = run_with_feeds(
        &subscribe(10, "/feeds/team", "1001@f/desktop"),
        mine_is_automatic,
    );
    assert!(other.findings.is_empty(), "{:?}", other.codes());
}

#[test]
fn a_session_not_told_of_automatic_feeds_finds_none() {
    for node in ["/feeds/mine", "/finesse/api/User/1001"] {
        let (_, sink) = run(&subscribe(10, node, "1001@f/desktop"), false);
        assert!(sink.findings.is_empty(), "{node}: {:?}", sink.codes());
    }
}

#[test]
fn subscriptions_never_unsubscribed_are_left_on_the_node() {
    let team = "/finesse/api/Team/3/Users";
    let queue = "/finesse/api/Queue/5";
    let mut msgs: Vec<_> = subscribe(10, team, "1001@f/desktop").into();
    msgs.extend(subscribe(20, queue, "1001@f/desktop"));
    msgs.extend(unsubscribe(30, queue, "s20"));
    // The same node again, left behind this time.
    msgs.extend(subscribe(40, queue, "1001@f/desktop"));
    let ended = |msgs: &[(Dir, u64, i64, String)]| {
        let (mut session, mut sink) = run(msgs, false);
        let how = Ending::TcpClosed {
            by: Some(C),
            reset: false,
        };
        end(&mut session, &mut sink, how);
        findings_of(&sink, "xmpp.subscription_left")
    };
    let left = ended(&msgs);
    let frames: Vec<_> = left
        .iter()
        .map(|(level, frame, _)| (*level, *frame))
        .collect();
    assert_eq!(frames, [(Level::Info, Some(10)), (Level::Info, Some(40))]);
    assert_eq!(left[0].2, "the subscription to /finesse/api/Team/3/Users (subid s10) was not unsubscribed before the session ended: it persists on the node, and leftovers of earlier sessions make later ones receive duplicate notifications (Cisco asks clients to unsubscribe before disconnecting)");
    // An unsubscribe with another subid does not end this subscription.
    msgs.extend(unsubscribe(50, team, "other"));
    assert_eq!(ended(&msgs).len(), 2);
    msgs.extend(unsubscribe(60, team, "s10"));
    msgs.extend(unsubscribe(70, queue, "s40"));
    assert!(ended(&msgs).is_empty());
    // A capture that stops mid-session says nothing of what came later.
    let (mut session, mut sink) = run(&subscribe(10, team, "1001@f/desktop"), false);
    session.finish(&mut sink);
    assert!(findings_of(&sink, "xmpp.subscription_left").is_empty());
    // Nor does a session whose transport ended with the capture, or when the
    // analysis stopped following its connection (the memory budget): both
    // are told `CaptureEnded`, and the session may still unsubscribe.
    let (mut session, mut sink) = run(&subscribe(10, team, "1001@f/desktop"), false);
    end(&mut session, &mut sink, Ending::CaptureEnded);
    assert!(findings_of(&sink, "xmpp.subscription_left").is_empty());
}

#[test]
fn a_failed_subscription_is_not_left_behind() {
    let mut msgs: Vec<_> = subscribe(10, "/finesse/api/Queue/5", "1001@f/desktop").into();
    msgs[1].3 = "<iq type='error' id='sub10' from='pubsub.f'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>".to_owned();
    let (mut session, mut sink) = run(&msgs, false);
    end(
        &mut session,
        &mut sink,
        Ending::TcpClosed {
            by: Some(S),
            reset: true,
        },
    );
    assert_eq!(
        sink.codes(),
        ["xmpp.subscription_failed", "xmpp.ended_without_close"]
    );
}

#[test]
fn a_stanza_over_the_node_cap_or_with_a_duplicate_attribute_is_said() {
    let limits = Limits {
        max_xml_nodes: 10,
        ..Limits::default()
    };
    let mut session = Session::new(1, Transport::WebSocket, &limits, false);
    let mut sink = Collect::default();
    let items = "<item/>".repeat(20);
    let xml = format!("<message from='a@b' to='c@d'><body>x</body><x>{items}</x></message>");
    session.on_element(S, frame(1, 1), xml.as_bytes(), &mut sink);
    session.on_element(C, frame(2, 2), b"<presence id='1' id='2'/>", &mut sink);
    assert_eq!(sink.stanzas.len(), 2, "both are still analysed");
    let too_many = findings_of(&sink, "xmpp.too_many_elements");
    assert_eq!(too_many.len(), 1);
    assert_eq!(too_many[0].1, Some(1));
    assert!(too_many[0].2.contains("13 more"), "{}", too_many[0].2);
    let duplicate = findings_of(&sink, "xmpp.duplicate_attribute");
    assert_eq!(duplicate.len(), 1);
    assert_eq!(duplicate[0].1, Some(2));
}
