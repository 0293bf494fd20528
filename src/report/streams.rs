//! `xmppcap streams`: the model (one row per TCP connection) and its table
//! and JSON renderers.
//!
//! Takes [`StreamsReport`]s built by the pipeline; gives text. Never derives
//! a fact the model does not hold.

use std::io::{self, Write};

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use crate::capture::CaptureSummary;
use crate::decode::DecodeStats;
use crate::finding::{Finding, Level};
use crate::pipeline::PipelineError;
use crate::report::text;
use crate::tcp::{DirStats, Origin, StreamStats};

/// JSON schema identifier of `xmppcap streams --format json`.
pub const SCHEMA: &str = "xmppcap.streams/1";

/// Everything `xmppcap streams` says about one capture.
#[derive(Debug, Serialize)]
pub struct StreamsReport {
    pub capture: CaptureSummary,
    pub decode: DecodeStats,
    /// In `tcp.stream` order.
    pub streams: Vec<StreamStats>,
    /// In frame order.
    pub findings: Vec<Finding>,
}

impl StreamsReport {
    pub fn worst_level(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.level).max()
    }
}

/// Table width when stdout is not a terminal: readable at 100 columns.
const WIDTH: u16 = 100;

/// Renders each capture's table and findings, one after the other.
pub fn render_table(
    reports: &[Result<StreamsReport, PipelineError>],
    out: &mut dyn Write,
) -> io::Result<()> {
    // Failed captures are reported on stderr by the caller.
    for (i, report) in reports.iter().flatten().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        render_one_table(report, out)?;
    }
    Ok(())
}

fn render_one_table(report: &StreamsReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", capture_line(&report.capture))?;
    writeln!(out, "{}", decode_line(&report.decode))?;
    if report.streams.is_empty() {
        writeln!(out, "no TCP connections")?;
        return render_findings(&report.findings, out);
    }
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(vec![
            "stream",
            "client → server",
            "frames, time",
            "c→s",
            "s→c",
            "anomalies",
            "opened, ended",
        ]);
    for s in &report.streams {
        table.add_row(vec![
            Cell::new(s.stream).set_alignment(CellAlignment::Right),
            Cell::new(format!("{}\n→ {}", s.client, s.server)),
            Cell::new(format!(
                "{}–{}\n{}\n{}",
                s.first.frame,
                s.last.frame,
                text::clock(s.first.ts),
                text::duration_nanos(s.last.ts.nanos_since(s.first.ts))
            )),
            Cell::new(traffic(&s.client_to_server)),
            Cell::new(traffic(&s.server_to_client)),
            Cell::new(anomalies(s)),
            Cell::new(format!("{}\n{}", opened(s), s.ending_words())),
        ]);
    }
    for column in table.column_iter_mut() {
        column.set_padding((1, 1));
    }
    // Addresses and the anomaly lines read badly when wrapped: give them room first.
    use comfy_table::{ColumnConstraint, Width};
    for (index, width) in [(1, 22), (2, 14), (5, 17)] {
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
        }
    }
    writeln!(out, "{table}")?;
    if report.streams.iter().any(|s| anomalies(s) != "none") {
        writeln!(
            out,
            "(anomalies a/b: client → server / server → client; ooo: out-of-order)"
        )?;
    }
    render_findings(&report.findings, out)
}

fn traffic(d: &DirStats) -> String {
    format!("{} pkts\n{}", d.packets, text::bytes(d.bytes))
}

/// Retransmissions, out-of-order segments and gaps, one line each, only when present.
fn anomalies(s: &StreamStats) -> String {
    let pair = |c: u64, v: u64| format!("{c}/{v}");
    let (c, v) = (&s.client_to_server, &s.server_to_client);
    let mut lines = Vec::new();
    if c.retransmitted_bytes + v.retransmitted_bytes > 0 {
        lines.push(format!(
            "retrans {} B",
            pair(c.retransmitted_bytes, v.retransmitted_bytes)
        ));
    }
    if c.out_of_order_segments + v.out_of_order_segments > 0 {
        lines.push(format!(
            "ooo segs {}",
            pair(c.out_of_order_segments, v.out_of_order_segments)
        ));
    }
    if c.gaps + v.gaps > 0 {
        lines.push(format!(
            "gaps {} {}",
            c.gaps + v.gaps,
            text::bytes(c.gap_bytes + v.gap_bytes)
        ));
    }
    if lines.is_empty() {
        "none".to_owned()
    } else {
        lines.join("\n")
    }
}

fn capture_line(c: &CaptureSummary) -> String {
    let span = match (c.first_time, c.last_time) {
        (Some(first), Some(last)) => format!(
            ", {} → {} ({})",
            first,
            text::clock(last),
            text::duration_nanos(last.nanos_since(first))
        ),
        _ => String::new(),
    };
    let format = match c.format {
        crate::capture::Format::Pcap { .. } => "pcap",
        crate::capture::Format::Pcapng => "pcapng",
    };
    let gzip = if c.gzip { ", gzip" } else { "" };
    format!(
        "capture {} ({format}{gzip}): {} packets{span}",
        c.name, c.packets
    )
}

/// What the packets were: TCP segments, and the rest by kind.
fn decode_line(d: &DecodeStats) -> String {
    let mut parts = vec![format!("{} TCP segments", d.tcp_segments)];
    parts.extend(d.not_tcp.iter().map(|(kind, n)| format!("{n} {kind}")));
    let unsupported: u64 = d.unsupported_link_types.values().sum();
    if unsupported > 0 {
        let types: Vec<String> = d
            .unsupported_link_types
            .keys()
            .map(i32::to_string)
            .collect();
        parts.push(format!(
            "{unsupported} on unsupported link types ({})",
            types.join(", ")
        ));
    }
    let malformed: u64 = d.malformed.values().sum();
    if malformed > 0 {
        parts.push(format!("{malformed} malformed"));
    }
    format!("packets: {}", parts.join(", "))
}

fn opened(s: &StreamStats) -> &'static str {
    match s.origin {
        Origin::Handshake if s.syn_ack_seen => "SYN, SYN-ACK",
        Origin::Handshake => "SYN (no SYN-ACK)",
        Origin::SynAck => "SYN-ACK only",
        Origin::MidStream => "mid-stream",
    }
}

/// Lists findings under a table, one per line, in frame order.
pub(crate) fn render_findings(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "findings:")?;
    for f in findings {
        let mut place = String::new();
        if let Some(frame) = f.frame {
            place.push_str(&format!("frame {frame}"));
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
            text::printable(f.message.as_bytes())
        )?;
    }
    Ok(())
}

/// One JSON document for all captures: `{"schema": ..., "captures": [...]}`.
pub fn render_json(
    reports: &[Result<StreamsReport, PipelineError>],
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Entry<'a> {
        Ok(&'a StreamsReport),
        Err { error: String },
    }
    #[derive(Serialize)]
    struct Document<'a> {
        schema: &'static str,
        captures: Vec<Entry<'a>>,
    }
    let captures = reports
        .iter()
        .map(|r| match r {
            Ok(report) => Entry::Ok(report),
            Err(e) => Entry::Err {
                error: e.to_string(),
            },
        })
        .collect();
    serde_json::to_writer_pretty(
        &mut *out,
        &Document {
            schema: SCHEMA,
            captures,
        },
    )?;
    writeln!(out)
}
