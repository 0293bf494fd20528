//! The desktops of the case report: per client address, its notification
//! connections in order with the gaps between them, the connections
//! dropped from the story, and its REST traffic. One section per desktop,
//! or, on a summarised page (many sessions), one table for all of them
//! with a row per connection, so that a thousand desktops do not make a
//! thousand tables for the browser to lay out.
//!
//! Takes the desktops of a report; writes HTML, every captured text
//! escaped. The words are `report::desktops`, shared with the terminal
//! table. Both shapes anchor each desktop at `d-<k>`.

use std::io::{self, Write};

use quick_xml::escape::escape;

use crate::desktop::Desktop;
use crate::report::desktops;

/// One section per desktop, anchored `d-<k>`.
pub(super) fn render_blocks(all: &[Desktop], prefix: &str, out: &mut dyn Write) -> io::Result<()> {
    for (k, d) in all.iter().enumerate() {
        writeln!(out, "<section id=\"{prefix}d-{k}\">")?;
        render_desktop(d, out)?;
        writeln!(out, "</section>")?;
    }
    Ok(())
}

/// Every desktop in one table: a row per connection, the desktop named on
/// its first row (anchored `d-<k>`), its other lines in a row of their own.
pub(super) fn render_dense(all: &[Desktop], prefix: &str, out: &mut dyn Write) -> io::Result<()> {
    if all.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<section id=\"{prefix}desktops\"><h2>Desktops ({})</h2>",
        all.len()
    )?;
    let heads: String = std::iter::once("desktop")
        .chain(desktops::COLUMNS)
        .map(|h| format!("<th>{}</th>", escape(h)))
        .collect();
    writeln!(out, "<table class=\"dense\"><tr>{heads}</tr>")?;
    for (k, d) in all.iter().enumerate() {
        let anchor = format!(" id=\"{prefix}d-{k}\"");
        let title = escape(desktops::title(d)).into_owned();
        let mut first = true;
        for c in &d.connections {
            let cells: String = desktops::connection_row(d, c)
                .iter()
                .map(|cell| format!("<td>{}</td>", escape(cell)))
                .collect();
            let (id, who) = if first {
                (anchor.as_str(), title.as_str())
            } else {
                ("", "")
            };
            writeln!(out, "<tr{id}><td>{who}</td>{cells}</tr>")?;
            first = false;
        }
        let lines: Vec<String> = desktops::dropped_line(d)
            .into_iter()
            .chain(d.rest.iter().map(desktops::rest_line))
            .map(|l| escape(&l).into_owned())
            .collect();
        if first || !lines.is_empty() {
            let (id, who) = if first {
                (anchor.as_str(), title.as_str())
            } else {
                ("", "")
            };
            writeln!(
                out,
                "<tr{id}><td>{who}</td><td colspan=\"{}\">{}</td></tr>",
                desktops::COLUMNS.len(),
                lines.join("<br>")
            )?;
        }
    }
    writeln!(out, "</table></section>")
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
