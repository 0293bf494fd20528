//! Table output of `xmppcap ws`, `xmppcap http` and `xmppcap tls`: one row
//! per message, exchange or TLS connection, wrapped at the terminal's width
//! or one line each for a pipe ([`Style`]).
//!
//! Takes reports; writes text. Shows only what the model holds.

use std::io::{self, Write};

use comfy_table::Cell;
use xmppcap::finding::Layer;
use xmppcap::position::Position;
use xmppcap::report::event::{Detail, Event};
use xmppcap::report::model::Report;
use xmppcap::report::ndjson::Selection;
use xmppcap::report::terminal;
use xmppcap::report::text;
use xmppcap::tls::{self, Decrypted};

use super::style::{Ink, Style};
use super::{render_findings, render_findings_with};

fn capture_line(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if let Some(har) = &report.capture.har {
        return writeln!(
            out,
            "HAR {}: {}",
            terminal::field(&report.capture.name),
            terminal::field(&text::har_contents(har))
        );
    }
    writeln!(
        out,
        "capture {}: {} packets",
        terminal::field(&report.capture.name),
        report.capture.packets
    )
}

/// `ws` and `http` in the default style (unwrapped, no colour, UTC).
#[cfg(test)]
pub(crate) fn render_events(
    reports: &[&Report],
    selection: Selection,
    out: &mut dyn Write,
) -> io::Result<()> {
    render_events_with(reports, selection, &Style::default(), out)
}

/// `ws` and `http`: the selected events, one row each, then their findings.
pub(crate) fn render_events_with(
    reports: &[&Report],
    selection: Selection,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let layers: &[&str] = match selection {
        Selection::WebSocket => &["ws"],
        Selection::Http => &["http", "bosh"],
        Selection::Tls => &["tls"],
        Selection::All => &[],
    };
    for (i, report) in reports.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        capture_line(report, out)?;
        if !style.filter.is_empty() {
            writeln!(out, "filter: {}", terminal::field(&style.filter))?;
        }
        if report.timeline.is_empty() {
            let place = if style.filter.is_empty() {
                "in the capture"
            } else {
                "inside the filter"
            };
            writeln!(out, "nothing of this kind {place}")?;
        } else {
            let zone = format!("time ({})", style.clock.zone());
            let header = [zone.as_str(), "stream", "dir", "frames", "what", "summary"];
            let mut t = style.table(header.iter().map(|h| h.to_string()).collect());
            for e in &report.timeline {
                t.add_row(event_row(e, style));
            }
            style.write_table(&t, out)?;
        }
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| layers.contains(&f.layer().as_str()))
            .cloned()
            .collect();
        render_findings_with(&findings, style, out)?;
    }
    Ok(())
}

/// One row; an empty place shows `-` so that every row splits into as many words.
fn event_row(e: &Event, style: &Style) -> Vec<Cell> {
    let short = |frame| Position::of_frame_number(frame).short();
    let dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
    let frames = match (e.frame, e.last_frame) {
        (Some(a), Some(b)) if a != b => format!("{}–{}", short(a), short(b)),
        (Some(a), _) => short(a),
        _ => String::new(),
    };
    let what = match &e.detail {
        Detail::WsMessage(m) => format!(
            "{}{}",
            m.opcode,
            if m.compressed { " (deflate)" } else { "" }
        ),
        Detail::WsControl(c) => c.opcode.to_owned(),
        _ => e.kind().to_owned(),
    };
    let summary = match &e.detail {
        Detail::WsMessage(m) => m
            .text
            .as_deref()
            .map_or_else(|| terminal::field(&e.summary).into_owned(), shortened),
        _ => terminal::field(&e.summary).into_owned(),
    };
    let level = match &e.detail {
        Detail::Finding { level, .. } => Some(Ink::Level(*level)),
        _ => None,
    };
    vec![
        Cell::new(dash(
            e.time
                .map(|t| style.clock.time_of_day(t))
                .unwrap_or_default(),
        )),
        Cell::new(dash(e.stream.map(|s| s.to_string()).unwrap_or_default())),
        style.cell(
            dash(e.dir.map(|d| d.as_str().to_owned()).unwrap_or_default()),
            e.dir.map(Ink::Dir),
        ),
        Cell::new(dash(frames)),
        style.cell(what, level),
        Cell::new(summary),
    ]
}

/// Characters of a message's text shown in a table row (JSON and NDJSON have it all).
const TEXT_SHOWN: usize = 240;

/// A message's text for a table row: on one line (line breaks escaped), at
/// most [`TEXT_SHOWN`] characters.
fn shortened(t: &str) -> String {
    // Cut before escaping: a message can be megabytes.
    match t.char_indices().nth(TEXT_SHOWN) {
        Some((cut, _)) => {
            let head = terminal::field(t.get(..cut).unwrap_or_default());
            format!("{head}… ({} bytes)", t.len())
        }
        None => terminal::field(t).into_owned(),
    }
}

