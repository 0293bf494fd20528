//! The case report's page as a whole, from the shipped failover fixture:
//! its title, its anchors (every link lands on an element), frame numbers on
//! every event row, and how a page over its row budget summarises.

use std::path::Path;

use super::*;
use crate::pipeline::{self, Options};
use crate::report::ndjson::Selection;

fn failover() -> Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = Options {
        keylogs: vec![root.join("keys/finesse-failover.keys")],
        ..Options::default()
    };
    pipeline::report(
        &root.join("fixtures/finesse-failover.pcapng"),
        &opts,
        Selection::All,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn page_of(reports: &[&Report], page: &Page, budget: Budget) -> String {
    let mut out = Vec::new();
    render_with_budget(reports, page, budget, &mut out).unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
}

/// The values of `attr="…"` in `html`.
fn values<'h>(html: &'h str, attr: &str) -> Vec<&'h str> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = html.get(i + key.len()..)?;
            rest.get(..rest.find('"')?)
        })
        .collect()
}

#[test]
fn the_title_names_the_captures_and_failed_ones_get_a_section() {
    let r = failover();
    let page = Page {
        failed: vec![("gone.pcap".to_owned(), "No such file".to_owned())],
        ..Page::default()
    };
    let html = page_of(&[&r], &page, Budget::PAGE);
    assert!(
        html.contains("<title>")
            && html.contains("finesse-failover.pcapng, gone.pcap · xmppcap</title>"),
        "{html}"
    );
    assert!(html
        .contains("<h1>Capture gone.pcap</h1><p class=\"error\">Not analysed: No such file</p>"));
}

#[test]
fn every_link_lands_on_an_element_of_the_page() {
    let r = failover();
    // Twice: the second capture's anchors carry their own prefix.
    let html = page_of(&[&r, &r], &Page::default(), Budget::PAGE);
    let ids = values(&html, "id");
    let hrefs = values(&html, "href");
    assert!(hrefs.len() > 10, "{hrefs:?}");
    for href in hrefs {
        let target = href
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external link {href}"));
        assert!(ids.contains(&target), "#{target} has no element");
    }
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("c1-f-")).count(),
        r.findings.len()
    );
}

#[test]
fn every_event_row_has_its_frame() {
    let html = page_of(&[&failover()], &Page::default(), Budget::PAGE);
    let rows: Vec<&str> = html
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect();
    assert!(rows.len() > 50);
    for row in rows {
        let cells: Vec<&str> = row.split("<td>").collect();
        let frame = cells.get(3).and_then(|c| c.split('<').next()).unwrap_or("");
        assert!(frame.parse::<u64>().is_ok(), "no frame: {row}");
    }
}

#[test]
fn over_its_budget_the_page_cuts_each_session_and_says_so() {
    let r = failover();
    let full = page_of(&[&r], &Page::default(), Budget::PAGE);
    assert!(!full.contains("more not shown"));
    assert!(
        full.contains("<details id=\"s-1\" open>"),
        "small sessions open"
    );
    let cut = page_of(
        &[&r],
        &Page::default(),
        Budget {
            rows: 20,
            ..Budget::PAGE
        },
    );
    assert!(cut.len() < full.len());
    assert!(
        cut.contains("more not shown: this page summarises a large capture"),
        "{cut}"
    );
    // Findings and desktops stay whole.
    assert_eq!(cut.matches("<tr id=\"f-").count(), r.findings.len());
    assert!(cut.contains("<h2>desktop 192.168.10.21 · 1001</h2>"));
}

#[test]
fn past_its_session_budget_the_page_has_one_row_per_session_and_links_still_land() {
    let r = failover();
    assert!(r.sessions.len() >= 2);
    let dense = Budget {
        sessions: 1,
        ..Budget::PAGE
    };
    let html = page_of(&[&r, &r], &Page::default(), dense);
    assert!(html.contains("This page summarises a capture of"), "{html}");
    assert_eq!(html.matches("<details").count(), 0, "no session blocks");
    for prefix in ["", "c1-"] {
        for s in &r.sessions {
            let row = format!(
                "<tr id=\"{prefix}s-{}\"><td>{}</td><td>1001</td>",
                s.id, s.id
            );
            assert!(html.contains(&row), "{row} missing:\n{html}");
        }
        let desk = format!("<tr id=\"{prefix}d-0\"><td>desktop 192.168.10.21 · 1001</td>");
        assert!(html.contains(&desk), "{html}");
    }
    let ids = values(&html, "id");
    for href in values(&html, "href") {
        let target = href.strip_prefix('#').unwrap_or(href);
        assert!(ids.contains(&target), "#{target} has no element");
    }
    // The findings and the agents' stories stay whole.
    assert_eq!(html.matches("<tr id=\"f-").count(), r.findings.len());
    assert!(
        html.contains("<section id=\"a-0\"><h2>agent 1001"),
        "{html}"
    );
    // A session's row: its frames, duration, ending and findings count.
    let s = r.sessions.first().unwrap_or_else(|| panic!("no session"));
    let findings = r
        .findings
        .iter()
        .filter(|f| f.stream.is_some_and(|st| s.streams.contains(&st)))
        .count();
    let row = html
        .lines()
        .find(|l| l.starts_with(&format!("<tr id=\"s-{}\">", s.id)))
        .unwrap_or_default();
    assert!(row.contains(&escape(&s.ended).into_owned()), "{row}");
    assert!(row.ends_with(&format!("<td>{findings}</td></tr>")), "{row}");
}

#[test]
fn one_timeline_bar_per_connection() {
    let r = failover();
    let html = page_of(&[&r], &Page::default(), Budget::PAGE);
    assert_eq!(
        html.matches("<rect class=\"conn ").count(),
        r.connections.len()
    );
    assert_eq!(
        html.matches("<rect class=\"conn notify end-rst\"").count(),
        1
    );
    assert!(
        html.contains("<rect class=\"state s-READY\""),
        "agent-state bands"
    );
    assert!(
        html.contains("<title>dialog 16777301 ALERTING → ACTIVE → DROPPED from 09:00:22.347 for 19.004 s</title>"),
        "the dialog's bar: {html}"
    );
}

#[test]
fn the_agents_story_links_each_finding_to_its_row() {
    let r = failover();
    let html = page_of(&[&r], &Page::default(), Budget::PAGE);
    let a = r.agents.first().unwrap_or_else(|| panic!("no agent"));
    assert!(!a.findings.is_empty());
    for f in &a.findings {
        let i = r
            .findings
            .iter()
            .position(|g| g == f)
            .unwrap_or_else(|| panic!("{f:?} not in the list"));
        let reference = crate::report::agents::words::finding_reference(f);
        assert!(
            html.contains(&format!("<a href=\"#f-{i}\">{}</a>", escape(&reference))),
            "{reference}: {html}"
        );
    }
}
