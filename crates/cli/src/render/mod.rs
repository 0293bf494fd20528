//! The terminal renderers: `report` ([`table`]), `ws`, `http` and `tls`
//! ([`listing`]) and `streams` ([`streams`]), drawn with comfy-table at the
//! terminal's width, or unwrapped (one line per row, no trailing spaces)
//! for a pipe or a file, as [`style::Style`] says.
//!
//! Take the library's models; write text. They lay out what the models hold
//! and the words [`xmppcap::report::text`] gives; they derive no fact.

use std::io::{self, Write};

use xmppcap::finding::Finding;
use xmppcap::report::terminal;

pub(crate) mod agents;
pub(crate) mod listing;
pub(crate) mod streams;
pub(crate) mod style;
pub(crate) mod table;

use style::{Ink, Style};

/// Lists findings under a table, one per line, in frame order.
pub(crate) fn render_findings(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    render_findings_with(findings, &Style::default(), out)
}

/// [`render_findings`] in `style`: each finding on one line whatever its
/// length, so `grep` finds it whole, unless the style wraps at a terminal's
/// width.
pub(crate) fn render_findings_with(
    findings: &[Finding],
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "findings:")?;
    for f in findings {
        let mut place = String::new();
        if let Some(position) = f.position() {
            // `frame 67`, or `e12.m340` for a HAR.
            place.push_str(&position.to_string());
        }
        if let Some(stream) = f.stream {
            place.push_str(&format!(
                "{}stream {stream}",
                if place.is_empty() { "" } else { ", " }
            ));
        }
        if let Some(dir) = f.dir {
            place.push_str(&format!(" {dir}"));
        }
        let place = if place.is_empty() {
            String::new()
        } else {
            format!(" [{place}]")
        };
        let (level, code) = (f.level.to_string(), f.code.to_string());
        let head = format!(
            "  {} {}{place}: ",
            style.paint(&level, Ink::Level(f.level)),
            style.paint(&code, Ink::Code)
        );
        let head_width = 2 + level.len() + 1 + code.len() + place.chars().count() + 2;
        style.write_wrapped(out, &head, head_width, &terminal::field(&f.message), 4)?;
    }
    Ok(())
}

#[cfg(test)]
mod desktop_tests;
#[cfg(test)]
mod tests;
