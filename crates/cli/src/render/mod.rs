//! The terminal renderers: `report` ([`table`]), `ws`, `http` and `tls`
//! ([`listing`]) and `streams` ([`streams`]), readable at 100 columns, drawn
//! with comfy-table.
//!
//! Take the library's models; write text. They lay out what the models hold
//! and the words [`xmppcap::report::text`] gives; they derive no fact.

use std::io::{self, Write};

use xmppcap::finding::Finding;
use xmppcap::report::terminal;

pub(crate) mod listing;
pub(crate) mod streams;
pub(crate) mod table;

/// Lists findings under a table, one per line, in frame order.
pub(crate) fn render_findings(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
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
        writeln!(
            out,
            "  {:<5} {}{}: {}",
            f.level,
            f.code,
            place,
            terminal::field(&f.message)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod desktop_tests;
#[cfg(test)]
mod tests;
