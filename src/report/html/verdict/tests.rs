//! The verdict of the shipped Finesse and desktop fixtures, with and without
//! keys: the sentences a support engineer reads first, and the finding each
//! one links to.

use std::path::Path;

use super::*;
use crate::pipeline::{self, Options};
use crate::report::ndjson::Selection;

fn report(name: &str, keys: bool) -> Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut opts = Options::default();
    if keys {
        let stem = name.split('.').next().unwrap_or(name);
        opts.keylogs
            .push(root.join("keys").join(format!("{stem}.keys")));
    }
    pipeline::report(&root.join("fixtures").join(name), &opts, Selection::All)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn texts(report: &Report) -> Vec<String> {
    statements(report).into_iter().map(|s| s.text).collect()
}

#[test]
fn the_failover_says_the_reset_the_reconnect_and_the_503_errors_first() {
    let r = report("finesse-failover.pcapng", true);
    let all = statements(&r);
    let said = texts(&r);
    assert_eq!(
        all.first().map(|s| s.level),
        Some(Level::Error),
        "{said:#?}"
    );
    assert!(
        said.contains(
            &"REST GET /finesse/api/User/1001 answered 503 Service Unavailable (09:00:07)."
                .to_owned()
        ),
        "{said:#?}"
    );
    let reset = "Agent 1001's notification connection to finesse1.example.com was reset by the server at 09:00:06; the desktop reconnected to finesse2.example.com 5.000 s later.";
    let s = all
        .iter()
        .find(|s| s.text == reset)
        .unwrap_or_else(|| panic!("{said:#?}"));
    let proof = s.proof.and_then(|i| r.findings.get(i));
    assert_eq!(proof.map(|f| f.code.code()), Some("conn.reset"));
    assert!(!s.inferred);
    // The reset's other findings and the failover are told by that sentence.
    assert!(
        !said
            .iter()
            .any(|t| t.contains("1006") || t.contains("moved to another node")),
        "{said:#?}"
    );
}

#[test]
fn without_keys_the_reset_is_said_as_inferred_for_the_desktop_address() {
    let r = report("finesse-failover.pcapng", false);
    let all = statements(&r);
    let s = all
        .iter()
        .find(|s| {
            s.text
                .starts_with("Desktop 192.168.10.21's notification connection")
        })
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert!(s.inferred);
}

#[test]
fn refused_and_unanswered_attempts_are_one_sentence_each() {
    let r = report("desktop-refused.pcapng", true);
    let said = texts(&r);
    assert!(
        said.contains(&"2 connection attempts from 192.168.10.21 to 10.20.30.41:8445 were refused (the service is down on that node).".to_owned()),
        "{said:#?}"
    );
    let r = report("desktop-no-answer.pcapng", false);
    let said = texts(&r);
    assert!(
        said.iter().any(|t| t.starts_with(
            "2 connection attempts from 192.168.10.21 to 10.20.30.41:8445 were never answered"
        )),
        "{said:#?}"
    );
}

#[test]
fn a_clean_capture_says_nothing_is_wrong() {
    let r = report("tcp-in-order.pcap", false);
    assert!(statements(&r).is_empty());
    let mut out = Vec::new();
    render(&r, "", &mut out).unwrap_or_else(|e| panic!("{e}"));
    let html = String::from_utf8_lossy(&out);
    assert!(html.contains("Nothing wrong was found"), "{html}");
}

#[test]
fn the_verdict_links_each_statement_to_its_finding_row() {
    let r = report("finesse-failover.pcapng", true);
    let mut out = Vec::new();
    render(&r, "c1-", &mut out).unwrap_or_else(|e| panic!("{e}"));
    let html = String::from_utf8_lossy(&out);
    for s in statements(&r) {
        let i = s.proof.unwrap_or_else(|| panic!("no proof: {}", s.text));
        assert!(html.contains(&format!("href=\"#c1-f-{i}\"")), "{html}");
    }
}
