//! `xmppcap report` as text for a terminal: the capture summary, one block
//! per XMPP session with its timeline, the other connections, and the
//! findings. Readable at 100 columns.
//!
//! Takes a [`Report`]; writes text. The events each section shows
//! ([`Report::grouped`]) and the words of a session's header
//! ([`text::session_facts`]) come from the library, shared with the HTML
//! report; this file lays them out and derives nothing.

use std::io::{self, Write};

use comfy_table::{presets, Cell, ContentArrangement, Table};
use xmppcap::capture::HarSummary;
use xmppcap::desktop::Desktop;
use xmppcap::finding::Level;
use xmppcap::position::{Dir, Position, Timestamp};
use xmppcap::report::desktops;
use xmppcap::report::event::{Detail, Event};
use xmppcap::report::model::{ConnectionReport, Grouped, Report, SessionReport};
use xmppcap::report::text::{self, event_label, session_facts};
use xmppcap::report::{story, terminal};

use super::render_findings;

const WIDTH: u16 = 100;

pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    render_header(report, out)?;
    let grouped = report.grouped();
    for session in &report.sessions {
        writeln!(out)?;
        let connections: Vec<&ConnectionReport> = report
            .connections
            .iter()
            .filter(|c| session.streams.contains(&c.stream))
            .collect();
        render_session(session, &connections, grouped.session(session.id), out)?;
    }
    render_other_connections(&grouped, report.capture.har.is_some(), out)?;
    for desktop in &report.desktops {
        writeln!(out)?;
        render_desktop(desktop, out)?;
    }
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
            text::span_end(a, b),
            text::duration_nanos(b.nanos_since(a))
        ),
        _ => String::new(),
    };
    if let Some(har) = &c.har {
        return render_har_header(report, har, &span, out);
    }
    writeln!(
        out,
        "capture {}: {} packets{span}",
        terminal::field(&c.name),
        c.packets
    )?;
    if c.truncated {
        writeln!(out, "  the file is truncated (see findings)")?;
    }
    writeln!(
        out,
        "keys: {}",
        terminal::field(&text::key_sources(&report.keys))
    )?;
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
        counts(Level::Error),
        counts(Level::Warn),
        counts(Level::Info)
    )
}

/// A HAR has entries and messages, no packets, keys or TCP.
fn render_har_header(
    report: &Report,
    har: &HarSummary,
    span: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "HAR {}: {}{span}",
        terminal::field(&report.capture.name),
        terminal::field(&text::har_contents(har))
    )?;
    let counts = |l| report.findings.iter().filter(|f| f.level == l).count();
    writeln!(
        out,
        "{}; findings: {} error, {} warn, {} info",
        text::count(report.sessions.len(), "XMPP session"),
        counts(Level::Error),
        counts(Level::Warn),
        counts(Level::Info)
    )
}

fn render_session(
    s: &SessionReport,
    connections: &[&ConnectionReport],
    events: &[&Event],
    out: &mut dyn Write,
) -> io::Result<()> {
    let who = s
        .xmpp
        .jid
        .clone()
        .or_else(|| s.xmpp.sasl.as_ref().and_then(|a| a.user.clone()))
        .unwrap_or_else(|| "(no JID)".to_owned());
    writeln!(out, "━━ session {} · {} ━━", s.id, terminal::field(&who))?;
    for (label, value) in session_facts(s) {
        writeln!(out, "  {label:<13} {}", terminal::field(&value))?;
    }
    for c in connections {
        render_story(c, "  ", out)?;
    }
    render_timeline(events, s.start, out)
}

/// The connection's story in two or three lines: role, ending and
/// keepalive; the transport facts; the certificate when the wire shows it.
fn render_story(c: &ConnectionReport, indent: &str, out: &mut dyn Write) -> io::Result<()> {
    let Some(s) = &c.summary else {
        return Ok(());
    };
    let label = format!("stream {}", c.stream);
    writeln!(
        out,
        "{indent}{label:<13} {}",
        terminal::field(&story::one_line(s))
    )?;
    writeln!(
        out,
        "{indent}{:<13} {}",
        "",
        terminal::field(&story::transport(s))
    )?;
    if let Some(cert) = story::certificate(s) {
        writeln!(out, "{indent}{:<13} {}", "", terminal::field(&cert))?;
    }
    Ok(())
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
            Cell::new(e.position().map(|p| p.short()).unwrap_or_default()),
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

/// The event column of the table: too narrow for a finding's code, so a
/// finding shows its level there and its code after the message.
fn event_cell(e: &Event) -> String {
    match &e.detail {
        Detail::Finding { level, .. } => level.to_string().to_uppercase(),
        _ => event_label(e),
    }
}

fn summary_cell(e: &Event) -> String {
    let summary = text::printable(e.summary.as_bytes());
    match &e.detail {
        Detail::Finding { code, .. } => format!("{summary} [{code}]"),
        _ => summary,
    }
}

/// Connections that carried no XMPP session (REST, BOSH polls, other traffic).
fn render_other_connections(
    grouped: &Grouped<'_>,
    har: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let others = &grouped.others;
    if others.is_empty() {
        return Ok(());
    }
    let title = if har {
        "other entries"
    } else {
        "other connections"
    };
    writeln!(out, "\n━━ {title} ━━")?;
    for (c, events) in others {
        let layers = if c.layers.is_empty() {
            "no payload".to_owned()
        } else {
            c.layers.join(" → ")
        };
        writeln!(
            out,
            "  stream {} · {} · {layers}",
            c.stream,
            text::endpoints(c, har)
        )?;
        if let Some(tls) = &c.tls {
            writeln!(out, "    tls: {}", terminal::field(&tls.describe()))?;
        }
        render_story(c, "    ", out)?;
        for e in events {
            let place = match e.position() {
                Some(Position::Har(har)) => format!("{:<12}", Position::Har(har)),
                other => format!("frame {:<6}", other.and_then(Position::frame).unwrap_or(0)),
            };
            writeln!(
                out,
                "    {} {place} {}",
                e.time.map(text::clock).unwrap_or_default(),
                text::printable(e.summary.as_bytes())
            )?;
        }
    }
    Ok(())
}

/// A desktop's connections in order, with the gaps between notification
/// connections, then its REST traffic per node.
fn render_desktop(d: &Desktop, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "━━ {} ━━", terminal::field(&desktops::title(d)))?;
    if !d.connections.is_empty() {
        let mut table = Table::new();
        table
            .load_style(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(WIDTH)
            .set_header(desktops::COLUMNS.to_vec());
        for c in &d.connections {
            let row = desktops::connection_row(d, c);
            table.add_row(row.iter().map(|cell| Cell::new(terminal::field(cell))));
        }
        writeln!(out, "{table}")?;
    }
    for line in desktops::dropped_line(d)
        .into_iter()
        .chain(d.rest.iter().map(desktops::rest_line))
    {
        writeln!(out, "  {}", terminal::field(&line))?;
    }
    Ok(())
}
