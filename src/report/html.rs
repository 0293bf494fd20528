//! `xmppcap report --format html`: a self-contained case report (one file,
//! inline CSS and SVG, no scripts, no external resources, a print
//! stylesheet) to attach to a support case. Per capture, in reading order:
//! the facts, the verdict (`verdict`), the timeline picture
//! (`timeline_svg`), a table of contents, the desktops (`desktops`), the
//! agents' stories (`agents`), the sessions (`sessions`: collapsed when
//! large, cut past a row budget with a note pointing to JSON/NDJSON; past
//! 50 sessions the page summarises them, one row each, and the desktops in
//! one table), other connections and the findings (anchored `f-<n>`); then
//! the captures that failed and the footer (`page`). Sections are laid out
//! by the browser only when on screen, so a huge capture's page opens fast.
//!
//! Takes reports and a [`Page`]; writes HTML. Every captured text is
//! escaped; credentials are already redacted in the model unless
//! `--show-secrets`. Never derives a fact the model does not hold.

use std::io::{self, Write};

use quick_xml::escape::escape;

use crate::position::Position;
use crate::report::model::{Grouped, Report};

use crate::report::text;

mod agents;
mod desktops;
mod page;
mod sessions;
mod timeline_svg;
mod verdict;

use sessions::{story_lines, SessionRows};

pub use page::{redact_args, sha256_of_file, InputFile, Page, GENERATED_AT_VAR};

/// Event rows the sessions of one page show at most: past it, each session
/// shows its share and says how many it left out, so that a huge capture's
/// page stays a few megabytes (NDJSON and JSON have every event).
const MAX_SESSION_ROWS: usize = 6_000;
/// A session with more rows than this is collapsed (`<details>` closed).
const OPEN_SESSION_ROWS: usize = 40;
/// Past this many sessions, every session is collapsed.
const OPEN_SESSIONS: usize = 20;
/// Past this many sessions, the page summarises: one dense row per session
/// instead of its block (a thousand blocks of facts take a browser seconds
/// to lay out; see BENCHMARKS.md).
const DENSE_SESSIONS: usize = 50;

/// How much of the sessions one capture's page shows.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Event rows of all the session blocks together.
    rows: usize,
    /// Sessions shown as blocks; more are summarised one row each.
    sessions: usize,
}

impl Budget {
    const PAGE: Budget = Budget {
        rows: MAX_SESSION_ROWS,
        sessions: DENSE_SESSIONS,
    };
}

