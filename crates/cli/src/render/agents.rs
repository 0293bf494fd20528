//! An agent's section of the table: its state timeline as rows (time,
//! state, reason, duration, how entered), its dialogs, then its story
//! (sessions, notification connections, REST calls, findings) as dated lines.
//!
//! Takes an [`AgentStory`] of the report model; writes text. The words come
//! from [`xmppcap::report::agents::words`], shared with the HTML report;
//! this file lays them out and derives nothing.

use std::io::{self, Write};

use comfy_table::Cell;
use xmppcap::report::agents::{words, AgentStory};
use xmppcap::report::terminal;

use super::style::Style;

/// One agent's section.
pub(crate) fn render_agent(a: &AgentStory, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    // Wrapped like any line: two JIDs overflow an 80-column terminal.
    let title = format!("{} ━━", terminal::field(&words::title(a)));
    style.write_wrapped(out, "━━ ", 3, &title, 3)?;
    if !a.states.is_empty() {
        let mut table = style.table(words::state_columns(&style.clock).to_vec());
        for s in &a.states {
            let row = words::state_row_with(s, &style.clock);
            table.add_row(row.iter().map(|cell| Cell::new(terminal::field(cell))));
        }
        style.write_table(&table, out)?;
    }
    if a.states_not_kept > 0 {
        let line = format!(
            "{} later state changes not kept (cap reached)",
            a.states_not_kept
        );
        style.write_wrapped(out, "  ", 2, &line, 4)?;
    }
    for d in &a.dialogs {
        style.write_wrapped(
            out,
            "  ",
            2,
            &terminal::field(&words::dialog_line_with(d, &style.clock)),
            4,
        )?;
        if let Some(vars) = words::call_variables_line(d) {
            style.write_wrapped(out, "    ", 4, &terminal::field(&vars), 6)?;
        }
    }
    for (at, line) in words::story_lines(a) {
        let time = at.map_or_else(|| "?".to_owned(), |t| style.clock.time_of_day(t));
        let head = format!("  {time} ");
        let width = head.chars().count();
        style.write_wrapped(out, &head, width, &terminal::field(&line), width + 2)?;
    }
    Ok(())
}
