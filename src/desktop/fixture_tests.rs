//! The desktop fixtures read end to end as far as the pipeline goes today
//! (it does not feed the desktop stage yet): each connection opens and ends
//! the way the desktop story needs (SYNs refused by RST-ACK, SYNs
//! retransmitted unanswered, sessions reset by the server), and with their
//! key logs the sessions decrypt, so the lead can bless the desktop goldens
//! once `Wiring::on_conn_summary` feeds [`super::Story`].

use std::path::{Path, PathBuf};

use crate::finding::Finding;
use crate::pipeline::{self, Options};
use crate::position::Dir;
use crate::report::ndjson::Selection;
use crate::tcp::{Ending, StreamStats};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn keys(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keys")
        .join(name)
}

/// Per stream: server, SYN-ACK seen, how it ended, client packets.
fn streams(name: &str) -> Vec<(String, bool, String, u64)> {
    let report = pipeline::streams(&fixture(name), &Options::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    report
        .streams
        .iter()
        .map(|s: &StreamStats| {
            (
                s.server.to_string(),
                s.syn_ack_seen,
                s.ending_words(),
                s.client_to_server.packets,
            )
        })
        .collect()
}

fn row(server: &str, syn_ack: bool, ending: &str, c2s: u64) -> (String, bool, String, u64) {
    (server.to_owned(), syn_ack, ending.to_owned(), c2s)
}

/// The XMPP sessions decrypted with the fixture's key log: stream and JID.
fn sessions(name: &str, keylog: &str) -> (Vec<(u64, Option<String>)>, Vec<Finding>) {
    let opts = Options {
        keylogs: vec![keys(keylog)],
        ..Options::default()
    };
    let report = pipeline::report(&fixture(name), &opts, Selection::All)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let sessions = report
        .sessions
        .iter()
        .map(|s| {
            (
                s.streams.first().copied().unwrap_or(u64::MAX),
                s.xmpp.jid.clone(),
            )
        })
        .collect();
    (sessions, report.findings)
}

const NODE1: &str = "10.20.30.41:8445";
const NODE2: &str = "10.20.30.42:8445";

#[test]
fn desktop_refused_has_a_reset_two_refused_attempts_and_a_success() {
    let name = "desktop-refused.pcapng";
    let got = streams(name);
    assert_eq!(
        got[1..3],
        [
            row(NODE1, false, "RST from server", 1),
            row(NODE1, false, "RST from server", 1)
        ]
    );
    assert!(got[0].1, "stream 0 opened");
    assert_eq!(got[0].2, "RST from server");
    assert_eq!((got[3].0.as_str(), got[3].2.as_str()), (NODE1, "FIN both"));
    let (sessions, _) = sessions(name, "desktop-refused.keys");
    let jid = Some("1001@finesse1.example.com/desktop".to_owned());
    assert_eq!(sessions, [(0, jid.clone()), (3, jid)]);
}

#[test]
fn desktop_no_answer_retransmits_its_syns_then_reaches_the_other_node() {
    let name = "desktop-no-answer.pcapng";
    let got = streams(name);
    assert_eq!(
        got[1..3],
        [
            row(NODE1, false, "open at end", 4),
            row(NODE1, false, "open at end", 3)
        ]
    );
    assert_eq!((got[3].0.as_str(), got[3].2.as_str()), (NODE2, "FIN both"));
    let (sessions, findings) = sessions(name, "desktop-no-answer.keys");
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions[1],
        (3, Some("1001@finesse2.example.com/desktop".to_owned()))
    );
    // Today's session-level failover sees the same story the desktop stage will tell.
    assert!(
        findings.iter().any(|f| f.code == "xmpp.failover"),
        "{findings:?}"
    );
}

#[test]
fn desktop_loop_is_four_short_sessions_each_reset_by_the_server() {
    let name = "desktop-loop.pcapng";
    let report =
        pipeline::streams(&fixture(name), &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.streams.len(), 4);
    let mut previous_end = None;
    for s in &report.streams {
        assert_eq!(
            (s.ending, s.rst_from),
            (Ending::Rst, Some(Dir::ServerToClient))
        );
        let lived = s.last.ts.secs_since(s.first.ts);
        assert!(
            (15.0..=18.0).contains(&lived),
            "stream {} lived {lived} s",
            s.stream
        );
        if let Some(end) = previous_end {
            let gap = s.first.ts.secs_since(end);
            assert!(
                (2.0..=3.0).contains(&gap),
                "gap {gap} s before stream {}",
                s.stream
            );
        }
        previous_end = Some(s.last.ts);
    }
    let (sessions, findings) = sessions(name, "desktop-loop.keys");
    assert_eq!(sessions.len(), 4);
    assert!(
        findings.iter().any(|f| f.code == "xmpp.reconnect_loop"),
        "{findings:?}"
    );
}