/// The page's stylesheet. Sections are `content-visibility:auto`: the
/// browser lays out only those on screen, which on a summarised
/// 1,000-session page halves the time to open it (BENCHMARKS.md); printing
/// lays out everything.
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
nav.toc ul{columns:3;font-size:13px}table.dense{font-size:12px}table.dense td{padding:1px 6px}footer{margin-top:3em;color:#555;border-top:1px solid #ccc}\
section{content-visibility:auto;contain-intrinsic-size:auto 40em}\
@media print{body{margin:0;font-size:10pt}section{content-visibility:visible}nav.toc{display:none}details>summary{list-style:none}\
tr,li,figure{break-inside:avoid}a{color:inherit;text-decoration:none}svg{max-width:100%}}";

/// The page with no footer facts (see [`render_page`]).
pub fn render(reports: &[&Report], out: &mut dyn Write) -> io::Result<()> {
    render_page(reports, &Page::default(), out)
}

/// The case report: per capture a verdict, a picture, the desktops, the
/// sessions and the findings; then the captures that failed, and a footer
/// saying how the page was made.
pub fn render_page(reports: &[&Report], page: &Page, out: &mut dyn Write) -> io::Result<()> {
    render_with_budget(reports, page, Budget::PAGE, out)
}

/// [`render_page`] with `budget` event rows for the sessions of each capture.
fn render_with_budget(
    reports: &[&Report],
    page: &Page,
    budget: Budget,
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
            "<p class=\"filter\">Filtered: {}. Every section (the verdict, the picture, the desktops, the agents&#39; stories, the sessions and the findings) shows only what the filter keeps; a state, session or connection that overlaps the time window is kept whole.</p>",
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

fn render_one(
    report: &Report,
    prefix: &str,
    budget: Budget,
    out: &mut dyn Write,
) -> io::Result<()> {
    let c = &report.capture;
    let what = if c.har.is_some() { "HAR" } else { "Capture" };
    writeln!(out, "<h1>{what} {}</h1>", escape(&c.name))?;
    render_facts(report, out)?;
    verdict::render(report, prefix, out)?;
    timeline_svg::render(report, prefix, out)?;
    let grouped = report.grouped();
    let dense = report.sessions.len() > budget.sessions;
    render_toc(report, &grouped, dense, prefix, out)?;
    if dense {
        desktops::render_dense(&report.desktops, prefix, out)?;
    } else {
        desktops::render_blocks(&report.desktops, prefix, out)?;
    }
    for (k, a) in report.agents.iter().enumerate() {
        agents::render(a, &format!("{prefix}a-{k}"), &report.findings, prefix, out)?;
    }
    let rows: usize = report
        .sessions
        .iter()
        .map(|s| grouped.session(s.id).len())
        .sum();
    let per_session = if rows > budget.rows {
        (budget.rows / report.sessions.len().max(1)).max(10)
    } else {
        usize::MAX
    };
    if dense {
        sessions::render_dense(report, prefix, out)?;
    } else {
        render_session_blocks(report, &grouped, per_session, prefix, out)?;
    }
    render_other_connections(&grouped, c.har.is_some(), per_session, prefix, out)?;
    render_findings(report, prefix, out)
}

/// Each session as its own block, its rows cut to `per_session`.
fn render_session_blocks(
    report: &Report,
    grouped: &Grouped<'_>,
    per_session: usize,
    prefix: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
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
        sessions::render_block(s, &stories, &shown, prefix, out)?;
    }
    Ok(())
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
    dense: bool,
    prefix: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "<nav class=\"toc\"><h2>Contents</h2><ul>")?;
    if dense && !report.desktops.is_empty() {
        writeln!(
            out,
            "<li><a href=\"#{prefix}desktops\">Desktops ({}, one table)</a></li>",
            report.desktops.len()
        )?;
    }
    for (k, d) in report.desktops.iter().enumerate().filter(|_| !dense) {
        writeln!(
            out,
            "<li><a href=\"#{prefix}d-{k}\">{}</a></li>",
            escape(crate::report::desktops::title(d))
        )?;
    }
    for (k, a) in report.agents.iter().enumerate() {
        writeln!(
            out,
            "<li><a href=\"#{prefix}a-{k}\">{}</a></li>",
            escape(crate::report::agents::words::title(a))
        )?;
    }
    if dense {
        // One entry for the summary table, not one per session.
        writeln!(
            out,
            "<li><a href=\"#{prefix}sessions\">Sessions ({}, one row each)</a></li>",
            report.sessions.len()
        )?;
    }
    for s in report.sessions.iter().filter(|_| !dense) {
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
    writeln!(
        out,
        "<section class=\"others\"><h2 id=\"{prefix}others\">{title}</h2>"
    )?;
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
    writeln!(out, "</table></section>")
}

/// `frame 67`, `e12.m340`, or `frame 0` for an event without a place.
fn place(position: Option<Position>) -> String {
    position.unwrap_or(Position::Frame(0)).to_string()
}

fn render_findings(report: &Report, prefix: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<section class=\"findings\"><h2 id=\"{prefix}findings\">Findings</h2>"
    )?;
    if report.findings.is_empty() {
        return writeln!(out, "<p>None.</p></section>");
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
    writeln!(out, "</table></section>")
}

#[cfg(test)]
mod tests;
