//! `xmppcap report` as text for a terminal: the capture summary, one block
//! per XMPP session with its timeline, the other connections, and the
//! findings. Readable at 100 columns.
//!
//! Takes a [`Report`]; writes text. Chooses which events each section shows
//! and words the session header from the model's facts; derives nothing else.

use std::io::{self, Write};

use comfy_table::{presets, Cell, ContentArrangement, Table};

use crate::common::{Dir, Timestamp};
use crate::report::event::Event;
use crate::report::model::{Grouped, Report, SessionReport};
use crate::report::streams::render_findings;
use crate::report::text;

const WIDTH: u16 = 100;

pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    render_header(report, out)?;
    let grouped = report.grouped();
    for session in &report.sessions {
        writeln!(out)?;
        render_session(session, grouped.session(session.id), out)?;
    }
    render_other_connections(&grouped, out)?;
    if report.timeline_dropped > 0 {
        writeln!(
            out,
            "\n(timeline cut at {} events, {} more not shown: use --format ndjson for all)",
            report.timeline.len(),
            report.timeline_dropped
        )?;
    }
    writeln!(out)?;
    render_findings(&report.findings, out)
}

fn render_header(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let c = &report.capture;
    let span = match (c.first_time, c.last_time) {
        (Some(a), Some(b)) => format!(
            ", {a} → {} ({})",
            text::clock(b),
            text::duration_nanos(b.nanos_since(a))
        ),
        _ => String::new(),
    };
    writeln!(out, "capture {}: {} packets{span}", c.name, c.packets)?;
    if c.truncated {
        writeln!(out, "  the file is truncated (see findings)")?;
    }
    writeln!(out, "keys: {}", report.keys_in_words())?;
    let tls = report
        .connections
        .iter()
        .filter(|c| c.tls.is_some())
        .count();
    let counts = |l| report.findings.iter().filter(|f| f.level == l).count();
    writeln!(
        out,
        "{} ({tls} TLS), {}; findings: {} error, {} warn, {} info",
        text::count(report.connections.len(), "TCP connection"),
        text::count(report.sessions.len(), "XMPP session"),
        counts(crate::finding::Level::Error),
        counts(crate::finding::Level::Warn),
        counts(crate::finding::Level::Info)
    )
}

fn render_session(s: &SessionReport, events: &[&Event], out: &mut dyn Write) -> io::Result<()> {
    let who = s
        .xmpp
        .jid
        .clone()
        .or_else(|| s.xmpp.sasl.as_ref().and_then(|a| a.user.clone()))
        .unwrap_or_else(|| "(no JID)".to_owned());
    writeln!(out, "━━ session {} · {who} ━━", s.id)?;
    for (label, value) in session_facts(s) {
        writeln!(out, "  {label:<13} {value}")?;
    }
    render_timeline(events, s.start, out)
}

/// The session's header lines: transport, TLS, user, subscriptions, time, end.
pub(crate) fn session_facts(s: &SessionReport) -> Vec<(&'static str, String)> {
    let x = &s.xmpp;
    let mut facts = vec![("transport", transport_fact(s))];
    if let Some(tls) = &s.tls {
        facts.push(("tls", tls.clone()));
    }
    if let Some(detail) = &s.transport_detail {
        // How the WebSocket closed, or which BOSH session it was.
        let label = match x.transport {
            crate::xmpp::Transport::WebSocket => "websocket",
            crate::xmpp::Transport::Bosh => "bosh",
            crate::xmpp::Transport::Tcp => "transport",
        };
        facts.push((label, detail.clone()));
    }
    if let Some(sasl) = &x.sasl {
        let sasl = format!(
            "{} as {} → {}",
            sasl.mechanism.as_deref().unwrap_or("?"),
            sasl.user.as_deref().unwrap_or("?"),
            sasl.outcome.as_deref().unwrap_or("no answer")
        );
        facts.push(("sasl", sasl));
    }
    if let Some(p) = &x.presence {
        // The initial presence has no type: it is "available", shown as its `<show>` says.
        let kind = p.show.as_deref().unwrap_or("available");
        facts.push((
            "presence",
            format!("{kind} (priority {})", p.priority.unwrap_or(0)),
        ));
    }
    for sub in &x.subscriptions {
        let node = sub.node.as_deref().unwrap_or("?");
        let outcome = sub.outcome.as_deref().unwrap_or("no answer");
        facts.push(("subscription", format!("{} {node} → {outcome}", sub.action)));
    }
    if x.finesse_updates > 0 {
        let state = x
            .last_agent_state
            .as_deref()
            .map(|s| format!(", last agent state {s}"))
            .unwrap_or_default();
        facts.push(("finesse", format!("{} updates{state}", x.finesse_updates)));
    }
    facts.extend(pings_fact(x).map(|p| ("pings", p)));
    if let (Some(a), Some(b)) = (s.start, s.end) {
        let span = text::duration_nanos(b.nanos_since(a));
        facts.push((
            "time",
            format!("{} → {} ({span})", text::clock(a), text::clock(b)),
        ));
    }
    facts.push(("ended", s.ended.clone()));
    facts
}