/// `tls`: one block per TLS connection (suite names and certificates are
/// too long for a 100-column table).
pub(crate) fn render_tls(reports: &[&Report], out: &mut dyn Write) -> io::Result<()> {
    for (i, report) in reports.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        capture_line(report, out)?;
        writeln!(
            out,
            "keys: {}",
            terminal::field(&text::key_sources(&report.keys))
        )?;
        let mut any = false;
        for c in &report.connections {
            let Some(s) = &c.tls else { continue };
            any = true;
            writeln!(out, "\nstream {} · {} → {}", c.stream, c.client, c.server)?;
            if c.layers.first() == Some(&"xmpp") {
                writeln!(out, "  started by XMPP STARTTLS")?;
            }
            for line in tls_lines(s) {
                writeln!(out, "  {}", terminal::field(&line))?;
            }
        }
        if !any {
            writeln!(out, "no TLS connections")?;
        }
        let findings: Vec<_> = report
            .findings
            .iter()
            // A cap that left connections out of the list is said here too.
            .filter(|f| matches!(f.layer(), Layer::Tls | Layer::Limits))
            .cloned()
            .collect();
        if !findings.is_empty() {
            writeln!(out)?;
        }
        render_findings(&findings, out)?;
    }
    Ok(())
}

/// One TLS connection in a few lines: protocol, names, certificate, keys and
/// outcome, records, alerts.
fn tls_lines(s: &tls::Summary) -> Vec<String> {
    let mut proto = format!(
        "{} {}",
        s.version.as_deref().unwrap_or("TLS ?"),
        s.suite.as_deref().unwrap_or("(suite not seen)")
    );
    if let Some(sni) = &s.sni {
        proto.push_str(&format!(" · SNI {sni}"));
    }
    if let Some(alpn) = &s.alpn {
        proto.push_str(&format!(" · ALPN {alpn}"));
    }
    let mut extras = Vec::new();
    if s.hello_retry_request {
        extras.push("HelloRetryRequest");
    }
    if s.resumption {
        extras.push("resumed");
    }
    if s.midstream {
        extras.push("joined mid-stream");
    }
    let compression = s
        .compression
        .as_deref()
        .map(|m| format!("record compression {m} (RFC 3749)"));
    extras.extend(compression.as_deref());
    if !extras.is_empty() {
        proto.push_str(&format!(" · {}", extras.join(", ")));
    }
    let mut lines = vec![proto];
    if let Some(cert) = s.certificates.first() {
        let until = cert
            .not_after
            .as_deref()
            .map(|t| format!(", valid until {}", t.get(..10).unwrap_or(t)))
            .unwrap_or_default();
        let issuer = cert.issuer_cn.as_deref().unwrap_or(&cert.issuer);
        lines.push(format!(
            "certificate {} (issuer {issuer}{until})",
            cert.subject_cn.as_deref().unwrap_or(&cert.subject)
        ));
    }
    let keys = s.key_source.as_deref().map(short_source).unwrap_or("none");
    lines.push(format!("keys {keys} · decrypted: {}", tls_decrypted(s)));
    lines.push(format!(
        "records decrypted {}/{} ({} / {}), not decrypted {}/{}{}",
        s.c2s.records_decrypted,
        s.s2c.records_decrypted,
        text::bytes(s.c2s.bytes_decrypted),
        text::bytes(s.s2c.bytes_decrypted),
        s.c2s.records_undecryptable,
        s.s2c.records_undecryptable,
        if s.key_updates > 0 {
            format!(" · {} key updates", s.key_updates)
        } else {
            String::new()
        }
    ));
    for alert in &s.alerts {
        lines.push(format!(
            "alert {} {} from the {} (frame {})",
            alert.level,
            alert.description,
            alert.dir.side(),
            alert.frame
        ));
    }
    lines
}

/// A key source without its folders (`keys/a.keys` → `a.keys`).
fn short_source(source: &str) -> &str {
    source.rsplit('/').next().unwrap_or(source)
}

fn tls_decrypted(s: &tls::Summary) -> String {
    let what = match s.decrypted {
        Decrypted::Yes => "yes",
        Decrypted::Partly => "partly",
        Decrypted::No => "no",
        Decrypted::NothingEncrypted => "nothing encrypted",
    };
    match &s.reason {
        Some(reason) => format!("{what} ({reason})"),
        None => what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_shown_whole() {
        assert_eq!(shortened("<presence/>"), "<presence/>");
    }

    #[test]
    fn long_text_is_cut_on_a_character_and_says_its_size() {
        let long = "é".repeat(300);
        let shown = shortened(&long);
        assert!(shown.starts_with(&"é".repeat(TEXT_SHOWN)));
        assert!(shown.ends_with("… (600 bytes)"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'é').count(), TEXT_SHOWN);
    }
}