/// A stand-in for the connection story (which another branch builds): the
/// summary of one stream from its TCP facts, with the role and user of the
/// session it carried when decrypted. Only what the desktop stage reads.
fn stand_in_summary(s: &StreamStats, session: Option<&Option<String>>) -> crate::conn::Summary {
    use crate::conn::{Basis, DirFacts, EndHow, Ended, Keepalive, Opened, Role, Side, Summary};
    let how = match (s.syn_ack_seen, s.ending) {
        (false, Ending::Rst) => EndHow::Refused,
        (false, _) => EndHow::NoAnswer,
        (true, Ending::Rst) => EndHow::Rst,
        (true, Ending::Fin) => EndHow::Fin,
        (true, _) => EndHow::Open,
    };
    let by = match how {
        EndHow::Refused => Some(Side::Server),
        EndHow::Rst if s.rst_from == Some(Dir::ServerToClient) => Some(Side::Server),
        EndHow::Rst | EndHow::Fin => Some(Side::Client),
        EndHow::NoAnswer | EndHow::Open => None,
    };
    let (role, role_basis) = match session {
        Some(_) => (Role::XmppWebsocket, Basis::Decrypted),
        None => (Role::Other, Basis::Inferred),
    };
    Summary {
        stream: s.stream,
        client: s.client,
        server: s.server,
        sni: session.and_then(|jid| jid.as_deref()?.split(['@', '/']).nth(1).map(str::to_owned)),
        role,
        role_basis,
        role_reasons: vec!["XMPP over WebSocket decrypted".to_owned()],
        opened: Opened::Syn,
        first: s.first,
        ended: Ended {
            how,
            by,
            frame: (how != EndHow::Open).then_some(s.last.frame),
            time: (how != EndHow::Open).then_some(s.last.ts),
            syn_retries: if s.syn_ack_seen {
                0
            } else {
                u32::try_from(s.client_to_server.packets.saturating_sub(1)).unwrap_or(u32::MAX)
            },
        },
        duration_s: s.last.ts.secs_since(s.first.ts),
        c2s: DirFacts::default(),
        s2c: DirFacts::default(),
        rtt_ms: None,
        idle_gaps: Vec::new(),
        keepalive: Keepalive {
            exchanges: 0,
            interval_s: None,
            last_time: None,
            last_frame: None,
            basis: Basis::Inferred,
        },
        tls: None,
    }
}

/// The desktop story of a fixture with keys, the stand-in summaries fed in
/// the order the connections end.
fn story_of(name: &str, keylog: &str) -> (Vec<Finding>, Vec<super::Desktop>) {
    let report =
        pipeline::streams(&fixture(name), &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let (sessions, _) = sessions(name, keylog);
    let mut ordered = report.streams.clone();
    ordered.sort_by_key(|s| (s.last.ts, s.stream));
    let mut story = super::Story::new(&crate::limits::Limits::default());
    let mut findings = Vec::new();
    for s in &ordered {
        let jid = sessions
            .iter()
            .find(|(st, _)| *st == s.stream)
            .map(|(_, j)| j);
        let user = jid.and_then(|j| j.as_deref()?.split('@').next());
        story.on_connection(&stand_in_summary(s, jid), user, &mut findings);
    }
    let desktops = story.finish(&mut findings);
    (findings, desktops)
}

fn told(findings: &[Finding]) -> Vec<(&'static str, crate::finding::Level, Option<u64>)> {
    findings
        .iter()
        .map(|f| (f.code.code(), f.level, f.frame))
        .collect()
}

#[test]
fn the_desktop_story_of_each_fixture_with_stand_in_summaries() {
    use crate::finding::Level::{Info, Warn};
    let (f, d) = story_of("desktop-refused.pcapng", "desktop-refused.keys");
    assert_eq!(
        told(&f),
        [
            ("conn.refused", Warn, Some(55)),
            ("conn.reconnect", Info, Some(59))
        ]
    );
    assert!(f[1].message.contains("1001 on 192.168.10.21 reconnected to finesse1.example.com (10.20.30.41) 14.000 s after stream 0 ended (RST by the server at frame 54)"), "{}", f[1].message);
    assert!(
        f[0].message
            .contains("2 connection attempts over 4.000 s refused"),
        "{}",
        f[0].message
    );
    let gaps: Vec<Option<f64>> = d[0]
        .connections
        .iter()
        .map(|c| c.gap_s.map(f64::round))
        .collect();
    assert_eq!(gaps, [None, Some(2.0), Some(6.0), Some(14.0)]);

    let (f, _) = story_of("desktop-no-answer.pcapng", "desktop-no-answer.keys");
    assert_eq!(
        told(&f),
        [
            ("conn.failover", Warn, Some(62)),
            ("conn.no_answer", Warn, Some(55))
        ]
    );
    assert!(
        f[1].message.contains("to 7 SYNs, 5 of them retries"),
        "{}",
        f[1].message
    );

    let (f, _) = story_of("desktop-loop.pcapng", "desktop-loop.keys");
    let codes: Vec<&str> = f.iter().map(|x| x.code.code()).collect();
    assert_eq!(
        codes,
        [
            "conn.reconnect",
            "conn.reconnect",
            "conn.reconnect",
            "conn.reconnect_loop"
        ]
    );
    assert_eq!(f[3].level, Warn);
    assert!(
        f[3].message.contains("reconnected 3 times within"),
        "{}",
        f[3].message
    );
}
