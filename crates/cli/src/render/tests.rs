//! The terminal renderers never write a byte a terminal acts on, whatever the
//! capture holds: every captured string of a real report is replaced by one
//! carrying screen-clear, retitle, clipboard-write (OSC 52), a bare CR and a
//! right-to-left override, and the bytes each renderer writes are checked.

use std::path::Path;

use xmppcap::finding::{Finding, Layer, Level};
use xmppcap::pipeline::{self, Options};
use xmppcap::report::event::Detail;
use xmppcap::report::model::Report;
use xmppcap::report::ndjson::Selection;

use super::{listing, streams, table};

/// What a hostile capture puts in a text field, after a name saying which field it is.
fn hostile(field: &str) -> String {
    format!("{field}\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}]52;c;aGFjaw==\u{7}\rover\u{202e}txt")
}

/// How [`hostile`] must look once escaped.
fn shown(field: &str) -> String {
    format!(
        "{field}\\u{{1b}}[2J\\u{{1b}}]0;pwned\\u{{7}}\\u{{1b}}]52;c;aGFjaw==\\u{{7}}\\u{{d}}over\\u{{202e}}txt"
    )
}

fn poison(slot: &mut Option<String>, field: &str) {
    *slot = Some(hostile(field));
}

fn fixture_report(selection: Selection) -> Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let opts = Options {
        keylogs: vec![root.join("keys/finesse-wss.keys")],
        xmpp_message_text: true,
        ..Options::default()
    };
    let capture = root.join("fixtures/finesse-wss.pcapng");
    let mut report = pipeline::report(&capture, &opts, selection).unwrap_or_else(|e| panic!("{e}"));
    poison_report(&mut report);
    report
}

/// Every captured string the table, listing and TLS views show.
fn poison_report(r: &mut Report) {
    r.capture.name = hostile("file");
    for k in &mut r.keys {
        k.source = hostile("keysource");
    }
    for c in &mut r.connections {
        if let Some(t) = &mut c.tls {
            poison(&mut t.sni, "sni");
            poison(&mut t.alpn, "alpn");
            poison(&mut t.reason, "reason");
            poison(&mut t.key_source, "tlskeys");
            for cert in &mut t.certificates {
                poison(&mut cert.subject_cn, "subject");
                poison(&mut cert.issuer_cn, "issuer");
                poison(&mut cert.not_after, "notafter");
            }
            t.decrypted = xmppcap::tls::Decrypted::Partly;
        }
    }
    for s in &mut r.sessions {
        poison(&mut s.tls, "sessiontls");
        poison(&mut s.transport_detail, "wsclose");
        s.ended = hostile("ended");
        poison(&mut s.finesse.last_agent_state, "agentstate");
        let x = &mut s.xmpp;
        poison(&mut x.jid, "jid");
        if let Some(sasl) = &mut x.sasl {
            poison(&mut sasl.user, "authcid");
            poison(&mut sasl.mechanism, "mechanism");
            poison(&mut sasl.outcome, "saslresult");
        }
        if let Some(p) = &mut x.presence {
            poison(&mut p.show, "show");
            poison(&mut p.status, "status");
        }
        for sub in &mut x.subscriptions {
            poison(&mut sub.node, "node");
            poison(&mut sub.outcome, "suboutcome");
        }
    }
    for e in &mut r.timeline {
        e.summary = hostile("summary");
        if let Detail::WsMessage(m) = &mut e.detail {
            poison(&mut m.text, "wstext");
        }
    }
    for f in &mut r.findings {
        f.message = hostile("finding");
    }
}

/// A warning with a hostile message under `layer` (its first catalogue code).
fn a_finding(layer: Layer) -> Finding {
    let code = xmppcap::finding::catalogue()
        .iter()
        .copied()
        .find(|c| c.layer() == layer)
        .expect("every layer has codes");
    Finding::new(code, hostile("finding")).with_level(Level::Warn)
}

