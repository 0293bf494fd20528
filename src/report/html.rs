//! `xmppcap report --format html`: a self-contained case report (one file,
//! inline CSS and SVG, no scripts, no external resources, a print
//! stylesheet) to attach to a support case. Per capture, in reading order:
//! the facts, the verdict (`verdict`), the timeline picture
//! (`timeline_svg`), a table of contents, the desktops, the sessions
//! (collapsed when large; cut past a row budget with a note pointing to
//! JSON/NDJSON), other connections and the findings (anchored `f-<n>`); then
//! the captures that failed and the footer (`page`).
//!
//! Takes reports and a [`Page`]; writes HTML. Every captured text is
//! escaped; credentials are already redacted in the model unless
//! `--show-secrets`. Never derives a fact the model does not hold.

use std::io::{self, Write};

use quick_xml::escape::escape;

use crate::desktop::Desktop;
use crate::position::Position;
use crate::report::desktops;
use crate::report::event::Event;
use crate::report::model::{Grouped, Report, SessionReport};
use crate::report::story;
use crate::report::text::{self, event_label, session_facts};

mod agents;
mod page;
mod timeline_svg;
mod verdict;

pub use page::{redact_args, sha256_of_file, InputFile, Page, GENERATED_AT_VAR};

/// Event rows the sessions of one page show at most: past it, each session
/// shows its share and says how many it left out, so that a huge capture's
/// page stays a few megabytes (NDJSON and JSON have every event).
const MAX_SESSION_ROWS: usize = 6_000;
/// A session with more rows than this is collapsed (`<details>` closed).
const OPEN_SESSION_ROWS: usize = 40;
/// Past this many sessions, every session is collapsed.
const OPEN_SESSIONS: usize = 20;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em;border-bottom:1px solid #ccc}\
summary h2{display:inline-block;border:0;margin:.8em 0 .2em}summary{cursor:pointer}\
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{padding:2px 8px;text-align:left;vertical-align:top}\
tr:nth-child(even){background:#f6f6f6}th{background:#e8e8e8}.facts td:first-child{color:#666;width:9em}\
.error{color:#b00020;font-weight:bold}.warn{color:#a65e00}.info{color:#555}code{font-size:12px}\
.verdict ul{padding-left:1.2em}.verdict li{margin:.3em 0;font-weight:normal}.verdict .lvl{font-weight:bold;text-transform:uppercase;font-size:11px}\
.verdict li.error{color:#222}.verdict li.error .lvl{color:#b00020}.verdict li.warn{color:#222}.verdict li.warn .lvl{color:#a65e00}\
.ok{color:#1b6e2e;font-weight:bold}.inferred{color:#666}.note{color:#666;font-style:italic}\
figure.timeline{margin:1em 0}svg text{font:11px system-ui,sans-serif;fill:#333}svg text.tick{fill:#777;font-size:10px}\
svg line.tick{stroke:#e4e4e4}svg .lane-sep{stroke:#bbb}svg .lane-label{font-weight:bold}svg .node-label{fill:#555}\
.conn.end-fin,.key.end-fin{fill:#3a8d4f;background:#3a8d4f}.conn.end-rst,.key.end-rst{fill:#c62828;background:#c62828}\
.conn.end-refused,.key.end-refused{fill:#ef8a00;background:#ef8a00}.conn.end-no-answer,.key.end-no-answer{fill:#8e8e8e;background:#8e8e8e}\
.conn.end-open,.key.end-open{fill:#2f6fd0;background:#2f6fd0}.key{display:inline-block;width:12px;height:10px;margin:0 3px 0 8px}\
.dialog{fill:#455a64}.state{fill:#b0bec5}.s-READY{fill:#81c784}.s-NOT_READY{fill:#ffb74d}.s-TALKING,.s-HOLD{fill:#64b5f6}.s-LOGOUT{fill:#e57373}\
.s-WORK,.s-WORK_READY,.s-RESERVED{fill:#ba68c8}.marker.error{fill:#b00020}.marker.warn{fill:#e08600}\
nav.toc ul{columns:3;font-size:13px}footer{margin-top:3em;color:#555;border-top:1px solid #ccc}\
@media print{body{margin:0;font-size:10pt}nav.toc{display:none}details>summary{list-style:none}\
tr,li,figure{break-inside:avoid}a{color:inherit;text-decoration:none}svg{max-width:100%}}";

/// The page with no footer facts (see [`render_page`]).
pub fn render(reports: &[&Report], out: &mut dyn Write) -> io::Result<()> {
    render_page(reports, &Page::default(), out)
}

/// The case report: per capture a verdict, a picture, the desktops, the
/// sessions and the findings; then the captures that failed, and a footer
/// saying how the page was made.
pub fn render_page(reports: &[&Report], page: &Page, out: &mut dyn Write) -> io::Result<()> {
    render_with_budget(reports, page, MAX_SESSION_ROWS, out)
}

/// [`render_page`] with `budget` event rows for the sessions of each capture.
fn render_with_budget(
    reports: &[&Report],
    page: &Page,
    budget: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let names: Vec<&str> = reports
        .iter()
        .map(|r| r.capture.name.as_str())
        .chain(page.failed.iter().map(|(name, _)| name.as_str()))
        .collect();
    let title = if names.is_empty() {
        "xmppcap report".to_owned()
    } else {
        format!("{} · xmppcap", names.join(", "))
    };
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    )?;
    writeln!(
        out,
        "<title>{}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    )?;
    if let Some(filter) = &page.filter {
        writeln!(
            out,
            "<p class=\"filter\">Filtered: {}. The verdict, the picture, the sessions and the findings show only what the filter keeps.</p>",
            escape(filter)
        )?;
    }
    for (k, report) in reports.iter().enumerate() {
        let prefix = if k == 0 {
            String::new()
        } else {
            format!("c{k}-")
        };
        render_one(report, &prefix, budget, out)?;
    }
    for (name, why) in &page.failed {
        writeln!(
            out,
            "<section class=\"failed\"><h1>Capture {}</h1><p class=\"error\">Not analysed: {}</p></section>",
            escape(name),
            escape(why)
        )?;
    }
    page::render_footer(page, out)?;
    writeln!(out, "</body></html>")
}

fn render_one(report: &Report, prefix: &str, budget: usize, out: &mut dyn Write) -> io::Result<()> {
    let c = &report.capture;
    let what = if c.har.is_some() { "HAR" } else { "Capture" };
    writeln!(out, "<h1>{what} {}</h1>", escape(&c.name))?;
    render_facts(report, out)?;
    verdict::render(report, prefix, out)?;
    timeline_svg::render(report, prefix, out)?;
    let grouped = report.grouped();
    render_toc(report, &grouped, prefix, out)?;
    for (k, d) in report.desktops.iter().enumerate() {
        writeln!(out, "<section id=\"{prefix}d-{k}\">")?;
        render_desktop(d, out)?;
        writeln!(out, "</section>")?;
    }
    for (k, a) in report.agents.iter().enumerate() {
        agents::render(a, &format!("{prefix}a-{k}"), out)?;
    }
    let rows: usize = report
        .sessions
        .iter()
        .map(|s| grouped.session(s.id).len())
        .sum();
    let per_session = if rows > budget {
        (budget / report.sessions.len().max(1)).max(10)
    } else {
        usize::MAX
    };
    let many = report.sessions.len() > OPEN_SESSIONS;
    for s in &report.sessions {
        let stories: Vec<&crate::conn::Summary> = report
            .connections
            .iter()
            .filter(|c| s.streams.contains(&c.stream))
            .filter_map(|c| c.summary.as_ref())
            .collect();
        let events = grouped.session(s.id);
        let shown = SessionRows {
            events,
            max: per_session,
            open: !many && events.len() <= OPEN_SESSION_ROWS,
        };
        render_session(s, &stories, &shown, prefix, out)?;
    }
    render_other_connections(&grouped, c.har.is_some(), per_session, prefix, out)?;
    render_findings(report, prefix, out)
}

fn render_facts(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let c = &report.capture;
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
    writeln!(out, "</table>")
}

/// The table of contents: desktops, sessions, other connections, findings.
fn render_toc(
    report: &Report,
    grouped: &Grouped<'_>,
    prefix: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "<nav class=\"toc\"><h2>Contents</h2><ul>")?;
    for (k, d) in report.desktops.iter().enumerate() {
        writeln!(
            out,
            "<li><a href=\"#{prefix}d-{k}\">{}</a></li>",
            escape(desktops::title(d))
        )?;
    }
    for (k, a) in report.agents.iter().enumerate() {
        writeln!(
            out,
            "<li><a href=\"#{prefix}a-{k}\">{}</a></li>",
            escape(crate::report::agents::words::title(a))
        )?;
    }
    for s in &report.sessions {
        let who = s.xmpp.jid.as_deref().unwrap_or("(no JID)");
        writeln!(
            out,
            "<li><a href=\"#{prefix}s-{}\">Session {} · {}</a></li>",
            s.id,
            s.id,
            escape(who)
        )?;
    }
    if !grouped.others.is_empty() {
        writeln!(
            out,
            "<li><a href=\"#{prefix}others\">Other connections ({})</a></li>",
            grouped.others.len()
        )?;
    }
    writeln!(
        out,
        "<li><a href=\"#{prefix}findings\">Findings ({})</a></li></ul></nav>",
        report.findings.len()
    )
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

/// The event rows a session shows: at most `max`, its block open or not.
struct SessionRows<'a, 'r> {
    events: &'a [&'r Event],
    max: usize,
    open: bool,
}

fn render_session(
    s: &SessionReport,
    stories: &[&crate::conn::Summary],
    rows: &SessionRows<'_, '_>,
    prefix: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let who = s.xmpp.jid.clone().unwrap_or_else(|| "(no JID)".to_owned());
    let open = if rows.open { " open" } else { "" };
    writeln!(
        out,
        "<details id=\"{prefix}s-{}\"{open}><summary><h2>Session {} · {}</h2> <small>{} · {}</small></summary>\n<table class=\"facts\">",
        s.id,
        s.id,
        escape(&who),
        text::count(rows.events.len(), "event"),
        escape(&s.ended)
    )?;
    for (label, value) in session_facts(s) {
        fact(out, label, &value)?;
    }
    for story in stories {
        fact(out, "connection", &story_lines(story).join(" · "))?;
    }
    writeln!(out, "</table>")?;
    writeln!(out, "<table><tr><th>time (UTC)</th><th>dir</th><th>frame</th><th>event</th><th>summary</th></tr>")?;
    for e in rows.events.iter().take(rows.max) {
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
        // The stanza's XML (redacted) is in the event only with `--raw`.
        if let crate::report::event::Detail::XmppStanza(s) = &e.detail {
            if let Some(raw) = s.raw.as_deref() {
                writeln!(
                    out,
                    "<tr class=\"xml\"><td colspan=\"5\"><pre>{}</pre></td></tr>",
                    escape(raw)
                )?;
            }
        }
    }
    writeln!(out, "</table>")?;
    cut_note(rows.events.len(), rows.max, out)?;
    writeln!(out, "</details>")
}

/// Says how many rows a large capture's page left out, and where they are.
fn cut_note(total: usize, max: usize, out: &mut dyn Write) -> io::Result<()> {
    if total <= max {
        return Ok(());
    }
    writeln!(
        out,
        "<p class=\"note\">{} more not shown: this page summarises a large capture; <code>--format ndjson</code> or <code>--format json</code> has every event.</p>",
        total - max
    )
}

fn render_other_connections(
    grouped: &Grouped<'_>,
    har: bool,
    max: usize,
    prefix: &str,
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
    writeln!(out, "<h2 id=\"{prefix}others\">{title}</h2>")?;
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
                .take(max)
                .map(|e| format!("{}: {}", place(e.position()), e.summary)),
        );
        if events.len() > max {
            lines.push(format!(
                "… {} more not shown (see --format ndjson)",
                events.len() - max
            ));
        }
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

fn render_findings(report: &Report, prefix: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "<h2 id=\"{prefix}findings\">Findings</h2>")?;
    if report.findings.is_empty() {
        return writeln!(out, "<p>None.</p>");
    }
    writeln!(
        out,
        "<table><tr><th>level</th><th>code</th><th>frame</th><th>stream</th><th>message</th></tr>"
    )?;
    for (i, f) in report.findings.iter().enumerate() {
        writeln!(
            out,
            "<tr id=\"{prefix}f-{i}\" class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
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

#[cfg(test)]
mod tests;