/// "websocket · stream 0 · client → server".
fn transport_fact(s: &SessionReport) -> String {
    let streams: Vec<String> = s.streams.iter().map(u64::to_string).collect();
    let endpoints = match (s.client, s.server) {
        (Some(c), Some(v)) => format!(" · {c} → {v}"),
        _ => String::new(),
    };
    format!(
        "{:?} · stream {}{endpoints}",
        s.xmpp.transport,
        streams.join(", ")
    )
    .to_lowercase()
}

/// "2 sent, 2 answered, 0 unanswered, slowest 900 µs", when pings were sent.
fn pings_fact(x: &crate::xmpp::Summary) -> Option<String> {
    let p = &x.pings;
    let sent = p.sent[0] + p.sent[1];
    if sent == 0 {
        return None;
    }
    let max = p
        .max_latency_ms
        .map(|m| format!(", slowest {}", text::duration_nanos((m * 1e6) as i64)))
        .unwrap_or_default();
    Some(format!(
        "{sent} sent, {} answered, {} unanswered{max}",
        p.answered, p.unanswered
    ))
}

/// The events a session's timeline shows: not the WebSocket messages (their
/// stanzas are shown) nor the TLS handshake's inner steps (NDJSON has them).
pub(crate) fn in_session_timeline(e: &Event) -> bool {
    const HIDDEN: [&str; 8] = [
        "ws.message",
        "tls.change_cipher_spec",
        "tls.encrypted_extensions",
        "tls.finished",
        "tls.new_session_ticket",
        "tls.decryption_started",
        "tls.end_of_early_data",
        "tcp.close",
    ];
    !HIDDEN.contains(&e.kind.as_str())
}

fn render_timeline(
    events: &[&Event],
    start: Option<Timestamp>,
    out: &mut dyn Write,
) -> io::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let start = start.or_else(|| events.iter().find_map(|e| e.time));
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(vec!["time (UTC)", "+", "dir", "frame", "event", "summary"]);
    for e in events {
        let offset = match (e.time, start) {
            (Some(t), Some(s)) => format!("+{:.3}", t.secs_since(s)),
            _ => String::new(),
        };
        table.add_row(vec![
            Cell::new(e.time.map(text::clock).unwrap_or_default()),
            Cell::new(offset),
            Cell::new(arrow(e.dir)),
            Cell::new(e.frame.map(|f| f.to_string()).unwrap_or_default()),
            Cell::new(event_cell(e)),
            Cell::new(summary_cell(e)),
        ]);
    }
    // The summary is what a reader reads: give it the room, wrap the event name instead.
    use comfy_table::{ColumnConstraint, Width};
    if let Some(event) = table.column_mut(4) {
        event.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(18)));
    }
    if let Some(summary) = table.column_mut(5) {
        summary.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(44)));
    }
    writeln!(out, "{table}")
}

fn arrow(dir: Option<Dir>) -> &'static str {
    match dir {
        Some(Dir::ClientToServer) => "c→s",
        Some(Dir::ServerToClient) => "s→c",
        None => "",
    }
}

/// The event column: the stanza's name for stanzas, the finding's level and code for findings.
pub(crate) fn event_label(e: &Event) -> String {
    match &e.detail {
        crate::report::event::Detail::Stanza(s) => s.name.clone(),
        crate::report::event::Detail::Finding { level, code, .. } => format!("{level} {code}"),
        _ => e.kind.clone(),
    }
}

/// The event column of the table: too narrow for a finding's code, so a
/// finding shows its level there and its code after the message.
fn event_cell(e: &Event) -> String {
    match &e.detail {
        crate::report::event::Detail::Finding { level, .. } => level.to_string().to_uppercase(),
        _ => event_label(e),
    }
}

fn summary_cell(e: &Event) -> String {
    let summary = text::printable(e.summary.as_bytes());
    match &e.detail {
        crate::report::event::Detail::Finding { code, .. } => format!("{summary} [{code}]"),
        _ => summary,
    }
}

/// Connections that carried no XMPP session (REST, BOSH polls, other traffic).
fn render_other_connections(grouped: &Grouped<'_>, out: &mut dyn Write) -> io::Result<()> {
    let others = &grouped.others;
    if others.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n━━ other connections ━━")?;
    for (c, events) in others {
        let layers = if c.layers.is_empty() {
            "no payload".to_owned()
        } else {
            c.layers.join(" → ")
        };
        writeln!(
            out,
            "  stream {} · {} → {} · {layers}",
            c.stream, c.client, c.server
        )?;
        if let Some(tls) = &c.tls {
            writeln!(out, "    tls: {}", tls.describe())?;
        }
        for e in events {
            writeln!(
                out,
                "    {} frame {:<6} {}",
                e.time.map(text::clock).unwrap_or_default(),
                e.frame.unwrap_or(0),
                text::printable(e.summary.as_bytes())
            )?;
        }
    }
    Ok(())
}
