//! The desktop section of every renderer, on a report whose desktops come
//! from the library's desktop stage fed hand-made connection summaries (the
//! pipeline does not feed it yet): the table's lines, the HTML section, the
//! JSON against the schema, and captured names (users, SNI) escaped.

use std::path::Path;

use xmppcap::conn::{Basis, DirFacts, EndHow, Ended, Keepalive, Opened, Role, Side, Summary};
use xmppcap::desktop::Story;
use xmppcap::limits::Limits;
use xmppcap::pipeline::{self, Options};
use xmppcap::position::{FrameRef, Timestamp};
use xmppcap::report::model::Report;
use xmppcap::report::ndjson::Selection;

use super::table;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs_nanos(1_772_442_000 + secs, 0)
}

fn summary(
    n: u64,
    server: &str,
    sni: Option<&str>,
    role: Role,
    span: (i64, i64),
    how: EndHow,
) -> Summary {
    let by = match how {
        EndHow::Fin => Some(Side::Client),
        EndHow::Rst | EndHow::Refused => Some(Side::Server),
        EndHow::NoAnswer | EndHow::Open | EndHow::NotFollowed => None,
    };
    Summary {
        stream: n,
        client: format!("192.168.10.21:{}", 50_900 + n).parse().unwrap(),
        server: server.parse().unwrap(),
        sni: sni.map(str::to_owned),
        role,
        role_basis: Basis::Inferred,
        role_reasons: vec!["port 8445".to_owned()],
        opened: Opened::Syn,
        first: FrameRef::new(n * 10 + 1, at(span.0)),
        ended: Ended {
            how,
            by,
            frame: (how != EndHow::Open).then_some(n * 10 + 9),
            time: (how != EndHow::Open).then(|| at(span.1)),
            syn_retries: u32::from(how == EndHow::NoAnswer) * 2,
        },
        duration_s: (span.1 - span.0) as f64,
        c2s: DirFacts::default(),
        s2c: DirFacts::default(),
        rtt_ms: None,
        idle_gaps: Vec::new(),
        keepalive: Keepalive {
            exchanges: Some(0),
            interval_s: None,
            last_time: None,
            last_frame: None,
            basis: Basis::Inferred,
            not_inferred_because: None,
        },
        tls: None,
    }
}

/// finesse-failover without keys, with the desktop story of a node that
/// went away: RST, one refused attempt, two unanswered, then the other node.
fn report_with_desktop(sni: &str, user: &str) -> Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let capture = root.join("fixtures/finesse-failover.pcapng");
    let mut report = pipeline::report(&capture, &Options::default(), Selection::All)
        .unwrap_or_else(|e| panic!("{e}"));
    let node1 = "10.20.30.40:8445";
    let feed = [
        summary(
            0,
            node1,
            Some(sni),
            Role::XmppWebsocket,
            (0, 20),
            EndHow::Rst,
        ),
        summary(1, node1, Some(sni), Role::Rest, (21, 22), EndHow::Fin),
        summary(2, node1, None, Role::Other, (23, 23), EndHow::Refused),
        summary(3, node1, None, Role::Other, (25, 32), EndHow::NoAnswer),
        summary(
            4,
            "10.20.30.42:8445",
            Some("finesse2.example.com"),
            Role::XmppWebsocket,
            (35, 90),
            EndHow::Open,
        ),
    ];
    let mut story = Story::new(&Limits::default());
    let mut findings = Vec::new();
    for s in &feed {
        let user = (s.role == Role::XmppWebsocket).then_some(user);
        story.on_connection(s, user, &mut findings);
    }
    report.desktops = story.finish(&mut findings);
    report
}

#[test]
fn the_table_has_one_section_per_desktop_with_its_connections_and_rest() {
    let report = report_with_desktop("finesse1.example.com", "1001");
    let mut out = Vec::new();
    table::render(&report, &mut out).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out);
    let section = text
        .split("━━ desktop 192.168.10.21 · 1001 ━━")
        .nth(1)
        .unwrap_or_else(|| panic!("no desktop section:\n{text}"));
    let lines: Vec<&str> = section.lines().map(str::trim_end).collect();
    // One row per connection in start order (REST is summarised below); the
    // table wraps long cells at 100 columns, so only their first lines are checked.
    let rows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with(" 09:"))
        .collect();
    let wanted = [
        [
            "09:00:00.000  0",
            "finesse1.example.com",
            "xmpp-websocket",
            "rst by server, frame 9",
        ],
        [
            "09:00:23.000  2",
            "10.20.30.40:8445",
            "attempt",
            "refused by server, frame 29",
        ],
        [
            "09:00:25.000  3",
            "10.20.30.40:8445",
            "attempt",
            "no-answer, last SYN frame",
        ],
        [
            "09:00:35.000  4",
            "finesse2.example.com",
            "xmpp-websocket",
            "open after 55.000 s",
        ],
    ];
    assert_eq!(rows.len(), wanted.len(), "{section}");
    for (row, cells) in rows.iter().zip(wanted) {
        for cell in cells {
            assert!(
                row.contains(cell),
                "{cell:?} missing in {row:?}:\n{section}"
            );
        }
    }
    for (row, gap) in rows.iter().zip(["", "3.000 s", "5.000 s", "15.000 s"]) {
        assert!(row.ends_with(gap), "gap {gap:?} missing in {row:?}");
    }
    let rest = "  REST to finesse1.example.com (10.20.30.40): 1 connection over 1.000 s (from 09:00:21.000, inferred)";
    assert!(lines.contains(&rest), "{section}");
}

#[test]
fn html_and_json_carry_the_desktop_and_json_follows_the_schema() {
    let report = report_with_desktop("finesse1.example.com", "1001");
    let mut html = Vec::new();
    xmppcap::report::html::render(&[&report], &mut html).unwrap_or_else(|e| panic!("{e}"));
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains("<h2>desktop 192.168.10.21 · 1001</h2>"),
        "{html}"
    );
    assert!(
        html.contains("<td>no-answer, last SYN frame 39, 2 SYN retries</td>"),
        "{html}"
    );
    let mut json = Vec::new();
    let reports: Vec<Result<Report, String>> = vec![Ok(report)];
    xmppcap::report::json::render_reports(&reports, &mut json).unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{e}"));
    let desktop = &json["captures"][0]["desktops"][0];
    assert_eq!(desktop["client"], "192.168.10.21");
    assert_eq!(desktop["connections"][1]["ended"], "refused");
    assert_eq!(desktop["connections"][3]["gap_s"], 15.0);
    assert_eq!(desktop["rest"][0]["connections"], 1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = std::fs::read_to_string(root.join("docs/report.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"));
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn captured_names_in_a_desktop_section_are_escaped() {
    let hostile = "<b>evil\u{1b}[2J\u{1b}]0;pwned\u{7}\rover\u{202e}txt";
    let report = report_with_desktop(hostile, hostile);
    let mut out = Vec::new();
    table::render(&report, &mut out).unwrap_or_else(|e| panic!("{e}"));
    for bad in [0x1b, 0x07, b'\r'] {
        assert!(!out.contains(&bad), "raw control byte {bad:#x} written");
    }
    assert!(!String::from_utf8_lossy(&out).contains('\u{202e}'));
    let mut html = Vec::new();
    xmppcap::report::html::render(&[&report], &mut html).unwrap_or_else(|e| panic!("{e}"));
    let html = String::from_utf8_lossy(&html);
    assert!(!html.contains("<b>evil"), "unescaped markup in HTML");
    assert!(html.contains("&lt;b&gt;evil"), "{html}");
}
