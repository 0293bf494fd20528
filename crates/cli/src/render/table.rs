//! `xmppcap report` as text for a terminal: the capture summary, one block
//! per XMPP session with its timeline, the other connections, and the
//! findings. Wrapped at the terminal's width, or one line per event for a
//! pipe ([`Style`]).
//!
//! Takes a [`Report`]; writes text. The events each section shows
//! ([`Report::grouped`]) and the words of a session's header
//! ([`text::session_facts`]) come from the library, shared with the HTML
//! report; this file lays them out and derives nothing.

use std::io::{self, Write};

use comfy_table::Cell;
use xmppcap::capture::HarSummary;
use xmppcap::desktop::Desktop;
use xmppcap::finding::Level;
use xmppcap::position::{Dir, Position, Timestamp};
use xmppcap::report::desktops;
use xmppcap::report::event::{Detail, Event};
use xmppcap::report::model::{ConnectionReport, Grouped, Report, SessionReport};
use xmppcap::report::text::{self, event_label, session_facts_with};
use xmppcap::report::{story, terminal};

use super::render_findings_with;
use super::style::{Ink, Style};

/// The report in the default style: unwrapped, no colour, UTC.
#[cfg(test)]
pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    render_with(report, &Style::default(), out)
}

pub(crate) fn render_with(report: &Report, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    render_header(report, style, out)?;
    let grouped = report.grouped();
    for session in &report.sessions {
        writeln!(out)?;
        let connections: Vec<&ConnectionReport> = report
            .connections
            .iter()
            .filter(|c| session.streams.contains(&c.stream))
            .collect();
        render_session(
            session,
            &connections,
            grouped.session(session.id),
            style,
            out,
        )?;
    }
    render_other_connections(&grouped, report.capture.har.is_some(), style, out)?;
    for desktop in &report.desktops {
        writeln!(out)?;
        render_desktop(desktop, style, out)?;
    }
    for agent in &report.agents {
        writeln!(out)?;
        super::agents::render_agent(agent, style, out)?;
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
    render_findings_with(&report.findings, style, out)
}

fn render_header(report: &Report, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    let c = &report.capture;
    let clock = &style.clock;
    let span = match (c.first_time, c.last_time) {
        (Some(a), Some(b)) => format!(
            ", {} → {} ({})",
            clock.date_time(a),
            clock.span_end(a, b),
            text::duration_nanos(b.nanos_since(a))
        ),
        _ => String::new(),
    };
    if let Some(har) = &c.har {
        return render_har_header(report, har, &span, style, out);
    }
    let words = format!("{}: {} packets{span}", terminal::field(&c.name), c.packets);
    style.write_wrapped(out, "capture ", 8, &words, 2)?;
    if c.truncated {
        writeln!(out, "  the file is truncated (see findings)")?;
    }
    if !style.filter.is_empty() {
        writeln!(out, "filter: {}", terminal::field(&style.filter))?;
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
    let (connections, sessions) = seen_and_listed(report);
    writeln!(
        out,
        "{connections} ({tls} TLS), {sessions}; findings: {} error, {} warn, {} info",
        counts(Level::Error),
        counts(Level::Warn),
        counts(Level::Info)
    )
}

/// `10000 TCP connections, 3138 listed` when the report's byte cap left
/// some out (`limits.report`), else `3138 TCP connections`; the same for
/// sessions (a filtered report counts what it lists: `Filter::apply`).
pub(super) fn seen_and_listed(report: &Report) -> (String, String) {
    let say = |seen: u64, listed: usize, what: &str| {
        let seen = usize::try_from(seen).unwrap_or(usize::MAX);
        if seen <= listed {
            text::count(listed, what)
        } else {
            format!("{}, {listed} listed", text::count(seen, what))
        }
    };
    (
        say(
            report.connections_seen,
            report.connections.len(),
            "TCP connection",
        ),
        say(report.sessions_seen, report.sessions.len(), "XMPP session"),
    )
}

/// A HAR has entries and messages, no packets, keys or TCP.
fn render_har_header(
    report: &Report,
    har: &HarSummary,
    span: &str,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "HAR {}: {}{span}",
        terminal::field(&report.capture.name),
        terminal::field(&text::har_contents(har))
    )?;
    if !style.filter.is_empty() {
        writeln!(out, "filter: {}", terminal::field(&style.filter))?;
    }
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
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let who = s
        .xmpp
        .jid
        .clone()
        .or_else(|| s.xmpp.sasl.as_ref().and_then(|a| a.user.clone()))
        .unwrap_or_else(|| "(no JID)".to_owned());
    writeln!(out, "━━ session {} · {} ━━", s.id, terminal::field(&who))?;
    for (label, value) in session_facts_with(s, &style.clock) {
        let head = format!("  {label:<13} ");
        style.write_wrapped(out, &head, 16, &terminal::field(&value), 16)?;
    }
    for c in connections {
        render_story(c, "  ", style, out)?;
    }
    render_timeline(events, s.start, style, out)
}

/// The connection's story in two or three lines: role, ending and
/// keepalive; the transport facts; the certificate when the wire shows it.
fn render_story(
    c: &ConnectionReport,
    indent: &str,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let Some(s) = &c.summary else {
        return Ok(());
    };
    let label = format!("stream {}", c.stream);
    let lines = [
        Some(story::one_line_with(s, &style.clock)),
        Some(story::transport(s)),
        story::certificate(s),
    ];
    let width = indent.len() + 14;
    for (i, line) in lines.into_iter().flatten().enumerate() {
        let head = format!("{indent}{:<13} ", if i == 0 { label.as_str() } else { "" });
        style.write_wrapped(out, &head, width, &terminal::field(&line), width)?;
    }
    Ok(())
}

fn render_timeline(
    events: &[&Event],
    start: Option<Timestamp>,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let start = start.or_else(|| events.iter().find_map(|e| e.time));
    let header = [
        &format!("time ({})", style.clock.zone()),
        "+",
        "dir",
        "frame",
        "event",
        "summary",
    ];
    let mut table = style.table(header.iter().map(|h| h.to_string()).collect());
    for e in events {
        table.add_row(timeline_row(e, start, style));
        if let Some(raw) = raw_xml(e, style) {
            let mut row = timeline_row(e, start, style);
            // The stanza's place again, so that grep by frame finds its XML too.
            row.truncate(4);
            row.extend([Cell::new("xml"), Cell::new(terminal::field(raw))]);
            table.add_row(row);
        }
    }
    if style.width.is_some() {
        keep_place_columns_whole(&mut table);
    }
    style.write_table(&table, out)
}

/// One timeline row: time, offset from the block's start, direction,
/// frame, event, summary. An empty place shows `-`, so that every row has
/// as many words before its summary (`awk '{print $4}'` is the frame).
fn timeline_row(e: &Event, start: Option<Timestamp>, style: &Style) -> Vec<Cell> {
    let clock = &style.clock;
    let offset = match (e.time, start) {
        (Some(t), Some(s)) => clock.offset(t, s),
        _ => String::new(),
    };
    let level = match &e.detail {
        Detail::Finding { level, .. } => Some(Ink::Level(*level)),
        _ => None,
    };
    vec![
        Cell::new(or_dash(e.time.map(|t| clock.time_of_day(t)))),
        Cell::new(or_dash(Some(offset))),
        style.cell(or_dash(Some(arrow(e.dir).to_owned())), e.dir.map(Ink::Dir)),
        Cell::new(or_dash(e.position().map(|p| p.short()))),
        style.cell(event_cell(e), level),
        Cell::new(summary_cell(e)),
    ]
}

/// When wrapping: the time, offset, direction and frame never wrap; the
/// summary is what a reader reads, so it gets the room and the event name
/// wraps instead.
fn keep_place_columns_whole(table: &mut comfy_table::Table) {
    use comfy_table::{ColumnConstraint, Width};
    for index in 0..4 {
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    if let Some(event) = table.column_mut(4) {
        event.set_constraint(ColumnConstraint::Boundaries {
            lower: Width::Fixed(10),
            upper: Width::Fixed(18),
        });
    }
}

fn or_dash(cell: Option<String>) -> String {
    cell.filter(|c| !c.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// A stanza's XML (already redacted by the pipeline), with `--raw`.
fn raw_xml<'e>(e: &'e Event, style: &Style) -> Option<&'e str> {
    match &e.detail {
        Detail::XmppStanza(s) if style.raw => s.raw.as_deref(),
        _ => None,
    }
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

/// An event's summary on one line whatever it holds (a row is one event);
/// a finding only points at its line in the findings list, where its words
/// are written once, so that a search for them finds one line.
fn summary_cell(e: &Event) -> String {
    match &e.detail {
        // The row's frame column says where.
        Detail::Finding { code, .. } => format!("{code}: see findings"),
        _ => terminal::field(&e.summary).into_owned(),
    }
}

/// Connections that carried no XMPP session (REST, BOSH polls, other traffic).
fn render_other_connections(
    grouped: &Grouped<'_>,
    har: bool,
    style: &Style,
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
        render_story(c, "    ", style, out)?;
        for e in events {
            let time = e.time.map(|t| style.clock.time_of_day(t));
            let place = match e.position() {
                Some(Position::Har(har)) => format!("{:<12}", Position::Har(har).short()),
                other => format!(
                    "frame {:<6}",
                    or_dash(other.and_then(Position::frame).map(|f| f.to_string()))
                ),
            };
            let summary = summary_cell(e);
            let head = format!("    {} {place} ", or_dash(time));
            let head_width = head.chars().count();
            style.write_wrapped(out, &head, head_width, &summary, head_width)?;
        }
    }
    Ok(())
}

/// A desktop's connections in order, with the gaps between notification
/// connections, then its REST traffic per node.
fn render_desktop(d: &Desktop, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "━━ {} ━━", terminal::field(&desktops::title(d)))?;
    if !d.connections.is_empty() {
        let mut table = style.table(desktops::columns(&style.clock).to_vec());
        for c in &d.connections {
            let row = desktops::connection_row_with(d, c, &style.clock);
            table.add_row(row.iter().map(|cell| Cell::new(terminal::field(cell))));
        }
        style.write_table(&table, out)?;
    }
    for line in desktops::dropped_line(d).into_iter().chain(
        d.rest
            .iter()
            .map(|r| desktops::rest_line_with(r, &style.clock)),
    ) {
        style.write_wrapped(out, "  ", 2, &terminal::field(&line), 4)?;
    }
    Ok(())
}
