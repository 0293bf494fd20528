//! The HTML section of one agent's story: the state timeline with how long
//! each state lasted and how it was entered, the dialogs, and the dated
//! lines of sessions, REST calls and findings.
//!
//! Takes an [`AgentStory`] and its anchor; writes HTML, every captured text
//! escaped. The words are `report::agents::words`, shared with the terminal
//! table; this file only lays them out.

use std::collections::BTreeMap;
use std::io::{self, Write};

use quick_xml::escape::escape;

use crate::finding::Finding;
use crate::report::agents::{words, AgentStory};
use crate::report::text;

/// Rows of each list (states, dialogs, story lines) one agent's section
/// shows, so one agent seen on a thousand desktops keeps the page small;
/// the rest are counted, and JSON has them all.
const MAX_ROWS: usize = 300;

/// Says how many rows of a list were left out, when any.
fn more(out: &mut dyn Write, total: usize, what: &str) -> io::Result<()> {
    if total > MAX_ROWS {
        writeln!(
            out,
            "<p class=\"cut\">{} more {what} not shown here: --format json has them all.</p>",
            total - MAX_ROWS
        )?;
    }
    Ok(())
}

/// One agent's section, anchored at `id`. Its findings are references
/// linked to their rows in `all` (the capture's findings, anchored
/// `<prefix>f-<n>`), where their words are.
pub(super) fn render(
    a: &AgentStory,
    id: &str,
    all: &[Finding],
    prefix: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"{id}\"><h2>{}</h2>",
        escape(words::title(a))
    )?;
    if !a.states.is_empty() {
        let heads: String = words::STATE_COLUMNS
            .iter()
            .map(|h| format!("<th>{}</th>", escape(*h)))
            .collect();
        writeln!(out, "<table class=\"agent-states\"><tr>{heads}</tr>")?;
        for s in a.states.iter().take(MAX_ROWS) {
            let cells: String = words::state_row(s)
                .iter()
                .map(|c| format!("<td>{}</td>", escape(c.as_str())))
                .collect();
            writeln!(out, "<tr>{cells}</tr>")?;
        }
        writeln!(out, "</table>")?;
        more(out, a.states.len(), "states")?;
    }
    if a.states_not_kept > 0 {
        writeln!(
            out,
            "<p>{} later state changes not kept (cap reached)</p>",
            a.states_not_kept
        )?;
    }
    for d in a.dialogs.iter().take(MAX_ROWS) {
        writeln!(
            out,
            "<p class=\"dialog\">{}</p>",
            escape(words::dialog_line(d))
        )?;
        if let Some(vars) = words::call_variables_line(d) {
            writeln!(out, "<p class=\"callvars\">{}</p>", escape(&vars))?;
        }
    }
    more(out, a.dialogs.len(), "dialogs")?;
    let lines = words::story_lines(a);
    if !lines.is_empty() {
        writeln!(out, "<ul class=\"agent-story\">")?;
        let total = lines.len();
        let links: BTreeMap<String, usize> = a
            .findings
            .iter()
            .filter_map(|f| {
                Some((
                    words::finding_reference(f),
                    all.iter().position(|g| g == f)?,
                ))
            })
            .collect();
        for (at, line) in lines.into_iter().take(MAX_ROWS) {
            let time = at.map_or_else(|| "?".to_owned(), text::clock);
            let line = match links.get(&line) {
                Some(i) => format!("<a href=\"#{prefix}f-{i}\">{}</a>", escape(&line)),
                None => escape(&line).into_owned(),
            };
            writeln!(out, "<li>{} {line}</li>", escape(&time))?;
        }
        writeln!(out, "</ul>")?;
        more(out, total, "lines of the story")?;
    }
    writeln!(out, "</section>")
}
