//! `xmppcap report --format html`: a self-contained case report (one file,
//! inline CSS, no scripts, no external resources) to attach to a support case.
//!
//! Takes reports; writes HTML. Every captured text is escaped; credentials
//! are already redacted in the model unless `--show-secrets`.

use std::io::{self, Write};

use quick_xml::escape::escape;

use crate::desktop::Desktop;
use crate::position::Position;
use crate::report::desktops;
use crate::report::event::Event;
use crate::report::model::{Grouped, Report, SessionReport};
use crate::report::story;
use crate::report::text::{self, event_label, session_facts};

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{padding:2px 8px;text-align:left;vertical-align:top}\
tr:nth-child(even){background:#f6f6f6}th{background:#e8e8e8}.facts td:first-child{color:#666;width:9em}\
.error{color:#b00020;font-weight:bold}.warn{color:#a65e00}.info{color:#555}code{font-size:12px}";

pub fn render(reports: &[&Report], out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    )?;
    writeln!(
        out,
        "<title>xmppcap report</title><style>{STYLE}</style></head><body>"
    )?;
    for report in reports {
        render_one(report, out)?;
    }
    writeln!(out, "<p><small>Made by xmppcap {}. Frame numbers are Wireshark's <code>frame.number</code>; stream numbers are <code>tcp.stream</code>; for a HAR, <code>e12.m340</code> is entry 12 of <code>log.entries</code>, message 340 of its <code>_webSocketMessages</code>, and the stream is the entry.</small></p>", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "</body></html>")
}

fn render_one(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let c = &report.capture;
    let what = if c.har.is_some() { "HAR" } else { "Capture" };
    writeln!(out, "<h1>{what} {}</h1>", escape(&c.name))?;
    let span = match (c.first_time, c.last_time) {
        (Some(a), Some(b)) => format!("{a} → {b} ({})", text::duration_nanos(b.nanos_since(a))),
        _ => "no packets".to_owned(),
    };
    writeln!(out, "<table class=\"facts\">")?;
    match &c.har {
        Some(har) => fact(out, "entries", &text::har_contents(har))?,
        None => fact(out, "packets", &c.packets.to_string())?,
    }
    fact(out, "time", &span)?;
    if c.har.is_none() {
        fact(out, "keys", &text::key_sources(&report.keys))?;
    }
    let units = if c.har.is_some() { "entries" } else { "TCP" };
    fact(
        out,
        "connections",
        &format!(
            "{} {units}, {}",
            report.connections.len(),
            text::count(report.sessions.len(), "XMPP session")
        ),
    )?;
    writeln!(out, "</table>")?;
    let grouped = report.grouped();
    for s in &report.sessions {
        let stories: Vec<&crate::conn::Summary> = report
            .connections
            .iter()
            .filter(|c| s.streams.contains(&c.stream))
            .filter_map(|c| c.summary.as_ref())
            .collect();
        render_session(s, &stories, grouped.session(s.id), out)?;
    }
    render_other_connections(&grouped, c.har.is_some(), out)?;
    for d in &report.desktops {
        render_desktop(d, out)?;
    }
    render_findings(report, out)
}

fn fact(out: &mut dyn Write, label: &str, value: &str) -> io::Result<()> {
    writeln!(
        out,
        "<tr><td>{}</td><td>{}</td></tr>",
        escape(label),
        escape(value)
    )
}

/// A connection's story as report lines (role, ending, keepalive; the
/// transport; the certificate when the wire shows it).
fn story_lines(s: &crate::conn::Summary) -> Vec<String> {
    let mut lines = vec![story::one_line(s), story::transport(s)];
    lines.extend(story::certificate(s));
    lines
}

fn render_session(
    s: &SessionReport,
    stories: &[&crate::conn::Summary],
    events: &[&Event],
    out: &mut dyn Write,
) -> io::Result<()> {
    let who = s.xmpp.jid.clone().unwrap_or_else(|| "(no JID)".to_owned());
    writeln!(
        out,
        "<h2>Session {} · {}</h2>\n<table class=\"facts\">",
        s.id,
        escape(&who)
    )?;
    for (label, value) in session_facts(s) {
        fact(out, label, &value)?;
    }
    for story in stories {
        fact(out, "connection", &story_lines(story).join(" · "))?;
    }
    writeln!(out, "</table>")?;
    writeln!(out, "<table><tr><th>time (UTC)</th><th>dir</th><th>frame</th><th>event</th><th>summary</th></tr>")?;
    for e in events {
        let class = e.level().map(|l| l.as_str()).unwrap_or("");
        writeln!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.time.map(text::clock).unwrap_or_default(),
            e.dir.map(|d| d.as_str()).unwrap_or(""),
            e.position().map(|p| p.short()).unwrap_or_default(),
            escape(event_label(e)),
            escape(&e.summary)
        )?;
    }
    writeln!(out, "</table>")
}

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
        "Other entries"
    } else {
        "Other connections"
    };
    writeln!(out, "<h2>{title}</h2>")?;
    writeln!(
        out,
        "<table><tr><th>stream</th><th>endpoints</th><th>layers</th><th>what happened</th></tr>"
    )?;
    for (c, events) in others {
        let mut lines: Vec<String> = c
            .tls
            .iter()
            .map(|t| format!("TLS: {}", t.describe()))
            .collect();
        lines.extend(c.summary.iter().flat_map(story_lines));
        lines.extend(
            events
                .iter()
                .map(|e| format!("{}: {}", place(e.position()), e.summary)),
        );
        let lines: Vec<String> = lines.iter().map(|l| escape(l).into_owned()).collect();
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.stream,
            escape(text::endpoints(c, har)),
            escape(c.layers.join(" → ")),
            lines.join("<br>")
        )?;
    }
    writeln!(out, "</table>")
}

/// A desktop's connections in order, with the gaps, and its REST traffic.
fn render_desktop(d: &Desktop, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "<h2>{}</h2>", escape(desktops::title(d)))?;
    let heads: Vec<String> = desktops::COLUMNS
        .iter()
        .map(|h| format!("<th>{}</th>", escape(*h)))
        .collect();
    writeln!(out, "<table><tr>{}</tr>", heads.concat())?;
    for c in &d.connections {
        let cells: Vec<String> = desktops::connection_row(d, c)
            .iter()
            .map(|cell| format!("<td>{}</td>", escape(cell)))
            .collect();
        writeln!(out, "<tr>{}</tr>", cells.concat())?;
    }
    writeln!(out, "</table>")?;
    let lines: Vec<String> = desktops::dropped_line(d)
        .into_iter()
        .chain(d.rest.iter().map(desktops::rest_line))
        .collect();
    for line in lines {
        writeln!(out, "<p>{}</p>", escape(&line))?;
    }
    Ok(())
}

/// `frame 67`, `e12.m340`, or `frame 0` for an event without a place.
fn place(position: Option<Position>) -> String {
    position.unwrap_or(Position::Frame(0)).to_string()
}

fn render_findings(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "<h2>Findings</h2>")?;
    if report.findings.is_empty() {
        return writeln!(out, "<p>None.</p>");
    }
    writeln!(
        out,
        "<table><tr><th>level</th><th>code</th><th>frame</th><th>stream</th><th>message</th></tr>"
    )?;
    for f in &report.findings {
        writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.level,
            f.level,
            escape(f.code.code()),
            f.position().map(|p| p.short()).unwrap_or_default(),
            f.stream.map(|x| x.to_string()).unwrap_or_default(),
            escape(&f.message)
        )?;
    }
    writeln!(out, "</table>")
}
