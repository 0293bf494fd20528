//! The desktop fixtures read end to end: each connection opens and ends the
//! way the desktop story needs (SYNs refused by RST-ACK, SYNs retransmitted
//! unanswered, sessions reset by the server), the sessions decrypt with
//! their key logs, and the pipeline's connection summaries tell the same
//! desktop story with keys (roles seen) and without (roles inferred, so the
//! findings resting on them are info).

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
    assert!(
        findings.iter().any(|f| f.code == "conn.failover"),
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
        findings.iter().any(|f| f.code == "conn.reconnect_loop"),
        "{findings:?}"
    );
}

/// The desktop story the pipeline tells of a fixture, with its key log or
/// without: the desktop findings in frame order, and the desktops.
fn story_of(name: &str, keylog: Option<&str>) -> (Vec<Finding>, Vec<super::Desktop>) {
    let opts = Options {
        keylogs: keylog.map(keys).into_iter().collect(),
        ..Options::default()
    };
    let report = pipeline::report(&fixture(name), &opts, Selection::All)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let findings = report
        .findings
        .into_iter()
        .filter(|f| matches!(f.code, crate::finding::Code::Desktop(_)))
        .collect();
    (findings, report.desktops)
}

fn told(findings: &[Finding]) -> Vec<(&'static str, crate::finding::Level, Option<u64>)> {
    findings
        .iter()
        .map(|f| (f.code.code(), f.level, f.frame))
        .collect()
}

#[test]
fn refused_attempts_are_seen_and_the_reconnect_told_keys_or_not() {
    use crate::finding::Level::{Info, Warn};
    for keylog in [Some("desktop-refused.keys"), None] {
        let (f, d) = story_of("desktop-refused.pcapng", keylog);
        assert_eq!(
            told(&f),
            [
                ("conn.refused", Warn, Some(55)),
                ("conn.reconnect", Info, Some(59))
            ],
            "{keylog:?}"
        );
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
    }
    let (f, _) = story_of("desktop-refused.pcapng", Some("desktop-refused.keys"));
    assert!(f[1].message.contains("1001 on 192.168.10.21 reconnected to finesse1.example.com (10.20.30.41) 14.000 s after stream 0 ended (RST by the server at frame 54)"), "{}", f[1].message);
    let (f, _) = story_of("desktop-refused.pcapng", None);
    assert!(
        f[1].message
            .contains("the desktop at 192.168.10.21 reconnected"),
        "{}",
        f[1].message
    );
    assert!(f[1].message.contains("inferred"), "{}", f[1].message);
}

#[test]
fn unanswered_attempts_then_a_failover_warn_only_when_seen() {
    use crate::finding::Level::{Info, Warn};
    let (f, _) = story_of("desktop-no-answer.pcapng", Some("desktop-no-answer.keys"));
    assert_eq!(
        told(&f),
        [
            ("conn.no_answer", Warn, Some(55)),
            ("conn.failover", Warn, Some(62))
        ]
    );
    assert!(
        f[0].message.contains("to 7 SYNs, 5 of them retries"),
        "{}",
        f[0].message
    );
    // Without keys the failover rests on inferred roles: said, at info.
    let (f, _) = story_of("desktop-no-answer.pcapng", None);
    assert_eq!(
        told(&f),
        [
            ("conn.no_answer", Warn, Some(55)),
            ("conn.failover", Info, Some(62))
        ]
    );
}

#[test]
fn a_reconnect_loop_is_told_keys_or_not() {
    for (keylog, level) in [
        (Some("desktop-loop.keys"), crate::finding::Level::Warn),
        (None, crate::finding::Level::Info),
    ] {
        let (f, _) = story_of("desktop-loop.pcapng", keylog);
        let mut codes: Vec<&str> = f.iter().map(|x| x.code.code()).collect();
        codes.sort_unstable();
        assert_eq!(
            codes,
            [
                "conn.reconnect",
                "conn.reconnect",
                "conn.reconnect",
                "conn.reconnect_loop"
            ]
        );
        let looped = f
            .iter()
            .find(|x| x.code == "conn.reconnect_loop")
            .expect("the loop");
        assert_eq!(looped.level, level, "{keylog:?}");
        assert!(
            looped.message.contains("reconnected 3 times within"),
            "{}",
            looped.message
        );
    }
}
