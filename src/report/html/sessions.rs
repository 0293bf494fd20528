//! The sessions of the case report, in one of two shapes: one collapsible
//! block per session (its facts, connection stories and event rows, cut at
//! a row budget with a note), or, for a capture with more sessions than a
//! page can lay out in a second, one dense row per session in a single
//! table, with a note saying the page is summarised and where the rest is.
//!
//! Takes the report's sessions, their connections and events; writes HTML,
//! every captured text escaped. Both shapes anchor each session at
//! `s-<id>`, so links from elsewhere land whichever shape was chosen.

use std::io::{self, Write};

use quick_xml::escape::escape;

use super::fact;
use crate::report::agents::session_agent;
use crate::report::event::{Detail, Event};
use crate::report::model::{Report, SessionReport};
use crate::report::story;
use crate::report::text::{self, event_label, session_facts};

/// The event rows a session shows: at most `max`, its block open or not.
pub(super) struct SessionRows<'a, 'r> {
    pub events: &'a [&'r Event],
    pub max: usize,
    pub open: bool,
}

/// A connection's story as report lines (role, ending, keepalive; the
/// transport; the certificate when the wire shows it).
pub(super) fn story_lines(s: &crate::conn::Summary) -> Vec<String> {
    let mut lines = vec![story::one_line(s), story::transport(s)];
    lines.extend(story::certificate(s));
    lines
}

/// One session as a collapsible block: facts, stories, event rows.
pub(super) fn render_block(
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
        if let Detail::XmppStanza(s) = &e.detail {
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
pub(super) fn cut_note(total: usize, max: usize, out: &mut dyn Write) -> io::Result<()> {
    if total <= max {
        return Ok(());
    }
    writeln!(
        out,
        "<p class=\"note\">{} more not shown: this page summarises a large capture; <code>--format ndjson</code> or <code>--format json</code> has every event.</p>",
        total - max
    )
}

/// The column heads of [`render_dense`]'s table.
const DENSE_COLUMNS: [&str; 10] = [
    "session",
    "agent",
    "desktop",
    "node",
    "stream",
    "frames",
    "time (UTC)",
    "duration",
    "ended",
    "findings",
];

/// Every session as one row of one table, anchored `s-<id>`, under a note
/// saying the page is summarised and where each session's full story is.
pub(super) fn render_dense(report: &Report, prefix: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"{prefix}sessions\" class=\"sessions-summarised\"><h2>Sessions ({})</h2>",
        report.sessions.len()
    )?;
    writeln!(
        out,
        "<p class=\"note\">This page summarises a capture of {}: one row per session, without its facts and timeline, so that the page stays small and opens quickly. The agents' stories and the findings above and below are whole. <code>--format json</code> has every session in full (<code>sessions[]</code>, by <code>id</code>), <code>--format ndjson</code> every event, and <code>--stream N</code> narrows any format to one session's connection.</p>",
        text::count(
            usize::try_from(report.sessions_seen)
                .unwrap_or(usize::MAX)
                .max(report.sessions.len()),
            "XMPP session"
        )
    )?;
    let heads: String = DENSE_COLUMNS
        .iter()
        .map(|h| format!("<th>{h}</th>"))
        .collect();
    writeln!(out, "<table class=\"dense\"><tr>{heads}</tr>")?;
    for s in &report.sessions {
        let cells: String = dense_row(report, s)
            .iter()
            .map(|c| format!("<td>{}</td>", escape(c.as_str())))
            .collect();
        writeln!(out, "<tr id=\"{prefix}s-{}\">{cells}</tr>", s.id)?;
    }
    writeln!(out, "</table></section>")
}

/// One session in [`DENSE_COLUMNS`] order.
fn dense_row(report: &Report, s: &SessionReport) -> [String; 10] {
    let summaries = || {
        report
            .connections
            .iter()
            .filter(|c| s.streams.contains(&c.stream))
            .filter_map(|c| c.summary.as_ref())
    };
    let first = summaries().map(|c| c.first.frame).min();
    // An open connection has no last frame: the session outlived the capture.
    let last = summaries().filter_map(|c| c.ended.frame).max();
    let frames = match (first, last) {
        (Some(a), Some(b)) => format!("{a}–{b}"),
        (Some(a), None) => format!("{a}–"),
        (None, _) => String::new(),
    };
    let (time, duration) = match (s.start, s.end) {
        (Some(a), Some(b)) => (
            format!("{} → {}", text::clock(a), text::span_end(a, b)),
            text::duration_nanos(b.nanos_since(a)),
        ),
        (Some(a), None) => (text::clock(a), String::new()),
        _ => (String::new(), String::new()),
    };
    let findings = report
        .findings
        .iter()
        .filter(|f| f.stream.is_some_and(|st| s.streams.contains(&st)))
        .count();
    let streams: Vec<String> = s.streams.iter().map(u64::to_string).collect();
    [
        s.id.to_string(),
        session_agent(s).unwrap_or("").to_owned(),
        s.client.map(|c| c.ip().to_string()).unwrap_or_default(),
        s.xmpp
            .to
            .clone()
            .or_else(|| s.server.map(|a| a.to_string()))
            .unwrap_or_default(),
        streams.join(", "),
        frames,
        time,
        duration,
        s.ended.clone(),
        findings.to_string(),
    ]
}