fn assert_inert(out: &[u8], fields: &[&str]) {
    for (bad, name) in [(0x1b, "ESC"), (0x07, "BEL"), (b'\r', "CR"), (0x9b, "CSI")] {
        assert!(!out.contains(&bad), "raw {name} written");
    }
    let text = String::from_utf8_lossy(out);
    assert!(!text.contains('\u{202e}'), "raw U+202E written");
    for field in fields {
        assert!(
            text.contains(&shown(field)),
            "{field} not shown escaped:\n{text}"
        );
    }
}

#[test]
fn report_table_escapes_every_captured_field() {
    let report = fixture_report(Selection::All);
    let mut out = Vec::new();
    table::render(&report, &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert_inert(
        &out,
        &[
            "file",
            "keysource",
            "jid",
            "sessiontls",
            "wsclose",
            "authcid",
            "mechanism",
            "saslresult",
            "show",
            "node",
            "suboutcome",
            "agentstate",
            "ended",
            "finding",
        ],
    );
}

#[test]
fn ws_and_http_listings_escape_every_captured_field() {
    for selection in [Selection::WebSocket, Selection::Http] {
        let report = fixture_report(selection);
        assert!(!report.timeline.is_empty());
        let mut out = Vec::new();
        listing::render_events(&[&report], selection, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_inert(&out, &["file"]);
    }
}

#[test]
fn tls_listing_escapes_every_captured_field() {
    let mut report = fixture_report(Selection::Tls);
    report.findings.push(a_finding(Layer::Tls));
    let mut out = Vec::new();
    listing::render_tls(&[&report], &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert_inert(
        &out,
        &[
            "file",
            "keysource",
            "sni",
            "alpn",
            "subject",
            "issuer",
            "reason",
            "finding",
        ],
    );
}

#[test]
fn streams_table_escapes_the_file_name_and_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut report = pipeline::streams(&root.join("fixtures/tcp-loss.pcap"), &Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    report.capture.name = hostile("file");
    report.findings.push(a_finding(Layer::Tcp));
    let mut out = Vec::new();
    streams::render_table(&[Ok(report)], &Default::default(), &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_inert(&out, &["file", "finding"]);
}

#[test]
fn streams_table_shows_out_of_window_segments_as_an_anomaly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut report = pipeline::streams(
        &root.join("fixtures/tcp-in-order.pcap"),
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let stream = report.streams.first_mut().expect("one connection");
    stream.client_to_server.out_of_window_segments = 3;
    let mut out = Vec::new();
    streams::render_table(&[Ok(report)], &Default::default(), &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("out of window"), "{text}");
    assert!(text.contains("3/0 segs"), "{text}");
}

/// The header counts what the capture had, and says how many are listed
/// when the report's byte cap left some out; a filtered report counts what
/// it lists.
#[test]
fn the_header_counts_connections_and_sessions_seen_not_only_listed() {
    let mut report = fixture_report(Selection::All);
    let (conns, sessions) = (report.connections.len(), report.sessions.len());
    let line = |r: &Report| {
        let (c, s) = table::seen_and_listed(r);
        format!("{c} / {s}")
    };
    assert_eq!(
        line(&report),
        format!("{conns} TCP connections / {sessions} XMPP session")
    );
    report.connections_seen = 10_000;
    report.sessions_seen = 9_000;
    assert_eq!(
        line(&report),
        format!("10000 TCP connections, {conns} listed / 9000 XMPP sessions, {sessions} listed")
    );
    let filter = xmppcap::report::filter::Filter {
        streams: report
            .connections
            .iter()
            .map(|c| c.stream)
            .take(1)
            .collect(),
        ..Default::default()
    };
    filter.apply(&mut report);
    assert_eq!(
        line(&report),
        format!("1 TCP connection / {sessions} XMPP session"),
        "a filtered report counts what it kept"
    );
}
